/*
 * Model-based stress test: a reference copy of every page.
 *
 * NTHREADS threads run a long random sequence of operations on NREGIONS
 * k_mem_map() regions that together hold more than eight times the frame
 * pool, and compare everything they read with a reference copy kept in
 * ordinary memory. Operations:
 *
 *   read a word / a whole page     compared with the reference; if the
 *                                  page is pinned, the thread's own fault
 *                                  count must not move
 *   write a word / a range / a page  memory and reference updated
 *   k_mem_page_out of a range      any region; -EBUSY exactly when the model
 *                                  says a page of the range is pinned
 *   k_mem_page_in of a range       any region
 *   k_mem_pin / k_mem_unpin        any region; the pinned pages must be
 *                                  resident (mincore); the model caps the
 *                                  number of pinned pages at PIN_CAP
 *   page out + access under irq_lock  (faults counted as irq_locked)
 *   zpage_ram_alloc / zpage_ram_free of 1..3 frames (it evicts the pages in
 *                                  the run it picks while others fault);
 *                                  the frames' contents are checked, they
 *                                  count against PIN_CAP
 *   remap                          k_mem_unmap + k_mem_map of a whole region
 *                                  (the small one sometimes with
 *                                  K_MEM_MAP_LOCK), reference reset to zeros
 *
 * Ownership keeps one reference model exact under concurrency: the page with
 * global number g is written and read only by thread g % NTHREADS; page-out,
 * page-in, pin and unpin target any page. Each region has a writer-preferring
 * rwlock: every operation holds it for reading, a remap for writing, so no
 * thread touches a region while it is unmapped. Each region's pin mutex
 * protects the model's pinned flags, so the expected result of k_mem_page_out
 * is exact.
 *
 * The run is cut into epochs. At the end of each, all threads meet at a
 * barrier and thread 0 checks, with nothing else running:
 *   - resident pages over all regions <= frames, and free frames + resident
 *     pages + frames taken by zpage_ram_alloc == frames
 *   - counters.pinned_frames == pinned pages of the model; every pinned page
 *     resident
 *   - statistics: irq_locked + irq_unlocked == cnt; clean + dirty ==
 *     counters.evictions; the per-thread statistics add up to the global
 *     ones; page-in / page-out histogram totals == counters.page_ins /
 *     page_outs; page_outs == dirty evictions (the RAM store never fills);
 *     store_loads == page_ins; no clean eviction with the "ram" store; no
 *     fatal fault
 *   - k_mem_page_out of a whole region leaves exactly its pinned pages
 *     resident; k_mem_page_in of a range that fits in the free frames
 *     leaves all of it resident (a longer range is not checked: the
 *     eviction algorithm may pick a page the same call loaded earlier)
 * and then every thread reads back all the pages it owns.
 * At the end (after the threads are joined) everything is unpinned
 * (counters.pinned_frames == 0), read back, unmapped, and k_mem_free_get()
 * must be the whole pool again.
 *
 * Both stores run, one after the other in this process ("ram", then
 * "ram:backed", with zpage_shutdown() in between); argv[1] picks one.
 * Before them, write_fault_loads_dirty checks deterministically what the
 * model first found (see there).
 *
 * Environment:
 *   ZPT_MODEL_OPS   operations in all, shared equally by the store
 *                   configurations that run. Default 1000000 (about 90 s
 *                   on a 2-vCPU VM); 300000 under AddressSanitizer /
 *                   ThreadSanitizer, which make each operation about
 *                   2-3 times slower and whose runs should stay near a
 *                   minute. The thread count is the same in every build.
 *   ZPT_MODEL_SEED  seed to replay (printed at start). The operation
 *                   sequence of every thread follows from it; the
 *                   interleaving of the threads does not.
 */
#define _GNU_SOURCE
#include "zpt.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MODEL_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MODEL_SANITIZED 1
#endif
#endif

/* Fewer operations under a sanitizer (each one is 2-3 times slower there),
 * never fewer threads. */
#ifdef MODEL_SANITIZED
#define DEFAULT_OPS 300000UL
#else
#define DEFAULT_OPS 1000000UL
#endif

#define FRAMES 64
#define NTHREADS 4
#define NREGIONS 5
#define PIN_CAP 24          /* model's limit on pinned pages (of 64 frames) */
#define NEPOCHS 10
#define MAX_RANGE 16        /* pages per page-out / page-in range */
#define MAX_PIN_RANGE 6
#define WORDS (ZPT_PAGE / 8)
#define LOCKABLE_REGION 4   /* remapped with K_MEM_MAP_LOCK sometimes */
#define RING 32             /* operations remembered per thread */

/* 544 pages = 8.5 times the pool. */
static const size_t region_pages[NREGIONS] = { 192, 160, 128, 48, 16 };

enum op {
	OP_READ_WORD,
	OP_READ_PAGE,
	OP_WRITE_WORD,
	OP_WRITE_RANGE,
	OP_WRITE_PAGE,
	OP_PAGE_OUT,
	OP_PAGE_IN,
	OP_PIN,
	OP_UNPIN,
	OP_IRQ,
	OP_RAM,
	OP_REMAP,
	NOPS
};

static const char *const op_names[NOPS] = {
	"read-word", "read-page", "write-word", "write-range", "write-page",
	"page-out", "page-in", "pin", "unpin", "irq-locked", "ram-alloc/free",
	"remap",
};

/* Relative frequencies (remaps are scheduled separately). */
static const unsigned op_weight[NOPS] = {
	22, 14, 22, 10, 8, 8, 6, 4, 4, 2, 1, 0,
};

struct region {
	pthread_rwlock_t rw;    /* read: any access; write: remap */
	pthread_mutex_t pin_mu; /* pinned[] and npinned */
	uint8_t *addr;          /* NULL after a failed remap */
	size_t pages;
	size_t first;           /* global number of page 0 */
	uint8_t *ref;           /* reference contents */
	bool *pinned;
	size_t npinned;
};

struct ring_entry {
	unsigned long n;
	enum op op;
	int rc;
	unsigned region;
	size_t page, len;
};

struct worker {
	int id;
	pthread_t thread;
	k_tid_t tid;
	uint64_t rng;
	size_t hot;                 /* locality: index into the owned list */
	unsigned long done;
	unsigned long counts[NOPS];
	uint8_t *ram;               /* zpage_ram_alloc() memory held, or NULL */
	size_t ram_pages;
	uint64_t ram_seed;
	unsigned long ram_null;     /* zpage_ram_alloc() found no run */
	struct ring_entry ring[RING];
};

