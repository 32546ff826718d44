/*
 * s3fifo: S3-FIFO (Yang et al., SOSP 2023). Three FIFO queues: a small one
 * (a tenth of the frames) that new pages enter, a main one, and a ghost
 * queue of the addresses of pages evicted from the small one. A page
 * leaving the small queue moves to the main one if it was touched there,
 * else it is evicted and remembered as a ghost; a page loaded while its
 * ghost is remembered enters the main queue directly. The main queue is a
 * CLOCK with a use count of 0..3: a page found touched at the head gains a
 * use, and one use is spent per trip round.
 *
 * Signals used: add/remove and the accessed bit, cleared after the load
 * (arm.h) and each time the page is looked at the head of a queue: at most
 * one minor fault per page and look. The library sees at most one touch
 * per clearing, so a page moves to the main queue after one seen touch
 * (the paper counts every hit, which a pager cannot see).
 */
#include "../core/internal.h"
#include "arm.h"
#include "ghost.h"
#include "queue.h"

enum { SMALL, MAIN };

static struct fq_links links;
static struct fq q[2];
static uint8_t *where, *uses;
static struct ghost ghosts;
static size_t small_target;

static void s3fifo_fini(void)
{
	fq_links_fini(&links);
	free(where);
	free(uses);
	where = uses = NULL;
	ghost_fini(&ghosts);
}

static void s3fifo_init(void)
{
	size_t n = Z_NUM_PAGE_FRAMES;

	s3fifo_fini();
	where = calloc(n, 1);
	uses = calloc(n, 1);
	small_target = n / 10 ? n / 10 : 1;
	if (!where || !uses || fq_links_init(&links, n) != 0 ||
	    ghost_init(&ghosts, n - small_target ? n - small_target : 1) != 0)
		zp_fatal("s3fifo: out of memory for %zu frames", n);
	fq_init(&q[SMALL]);
	fq_init(&q[MAIN]);
	zp_arm_reset();
}

static void s3fifo_add(struct z_page_frame *pf)
{
	uint32_t f = (uint32_t)z_page_frame_index(pf);
	void *addr = z_page_frame_addr(pf);

	where[f] = ghost_take(&ghosts, (uintptr_t)addr) ? MAIN : SMALL;
	uses[f] = 0;
	fq_push_tail(&links, &q[where[f]], f);
	zp_arm(addr);
}

static void s3fifo_remove(struct z_page_frame *pf)
{
	uint32_t f = (uint32_t)z_page_frame_index(pf);

	fq_unlink(&links, &q[where[f]], f);
}

static struct z_page_frame *s3fifo_select(bool *dirty)
{
	/* Each look moves a page on; uses run out after four trips. */
	size_t limit = 5 * (q[SMALL].count + q[MAIN].count) + 1;

	for (size_t steps = 0; steps < limit; steps++) {
		int from = q[SMALL].count > 0 && (q[SMALL].count >= small_target ||
						  q[MAIN].count == 0)
				   ? SMALL
				   : MAIN;
		uint32_t f = q[from].head;
		if (f == FQ_NIL)
			return NULL;
		struct z_page_frame *pf = &z_page_frames[f];
		if (!z_page_frame_is_evictable(pf)) {
			fq_to_tail(&links, &q[from], f);
			continue;
		}
		void *addr = z_page_frame_addr(pf);
		uintptr_t bits = arch_page_info_get(addr, NULL, true);
		bool touched = (bits & ARCH_DATA_PAGE_ACCESSED) != 0;
		if (from == SMALL && touched) {
			fq_unlink(&links, &q[SMALL], f);
			where[f] = MAIN;
			fq_push_tail(&links, &q[MAIN], f);
			continue;
		}
		if (from == MAIN) {
			if (touched && uses[f] < 3)
				uses[f]++;
			if (uses[f] > 0) {
				uses[f]--;
				fq_to_tail(&links, &q[MAIN], f);
				continue;
			}
		}
		/* The victim stays queued until the library removes it; moved
		 * on so that a failed eviction does not pick it again. */
		fq_to_tail(&links, &q[from], f);
		if (from == SMALL)
			ghost_insert(&ghosts, (uintptr_t)addr);
		*dirty = (bits & ARCH_DATA_PAGE_DIRTY) != 0;
		return pf;
	}
	return NULL;
}

const struct zp_eviction_ops zp_eviction_s3fifo = {
	.name = "s3fifo",
	.init = s3fifo_init,
	.select = s3fifo_select,
	.fini = s3fifo_fini,
	.add = s3fifo_add,
	.remove = s3fifo_remove,
};
