/*
 * Page frames: Zephyr's frame table (z_page_frames[], one small struct per
 * frame) and the free frames, kept on a lock-free stack of frame indices so
 * that a fault that finds a free frame takes no lock at all.
 *
 * The stack head packs (tag << 32 | index); the tag grows with every change
 * so that a pop cannot be fooled by the same index coming back (ABA).
 */
#include <stdlib.h>

#include "internal.h"

#define NIL UINT32_MAX

struct z_page_frame *z_page_frames;
size_t z_num_page_frames;

static uint64_t head_pack(uint64_t old, uint32_t index)
{
	return (((old >> 32) + 1) << 32) | index;
}

int zp_frames_init(size_t n)
{
	z_page_frames = calloc(n, sizeof(*z_page_frames));
	zp.free_next = calloc(n, sizeof(*zp.free_next));
	zp.frame_location = calloc(n, sizeof(*zp.frame_location));
	zp.frame_pins = calloc(n, sizeof(*zp.frame_pins));
	zp.frame_tracked = calloc(n, sizeof(*zp.frame_tracked));
	if (z_page_frames == NULL || zp.free_next == NULL ||
	    zp.frame_location == NULL || zp.frame_pins == NULL ||
	    zp.frame_tracked == NULL) {
		zp_frames_fini();
		return -ENOMEM;
	}
	zp.nframes = n;
	atomic_store(&zp.free_head, NIL);
	atomic_store(&zp.free_count, 0);
	atomic_store(&zp.pinned_count, 0);
	atomic_store(&zp.held_count, 0);
	atomic_store(&zp.kpin_pages, 0);
	/* Push in reverse so that frame 0 is handed out first. */
	for (size_t f = n; f-- > 0;)
		zp_frame_push(f);
	z_num_page_frames = n;
	return 0;
}

void zp_frames_fini(void)
{
	free(z_page_frames);
	free(zp.free_next);
	free(zp.frame_location);
	free(zp.frame_pins);
	free(zp.frame_tracked);
	zp.frame_tracked = NULL;
	z_page_frames = NULL;
	zp.frame_pins = NULL;
	zp.free_next = NULL;
	zp.frame_location = NULL;
	z_num_page_frames = 0;
	zp.nframes = 0;
}

size_t zp_frame_pop(void)
{
	uint64_t head = atomic_load_explicit(&zp.free_head, memory_order_acquire);

	for (;;) {
		uint32_t f = (uint32_t)head;
		if (f == NIL)
			return ZP_NO_FRAME;
		uint32_t next = atomic_load_explicit(&zp.free_next[f],
						     memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(
			    &zp.free_head, &head, head_pack(head, next),
			    memory_order_acq_rel, memory_order_acquire)) {
			atomic_fetch_sub_explicit(&zp.free_count, 1,
						  memory_order_relaxed);
			return f;
		}
	}
}

void zp_frame_push(size_t f)
{
	uint64_t head = atomic_load_explicit(&zp.free_head, memory_order_relaxed);

	do {
		atomic_store_explicit(&zp.free_next[f], (uint32_t)head,
				      memory_order_relaxed);
	} while (!atomic_compare_exchange_weak_explicit(
		&zp.free_head, &head, head_pack(head, (uint32_t)f),
		memory_order_release, memory_order_relaxed));
	atomic_fetch_add_explicit(&zp.free_count, 1, memory_order_relaxed);
}

size_t zp_frame_drain(uint32_t *out)
{
	uint64_t head = atomic_load_explicit(&zp.free_head, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(
		&zp.free_head, &head, head_pack(head, NIL),
		memory_order_acq_rel, memory_order_relaxed))
		;
	size_t n = 0;
	for (uint32_t f = (uint32_t)head; f != NIL;
	     f = atomic_load_explicit(&zp.free_next[f], memory_order_relaxed))
		out[n++] = f;
	atomic_fetch_sub_explicit(&zp.free_count, n, memory_order_relaxed);
	return n;
}

void zp_frame_set_busy(size_t f, bool busy)
{
	if (busy)
		z_page_frame_set(&z_page_frames[f], Z_PAGE_FRAME_BUSY);
	else
		z_page_frame_clear(&z_page_frames[f], Z_PAGE_FRAME_BUSY);
}

void zp_frame_release(size_t f)
{
	struct z_page_frame *pf = &z_page_frames[f];

	zp_track_remove(f);
	if (z_page_frame_is_pinned(pf))
		atomic_fetch_sub(&zp.pinned_count, 1);
	__atomic_store_n(&pf->flags, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&pf->addr, NULL, __ATOMIC_RELEASE);
	zp.frame_location[f] = 0;
	zp.frame_pins[f] = 0;
}

size_t k_mem_free_get(void)
{
	if (zp_ensure() != 0)
		return 0;
	return atomic_load_explicit(&zp.free_count, memory_order_relaxed) *
	       ZP_PAGE_SIZE;
}
