/*
 * Frame queues for algorithms that keep their own order of frames (FIFO,
 * LRU, SIEVE, S3-FIFO, CAR): doubly linked lists of frame indices whose
 * links live in arrays shared by all the queues of one algorithm (a frame
 * is on one queue at a time). Head is the oldest end, tail the newest.
 */
#ifndef ZPAGE_EVICTION_QUEUE_H
#define ZPAGE_EVICTION_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <mmu.h>

#define FQ_NIL UINT32_MAX

struct fq_links {
	uint32_t *prev, *next;
};

struct fq {
	uint32_t head, tail;
	size_t count;
};

static inline int fq_links_init(struct fq_links *l, size_t n)
{
	free(l->prev);
	free(l->next);
	l->prev = malloc(n * sizeof(uint32_t));
	l->next = malloc(n * sizeof(uint32_t));
	return l->prev != NULL && l->next != NULL ? 0 : -1;
}

static inline void fq_links_fini(struct fq_links *l)
{
	free(l->prev);
	free(l->next);
	l->prev = l->next = NULL;
}

static inline void fq_init(struct fq *q)
{
	q->head = q->tail = FQ_NIL;
	q->count = 0;
}

static inline void fq_push_tail(const struct fq_links *l, struct fq *q,
				uint32_t f)
{
	l->prev[f] = q->tail;
	l->next[f] = FQ_NIL;
	if (q->tail != FQ_NIL)
		l->next[q->tail] = f;
	else
		q->head = f;
	q->tail = f;
	q->count++;
}

static inline void fq_unlink(const struct fq_links *l, struct fq *q,
			     uint32_t f)
{
	uint32_t p = l->prev[f], n = l->next[f];

	if (p != FQ_NIL)
		l->next[p] = n;
	else
		q->head = n;
	if (n != FQ_NIL)
		l->prev[n] = p;
	else
		q->tail = p;
	q->count--;
}

/* Move f (on q) to q's newest end. */
static inline void fq_to_tail(const struct fq_links *l, struct fq *q,
			      uint32_t f)
{
	if (q->tail == f)
		return;
	fq_unlink(l, q, f);
	fq_push_tail(l, q, f);
}

/* The oldest evictable frame of q, or NULL; frames passed (and the one
 * returned) move to the newest end, so that a frame the library fails to
 * take is not chosen again at once (it leaves q when evicted). */
static inline struct z_page_frame *fq_select_oldest(const struct fq_links *l,
						    struct fq *q, bool *dirty)
{
	for (size_t seen = q->count; seen > 0; seen--) {
		uint32_t f = q->head;
		struct z_page_frame *pf = &z_page_frames[f];
		fq_to_tail(l, q, f);
		if (!z_page_frame_is_evictable(pf))
			continue;
		uintptr_t bits = arch_page_info_get(z_page_frame_addr(pf), NULL,
						    false);
		*dirty = (bits & ARCH_DATA_PAGE_DIRTY) != 0;
		return pf;
	}
	return NULL;
}

#endif /* ZPAGE_EVICTION_QUEUE_H */
