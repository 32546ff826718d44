/*
 * Page-table words: the per-page lock, and the page bits plug-ins read
 * through arch_page_info_get().
 *
 * The lock is a bit in the page's own word, so there is one lock per virtual
 * page and nothing global on the fault path. Waiters sleep on the word's low
 * 32 bits after a short spin; page operations take microseconds.
 */
#include "internal.h"

#define SPINS 64
#define ZAP_BATCH 128

static inline uint32_t *futex_word(_Atomic zp_pte_t *p)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return (uint32_t *)p + 1;
#else
	return (uint32_t *)p;
#endif
}

zp_pte_t zp_page_lock(size_t idx)
{
	_Atomic zp_pte_t *p = &zp.pte[idx];
	zp_pte_t old = atomic_load_explicit(p, memory_order_relaxed);
	unsigned spins = 0;

	for (;;) {
		if (!(old & PTE_LOCK)) {
			if (atomic_compare_exchange_weak_explicit(
				    p, &old, old | PTE_LOCK, memory_order_acquire,
				    memory_order_relaxed))
				return old | PTE_LOCK;
			continue;
		}
		if (spins++ < SPINS) {
			zp_cpu_relax();
			old = atomic_load_explicit(p, memory_order_relaxed);
			continue;
		}
		if (!(old & PTE_WAITERS)) {
			if (!atomic_compare_exchange_weak_explicit(
				    p, &old, old | PTE_WAITERS,
				    memory_order_relaxed, memory_order_relaxed))
				continue;
			old |= PTE_WAITERS;
		}
		zp_port_wait(futex_word(p), (uint32_t)old);
		old = atomic_load_explicit(p, memory_order_relaxed);
	}
}

bool zp_page_trylock(size_t idx, zp_pte_t *pte)
{
	_Atomic zp_pte_t *p = &zp.pte[idx];
	zp_pte_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!(old & PTE_LOCK)) {
		if (atomic_compare_exchange_weak_explicit(
			    p, &old, old | PTE_LOCK, memory_order_acquire,
			    memory_order_relaxed)) {
			*pte = old | PTE_LOCK;
			return true;
		}
	}
	return false;
}

void zp_page_unlock(size_t idx, zp_pte_t new_pte)
{
	_Atomic zp_pte_t *p = &zp.pte[idx];
	zp_pte_t old = atomic_exchange_explicit(
		p, new_pte & ~(PTE_LOCK | PTE_WAITERS), memory_order_release);

	if (old & PTE_WAITERS)
		zp_port_wake_all(futex_word(p));
}

/* Accessed-bit clearings requested by plug-ins on this thread, applied in a
 * batch (one system call for many pages). */
static _Thread_local size_t zap_pending[ZAP_BATCH];
static _Thread_local size_t zap_npending;

void zp_accessed_flush(void)
{
	uint8_t *addrs[ZAP_BATCH];
	size_t locked[ZAP_BATCH];
	zp_pte_t ptes[ZAP_BATCH];
	size_t n = 0;

	for (size_t i = 0; i < zap_npending; i++) {
		size_t idx = zap_pending[i];
		zp_pte_t pte;

		if (!zp_page_trylock(idx, &pte))
			continue;
		if (pte_state(pte) != PS_RESIDENT || (pte & PTE_ZAPPED) ||
		    (pte & PTE_ACCESSED) ||
		    (z_page_frame_flags(&z_page_frames[pte_frame(pte)]) &
		     (Z_PAGE_FRAME_PINNED | Z_PAGE_FRAME_BUSY))) {
			zp_page_unlock(idx, pte);
			continue;
		}
		/* Busy: eviction skips it instead of failing on its lock. */
		zp_frame_set_busy(pte_frame(pte), true);
		addrs[n] = zp_page_addr(idx);
		locked[n] = idx;
		ptes[n++] = pte;
	}
	zap_npending = 0;
	if (n == 0)
		return;
	bool ok = zp_port_zap(addrs, n) == 0;
	for (size_t i = 0; i < n; i++) {
		zp_frame_set_busy(pte_frame(ptes[i]), false);
		zp_page_unlock(locked[i], ok ? ptes[i] | PTE_ZAPPED : ptes[i]);
	}
}

static void accessed_clear(size_t idx)
{
	atomic_fetch_and_explicit(&zp.pte[idx], ~PTE_ACCESSED,
				  memory_order_relaxed);
	if (!zp.port.minor)
		return; /* cannot observe the next touch: the bit stays clear */
	zap_pending[zap_npending++] = idx;
	if (zap_npending == ZAP_BATCH)
		zp_accessed_flush();
}

uintptr_t arch_page_info_get(void *addr, uintptr_t *location,
			     bool clear_accessed)
{
	size_t idx = zp_running() ? zp_page_index(addr) : SIZE_MAX;

	if (idx == SIZE_MAX)
		return ARCH_DATA_PAGE_NOT_MAPPED;
	zp_pte_t pte = atomic_load_explicit(&zp.pte[idx], memory_order_acquire);
	uintptr_t bits = 0;

	switch (pte_state(pte)) {
	case PS_RESIDENT:
		bits = ARCH_DATA_PAGE_LOADED;
		if (pte & PTE_ACCESSED)
			bits |= ARCH_DATA_PAGE_ACCESSED;
		if (pte & PTE_DIRTY)
			bits |= ARCH_DATA_PAGE_DIRTY;
		if (location != NULL)
			*location = Z_PHYS_RAM_START +
				    pte_frame(pte) * ZP_PAGE_SIZE;
		if (clear_accessed && (pte & PTE_ACCESSED) &&
		    !z_page_frame_is_pinned(&z_page_frames[pte_frame(pte)]))
			accessed_clear(idx);
		return bits;
	case PS_OUT:
		if (location != NULL)
			*location = pte_location(pte);
		return 0;
	case PS_ZERO:
		return 0;
	case PS_RAM:
		if (location != NULL)
			*location = Z_PHYS_RAM_START + idx * ZP_PAGE_SIZE;
		return ARCH_DATA_PAGE_LOADED | ARCH_DATA_PAGE_ACCESSED |
		       ARCH_DATA_PAGE_DIRTY;
	case PS_PHYS:
		return ARCH_DATA_PAGE_LOADED | ARCH_DATA_PAGE_ACCESSED |
		       ARCH_DATA_PAGE_DIRTY;
	default:
		return ARCH_DATA_PAGE_NOT_MAPPED;
	}
}

int arch_page_location_get(void *addr, uintptr_t *location)
{
	size_t idx = zp_running() ? zp_page_index(addr) : SIZE_MAX;

	if (idx == SIZE_MAX)
		return ARCH_PAGE_LOCATION_BAD;
	zp_pte_t pte = atomic_load_explicit(&zp.pte[idx], memory_order_acquire);

	switch (pte_state(pte)) {
	case PS_RESIDENT:
		*location = Z_PHYS_RAM_START + pte_frame(pte) * ZP_PAGE_SIZE;
		return ARCH_PAGE_LOCATION_PAGED_IN;
	case PS_OUT:
		*location = pte_location(pte);
		return ARCH_PAGE_LOCATION_PAGED_OUT;
	default:
		return ARCH_PAGE_LOCATION_BAD;
	}
}
