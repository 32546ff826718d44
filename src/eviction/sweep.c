/*
 * sweep: evicts resident pages in address order, a batch at a time, with a
 * hand that goes round the mapped part of the region.
 *
 * It uses no accessed or dirty bits. A user-space pager sees a touch of a
 * resident page only by unmapping the page first and taking a minor fault
 * on the next touch, which costs about as much as a page-in: on the
 * reference workload sampling them costs more faults than it saves
 * (uniform: 0.91 faults per touch instead of 0.75; zipf 0.99: 0.27 instead
 * of 0.18, by simulation). And victims that are neighbours in the address
 * space are unmapped, read and freed together, which makes each eviction
 * about five times cheaper (see evict.c). A page stays resident until the
 * hand comes back to it: in effect a FIFO ordered by address.
 *
 * Signals used: residency and frame flags (pinned, busy) only.
 */
#include "../core/internal.h"

static size_t hand;

/* Up to n evictable resident pages from the hand on. */
static size_t sweep_select_pages(size_t *pages, size_t n)
{
	size_t lo, hi, k = 0;

	if (!zp_hand_bounds(&hand, &lo, &hi))
		return 0;
	for (size_t seen = 0; seen < hi - lo && k < n; seen++) {
		size_t idx = hand;
		hand = hand + 1 < hi ? hand + 1 : lo;
		zp_pte_t pte = atomic_load_explicit(&zp.pte[idx],
						    memory_order_relaxed);
		if (zp_pte_evictable(pte))
			pages[k++] = idx;
	}
	return k;
}

/* The seed interface, for completeness: one page. */
static struct z_page_frame *sweep_select(bool *dirty)
{
	size_t idx;

	if (sweep_select_pages(&idx, 1) == 0)
		return NULL;
	zp_pte_t pte = atomic_load(&zp.pte[idx]);
	*dirty = (pte & PTE_DIRTY) != 0;
	return &z_page_frames[pte_frame(pte)];
}

static void sweep_init(void)
{
	hand = 0;
}

const struct zp_eviction_ops zp_eviction_sweep = {
	.name = "sweep",
	.init = sweep_init,
	.select = sweep_select,
	.select_pages = sweep_select_pages,
};