struct run {
	const char *store;
	bool backed;
	uint64_t seed;
	unsigned long ops;
	struct zpage_info info;
	pthread_barrier_t barrier;
	struct worker w[NTHREADS];
};

static struct region regions[NREGIONS];
static size_t total_pages;
static _Atomic size_t pinned_total; /* pinned pages and RAM frames taken */
static _Atomic size_t ram_total;    /* frames taken with zpage_ram_alloc() */
static atomic_int failed;
static struct run *cur;

/* Pages owned by each thread: (region, page) pairs. */
static unsigned *own_region[NTHREADS];
static size_t *own_page[NTHREADS];
static size_t own_count[NTHREADS];

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n)
{
	return rnd(s) % n;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void dump_ring(const struct worker *w)
{
	fprintf(stderr, "  last operations of thread %d (oldest first):\n", w->id);
	for (unsigned k = 0; k < RING; k++) {
		const struct ring_entry *e = &w->ring[(w->done + 1 + k) % RING];
		if (e->n == 0 && e->op == 0 && e->len == 0)
			continue;
		fprintf(stderr, "    #%lu %s region %u page %zu len %zu rc %d\n",
			e->n, op_names[e->op], e->region, e->page, e->len, e->rc);
	}
}

static void page_report(const char *what, const uint8_t *p)
{
	uintptr_t loc = 0;
	uintptr_t bits = arch_page_info_get((void *)p, &loc, false);
	fprintf(stderr, "  %s %p: page bits %#lx location %#lx resident %zu\n",
		what, (const void *)p, (unsigned long)bits, (unsigned long)loc,
		zpt_resident(p, ZPT_PAGE));
}

/* Report a failure (with the thread's last operations) and stop the run. */
__attribute__((format(printf, 2, 3)))
static void model_fail(const struct worker *w, const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "MODEL FAILURE [store %s, seed %#" PRIx64 "] thread %d "
		"op %lu: %s\n", cur->store, cur->seed, w != NULL ? w->id : -1,
		w != NULL ? w->done : 0UL, msg);
	if (w != NULL)
		dump_ring(w);
	atomic_store(&failed, 1);
}

static bool stop(void)
{
	return atomic_load_explicit(&failed, memory_order_relaxed) != 0;
}

static void note(struct worker *w, enum op op, unsigned region, size_t page,
		 size_t len, int rc)
{
	w->ring[w->done % RING] = (struct ring_entry){ w->done, op, rc, region,
						       page, len };
}

/* Reserve n pins in the model; false if PIN_CAP would be exceeded. */
static bool pins_reserve(size_t n)
{
	size_t c = atomic_load(&pinned_total);
	do {
		if (c + n > PIN_CAP)
			return false;
	} while (!atomic_compare_exchange_weak(&pinned_total, &c, c + n));
	return true;
}

static void rdlock(struct region *g)
{
	pthread_rwlock_rdlock(&g->rw);
}

static void rwunlock(struct region *g)
{
	pthread_rwlock_unlock(&g->rw);
}

/* Compare a page with its reference; report the first differing word. */
static bool page_matches(const struct worker *w, unsigned ri, size_t pg,
			 const char *when)
{
	struct region *g = &regions[ri];
	const uint8_t *p = g->addr + pg * ZPT_PAGE;
	const uint8_t *ref = g->ref + pg * ZPT_PAGE;

	if (memcmp(p, ref, ZPT_PAGE) == 0)
		return true;
	size_t i = 0;
	const uint64_t *pw = (const uint64_t *)p, *rw = (const uint64_t *)ref;
	while (i < WORDS && pw[i] == rw[i])
		i++;
	size_t diff = 0;
	for (size_t k = 0; k < WORDS; k++)
		diff += pw[k] != rw[k];
	model_fail(w, "%s: region %u page %zu (global %zu) differs from the "
		   "reference: %zu words differ, first word %zu = %#" PRIx64
		   ", expected %#" PRIx64 "%s", when, ri, pg, g->first + pg, diff,
		   i, i < WORDS ? pw[i] : 0, i < WORDS ? rw[i] : 0,
		   g->pinned[pg] ? " (pinned)" : "");
	page_report("page", p);
	return false;
}

/* ---- operations ----------------------------------------------------------- */

static void pick_own(struct worker *w, unsigned *ri, size_t *pg)
{
	size_t n = own_count[w->id], k;

	if (below(&w->rng, 64) == 0)
		w->hot = below(&w->rng, n);
	if (rnd(&w->rng) & 1)
		k = (w->hot + below(&w->rng, 8)) % n;
	else
		k = below(&w->rng, n);
	*ri = own_region[w->id][k];
	*pg = own_page[w->id][k];
}

static void pick_range(struct worker *w, size_t maxlen, unsigned *ri,
		       size_t *start, size_t *len)
{
	*ri = (unsigned)below(&w->rng, NREGIONS);
	size_t pages = regions[*ri].pages;
	*start = below(&w->rng, pages);
	size_t room = pages - *start;
	*len = 1 + below(&w->rng, room < maxlen ? room : maxlen);
}

static size_t count_pinned(const struct region *g, size_t s, size_t len)
{
	size_t n = 0;
	for (size_t i = s; i < s + len; i++)
		n += g->pinned[i];
	return n;
}

/* With pin_mu held: every pinned page of [s, s+len) is resident. */
static void check_pinned_resident(const struct worker *w, unsigned ri,
				  size_t s, size_t len, const char *when)
{
	struct region *g = &regions[ri];
	for (size_t i = s; i < s + len; i++) {
		if (g->pinned[i] &&
		    zpt_resident(g->addr + i * ZPT_PAGE, ZPT_PAGE) != 1) {
			model_fail(w, "%s: pinned page %zu of region %u is not "
				   "resident", when, i, ri);
			page_report("page", g->addr + i * ZPT_PAGE);
			return;
		}
	}
}

