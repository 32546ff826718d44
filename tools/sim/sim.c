/*
 * Replaying a trace (see sim.h). Per reference to page i:
 *   resident, cleared      an observation fault: the accessed bit is set
 *                          and the tracking hook told, as the library does
 *                          when it maps the page back
 *   resident               full information: bit set, hook told; sampled:
 *                          nothing is seen (the hardware would set a bit
 *                          the library cannot read)
 *   not resident           a page fault: a free frame, or evictions as the
 *                          library does them without its background evictor
 *                          (a batch for algorithms with a native interface,
 *                          one page through the seed interface), then load
 * A write sets the dirty bit; evicting a dirty page is a write-back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../../src/core/internal.h"
#include "port.h"
#include "sim.h"

struct sim_timing sim_timing = { .ref_ns = 50, .fault_ns = 6000,
				 .observe_ns = 2000 };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *const *sim_algorithms(void)
{
	static const char *names[32];

	if (names[0] == NULL)
		for (size_t i = 0; i < zp_num_evictions && i < 31; i++)
			names[i] = zp_evictions[i]->name;
	return names;
}

static void evict_page(const struct zp_eviction_ops *e, size_t idx)
{
	zp_pte_t pte = atomic_load_explicit(&zp.pte[idx], memory_order_relaxed);

	if (pte_state(pte) != PS_RESIDENT)
		zp_fatal("%s chose page %zu, which is not resident", e->name, idx);
	size_t f = pte_frame(pte);
	struct z_page_frame *pf = &z_page_frames[f];
	sim_port.evictions++;
	if (pte & PTE_DIRTY)
		sim_port.dirty_evictions++;
	if (e->remove != NULL)
		e->remove(pf);
	pf->flags = 0;
	pf->addr = NULL;
	atomic_store_explicit(&zp.pte[idx], pte_out(pte, 0),
			      memory_order_relaxed);
	sim_port.free[sim_port.nfree++] = (uint32_t)f;
}

static void evict(const struct zp_eviction_ops *e, size_t batch)
{
	if (e->select_pages != NULL) {
		size_t idx[ZP_BATCH_MAX];
		size_t k = e->select_pages(idx, batch), done = 0;
		/* A hand that went round twice may name a page twice: the
		 * library's take() skips what is no longer resident. */
		for (size_t i = 0; i < k; i++) {
			zp_pte_t pte = atomic_load_explicit(&zp.pte[idx[i]],
							    memory_order_relaxed);
			if (pte_state(pte) == PS_RESIDENT) {
				evict_page(e, idx[i]);
				done++;
			}
		}
		if (done == 0)
			zp_fatal("%s found no page to evict", e->name);
		return;
	}
	bool dirty = false;
	struct z_page_frame *pf = e->select(&dirty);
	if (pf == NULL || pf < z_page_frames || pf >= z_page_frames + zp.nframes)
		zp_fatal("%s returned no frame to evict", e->name);
	evict_page(e, zp_page_index(z_page_frame_addr(pf)));
}

static void load(const struct zp_eviction_ops *e, size_t idx, bool write,
		 zp_pte_t pte)
{
	uint32_t f = sim_port.free[--sim_port.nfree];
	struct z_page_frame *pf = &z_page_frames[f];

	pf->addr = zp_page_addr(idx);
	pf->flags = Z_PAGE_FRAME_MAPPED;
	zp_pte_t bits = PTE_ACCESSED | (write ? PTE_DIRTY : 0);
	atomic_store_explicit(&zp.pte[idx], pte_resident(pte, f, bits),
			      memory_order_relaxed);
	if (e->add != NULL)
		e->add(pf);
}

int sim_run(const struct sim_trace *t, const char *name, size_t frames,
	    enum sim_mode mode, void (*progress)(double done),
	    struct sim_result *r)
{
	const struct zp_eviction_ops *e = zp_eviction_find(name);

	memset(r, 0, sizeof(*r));
	if (e == NULL) {
		fprintf(stderr, "zpage sim: eviction algorithm '%s' is unknown\n",
			name);
		return -1;
	}
	if (frames == 0 || sim_port_init(t->npages, frames, mode) != 0) {
		fprintf(stderr, "zpage sim: cannot simulate %zu frames\n", frames);
		return -1;
	}
	/* The library's batch: an eighth of the frames, at most 64. */
	size_t batch = frames / 8 ? frames / 8 : 1;
	if (batch > ZP_BATCH_MAX)
		batch = ZP_BATCH_MAX;
	bool full = mode == SIM_FULL;
	uint64_t observed = 0, cold = 0;
	double t0 = now_s();

