/*
 * The simulator's side of the plug-in interface: what the library's core
 * gives eviction algorithms (<mmu.h>, arch_page_info_get(), timers,
 * statistics, the page table words of internal.h), on a simulated page
 * table. The algorithms are compiled from the library's sources unchanged.
 *
 * The region is the trace's pages, renumbered densely in address order, at
 * a made-up address that is never dereferenced; the RAM window is empty.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../src/core/internal.h"
#include "port.h"

struct zp_state zp;
struct z_page_frame *z_page_frames;
size_t z_num_page_frames;

struct sim_port sim_port;

#define SIM_BASE ((uint8_t *)0x100000000000ULL)

int sim_port_init(size_t npages, size_t frames, enum sim_mode mode)
{
	memset(&zp, 0, sizeof(zp));
	memset(&sim_port, 0, sizeof(sim_port));
	zp.pte = calloc(npages, sizeof(*zp.pte));
	z_page_frames = calloc(frames, sizeof(*z_page_frames));
	sim_port.free = malloc(frames * sizeof(*sim_port.free));
	if (zp.pte == NULL || z_page_frames == NULL || sim_port.free == NULL) {
		sim_port_fini();
		return -1;
	}
	zp.base = SIM_BASE;
	zp.npages = npages;
	zp.vm_size = npages << ZP_PAGE_SHIFT;
	zp.ram_size = 0;
	zp.nframes = frames;
	atomic_store(&zp.vm_high, npages);
	atomic_store(&zp.started, 1);
	zp.conf.nru_period_ms = 100;
	/* Touches of cleared pages are seen; with full information every
	 * touch is, and clearing unmaps nothing. */
	zp.port.minor = mode == SIM_SAMPLED;
	z_num_page_frames = frames;
	for (size_t i = 0; i < npages; i++)
		atomic_store(&zp.pte[i], ((zp_pte_t)PS_ZERO << PTE_STATE_SHIFT) |
						 PTE_WRITABLE);
	/* Frame 0 handed out first, as the library does. */
	for (size_t f = 0; f < frames; f++)
		sim_port.free[f] = (uint32_t)(frames - 1 - f);
	sim_port.nfree = frames;
	sim_port.mode = mode;
	return 0;
}

void sim_port_fini(void)
{
	free((void *)zp.pte);
	free(z_page_frames);
	free(sim_port.free);
	zp.pte = NULL;
	z_page_frames = NULL;
	sim_port.free = NULL;
	z_num_page_frames = 0;
}

uintptr_t zp_page_info(void *addr, uintptr_t *location, bool clear_accessed,
		       bool refresh)
{
	size_t idx = zp_page_index(addr);
	(void)refresh;

	if (idx == SIZE_MAX)
		return ARCH_DATA_PAGE_NOT_MAPPED;
	zp_pte_t pte = atomic_load_explicit(&zp.pte[idx], memory_order_relaxed);
	if (pte_state(pte) != PS_RESIDENT) {
		if (location != NULL)
			*location = 0;
		return 0;
	}
	uintptr_t bits = ARCH_DATA_PAGE_LOADED;
	if (pte & PTE_ACCESSED)
		bits |= ARCH_DATA_PAGE_ACCESSED;
	if (pte & PTE_DIRTY)
		bits |= ARCH_DATA_PAGE_DIRTY;
	if (location != NULL)
		*location = Z_PHYS_RAM_START + pte_frame(pte) * ZP_PAGE_SIZE;
	if (clear_accessed && (pte & PTE_ACCESSED)) {
		pte &= ~PTE_ACCESSED;
		if (sim_port.mode == SIM_SAMPLED)
			pte |= PTE_ZAPPED;
		atomic_store_explicit(&zp.pte[idx], pte, memory_order_relaxed);
	}
	return bits;
}

uintptr_t arch_page_info_get(void *addr, uintptr_t *location,
			     bool clear_accessed)
{
	return zp_page_info(addr, location, clear_accessed, true);
}

/* Bits are set when the simulated touch happens: nothing to catch up. */
void zp_access_refresh(size_t first, size_t n)
{
	(void)first;
	(void)n;
}

void zp_accessed_flush(void)
{
}

void zp_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("zpage sim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

void k_mem_paging_stats_get(struct k_mem_paging_stats_t *stats)
{
	memset(stats, 0, sizeof(*stats));
	stats->pagefaults.cnt = sim_port.faults;
	stats->eviction.clean = sim_port.evictions - sim_port.dirty_evictions;
	stats->eviction.dirty = sim_port.dirty_evictions;
}

/* One timer at a time (nru's), on virtual time. */
void k_timer_init(struct k_timer *timer, k_timer_expiry_t expiry_fn,
		  k_timer_stop_t stop_fn)
{
	timer->expiry_fn = expiry_fn;
	timer->stop_fn = stop_fn;
	timer->impl = NULL;
}

void k_timer_start(struct k_timer *timer, k_timeout_t duration,
		   k_timeout_t period)
{
	sim_port.timer = timer;
	sim_port.timer_period = (uint64_t)period.ns;
	sim_port.timer_next = sim_port.now + (uint64_t)duration.ns;
}

void k_timer_stop(struct k_timer *timer)
{
	if (sim_port.timer == timer)
		sim_port.timer = NULL;
}