static void op_own(struct worker *w, enum op op)
{
	unsigned ri;
	size_t pg;
	pick_own(w, &ri, &pg);
	struct region *g = &regions[ri];
	uint8_t buf[ZPT_PAGE];

	rdlock(g);
	if (g->addr == NULL) {
		rwunlock(g);
		return;
	}
	uint8_t *p = g->addr + pg * ZPT_PAGE;
	uint8_t *ref = g->ref + pg * ZPT_PAGE;
	size_t wi = below(&w->rng, WORDS);
	size_t len = 1;

	/* A pinned page never faults: while it stays pinned (pin_mu held),
	 * the thread's own fault count must not move. (The count of a fault
	 * is final when the faulting thread resumes.) */
	bool pinned = false;
	unsigned long faults0 = 0;
	if (op == OP_READ_WORD || op == OP_READ_PAGE || op == OP_WRITE_WORD) {
		pthread_mutex_lock(&g->pin_mu);
		pinned = g->pinned[pg];
		if (pinned) {
			struct k_mem_paging_stats_t ts;
			k_mem_paging_thread_stats_get(w->tid, &ts);
			faults0 = ts.pagefaults.cnt;
		} else {
			pthread_mutex_unlock(&g->pin_mu);
		}
	}

	switch (op) {
	case OP_READ_WORD: {
		uint64_t got = ((volatile uint64_t *)p)[wi];
		uint64_t want = ((uint64_t *)ref)[wi];
		if (got != want) {
			model_fail(w, "read-word: region %u page %zu word %zu = "
				   "%#" PRIx64 ", expected %#" PRIx64, ri, pg, wi,
				   got, want);
			page_report("page", p);
		}
		break;
	}
	case OP_READ_PAGE:
		page_matches(w, ri, pg, "read-page");
		break;
	case OP_WRITE_WORD: {
		uint64_t v = rnd(&w->rng);
		((volatile uint64_t *)p)[wi] = v;
		((uint64_t *)ref)[wi] = v;
		break;
	}
	case OP_WRITE_RANGE: {
		size_t off = below(&w->rng, ZPT_PAGE);
		len = 1 + below(&w->rng, ZPT_PAGE - off);
		for (size_t i = 0; i < len; i += 8) {
			uint64_t v = rnd(&w->rng);
			memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
		}
		memcpy(p + off, buf, len);
		memcpy(ref + off, buf, len);
		break;
	}
	case OP_WRITE_PAGE:
		len = ZPT_PAGE;
		for (size_t i = 0; i < WORDS; i++) {
			uint64_t v = rnd(&w->rng);
			memcpy(buf + i * 8, &v, 8);
		}
		if (rnd(&w->rng) & 1) {
			memcpy(p, buf, ZPT_PAGE);
		} else {
			/* Word by word, from the end: the page is touched
			 * many times while other threads evict it. */
			for (size_t i = WORDS; i-- > 0;)
				((volatile uint64_t *)p)[i] =
					((uint64_t *)buf)[i];
		}
		memcpy(ref, buf, ZPT_PAGE);
		break;
	default:
		break;
	}
	note(w, op, ri, pg, len, pinned);
	if (pinned) {
		struct k_mem_paging_stats_t ts;
		k_mem_paging_thread_stats_get(w->tid, &ts);
		if (ts.pagefaults.cnt != faults0)
			model_fail(w, "%s of pinned page %zu of region %u took %lu "
				   "page faults", op_names[op], pg, ri,
				   ts.pagefaults.cnt - faults0);
		if (zpt_resident(p, ZPT_PAGE) != 1)
			model_fail(w, "pinned page %zu of region %u is not "
				   "resident", pg, ri);
		pthread_mutex_unlock(&g->pin_mu);
	}
	rwunlock(g);
}

static void op_page_out(struct worker *w)
{
	unsigned ri;
	size_t s, len;
	pick_range(w, MAX_RANGE, &ri, &s, &len);
	struct region *g = &regions[ri];

	rdlock(g);
	pthread_mutex_lock(&g->pin_mu);
	if (g->addr != NULL) {
		int want = count_pinned(g, s, len) ? -EBUSY : 0;
		int rc = k_mem_page_out(g->addr + s * ZPT_PAGE, len * ZPT_PAGE);
		note(w, OP_PAGE_OUT, ri, s, len, rc);
		if (rc != want)
			model_fail(w, "k_mem_page_out(region %u, pages %zu+%zu) "
				   "returned %d, expected %d", ri, s, len, rc,
				   want);
		check_pinned_resident(w, ri, s, len, "after k_mem_page_out");
	}
	pthread_mutex_unlock(&g->pin_mu);
	rwunlock(g);
}

static void op_page_in(struct worker *w)
{
	unsigned ri;
	size_t s, len;
	pick_range(w, MAX_RANGE, &ri, &s, &len);
	struct region *g = &regions[ri];

	rdlock(g);
	if (g->addr != NULL) {
		k_mem_page_in(g->addr + s * ZPT_PAGE, len * ZPT_PAGE);
		note(w, OP_PAGE_IN, ri, s, len, 0);
	}
	rwunlock(g);
}

/* With pin_mu held. */
static void unpin_locked(struct worker *w, unsigned ri, size_t s, size_t len)
{
	struct region *g = &regions[ri];

	k_mem_unpin(g->addr + s * ZPT_PAGE, len * ZPT_PAGE);
	size_t n = 0;
	for (size_t i = s; i < s + len; i++) {
		n += g->pinned[i];
		g->pinned[i] = false;
	}
	g->npinned -= n;
	atomic_fetch_sub(&pinned_total, n);
	note(w, OP_UNPIN, ri, s, len, (int)n);
}

static void op_pin(struct worker *w, bool pin)
{
	unsigned ri;
	size_t s, len;
	pick_range(w, MAX_PIN_RANGE, &ri, &s, &len);
	struct region *g = &regions[ri];

	rdlock(g);
	pthread_mutex_lock(&g->pin_mu);
	if (g->addr == NULL) {
		/* a remap failed: nothing to do */
	} else if (pin && pins_reserve(len - count_pinned(g, s, len))) {
		size_t add = len - count_pinned(g, s, len);
		k_mem_pin(g->addr + s * ZPT_PAGE, len * ZPT_PAGE);
		for (size_t i = s; i < s + len; i++)
			g->pinned[i] = true;
		g->npinned += add;
		note(w, OP_PIN, ri, s, len, (int)add);
		size_t res = zpt_resident(g->addr + s * ZPT_PAGE, len * ZPT_PAGE);
		if (res != len)
			model_fail(w, "after k_mem_pin(region %u, pages %zu+%zu) "
				   "only %zu pages are resident", ri, s, len, res);
	} else {
		/* Unpin (also when pinning would pass the cap). */
		unpin_locked(w, ri, s, len);
	}
	pthread_mutex_unlock(&g->pin_mu);
	rwunlock(g);
}

/* Page out one of our pages, then touch it with "interrupts" locked: the
 * fault counts as irq_locked. */
