/*
 * NRU (Not Recently Used), the default eviction algorithm, as Zephyr's.
 *
 * Each resident page falls in one of four classes by its accessed and dirty
 * bits; the lowest class is evicted first:
 *   0: not accessed, clean   1: not accessed, dirty
 *   2: accessed, clean       3: accessed, dirty
 * A timer clears every accessed bit each ZPAGE_NRU_PERIOD_MS, so "accessed"
 * means "touched during the last period or so".
 *
 * Signals used: the accessed bit (set at page-in and at the first touch after
 * a clearing, which costs one minor fault per touched page and period) and
 * the dirty bit. Two changes from Zephyr's, both for large frame counts:
 * the timer skips its clearing when no page was evicted during the period
 * (a program whose data fits pays nothing), and the scan starts where the
 * last one stopped and settles for a not-accessed dirty page once it has
 * looked at SETTLE more frames for a clean one (at once if the previous scan
 * saw no clean page: always so with a store that keeps no clean copies), so
 * a selection does not read the whole table.
 *
 * The clearing visits the pages in address order, so that the library can
 * unmap them in ranges (one TLB flush for many; see pte.c): frame order is
 * random in the address space, and page by page the clearing cost about
 * 45 us per page on a two-vCPU guest.
 */
#include <stdlib.h>

#include "../core/internal.h"
#include "arm.h"

#define SETTLE 64

static struct k_timer timer;
static bool timer_running;
static size_t hand;
static unsigned long evictions_seen;
static size_t settle = SETTLE; /* frames to look at past a class-1 page */
static uintptr_t *accessed; /* clear_all: addresses of pages to clear */

static unsigned long evictions_now(void)
{
	struct k_mem_paging_stats_t s;

	k_mem_paging_stats_get(&s);
	return s.eviction.clean + s.eviction.dirty;
}

static void clear_all(struct k_timer *t)
{
	uintptr_t phys;
	struct z_page_frame *pf;
	unsigned long ev = evictions_now();
	size_t n = 0;

	(void)t;
	if (ev == evictions_seen)
		return;
	evictions_seen = ev;
	/* One look at what the host mapped back, for all pages at once. */
	size_t lo, hi, start = 0;
	if (zp_hand_bounds(&start, &lo, &hi))
		zp_access_refresh(lo, hi - lo);
	Z_PAGE_FRAME_FOREACH(phys, pf) {
		if (!z_page_frame_is_evictable(pf))
			continue;
		void *addr = z_page_frame_addr(pf);
		if (accessed == NULL) {
			(void)zp_page_info(addr, NULL, true, false);
			continue;
		}
		if (zp_page_info(addr, NULL, false, false) & ARCH_DATA_PAGE_ACCESSED)
			accessed[n++] = (uintptr_t)addr;
	}
	if (n == 0)
		return;
	qsort(accessed, n, sizeof(accessed[0]), zp_by_address);
	for (size_t i = 0; i < n; i++)
		(void)zp_page_info((void *)accessed[i], NULL, true, false);
}

static void nru_init(void)
{
	uint64_t ms = zp.conf.nru_period_ms;

	hand = 0;
	evictions_seen = 0;
	settle = SETTLE;
	free(accessed);
	accessed = calloc(Z_NUM_PAGE_FRAMES, sizeof(accessed[0]));
	k_timer_init(&timer, clear_all, NULL);
	k_timer_start(&timer, K_MSEC(ms), K_MSEC(ms));
	timer_running = true;
}

static void nru_fini(void)
{
	if (timer_running)
		k_timer_stop(&timer);
	timer_running = false;
	free(accessed);
	accessed = NULL;
}

static struct z_page_frame *nru_select(bool *dirty)
{
	size_t n = Z_NUM_PAGE_FRAMES, settle_at = SIZE_MAX;
	struct z_page_frame *best = NULL;
	unsigned best_class = 4;
	size_t clean_seen = 0;

	for (size_t i = 0; i < n && i <= settle_at; i++) {
		struct z_page_frame *pf = &z_page_frames[(hand + i) % n];

		if (!z_page_frame_is_evictable(pf))
			continue;
		uintptr_t bits = arch_page_info_get(z_page_frame_addr(pf), NULL,
						    false);
		if (!(bits & ARCH_DATA_PAGE_LOADED))
			continue; /* changed since the flags were read */
		unsigned cls = ((bits & ARCH_DATA_PAGE_ACCESSED) ? 2U : 0U) +
			       ((bits & ARCH_DATA_PAGE_DIRTY) ? 1U : 0U);
		clean_seen += (cls & 1U) == 0;
		if (cls < best_class) {
			best = pf;
			best_class = cls;
			if (cls == 0)
				break;
			if (cls == 1 && settle_at == SIZE_MAX)
				settle_at = i + settle;
		}
	}
	settle = clean_seen != 0 ? SETTLE : 0;
	if (best == NULL)
		return NULL;
	hand = (z_page_frame_index(best) + 1) % n;
	*dirty = (best_class & 1U) != 0;
	return best;
}

const struct zp_eviction_ops zp_eviction_nru = {
	.name = "nru",
	.init = nru_init,
	.select = nru_select,
	.fini = nru_fini,
};
