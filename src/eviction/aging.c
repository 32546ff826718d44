/*
 * aging: LRU approximated from sampled accessed bits, as in textbook page
 * aging. Each frame has an 8-bit age; every TICK evictions the bits of all
 * tracked pages are read and cleared, and each age shifts right with the
 * bit entering at the top. The page with the smallest age (not touched for
 * the most ticks) is evicted; among equal ages, the first in address order
 * at the last tick, then later loads in load order.
 *
 * Signals used: add/remove and the accessed bit, sampled once a tick: one
 * minor fault per page touched during a tick, whatever the number of
 * touches. The tick follows evictions (an eighth of the frames), not time,
 * so a program whose data fits pays nothing.
 *
 * A page's load is its touch of the tick it happens in: its first tick
 * does not shift (the bit set by the load is not counted twice).
 */
#include <stdlib.h>

#include "../core/internal.h"
#include "arm.h"
#include "queue.h"

#define AGES 256

static struct fq_links links;
static struct fq bucket[AGES];
static uint8_t *age, *fresh, *member;
static uintptr_t *order; /* tick: (address, frame) pairs */
static size_t since_tick, tick_every;

static void aging_fini(void)
{
	fq_links_fini(&links);
	free(age);
	free(fresh);
	free(member);
	free(order);
	age = fresh = member = NULL;
	order = NULL;
}

static void aging_init(void)
{
	size_t n = Z_NUM_PAGE_FRAMES;

	aging_fini();
	age = calloc(n, 1);
	fresh = calloc(n, 1);
	member = calloc(n, 1);
	order = calloc(2 * n, sizeof(*order));
	if (!age || !fresh || !member || !order ||
	    fq_links_init(&links, n) != 0)
		zp_fatal("aging: out of memory for %zu frames", n);
	for (size_t i = 0; i < AGES; i++)
		fq_init(&bucket[i]);
	since_tick = 0;
	tick_every = n / 8 ? n / 8 : 1;
}

static void aging_add(struct z_page_frame *pf)
{
	uint32_t f = (uint32_t)z_page_frame_index(pf);

	member[f] = 1;
	fresh[f] = 1;
	age[f] = 0x80;
	fq_push_tail(&links, &bucket[0x80], f);
}

static void aging_remove(struct z_page_frame *pf)
{
	uint32_t f = (uint32_t)z_page_frame_index(pf);

	member[f] = 0;
	fq_unlink(&links, &bucket[age[f]], f);
}

static void tick(void)
{
	size_t n = 0;

	for (size_t b = 0; b < AGES; b++) {
		for (uint32_t f = bucket[b].head; f != FQ_NIL; f = links.next[f]) {
			order[2 * n] = (uintptr_t)z_page_frame_addr(&z_page_frames[f]);
			order[2 * n + 1] = f;
			n++;
		}
		fq_init(&bucket[b]);
	}
	qsort(order, n, 2 * sizeof(*order), zp_by_address);
	for (size_t i = 0; i < n; i++) {
		uint32_t f = (uint32_t)order[2 * i + 1];
		uintptr_t bits = arch_page_info_get((void *)order[2 * i], NULL,
						    true);
		bool touched = (bits & ARCH_DATA_PAGE_ACCESSED) != 0;
		if (fresh[f])
			fresh[f] = 0;
		else
			age[f] = (uint8_t)((age[f] >> 1) | (touched ? 0x80 : 0));
		fq_push_tail(&links, &bucket[age[f]], f);
	}
}

static struct z_page_frame *aging_select(bool *dirty)
{
	if (++since_tick >= tick_every) {
		since_tick = 0;
		tick();
	}
	for (size_t b = 0; b < AGES; b++) {
		struct z_page_frame *pf = fq_select_oldest(&links, &bucket[b], dirty);
		if (pf != NULL)
			return pf;
	}
	return NULL;
}

const struct zp_eviction_ops zp_eviction_aging = {
	.name = "aging",
	.init = aging_init,
	.select = aging_select,
	.fini = aging_fini,
	.add = aging_add,
	.remove = aging_remove,
};
