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
#define ZAP_BATCH 1024 /* clearings applied together */
#define ZAP_GAP 256   /* pages a range may bridge */
#define ZAP_SPAN 1024 /* pages a range may cover */

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

void zp_page_claim(size_t idx, zp_pte_t new_pte)
{
	zp_page_lock(idx);
	zp_page_unlock(idx, new_pte);
}

/* Accessed-bit clearings requested by plug-ins on this thread, applied in a
 * batch. Unmapping a page costs a TLB flush, and in a multi-threaded process
 * on a paravirtualised guest that is an IPI of about 45 us whether the range
 * holds one page or hundreds (process_madvise() flushes once per page). So
 * the pages are unmapped in ranges: neighbours with the pages between them
 * that have no mapping to lose (not resident, or already unmapped) or whose
 * clearing is pending too, locked for the moment so that nothing maps them
 * meanwhile. */
static _Thread_local size_t zap_pending[ZAP_BATCH];
static _Thread_local size_t zap_npending;

/* A page whose clearing is pending: mapped, resident, untouched since its
 * bit was cleared, neither pinned nor busy. */
static bool zap_target(zp_pte_t pte)
{
	return pte_state(pte) == PS_RESIDENT &&
	       !(pte & (PTE_ZAPPED | PTE_ACCESSED)) &&
	       !(z_page_frame_flags(&z_page_frames[pte_frame(pte)]) &
		 (Z_PAGE_FRAME_PINNED | Z_PAGE_FRAME_BUSY));
}

/* A page of a mapping with nothing mapped to lose. (Free space and guard
 * pages are not: k_mem_map() claims them without taking their locks.)
 * Where the host maps zapped pages back itself, a zapped page counts only
 * if zp_access_refresh() saw it unmapped just before. */
static bool zap_harmless(zp_pte_t pte)
{
	enum zp_page_state s = pte_state(pte);

	return s == PS_ZERO || s == PS_OUT ||
	       (s == PS_RESIDENT && (pte & PTE_ZAPPED));
}

/* Lock page idx for a zap: a target, or (as a gap inside a range) any page
 * whose unmapping loses nothing. Targets are marked busy, so that eviction
 * skips them instead of failing on their locks. */
static bool lock_for_zap(size_t idx, zp_pte_t *pte, bool gap)
{
	if (!zp_page_trylock(idx, pte))
		return false;
	if (zap_target(*pte)) {
		zp_frame_set_busy(pte_frame(*pte), true);
		return true;
	}
	if (gap && zap_harmless(*pte))
		return true;
	zp_page_unlock(idx, *pte);
	return false;
}

static void sort_indices(size_t *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		size_t x = a[i], j = i;
		while (j > 0 && a[j - 1] > x) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = x;
	}
}

/* The locks of the range being built: pages first, first + 1, ... (kept
 * off the stack: the flush may run in a fault handler on a small signal
 * stack). */
static _Thread_local zp_pte_t zap_held[ZAP_SPAN];

/* Whether a page locked by lock_for_zap() is a target (its frame marked
 * busy) rather than a harmless gap. */
static bool zap_locked_target(zp_pte_t pte)
{
	return pte_state(pte) == PS_RESIDENT && !(pte & PTE_ZAPPED);
}

/* Let go of a page locked by lock_for_zap() without zapping it. */
static void zap_unlock_untouched(size_t idx, zp_pte_t pte)
{
	if (zap_locked_target(pte))
		zp_frame_set_busy(pte_frame(pte), false);
	zp_page_unlock(idx, pte);
}

/* Unmap the n locked pages from first on (targets and gaps) and unlock
 * them; targets become PTE_ZAPPED. */
static void zap_and_unlock(size_t first, size_t n)
{
	bool ok = zp_port_zap_range(zp_page_addr(first), n * ZP_PAGE_SIZE) == 0;

	for (size_t i = 0; i < n; i++) {
		zp_pte_t pte = zap_held[i];
		if (zap_locked_target(pte)) {
			zp_frame_set_busy(pte_frame(pte), false);
			if (ok)
				pte |= PTE_ZAPPED;
		}
		zp_page_unlock(first + i, pte);
	}
}