	e->init();
	for (size_t i = 0; i < t->n; i++) {
		size_t idx = t->ref[i] >> 1;
		bool write = t->ref[i] & 1;
		_Atomic zp_pte_t *p = &zp.pte[idx];
		zp_pte_t pte = atomic_load_explicit(p, memory_order_relaxed);

		sim_port.now += sim_timing.ref_ns;
		if (pte_state(pte) == PS_RESIDENT) {
			bool seen = full;
			if (pte & PTE_ZAPPED) {
				observed++;
				sim_port.now += sim_timing.observe_ns;
				seen = true;
			}
			pte = (pte & ~PTE_ZAPPED) | (seen ? PTE_ACCESSED : 0) |
			      (write ? PTE_DIRTY : 0);
			atomic_store_explicit(p, pte, memory_order_relaxed);
			if (seen && e->accessed != NULL)
				e->accessed(Z_PHYS_RAM_START +
					    pte_frame(pte) * ZP_PAGE_SIZE);
		} else {
			sim_port.faults++;
			sim_port.now += sim_timing.fault_ns;
			cold += pte_state(pte) == PS_ZERO;
			if (sim_port.nfree == 0)
				evict(e, e->select_pages != NULL ? batch : 1);
			load(e, idx, write, pte);
		}
		if (sim_port.timer != NULL && sim_port.now >= sim_port.timer_next) {
			struct k_timer *tm = sim_port.timer;
			sim_port.timer_next = sim_port.now + sim_port.timer_period;
			tm->expiry_fn(tm);
		}
		if (progress != NULL && (i & 0xfffff) == 0xfffff)
			progress((double)i / (double)t->n);
	}
	if (e->fini != NULL)
		e->fini();
	r->seconds = now_s() - t0;
	r->refs = t->n;
	r->faults = sim_port.faults;
	r->cold = cold;
	r->writebacks = sim_port.dirty_evictions;
	r->observed = observed;
	sim_port_fini();
	return 0;
}

/* ---- OPT ------------------------------------------------------------- */

/* Max-heap of resident pages keyed by (next use << 32 | page). */
struct heap {
	uint64_t *key;
	uint32_t *pos; /* per page: heap slot, or UINT32_MAX */
	size_t n;
};

static void heap_swap(struct heap *h, size_t a, size_t b)
{
	uint64_t k = h->key[a];

	h->key[a] = h->key[b];
	h->key[b] = k;
	h->pos[(uint32_t)h->key[a]] = (uint32_t)a;
	h->pos[(uint32_t)h->key[b]] = (uint32_t)b;
}

static void heap_up(struct heap *h, size_t i)
{
	while (i > 0 && h->key[(i - 1) / 2] < h->key[i]) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && h->key[l] > h->key[m])
			m = l;
		if (r < h->n && h->key[r] > h->key[m])
			m = r;
		if (m == i)
			return;
		heap_swap(h, i, m);
		i = m;
	}
}

int sim_opt(const struct sim_trace *t, size_t frames, struct sim_result *r)
{
	uint32_t *next = trace_next_uses(t);
	uint8_t *dirty = calloc(t->npages, 1), *seen = calloc(t->npages, 1);
	struct heap h = { malloc(frames * sizeof(uint64_t)),
			  malloc(t->npages * sizeof(uint32_t)), 0 };
	double t0 = now_s();

	memset(r, 0, sizeof(*r));
	if (!next || !dirty || !seen || !h.key || !h.pos || frames == 0) {
		fprintf(stderr, "zpage sim: cannot run OPT here (memory)\n");
		free(next), free(dirty), free(seen);
		free(h.key), free(h.pos);
		return -1;
	}
	for (size_t p = 0; p < t->npages; p++)
		h.pos[p] = UINT32_MAX;
	for (size_t i = 0; i < t->n; i++) {
		uint32_t p = t->ref[i] >> 1;
		uint64_t key = ((uint64_t)next[i] << 32) | p;
		if (h.pos[p] != UINT32_MAX) {
			size_t s = h.pos[p];
			h.key[s] = key; /* the next use only moves later */
			heap_up(&h, s);
		} else {
			r->faults++;
			r->cold += !seen[p];
			seen[p] = 1;
			if (h.n == frames) {
				uint32_t v = (uint32_t)h.key[0];
				r->writebacks += dirty[v];
				dirty[v] = 0;
				h.pos[v] = UINT32_MAX;
				h.n--;
				if (h.n > 0) {
					h.key[0] = h.key[h.n];
					h.pos[(uint32_t)h.key[0]] = 0;
					heap_down(&h, 0);
				}
			}
			h.key[h.n] = key;
			h.pos[p] = (uint32_t)h.n;
			h.n++;
			heap_up(&h, h.n - 1);
		}
		if (t->ref[i] & 1)
			dirty[p] = 1;
	}
	r->refs = t->n;
	r->seconds = now_s() - t0;
	free(next), free(dirty), free(seen);
	free(h.key), free(h.pos);
	return 0;
}
