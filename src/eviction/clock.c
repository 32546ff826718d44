/*
 * clock: second-chance CLOCK with the hand going round the address space.
 *
 * The hand passes resident pages in address order. A page touched since the
 * hand last passed it (accessed bit set) gets a second chance: its bit is
 * cleared and it stays; an untouched one is evicted. Hot pages therefore
 * stay resident, and a cold page leaves one revolution after its last touch.
 *
 * Signals used: the accessed bit, cleared only where the hand passes, so the
 * sampling rate follows the eviction rate (no timer: a program whose data
 * fits pays nothing). Seeing a touch of a page whose bit is clear costs the
 * kernel a minor fault of its own (where it maps the page back itself and
 * the hand reads which pages it mapped, a window at a time) or the library
 * one, at most once per page and revolution. The pages
 * the hand clears are neighbours, unmapped together in ranges (pte.c), and
 * the victims were mostly unmapped by the previous pass already, so their
 * eviction needs no TLB flush at all.
 *
 * Through the seed interface (one frame per call) the hand goes round the
 * frame table instead, as a Zephyr CLOCK would.
 */
#include "../core/internal.h"

#define WINDOW 512 /* pages whose accessed bits are refreshed at once */

static size_t page_hand;  /* native: next page index to look at */
static size_t frame_hand; /* seed interface: next frame to look at */

static void clock_init(void)
{
	page_hand = 0;
	frame_hand = 0;
}

/* Up to n victims from the hand on; the hand clears the accessed bits it
 * passes. After one revolution every bit it met is clear, so a second one
 * finds victims unless every page is pinned or busy. */
static size_t clock_select_pages(size_t *pages, size_t n)
{
	size_t lo, hi, k = 0;

	if (!zp_hand_bounds(&page_hand, &lo, &hi))
		return 0;
	size_t fresh = SIZE_MAX; /* accessed bits fresh in [fresh, +WINDOW) */
	for (size_t steps = 0; steps < 2 * (hi - lo) && k < n; steps++) {
		size_t idx = page_hand;
		page_hand = page_hand + 1 < hi ? page_hand + 1 : lo;
		zp_pte_t pte = atomic_load_explicit(&zp.pte[idx],
						    memory_order_relaxed);
		if (!zp_pte_evictable(pte))
			continue;
		/* A page the kernel may have mapped back since its bit was
		 * cleared: look at it and the window after it at once. */
		if ((pte & (PTE_ZAPPED | PTE_ACCESSED)) == PTE_ZAPPED &&
		    zp.port.mapped && (idx < fresh || idx - fresh >= WINDOW)) {
			fresh = idx;
			zp_access_refresh(idx, idx + WINDOW < hi ? WINDOW : hi - idx);
			pte = atomic_load_explicit(&zp.pte[idx],
						   memory_order_relaxed);
		}
		if (pte & PTE_ACCESSED)
			(void)arch_page_info_get(zp_page_addr(idx), NULL, true);
		else
			pages[k++] = idx;
	}
	zp_accessed_flush();
	return k;
}

static struct z_page_frame *clock_select(bool *dirty)
{
	size_t n = Z_NUM_PAGE_FRAMES;

	for (size_t steps = 0; steps < 2 * n; steps++) {
		struct z_page_frame *pf = &z_page_frames[frame_hand];
		frame_hand = frame_hand + 1 < n ? frame_hand + 1 : 0;
		if (!z_page_frame_is_evictable(pf))
			continue;
		uintptr_t bits = arch_page_info_get(z_page_frame_addr(pf), NULL,
						    true);
		if (!(bits & ARCH_DATA_PAGE_LOADED) ||
		    (bits & ARCH_DATA_PAGE_ACCESSED))
			continue;
		*dirty = (bits & ARCH_DATA_PAGE_DIRTY) != 0;
		return pf;
	}
	return NULL;
}

const struct zp_eviction_ops zp_eviction_clock = {
	.name = "clock",
	.init = clock_init,
	.select = clock_select,
	.select_pages = clock_select_pages,
};