void zp_accessed_flush(void)
{
	size_t first = 0, n = 0, fresh_end = 0;

	sort_indices(zap_pending, zap_npending);
	for (size_t i = 0; i < zap_npending; i++) {
		size_t idx = zap_pending[i];
		zp_pte_t pte;

		if ((n > 0 && idx == first + n - 1) ||
		    !lock_for_zap(idx, &pte, false))
			continue;
		/* Join the current range if the pages between can be held. */
		size_t mark = n;
		bool join = n > 0 && idx - (first + n - 1) <= ZAP_GAP + 1 &&
			    idx - first < ZAP_SPAN;
		if (join && idx > fresh_end) {
			/* The gaps' zapped pages must be seen as they are now,
			 * a window at a time (one look at the host's tables). */
			size_t last = zap_pending[zap_npending - 1] + 1;
			fresh_end = first + n + ZAP_SPAN < last ? first + n + ZAP_SPAN
								: last;
			zp_access_refresh(first + n, fresh_end - (first + n));
		}
		for (size_t g = first + n; join && g < idx; g++) {
			if (!lock_for_zap(g, &zap_held[n], true)) {
				join = false;
				break;
			}
			n++;
		}
		if (!join) {
			/* The gap pages taken so far stay as they are (some
			 * may be targets, their frames marked busy). */
			while (n > mark) {
				n--;
				zap_unlock_untouched(first + n, zap_held[n]);
			}
			if (n > 0)
				zap_and_unlock(first, n);
			first = idx;
			n = 0;
		}
		zap_held[n++] = pte;
	}
	zap_npending = 0;
	if (n > 0)
		zap_and_unlock(first, n);
}

/* Bring the accessed bits of [first, first + n) up to date where the host
 * maps zapped pages back itself: a zapped page that is mapped again was
 * touched. (Lock holders store their own copy of the word on unlock, so
 * what is seen on a locked page is left for the next look.) */
#define REFRESH_CHUNK 512

void zp_access_refresh(size_t first, size_t n)
{
	uint64_t bits[REFRESH_CHUNK / 64];

	if (!zp.port.mapped)
		return;
	for (size_t done = 0; done < n; done += REFRESH_CHUNK) {
		size_t k = n - done < REFRESH_CHUNK ? n - done : REFRESH_CHUNK;
		size_t base = first + done;
		if (zp_port_mapped(zp_page_addr(base), k, bits) != 0)
			return;
		for (size_t i = 0; i < k; i++) {
			if (!((bits[i / 64] >> (i % 64)) & 1))
				continue;
			_Atomic zp_pte_t *p = &zp.pte[base + i];
			zp_pte_t pte = atomic_load_explicit(p, memory_order_relaxed);
			while (pte_state(pte) == PS_RESIDENT &&
			       (pte & (PTE_ZAPPED | PTE_LOCK)) == PTE_ZAPPED) {
				zp_pte_t seen = (pte & ~PTE_ZAPPED) | PTE_ACCESSED;
				if (atomic_compare_exchange_weak_explicit(
					    p, &pte, seen, memory_order_relaxed,
					    memory_order_relaxed)) {
					zp_count(access_faults);
					break;
				}
			}
		}
	}
}

static void accessed_clear(size_t idx)
{
	atomic_fetch_and_explicit(&zp.pte[idx], ~PTE_ACCESSED,
				  memory_order_relaxed);
	if (!zp.port.minor && !zp.port.mapped)
		return; /* cannot observe the next touch: the bit stays clear */
	zap_pending[zap_npending++] = idx;
	if (zap_npending == ZAP_BATCH)
		zp_accessed_flush();
}

uintptr_t zp_page_info(void *addr, uintptr_t *location, bool clear_accessed,
		       bool refresh)
{
	size_t idx = zp_running() ? zp_page_index(addr) : SIZE_MAX;

	if (idx == SIZE_MAX)
		return ARCH_DATA_PAGE_NOT_MAPPED;
	zp_pte_t pte = atomic_load_explicit(&zp.pte[idx], memory_order_acquire);
	uintptr_t bits = 0;

	if (refresh && zp.port.mapped && pte_state(pte) == PS_RESIDENT &&
	    (pte & (PTE_ZAPPED | PTE_ACCESSED)) == PTE_ZAPPED) {
		zp_access_refresh(idx, 1);
		pte = atomic_load_explicit(&zp.pte[idx], memory_order_acquire);
	}

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

uintptr_t arch_page_info_get(void *addr, uintptr_t *location,
			     bool clear_accessed)
{
	return zp_page_info(addr, location, clear_accessed, true);
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