static void op_irq(struct worker *w)
{
	unsigned ri;
	size_t pg;
	pick_own(w, &ri, &pg);
	struct region *g = &regions[ri];

	rdlock(g);
	if (g->addr == NULL) {
		rwunlock(g);
		return;
	}
	uint8_t *p = g->addr + pg * ZPT_PAGE;
	uint64_t *ref = (uint64_t *)(g->ref + pg * ZPT_PAGE);
	pthread_mutex_lock(&g->pin_mu);
	int want = g->pinned[pg] ? -EBUSY : 0;
	int rc = k_mem_page_out(p, ZPT_PAGE);
	pthread_mutex_unlock(&g->pin_mu);
	note(w, OP_IRQ, ri, pg, 1, rc);
	if (rc != want)
		model_fail(w, "k_mem_page_out(region %u page %zu) returned %d, "
			   "expected %d", ri, pg, rc, want);
	size_t wi = below(&w->rng, WORDS);
	uint64_t v = rnd(&w->rng);
	unsigned key = irq_lock();
	uint64_t got = ((volatile uint64_t *)p)[wi];
	((volatile uint64_t *)p)[wi] = v;
	irq_unlock(key);
	if (got != ref[wi]) {
		model_fail(w, "irq-locked read: region %u page %zu word %zu = "
			   "%#" PRIx64 ", expected %#" PRIx64, ri, pg, wi, got,
			   ref[wi]);
		page_report("page", p);
	}
	ref[wi] = v;
	rwunlock(g);
}

static void op_remap(struct worker *w, unsigned ri)
{
	struct region *g = &regions[ri];
	size_t size = g->pages * ZPT_PAGE;

	pthread_rwlock_wrlock(&g->rw);
	pthread_mutex_lock(&g->pin_mu);
	if (g->addr != NULL)
		k_mem_unmap(g->addr, size);
	atomic_fetch_sub(&pinned_total, g->npinned);
	memset(g->pinned, 0, g->pages * sizeof(g->pinned[0]));
	g->npinned = 0;
	bool lock = ri == LOCKABLE_REGION && (rnd(&w->rng) & 1) &&
		    pins_reserve(g->pages);
	g->addr = k_mem_map(size, K_MEM_PERM_RW | (lock ? K_MEM_MAP_LOCK : 0));
	note(w, OP_REMAP, ri, 0, g->pages, lock);
	if (g->addr == NULL) {
		model_fail(w, "k_mem_map(%zu pages%s) failed in a remap",
			   g->pages, lock ? ", K_MEM_MAP_LOCK" : "");
		if (lock)
			atomic_fetch_sub(&pinned_total, g->pages);
	} else if (lock) {
		for (size_t i = 0; i < g->pages; i++)
			g->pinned[i] = true;
		g->npinned = g->pages;
		size_t res = zpt_resident(g->addr, size);
		if (res != g->pages)
			model_fail(w, "k_mem_map(K_MEM_MAP_LOCK) returned with "
				   "%zu of %zu pages resident", res, g->pages);
	}
	memset(g->ref, 0, size);
	pthread_mutex_unlock(&g->pin_mu);
	pthread_rwlock_unlock(&g->rw);
}

/* The thread's zpage_ram_alloc() memory still holds its pattern, and its
 * physical address maps back to it. */
static void ram_verify(struct worker *w, const char *when)
{
	if (w->ram == NULL)
		return;
	if (!z_mem_is_permanent_virt((uintptr_t)w->ram) ||
	    z_mem_virt_addr(z_mem_phys_addr(w->ram)) != w->ram)
		model_fail(w, "%s: RAM at %p is not in the permanent mapping",
			   when, (void *)w->ram);
	for (size_t i = 0; i < w->ram_pages; i++) {
		if (!zpt_check(w->ram + i * ZPT_PAGE, w->ram_seed, i)) {
			model_fail(w, "%s: page %zu of the %zu RAM pages at %p "
				   "lost its contents", when, i, w->ram_pages,
				   (void *)w->ram);
			return;
		}
	}
}

static void ram_release(struct worker *w)
{
	if (w->ram == NULL)
		return;
	zpage_ram_free(w->ram, w->ram_pages * ZPT_PAGE);
	atomic_fetch_sub(&ram_total, w->ram_pages);
	atomic_fetch_sub(&pinned_total, w->ram_pages);
	w->ram = NULL;
}

/* Take 1..3 frames out of the pool (zpage_ram_alloc evicts whatever is in
 * the run it chooses, concurrently with faults), or give them back. They
 * are pinned, so they count against PIN_CAP. */
static void op_ram(struct worker *w)
{
	if (w->ram != NULL) {
		ram_verify(w, "ram-free");
		note(w, OP_RAM, 0, 0, w->ram_pages, 0);
		ram_release(w);
		return;
	}
	size_t n = 1 + below(&w->rng, 3);
	if (!pins_reserve(n))
		return;
	uint8_t *p = zpage_ram_alloc(n * ZPT_PAGE);
	note(w, OP_RAM, 0, 0, n, p != NULL);
	if (p == NULL) {
		/* No run of n frames could be freed (pinned frames, or frames
		 * changing hands meanwhile): allowed, counted. */
		atomic_fetch_sub(&pinned_total, n);
		w->ram_null++;
		return;
	}
	atomic_fetch_add(&ram_total, n);
	w->ram = p;
	w->ram_pages = n;
	w->ram_seed = rnd(&w->rng);
	for (size_t i = 0; i < n; i++)
		zpt_fill(p + i * ZPT_PAGE, w->ram_seed, i);
}

static enum op pick_op(struct worker *w)
{
	unsigned total = 0;
	for (int i = 0; i < NOPS; i++)
		total += op_weight[i];
	unsigned x = (unsigned)below(&w->rng, total);
	for (int i = 0; i < NOPS; i++) {
		if (x < op_weight[i])
			return (enum op)i;
		x -= op_weight[i];
	}
	return OP_READ_WORD;
}

static void do_op(struct worker *w, enum op op)
{
	switch (op) {
	case OP_READ_WORD:
	case OP_READ_PAGE:
	case OP_WRITE_WORD:
	case OP_WRITE_RANGE:
	case OP_WRITE_PAGE:
		op_own(w, op);
		break;
	case OP_PAGE_OUT:
		op_page_out(w);
		break;
	case OP_PAGE_IN:
		op_page_in(w);
		break;
	case OP_PIN:
		op_pin(w, true);
		break;
	case OP_UNPIN:
		op_pin(w, false);
		break;
	case OP_IRQ:
		op_irq(w);
		break;
	case OP_RAM:
		op_ram(w);
		break;
	case OP_REMAP:
	case NOPS:
		break;
	}
	w->counts[op]++;
}

/* ---- invariants ----------------------------------------------------------- */

