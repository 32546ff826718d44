/*
 * Memory for variable-sized payloads (compressed pages): size classes of
 * 64-byte steps up to a page, each a free list over slots carved from
 * chunks taken from the port's page allocator. Safe in a signal handler
 * (no malloc), one lock per class. Memory is kept for reuse, not returned.
 */
#ifndef ZP_SLAB_H
#define ZP_SLAB_H

#include "../core/internal.h"

#define ZP_SLAB_STEP 64
#define ZP_SLAB_CLASSES (ZP_PAGE_SIZE / ZP_SLAB_STEP)

/* Bytes a payload of len bytes takes (its class's slot size). */
static inline size_t zp_slab_size(size_t len)
{
	return (len + ZP_SLAB_STEP - 1) / ZP_SLAB_STEP * ZP_SLAB_STEP;
}

/* A slot for len (1..page) bytes, or NULL if memory is short. */
void *zp_slab_alloc(size_t len) ZP_HIDDEN;
void zp_slab_free(void *p, size_t len) ZP_HIDDEN;
/* Give all memory back (no slot may be in use any more). */
void zp_slab_release_all(void) ZP_HIDDEN;

#endif /* ZP_SLAB_H */
