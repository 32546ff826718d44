/*
 * car: CAR, Clock with Adaptive Replacement (Bansal and Modha, FAST 2004):
 * ARC's balance of recency and frequency, on accessed bits instead of a
 * list move per hit. Two clocks: T1 holds pages touched once since they
 * came in, T2 pages touched again. Two ghost lists remember what each
 * clock evicted lately (B1, B2); a page loaded while remembered in B1 says
 * T1 is too small (its target p grows), one from B2 that T2 is. Eviction
 * takes from T1 while T1 is above p, else from T2; a page found touched in
 * T1 moves to T2, one in T2 goes round again, bits cleared.
 *
 * Signals used: add/remove and the accessed bit, cleared after the load
 * (arm.h) and where a clock hand passes: at most one minor fault per page
 * and pass.
 */
#include "../core/internal.h"
#include "arm.h"
#include "ghost.h"
#include "queue.h"

enum { T1, T2 };

static struct fq_links links;
static struct fq t[2];
static uint8_t *where;
static struct ghost b1, b2;
static size_t c, p;

static void car_fini(void)
{
	fq_links_fini(&links);
	free(where);
	where = NULL;
	ghost_fini(&b1);
	ghost_fini(&b2);
}

static void car_init(void)
{
	car_fini();
	c = Z_NUM_PAGE_FRAMES;
	p = 0;
	where = calloc(c, 1);
	if (!where || fq_links_init(&links, c) != 0 || ghost_init(&b1, c) != 0 ||
	    ghost_init(&b2, c) != 0)
		zp_fatal("car: out of memory for %zu frames", c);
	fq_init(&t[T1]);
	fq_init(&t[T2]);
	zp_arm_reset();
}

static size_t at_least_1(size_t x)
{
	return x ? x : 1;
}

static void car_add(struct z_page_frame *pf)
{
	uint32_t f = (uint32_t)z_page_frame_index(pf);
	uintptr_t x = (uintptr_t)z_page_frame_addr(pf);
	size_t n1 = b1.count, n2 = b2.count;

	if (ghost_take(&b1, x)) {
		size_t step = at_least_1(n2 / n1);
		p = p + step < c ? p + step : c;
		where[f] = T2;
	} else if (ghost_take(&b2, x)) {
		size_t step = at_least_1(n1 / n2);
		p = p > step ? p - step : 0;
		where[f] = T2;
	} else {
		/* Keep the directory within c pages of history per side. */
		if (t[T1].count + b1.count >= c)
			ghost_drop_oldest(&b1);
		else if (t[T1].count + t[T2].count + b1.count + b2.count >= 2 * c)
			ghost_drop_oldest(&b2);
		where[f] = T1;
	}
	fq_push_tail(&links, &t[where[f]], f);
	zp_arm((void *)x);
}

static void car_remove(struct z_page_frame *pf)
{
	uint32_t f = (uint32_t)z_page_frame_index(pf);

	fq_unlink(&links, &t[where[f]], f);
}

static struct z_page_frame *car_select(bool *dirty)
{
	size_t limit = 3 * (t[T1].count + t[T2].count) + 1;

	for (size_t steps = 0; steps < limit; steps++) {
		int from = t[T1].count > 0 && (t[T1].count >= at_least_1(p) ||
					       t[T2].count == 0)
				   ? T1
				   : T2;
		uint32_t f = t[from].head;
		if (f == FQ_NIL)
			return NULL;
		struct z_page_frame *pf = &z_page_frames[f];
		fq_to_tail(&links, &t[from], f);
		if (!z_page_frame_is_evictable(pf))
			continue;
		void *addr = z_page_frame_addr(pf);
		uintptr_t bits = arch_page_info_get(addr, NULL, true);
		if (bits & ARCH_DATA_PAGE_ACCESSED) {
			if (from == T1) {
				fq_unlink(&links, &t[T1], f);
				where[f] = T2;
				fq_push_tail(&links, &t[T2], f);
			}
			continue;
		}
		ghost_insert(from == T1 ? &b1 : &b2, (uintptr_t)addr);
		*dirty = (bits & ARCH_DATA_PAGE_DIRTY) != 0;
		return pf;
	}
	return NULL;
}

const struct zp_eviction_ops zp_eviction_car = {
	.name = "car",
	.init = car_init,
	.select = car_select,
	.fini = car_fini,
	.add = car_add,
	.remove = car_remove,
};
