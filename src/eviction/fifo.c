/*
 * fifo: evicts the page that was loaded first.
 *
 * Signals used: none but the tracking hooks' add and remove (load order).
 * No accessed bits are read or cleared, so it costs no minor faults; it is
 * the baseline every other algorithm is measured against, and its results
 * are exact (ties cannot happen: one load at a time).
 *
 * A frame that cannot be evicted at the moment (busy, its page locked) is
 * moved to the newest end when passed, so the next selection moves on.
 */
#include "../core/internal.h"
#include "queue.h"

static struct fq_links links;
static struct fq queue;

static void fifo_init(void)
{
	if (fq_links_init(&links, Z_NUM_PAGE_FRAMES) != 0)
		zp_fatal("fifo: out of memory for %zu frames", Z_NUM_PAGE_FRAMES);
	fq_init(&queue);
}

static void fifo_fini(void)
{
	fq_links_fini(&links);
}

static void fifo_add(struct z_page_frame *pf)
{
	fq_push_tail(&links, &queue, (uint32_t)z_page_frame_index(pf));
}

static void fifo_remove(struct z_page_frame *pf)
{
	fq_unlink(&links, &queue, (uint32_t)z_page_frame_index(pf));
}

static struct z_page_frame *fifo_select(bool *dirty)
{
	return fq_select_oldest(&links, &queue, dirty);
}

const struct zp_eviction_ops zp_eviction_fifo = {
	.name = "fifo",
	.init = fifo_init,
	.select = fifo_select,
	.fini = fifo_fini,
	.add = fifo_add,
	.remove = fifo_remove,
};
