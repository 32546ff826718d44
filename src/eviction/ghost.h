/*
 * Ghosts: the addresses of pages recently evicted, without their contents,
 * for algorithms that learn from a page coming back soon after it left
 * (S3-FIFO, CAR). A FIFO of keys with a hash index: insert at the newest
 * end (the oldest drops out when full), take a key out wherever it is.
 */
#ifndef ZPAGE_EVICTION_GHOST_H
#define ZPAGE_EVICTION_GHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/internal.h"

struct ghost {
	size_t cap, count, nbuckets;
	uint32_t head, tail, unused; /* oldest, newest, free slots */
	uintptr_t *key;
	uint32_t *prev, *next, *chain, *bucket;
};

/* Room for cap keys (at least 1); -1 if out of memory. */
int ghost_init(struct ghost *g, size_t cap) ZP_HIDDEN;
void ghost_fini(struct ghost *g) ZP_HIDDEN;
void ghost_insert(struct ghost *g, uintptr_t key) ZP_HIDDEN;
/* Whether key was there (it is removed). */
bool ghost_take(struct ghost *g, uintptr_t key) ZP_HIDDEN;
void ghost_drop_oldest(struct ghost *g) ZP_HIDDEN;

#endif /* ZPAGE_EVICTION_GHOST_H */