/*
 * Statistics with nothing running. A fault handler updates the fault
 * statistics after it has woken the faulting thread (still holding the page
 * lock), so the last increments may land a moment after the barrier: wait
 * until they are consistent (bounded, a liveness limit, not a timing one).
 */
static void check_stats(const struct worker *w, bool per_thread,
			const char *when)
{
	struct k_mem_paging_stats_t s, sum;
	struct zpage_counters c;
	char why[512] = "";

	for (int attempt = 0; attempt < 20000; attempt++) {
		k_mem_paging_stats_get(&s);
		zpage_counters_get(&c);
		memset(&sum, 0, sizeof(sum));
		for (int t = 0; per_thread && t < NTHREADS; t++) {
			struct k_mem_paging_stats_t ts;
			k_mem_paging_thread_stats_get(cur->w[t].tid, &ts);
			sum.pagefaults.cnt += ts.pagefaults.cnt;
			sum.pagefaults.irq_locked += ts.pagefaults.irq_locked;
			sum.pagefaults.irq_unlocked += ts.pagefaults.irq_unlocked;
			sum.pagefaults.in_isr += ts.pagefaults.in_isr;
			sum.eviction.clean += ts.eviction.clean;
			sum.eviction.dirty += ts.eviction.dirty;
		}
		why[0] = '\0';
		if (s.pagefaults.irq_locked + s.pagefaults.irq_unlocked !=
		    s.pagefaults.cnt)
			snprintf(why, sizeof(why), "irq_locked %lu + irq_unlocked "
				 "%lu != cnt %lu", s.pagefaults.irq_locked,
				 s.pagefaults.irq_unlocked, s.pagefaults.cnt);
		else if (per_thread &&
			 (sum.pagefaults.cnt != s.pagefaults.cnt ||
			  sum.pagefaults.irq_locked != s.pagefaults.irq_locked ||
			  sum.pagefaults.irq_unlocked != s.pagefaults.irq_unlocked ||
			  sum.pagefaults.in_isr != s.pagefaults.in_isr ||
			  /* The background evictor works for no thread. */
			  sum.eviction.clean + sum.eviction.dirty +
					  c.background_evictions !=
				  s.eviction.clean + s.eviction.dirty))
			snprintf(why, sizeof(why), "per-thread statistics do not "
				 "add up: cnt %lu/%lu irq_locked %lu/%lu "
				 "irq_unlocked %lu/%lu in_isr %lu/%lu clean "
				 "%lu/%lu dirty %lu/%lu (threads/global)",
				 sum.pagefaults.cnt, s.pagefaults.cnt,
				 sum.pagefaults.irq_locked, s.pagefaults.irq_locked,
				 sum.pagefaults.irq_unlocked,
				 s.pagefaults.irq_unlocked, sum.pagefaults.in_isr,
				 s.pagefaults.in_isr, sum.eviction.clean,
				 s.eviction.clean, sum.eviction.dirty,
				 s.eviction.dirty);
		if (why[0] == '\0')
			break;
		zpt_sleep_ms(1);
	}
	if (why[0] != '\0') {
		model_fail(w, "%s: %s", when, why);
		return;
	}
	if (s.eviction.clean + s.eviction.dirty != c.evictions)
		model_fail(w, "%s: clean %lu + dirty %lu != counters.evictions %lu",
			   when, s.eviction.clean, s.eviction.dirty, c.evictions);
	if (s.pagefaults.in_isr != 0)
		model_fail(w, "%s: %lu faults counted in ISR, none was", when,
			   s.pagefaults.in_isr);
	unsigned long hin = zpt_hist_total(k_mem_paging_histogram_backing_store_page_in_get);
	unsigned long hout = zpt_hist_total(k_mem_paging_histogram_backing_store_page_out_get);
	if (hin != c.page_ins)
		model_fail(w, "%s: page-in histogram holds %lu events, "
			   "counters.page_ins is %lu", when, hin, c.page_ins);
	if (hout != c.page_outs)
		model_fail(w, "%s: page-out histogram holds %lu events, "
			   "counters.page_outs is %lu", when, hout, c.page_outs);
	/* The store never fills: every dirty eviction is one page_out. */
	if (c.page_outs != s.eviction.dirty)
		model_fail(w, "%s: counters.page_outs %lu != dirty evictions %lu",
			   when, c.page_outs, s.eviction.dirty);
	if (c.store_loads != c.page_ins)
		model_fail(w, "%s: store_loads %lu != page_ins %lu", when,
			   c.store_loads, c.page_ins);
	if (!cur->backed && s.eviction.clean != 0)
		model_fail(w, "%s: %lu clean evictions with a store that keeps "
			   "no clean copies", when, s.eviction.clean);
	if (c.zero_fills + c.store_loads < s.pagefaults.cnt)
		model_fail(w, "%s: %lu faults but only %lu zero fills + %lu store "
			   "loads", when, s.pagefaults.cnt, c.zero_fills,
			   c.store_loads);
	if (c.fatal_faults != 0)
		model_fail(w, "%s: %lu fatal faults", when, c.fatal_faults);
	if (s.eviction.clean + s.eviction.dirty > 0 &&
	    zpt_hist_total(k_mem_paging_histogram_eviction_get) == 0)
		model_fail(w, "%s: evictions happened but the eviction histogram "
			   "is empty", when);
}

/* Frame accounting with nothing running. */
static void check_frames(const struct worker *w, const char *when)
{
	struct zpage_counters c;
	size_t res = 0;

	zpage_quiesce(); /* the background evictor, if any, stops too */
	for (unsigned ri = 0; ri < NREGIONS; ri++) {
		struct region *g = &regions[ri];
		if (g->addr == NULL)
			continue;
		size_t n = zpt_resident(g->addr, g->pages * ZPT_PAGE);
		if (n == SIZE_MAX) {
			model_fail(w, "%s: mincore failed on region %u", when, ri);
			return;
		}
		res += n;
		check_pinned_resident(w, ri, 0, g->pages, when);
	}
	size_t free_frames = k_mem_free_get() / ZPT_PAGE;
	size_t ram = atomic_load(&ram_total);
	if (res + ram > FRAMES)
		model_fail(w, "%s: %zu pages resident and %zu RAM frames taken, "
			   "more than the %d frames", when, res, ram, FRAMES);
	if (free_frames + res + ram != FRAMES)
		model_fail(w, "%s: %zu free frames + %zu resident pages + %zu "
			   "RAM frames taken != %d frames", when, free_frames, res,
			   ram, FRAMES);
	zpage_counters_get(&c);
	if (c.pinned_frames != atomic_load(&pinned_total))
		model_fail(w, "%s: counters.pinned_frames %lu, the model pinned "
			   "%zu frames (%zu of them RAM)", when, c.pinned_frames,
			   atomic_load(&pinned_total), ram);
	/* Busy marks only last while a page moves: none is left now (a frame
	 * left busy can never be evicted again). */
	size_t busy = 0;
	for (size_t f = 0; f < Z_NUM_PAGE_FRAMES; f++)
		busy += z_page_frame_is_busy(&z_page_frames[f]);
	if (busy != 0)
		model_fail(w, "%s: %zu frames still marked busy", when, busy);
}

