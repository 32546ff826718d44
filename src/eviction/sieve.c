/*
 * sieve: SIEVE (Zhang et al., NSDI 2024). Pages stay in load order; a hand
 * moves from the oldest towards the newest. A page touched since the hand
 * last passed (or since its load) stays where it is, its bit cleared; the
 * first untouched page is evicted and the hand goes on from there. New
 * pages enter at the newest end, so a page loaded and never touched again
 * leaves at the hand's next pass: one-time pages go quickly, popular ones
 * are never moved.
 *
 * Signals used: add/remove and the accessed bit ("visited"), cleared after
 * the load (arm.h) and where the hand passes: at most one minor fault per
 * page and pass of the hand, plus one after its load.
 */
#include "../core/internal.h"
#include "arm.h"
#include "queue.h"

static struct fq_links links;
static struct fq queue; /* head: oldest */
static uint32_t hand;

static void sieve_init(void)
{
	if (fq_links_init(&links, Z_NUM_PAGE_FRAMES) != 0)
		zp_fatal("sieve: out of memory for %zu frames", Z_NUM_PAGE_FRAMES);
	fq_init(&queue);
	hand = FQ_NIL;
	zp_arm_reset();
}

static void sieve_fini(void)
{
	fq_links_fini(&links);
}

static void sieve_add(struct z_page_frame *pf)
{
	fq_push_tail(&links, &queue, (uint32_t)z_page_frame_index(pf));
	zp_arm(z_page_frame_addr(pf));
}

static void sieve_remove(struct z_page_frame *pf)
{
	uint32_t f = (uint32_t)z_page_frame_index(pf);

	if (hand == f)
		hand = links.next[f];
	fq_unlink(&links, &queue, f);
}

static struct z_page_frame *sieve_select(bool *dirty)
{
	/* Two passes: the first may clear every bit. */
	for (size_t steps = 0; steps <= 2 * queue.count; steps++) {
		if (hand == FQ_NIL)
			hand = queue.head;
		if (hand == FQ_NIL)
			return NULL;
		uint32_t f = hand;
		struct z_page_frame *pf = &z_page_frames[f];
		hand = links.next[f];
		if (!z_page_frame_is_evictable(pf))
			continue;
		uintptr_t bits = arch_page_info_get(z_page_frame_addr(pf), NULL,
						    true);
		if (bits & ARCH_DATA_PAGE_ACCESSED)
			continue;
		*dirty = (bits & ARCH_DATA_PAGE_DIRTY) != 0;
		return pf;
	}
	return NULL;
}

const struct zp_eviction_ops zp_eviction_sieve = {
	.name = "sieve",
	.init = sieve_init,
	.select = sieve_select,
	.fini = sieve_fini,
	.add = sieve_add,
	.remove = sieve_remove,
};
