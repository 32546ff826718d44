/* Ghost lists: see ghost.h. */
#include <stdlib.h>
#include <string.h>

#include "ghost.h"

#define NIL UINT32_MAX

static size_t hash(const struct ghost *g, uintptr_t key)
{
	uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ULL;

	return (size_t)(h >> 32) & (g->nbuckets - 1);
}

int ghost_init(struct ghost *g, size_t cap)
{
	ghost_fini(g);
	g->cap = cap ? cap : 1;
	g->nbuckets = 1;
	while (g->nbuckets < g->cap)
		g->nbuckets <<= 1;
	g->key = malloc(g->cap * sizeof(*g->key));
	g->prev = malloc(g->cap * sizeof(*g->prev));
	g->next = malloc(g->cap * sizeof(*g->next));
	g->chain = malloc(g->cap * sizeof(*g->chain));
	g->bucket = malloc(g->nbuckets * sizeof(*g->bucket));
	if (!g->key || !g->prev || !g->next || !g->chain || !g->bucket) {
		ghost_fini(g);
		return -1;
	}
	memset(g->bucket, 0xff, g->nbuckets * sizeof(*g->bucket));
	g->count = 0;
	g->head = g->tail = NIL;
	/* Free slots are chained through next. */
	for (size_t i = 0; i < g->cap; i++)
		g->next[i] = i + 1 < g->cap ? (uint32_t)(i + 1) : NIL;
	g->unused = 0;
	return 0;
}

void ghost_fini(struct ghost *g)
{
	free(g->key);
	free(g->prev);
	free(g->next);
	free(g->chain);
	free(g->bucket);
	memset(g, 0, sizeof(*g));
}

/* Unlink slot s from the FIFO and the hash chain, and free it. */
static void slot_remove(struct ghost *g, uint32_t s)
{
	uint32_t *p = &g->bucket[hash(g, g->key[s])];

	while (*p != s)
		p = &g->chain[*p];
	*p = g->chain[s];
	if (g->prev[s] != NIL)
		g->next[g->prev[s]] = g->next[s];
	else
		g->head = g->next[s];
	if (g->next[s] != NIL)
		g->prev[g->next[s]] = g->prev[s];
	else
		g->tail = g->prev[s];
	g->next[s] = g->unused;
	g->unused = s;
	g->count--;
}

static uint32_t find(const struct ghost *g, uintptr_t key)
{
	uint32_t s = g->bucket[hash(g, key)];

	while (s != NIL && g->key[s] != key)
		s = g->chain[s];
	return s;
}

void ghost_insert(struct ghost *g, uintptr_t key)
{
	if (g->cap == 0)
		return;
	uint32_t s = find(g, key);
	if (s != NIL)
		slot_remove(g, s);
	if (g->count == g->cap)
		slot_remove(g, g->head);
	s = g->unused;
	g->unused = g->next[s];
	g->key[s] = key;
	size_t b = hash(g, key);
	g->chain[s] = g->bucket[b];
	g->bucket[b] = s;
	g->prev[s] = g->tail;
	g->next[s] = NIL;
	if (g->tail != NIL)
		g->next[g->tail] = s;
	else
		g->head = s;
	g->tail = s;
	g->count++;
}

bool ghost_take(struct ghost *g, uintptr_t key)
{
	if (g->cap == 0)
		return false;
	uint32_t s = find(g, key);
	if (s == NIL)
		return false;
	slot_remove(g, s);
	return true;
}

void ghost_drop_oldest(struct ghost *g)
{
	if (g->count > 0)
		slot_remove(g, g->head);
}