/* Thread 0 between two barriers: nothing else touches library memory. */
static void quiescent(struct worker *w, int epoch)
{
	char when[64];

	snprintf(when, sizeof(when), "end of epoch %d", epoch);
	check_frames(w, when);
	check_stats(w, true, when);

	/* Exact page-out / page-in results while nothing else runs. */
	unsigned ri = (unsigned)epoch % NREGIONS;
	struct region *g = &regions[ri];
	if (g->addr == NULL || stop())
		return;
	int want = g->npinned ? -EBUSY : 0;
	int rc = k_mem_page_out(g->addr, g->pages * ZPT_PAGE);
	size_t res = zpt_resident(g->addr, g->pages * ZPT_PAGE);
	if (rc != want || res != g->npinned)
		model_fail(w, "%s: k_mem_page_out(region %u) returned %d "
			   "(expected %d) and left %zu pages resident, the model "
			   "has %zu pinned", when, ri, rc, want, res, g->npinned);
	/* A range that fits in the free frames: no eviction is needed, so
	 * every page must be resident afterwards. (A longer one is not
	 * checked: the eviction algorithm may then choose a page this very
	 * call loaded before, see the report of this test.) */
	size_t len = g->pages < MAX_RANGE ? g->pages : MAX_RANGE;
	size_t free_frames = k_mem_free_get() / ZPT_PAGE;
	struct zpage_info info;
	zpage_info_get(&info);
	/* Nor may it wake the background evictor, which could choose them. */
	if (info.background_evictor)
		free_frames = free_frames > info.evictor_low_water
				      ? free_frames - info.evictor_low_water
				      : 0;
	if (len > free_frames)
		len = free_frames;
	if (len == 0)
		return;
	size_t s = g->pages - len;
	k_mem_page_in(g->addr + s * ZPT_PAGE, len * ZPT_PAGE);
	res = zpt_resident(g->addr + s * ZPT_PAGE, len * ZPT_PAGE);
	if (res != len)
		model_fail(w, "%s: after k_mem_page_in(region %u, pages %zu+%zu) "
			   "only %zu pages are resident", when, ri, s, len, res);
	check_frames(w, when);
}

static void verify_own(struct worker *w, const char *when)
{
	ram_verify(w, when);
	for (size_t k = 0; k < own_count[w->id] && !stop(); k++) {
		unsigned ri = own_region[w->id][k];
		struct region *g = &regions[ri];
		rdlock(g);
		if (g->addr != NULL)
			page_matches(w, ri, own_page[w->id][k], when);
		rwunlock(g);
	}
}

/* ---- threads -------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned long per = cur->ops / NTHREADS;
	char when[64];

	w->tid = k_current_get();
	pthread_barrier_wait(&cur->barrier);
	for (int e = 0; e < NEPOCHS; e++) {
		unsigned long n = per / NEPOCHS;
		if (e == NEPOCHS - 1)
			n = per - n * (NEPOCHS - 1);
		if (w->id == 0 && e == NEPOCHS - 1)
			n += cur->ops % NTHREADS;
		/* One remap of a random region per thread and epoch, at a
		 * random point: NTHREADS * NEPOCHS remaps, all while the other
		 * threads run. */
		unsigned long remap_at = n ? below(&w->rng, n) : 0;
		for (unsigned long i = 0; i < n && !stop(); i++) {
			w->done++;
			if (i == remap_at) {
				op_remap(w, (unsigned)below(&w->rng, NREGIONS));
				w->counts[OP_REMAP]++;
			} else {
				do_op(w, pick_op(w));
			}
		}
		pthread_barrier_wait(&cur->barrier);
		if (w->id == 0 && !stop())
			quiescent(w, e);
		pthread_barrier_wait(&cur->barrier);
		snprintf(when, sizeof(when), "read-back after epoch %d", e);
		verify_own(w, when);
		pthread_barrier_wait(&cur->barrier);
	}
	ram_release(w);
	return NULL;
}

/* ---- one configuration ------------------------------------------------------ */

static void regions_setup(void)
{
	total_pages = 0;
	for (unsigned ri = 0; ri < NREGIONS; ri++) {
		struct region *g = &regions[ri];
		pthread_rwlockattr_t a;
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(
			&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&g->rw, &a);
		pthread_rwlockattr_destroy(&a);
		pthread_mutex_init(&g->pin_mu, NULL);
		g->pages = region_pages[ri];
		g->first = total_pages;
		total_pages += g->pages;
		g->ref = calloc(g->pages, ZPT_PAGE);
		g->pinned = calloc(g->pages, sizeof(g->pinned[0]));
		assert_non_null(g->ref);
		assert_non_null(g->pinned);
		g->npinned = 0;
		g->addr = k_mem_map(g->pages * ZPT_PAGE, K_MEM_PERM_RW);
		assert_non_null(g->addr);
	}
	atomic_store(&pinned_total, 0);
	atomic_store(&ram_total, 0);
	for (int t = 0; t < NTHREADS; t++) {
		own_count[t] = 0;
		own_region[t] = calloc(total_pages, sizeof(unsigned));
		own_page[t] = calloc(total_pages, sizeof(size_t));
		assert_non_null(own_region[t]);
		assert_non_null(own_page[t]);
	}
	for (unsigned ri = 0; ri < NREGIONS; ri++) {
		for (size_t i = 0; i < regions[ri].pages; i++) {
			int t = (int)((regions[ri].first + i) % NTHREADS);
			own_region[t][own_count[t]] = ri;
			own_page[t][own_count[t]++] = i;
		}
	}
}

