/* Size-class payload memory (slab.h). */
#include "slab.h"

#define CHUNK_BYTES ((size_t)256 << 10)
#define MAX_CHUNKS 65536 /* 16 GiB of payloads */

struct slab_class {
	zp_lock_t lock;
	void *free;        /* free slots, linked through their first word */
	uint8_t *bump;     /* next never-used slot of the current chunk */
	uint8_t *end;
};

static struct slab_class classes[ZP_SLAB_CLASSES];
static void *chunks[MAX_CHUNKS];
static _Atomic size_t nchunks;

static struct slab_class *class_of(size_t len)
{
	return &classes[zp_slab_size(len) / ZP_SLAB_STEP - 1];
}

void *zp_slab_alloc(size_t len)
{
	struct slab_class *c = class_of(len);
	size_t size = zp_slab_size(len);
	void *p = NULL;

	zp_lock(&c->lock);
	if (c->free != NULL) {
		p = c->free;
		c->free = *(void **)p;
	} else {
		if (c->bump == NULL || (size_t)(c->end - c->bump) < size) {
			size_t i = atomic_fetch_add(&nchunks, 1);
			uint8_t *chunk = i < MAX_CHUNKS
						 ? zp_port_table_alloc(CHUNK_BYTES)
						 : NULL;
			if (chunk == NULL) {
				atomic_fetch_sub(&nchunks, 1);
				zp_unlock(&c->lock);
				return NULL;
			}
			chunks[i] = chunk;
			c->bump = chunk;
			c->end = chunk + CHUNK_BYTES;
		}
		p = c->bump;
		c->bump += size;
	}
	zp_unlock(&c->lock);
	return p;
}

void zp_slab_free(void *p, size_t len)
{
	struct slab_class *c = class_of(len);

	zp_lock(&c->lock);
	*(void **)p = c->free;
	c->free = p;
	zp_unlock(&c->lock);
}

void zp_slab_release_all(void)
{
	size_t n = atomic_load(&nchunks);

	for (size_t i = 0; i < n && i < MAX_CHUNKS; i++)
		zp_port_table_free(chunks[i], CHUNK_BYTES);
	memset(classes, 0, sizeof(classes));
	atomic_store(&nchunks, 0);
}
