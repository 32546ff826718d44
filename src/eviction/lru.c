/*
 * lru: least recently used, from the tracking hooks (as Zephyr 3.x's LRU).
 *
 * Frames are kept in the order their pages were last seen touched; the one
 * seen longest ago is evicted. A touch is seen when the library reports it
 * (k_mem_paging_eviction_accessed): the first touch after the page's
 * accessed bit was cleared. The algorithm clears it after each load and
 * each reported touch (arm.h: a batch at a time, so touches within the
 * next few loads count as the same use).
 *
 * Signals used: add/remove, and accessed, which costs one minor fault per
 * reported touch: at most one per page between two batches of arms. With
 * every touch reported (the simulator's full-information mode) it is exact
 * LRU.
 */
#include "../core/internal.h"
#include "arm.h"
#include "queue.h"

static struct fq_links links;
static struct fq queue; /* head: least recently seen */
static uint8_t *member;

static void lru_init(void)
{
	free(member);
	member = calloc(Z_NUM_PAGE_FRAMES, 1);
	if (member == NULL || fq_links_init(&links, Z_NUM_PAGE_FRAMES) != 0)
		zp_fatal("lru: out of memory for %zu frames", Z_NUM_PAGE_FRAMES);
	fq_init(&queue);
	zp_arm_reset();
}

static void lru_fini(void)
{
	fq_links_fini(&links);
	free(member);
	member = NULL;
}

static void lru_add(struct z_page_frame *pf)
{
	uint32_t f = (uint32_t)z_page_frame_index(pf);

	member[f] = 1;
	fq_push_tail(&links, &queue, f);
	zp_arm(z_page_frame_addr(pf));
}

static void lru_remove(struct z_page_frame *pf)
{
	uint32_t f = (uint32_t)z_page_frame_index(pf);

	member[f] = 0;
	fq_unlink(&links, &queue, f);
}

static void lru_accessed(uintptr_t phys)
{
	if (!z_is_page_frame(phys))
		return;
	struct z_page_frame *pf = z_phys_to_page_frame(phys);
	uint32_t f = (uint32_t)z_page_frame_index(pf);
	if (!member[f])
		return;
	fq_to_tail(&links, &queue, f);
	zp_arm(z_page_frame_addr(pf));
}

static struct z_page_frame *lru_select(bool *dirty)
{
	return fq_select_oldest(&links, &queue, dirty);
}

const struct zp_eviction_ops zp_eviction_lru = {
	.name = "lru",
	.init = lru_init,
	.select = lru_select,
	.fini = lru_fini,
	.add = lru_add,
	.remove = lru_remove,
	.accessed = lru_accessed,
};