static void regions_teardown(void)
{
	for (unsigned ri = 0; ri < NREGIONS; ri++) {
		struct region *g = &regions[ri];
		free(g->ref);
		free(g->pinned);
		g->ref = NULL;
		g->pinned = NULL;
		pthread_rwlock_destroy(&g->rw);
		pthread_mutex_destroy(&g->pin_mu);
	}
	for (int t = 0; t < NTHREADS; t++) {
		free(own_region[t]);
		free(own_page[t]);
		own_region[t] = NULL;
		own_page[t] = NULL;
	}
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0')
		return dflt;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 0);
	if (errno != 0 || *end != '\0') {
		fprintf(stderr, "%s='%s' is not a number\n", name, v);
		exit(2);
	}
	return x;
}

static uint64_t master_seed;
static unsigned long ops_per_config;

/* ZPT_MODEL_STORE=SPEC runs the model on another store: the "ram" run
 * on SPEC, the "ram:backed" run on SPEC too where it keeps clean copies
 * (file without nokeep), else it is the same run again. */
static bool keeps_copies(const char *store)
{
	return strcmp(store, "ram:backed") == 0 ||
	       (strncmp(store, "file", 4) == 0 && strstr(store, "nokeep") == NULL);
}

static void run_model(const char *store)
{
	struct run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	const char *other = getenv("ZPT_MODEL_STORE");
	if (other != NULL && *other != '\0')
		store = other;
	r->store = store;
	r->backed = keeps_copies(store);
	r->seed = master_seed;
	r->ops = ops_per_config;
	cur = r;
	atomic_store(&failed, 0);

	/* The default engine, or what the environment asks for. */
	struct zpage_config cfg = { .frames = FRAMES, .backing_store = store };
	zpt_start(&cfg);
	assert_int_equal(zpage_info_get(&r->info), 0);
	assert_int_equal(r->info.frames, FRAMES);
	assert_int_equal(k_mem_free_get(), (size_t)FRAMES * ZPT_PAGE);
	regions_setup();
	printf("model: store %s, %d threads, %d frames, %zu pages in %d "
	       "regions, %lu operations, seed %#" PRIx64 " (%s faults, write "
	       "tracking %s, access tracking %s)\n", store, NTHREADS, FRAMES,
	       total_pages, NREGIONS, r->ops, r->seed,
	       r->info.mode == ZPAGE_MODE_UFFD ? "all" : "user-mode",
	       r->info.write_tracking ? "on" : "off",
	       r->info.access_tracking ? "on" : "off");
	fflush(stdout);

	double t0 = now_s();
	assert_int_equal(pthread_barrier_init(&r->barrier, NULL, NTHREADS + 1), 0);
	for (int t = 0; t < NTHREADS; t++) {
		struct worker *w = &r->w[t];
		w->id = t;
		w->rng = r->seed ^ (0xA0761D6478BD642Full * (uint64_t)(t + 1)) ^
			 (r->backed ? 0xE7037ED1A0B428DBull : 0);
		w->hot = 0;
		assert_int_equal(pthread_create(&w->thread, NULL, worker_main, w), 0);
	}
	/* Main joins the barriers of the threads' epochs. */
	pthread_barrier_wait(&r->barrier);
	for (int e = 0; e < NEPOCHS; e++) {
		pthread_barrier_wait(&r->barrier);
		pthread_barrier_wait(&r->barrier);
		pthread_barrier_wait(&r->barrier);
	}
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(r->w[t].thread, NULL);
	pthread_barrier_destroy(&r->barrier);
	double t1 = now_s();

	/* The end: unpin everything, read everything back, unmap. */
	unsigned long done = 0, counts[NOPS] = { 0 }, ram_null = 0;
	for (int t = 0; t < NTHREADS; t++) {
		done += r->w[t].done;
		ram_null += r->w[t].ram_null;
		for (int o = 0; o < NOPS; o++)
			counts[o] += r->w[t].counts[o];
	}
	if (!stop()) {
		check_frames(NULL, "after the threads ended");
		for (unsigned ri = 0; ri < NREGIONS; ri++) {
			struct region *g = &regions[ri];
			if (g->addr == NULL)
				continue;
			k_mem_unpin(g->addr, g->pages * ZPT_PAGE);
			atomic_fetch_sub(&pinned_total, g->npinned);
			g->npinned = 0;
			memset(g->pinned, 0, g->pages * sizeof(g->pinned[0]));
		}
		struct zpage_counters c;
		zpage_counters_get(&c);
		if (c.pinned_frames != 0)
			model_fail(NULL, "%lu frames pinned after unpinning all",
				   c.pinned_frames);
		for (unsigned ri = 0; ri < NREGIONS && !stop(); ri++)
			for (size_t i = 0; i < regions[ri].pages && !stop(); i++)
				page_matches(NULL, ri, i, "final read-back");
		check_frames(NULL, "after the final read-back");
		check_stats(NULL, false, "at the end");
	}
	struct k_mem_paging_stats_t s;
	struct zpage_counters c;
	k_mem_paging_stats_get(&s);
	zpage_counters_get(&c);
	for (unsigned ri = 0; ri < NREGIONS; ri++) {
		if (regions[ri].addr != NULL)
			k_mem_unmap(regions[ri].addr, regions[ri].pages * ZPT_PAGE);
		regions[ri].addr = NULL;
	}
	size_t free_end = k_mem_free_get();
	struct zpage_counters c_end;
	zpage_counters_get(&c_end);

	printf("model: store %s: %lu operations in %.1f s (", store, done,
	       t1 - t0);
	for (int o = 0; o < NOPS; o++)
		printf("%s%s %lu", o ? ", " : "", op_names[o], counts[o]);
	printf("; %lu RAM allocations found no run",
	       ram_null);
	printf(")\nmodel: store %s: %lu faults (%lu irq-locked), %lu zero "
	       "fills, %lu store loads, %lu access faults, %lu write faults, "
	       "evictions %lu clean + %lu dirty, %lu page-outs\n", store,
	       s.pagefaults.cnt, s.pagefaults.irq_locked, c.zero_fills,
	       c.store_loads, c.access_faults, c.write_faults, s.eviction.clean,
	       s.eviction.dirty, c.page_outs);
	fflush(stdout);

	bool fail_now = stop();
	regions_teardown();
	zpage_shutdown();
	cur = NULL;
	uint64_t seed = r->seed;
	unsigned long ops = r->ops;
	bool backed = r->backed, wt = r->info.write_tracking;
	free(r);

	if (fail_now) {
		fprintf(stderr, "model failed; replay with ZPT_MODEL_SEED=%#" PRIx64
			" %s\n", seed, store);
		fail();
	}
	assert_int_equal(done, ops);
	assert_int_equal(free_end, (size_t)FRAMES * ZPT_PAGE);
	assert_int_equal(c_end.pinned_frames, 0);
	assert_int_equal(counts[OP_REMAP], (unsigned long)NTHREADS * NEPOCHS);
	/* Every kind of operation ran, and paging really happened. */
	for (int o = 0; o < NOPS; o++)
		assert_true(ops < 1000 || counts[o] > 0);
	assert_true(s.eviction.clean + s.eviction.dirty > 0);
	assert_true(c.page_ins > 0);
	/* Every irq-locked operation pages its page out first and then
	 * touches it, so (short of another thread loading that very page in
	 * between, every single time) faults were taken with irqs locked. */
	if (counts[OP_IRQ] >= 100)
		assert_true(s.pagefaults.irq_locked > 0);
	/* With clean copies, pages read and not written leave clean. */
	if (backed && wt && ops >= 10000)
		assert_true(s.eviction.clean > 0);
	(void)seed;
}

/*
 * Deterministic companion of the model (regression test for what the model
 * found with "ram:backed"): a write that faults on a paged-out page loads it
 * writable and dirty at once. It used to be loaded write-protected like a
 * read, so the write took a second (write-protect) fault, and in between
 * the page was clean and freshly loaded, NRU's preferred victim: with four
 * threads writing, one write cost about four demand faults.
 *
 * A fault handler finishes its bookkeeping (page bits, write-fault count)
 * after the faulting thread runs on; k_mem_page_out() takes the page's lock,
 * so the counters are read after it.
 */
static void write_fault_loads_dirty(void **state)
{
	struct k_mem_paging_stats_t s0, s1;
	struct zpage_counters c0, c1;
	struct zpage_info info;

	(void)state;
	struct zpage_config cfg = { .frames = FRAMES,
				    .backing_store = "ram:backed" };
	zpt_start(&cfg);
	assert_int_equal(zpage_info_get(&info), 0);
	if (!info.write_tracking)
		skip();
	volatile uint64_t *p = k_mem_map(2 * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null((void *)p);
	p[0] = 1;
	assert_int_equal(k_mem_page_out((void *)p, ZPT_PAGE), 0);

	/* Write fault on a page with a copy in the store: one fault, no
	 * write-protect fault, and the page is dirty. */
	k_mem_paging_stats_get(&s0);
	zpage_counters_get(&c0);
	p[1] = 2;
	assert_int_equal(k_mem_page_out((void *)p, ZPT_PAGE), 0);
	k_mem_paging_stats_get(&s1);
	zpage_counters_get(&c1);
	assert_int_equal(s1.pagefaults.cnt - s0.pagefaults.cnt, 1);
	assert_int_equal(c1.store_loads - c0.store_loads, 1);
	assert_int_equal(c1.write_faults - c0.write_faults, 0);
	assert_int_equal(s1.eviction.dirty - s0.eviction.dirty, 1);
	assert_int_equal(c1.page_outs - c0.page_outs, 1);

	/* A read fault still loads it clean and write-protected: the first
	 * write is then a write-protect fault, and it is dirty. */
	assert_int_equal(p[0], 1);
	p[2] = 3;
	assert_int_equal(k_mem_page_out((void *)p, ZPT_PAGE), 0);
	k_mem_paging_stats_get(&s0);
	zpage_counters_get(&c0);
	assert_int_equal(s0.pagefaults.cnt - s1.pagefaults.cnt, 1);
	assert_int_equal(c0.write_faults - c1.write_faults, 1);
	assert_int_equal(s0.eviction.dirty - s1.eviction.dirty, 1);
	assert_int_equal(c0.page_outs - c1.page_outs, 1);

	/* Read, not written: leaves clean, without a page-out. */
	assert_int_equal(p[2], 3);
	assert_int_equal(k_mem_page_out((void *)p, ZPT_PAGE), 0);
	k_mem_paging_stats_get(&s1);
	zpage_counters_get(&c1);
	assert_int_equal(s1.eviction.clean - s0.eviction.clean, 1);
	assert_int_equal(s1.eviction.dirty - s0.eviction.dirty, 0);
	assert_int_equal(c1.page_outs - c0.page_outs, 0);
	assert_int_equal(c1.write_faults - c0.write_faults, 0);
	assert_int_equal(p[0], 1);
	assert_int_equal(p[1], 2);
	assert_int_equal(p[2], 3);

	k_mem_unmap((void *)p, 2 * ZPT_PAGE);
	assert_int_equal(k_mem_free_get(), (size_t)FRAMES * ZPT_PAGE);
}

static int shutdown_teardown(void **state)
{
	(void)state;
	zpage_shutdown();
	return 0;
}

static void model_ram(void **state)
{
	(void)state;
	run_model("ram");
}

static void model_ram_backed(void **state)
{
	(void)state;
	run_model("ram:backed");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest both[] = {
		cmocka_unit_test_teardown(write_fault_loads_dirty,
					  shutdown_teardown),
		cmocka_unit_test_teardown(model_ram, shutdown_teardown),
		cmocka_unit_test_teardown(model_ram_backed, shutdown_teardown),
	};
	const struct CMUnitTest only_ram[] = {
		cmocka_unit_test_teardown(model_ram, shutdown_teardown),
	};
	const struct CMUnitTest only_backed[] = {
		cmocka_unit_test_teardown(model_ram_backed, shutdown_teardown),
	};
	unsigned configs = 2;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "ram") != 0 &&
			 strcmp(argv[1], "ram:backed") != 0)) {
		fprintf(stderr, "usage: %s [ram|ram:backed]\n", argv[0]);
		return 2;
	}
	if (argc == 2)
		configs = 1;
	uint64_t dflt = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	master_seed = env_u64("ZPT_MODEL_SEED", dflt);
	unsigned long total = (unsigned long)env_u64("ZPT_MODEL_OPS", DEFAULT_OPS);
	ops_per_config = total / configs;
	if (ops_per_config < NTHREADS * NEPOCHS) {
		fprintf(stderr, "ZPT_MODEL_OPS must be at least %d\n",
			NTHREADS * NEPOCHS * configs);
		return 2;
	}
	printf("model: seed %#" PRIx64 " (replay: ZPT_MODEL_SEED=%#" PRIx64
	       "), %lu operations in all, %lu per store\n", master_seed,
	       master_seed, ops_per_config * configs, ops_per_config);
	fflush(stdout);

	if (argc == 2 && strcmp(argv[1], "ram") == 0)
		return cmocka_run_group_tests(only_ram, NULL, NULL);
	if (argc == 2)
		return cmocka_run_group_tests(only_backed, NULL, NULL);
	return cmocka_run_group_tests(both, NULL, NULL);
}
