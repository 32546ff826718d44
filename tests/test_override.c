/*
 * Link-time replacement of the plug-ins, as a Zephyr build does it: this
 * program defines the eviction algorithm and the backing store itself, and
 * the library's weak definitions (the built-in nru and ram) must not be used.
 * Built twice: test_override (shared libzpage) and test_override_static
 * (libzpage.a), see extra.cmake.
 *
 * Eviction: FIFO, in the order frames became mapped. It only uses what the
 * plug-in API gives: it walks z_page_frames with the <mmu.h> helpers and
 * stamps a frame with a growing counter when it sees it mapped to a new
 * page (the stamp is cleared when the store is asked for a location for the
 * frame's page, i.e. when the page leaves), and picks the evictable frame
 * with the oldest stamp.
 *
 * Store: a fixed array of pages with a small, adjustable capacity. It keeps
 * one free location in reserve for page faults, and optionally (keep_clean)
 * keeps clean copies: page_finalize marks the frame Z_PAGE_FRAME_BACKED and
 * location_get then returns the same location for it. Every call checks its
 * arguments (known location, location in use, page written before it is
 * read, frame mapped and busy) and that calls are never concurrent.
 *
 * Tests:
 *  - replaced: the program's functions are called (call counts match the
 *    library's counters and histograms), a region four times the pool keeps
 *    its data, also with four threads at once, and unmapping frees every
 *    location.
 *  - fifo_order: with N frames, touching page N evicts page 0, page N+1
 *    evicts page 1 ...; then a random sequence of touches, with the resident
 *    set (mincore) compared with a FIFO simulation after each one.
 *  - clean_copies: page_outs == dirty evictions; with clean copies, pages
 *    read and not written leave as clean evictions without a page_out call.
 *  - reserve_rule: filling the store until k_mem_page_out() gets -ENOMEM
 *    (one location left) while a fault still succeeds (it may use the last
 *    one); K_MEM_MAP_LOCK fails then and leaves nothing behind.
 *  - page_out_lets_go: k_mem_page_out() meets a page locked by a fault that
 *    waits for a frame while every frame holds one of its victims.
 */
#define _GNU_SOURCE
#include "zpt.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define FRAMES 8
#define MAX_FRAMES 64
#define SLOTS 48

/* ---- call counters and contract checks ------------------------------------ */

static atomic_ulong n_evict_init, n_select, n_select_null;
static atomic_ulong n_store_init, n_loc_get, n_loc_free, n_page_out;
static atomic_ulong n_page_in, n_finalize, n_backed_reuse, n_enomem;
static atomic_ulong contract_errors;
static atomic_int in_select, in_store;

__attribute__((format(printf, 1, 2)))
static void contract_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "plug-in contract violated: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	atomic_fetch_add(&contract_errors, 1);
}

static void enter(atomic_int *flag, const char *what)
{
	if (atomic_exchange(flag, 1) != 0)
		contract_error("two %s calls at once", what);
}

static void leave(atomic_int *flag)
{
	atomic_store(flag, 0);
}

static void check_frame(struct z_page_frame *pf, const char *fn)
{
	if (pf < z_page_frames || pf >= z_page_frames + z_num_page_frames) {
		contract_error("%s: %p is not a page frame", fn, (void *)pf);
		return;
	}
	uint8_t f = z_page_frame_flags(pf);
	if (!(f & Z_PAGE_FRAME_MAPPED) || !(f & Z_PAGE_FRAME_BUSY) ||
	    z_page_frame_addr(pf) == NULL)
		contract_error("%s: frame %zu is not mapped and busy (flags %#x)",
			       fn, z_page_frame_index(pf), f);
}

/* ---- FIFO eviction ------------------------------------------------------------ */

/* Stamps are written by select and cleared by location_get (store lock),
 * which may run at the same time: atomics. */
static _Atomic uint64_t stamp[MAX_FRAMES];
static void *_Atomic seen_addr[MAX_FRAMES];
static uint64_t fifo_clock; /* select only */

/* The last choices, for failure reports. */
#define CHOICE_LOG 16
static atomic_uint choice_n;
static void *_Atomic choice_addr[CHOICE_LOG];
static _Atomic uint64_t choice_stamp[CHOICE_LOG];

void k_mem_paging_eviction_init(void)
{
	atomic_fetch_add(&n_evict_init, 1);
	if (z_page_frames == NULL || z_num_page_frames == 0 ||
	    z_num_page_frames > MAX_FRAMES)
		contract_error("eviction_init: frame table not ready (%zu frames)",
			       z_num_page_frames);
	fifo_clock = 0;
	for (size_t i = 0; i < MAX_FRAMES; i++) {
		atomic_store(&stamp[i], 0);
		atomic_store(&seen_addr[i], NULL);
	}
}

/* A gate that holds the next selection until a test opens it: the fault
 * that called it keeps its page locked and waits for a frame meanwhile. */
static atomic_int gate_armed, gate_waiting, gate_open;

static void gate_pass(void)
{
	if (!atomic_exchange(&gate_armed, 0))
		return;
	atomic_store(&gate_waiting, 1);
	while (!atomic_load(&gate_open))
		zpt_sleep_ms(1);
}

struct z_page_frame *k_mem_paging_eviction_select(bool *dirty)
{
	uintptr_t phys;
	struct z_page_frame *pf, *best = NULL;
	uint64_t best_stamp = 0;

	gate_pass();
	enter(&in_select, "eviction_select");
	atomic_fetch_add(&n_select, 1);
	Z_PAGE_FRAME_FOREACH(phys, pf) {
		size_t i = z_page_frame_index(pf);
		if (!z_page_frame_is_mapped(pf)) {
			atomic_store(&stamp[i], 0);
			continue;
		}
		void *a = z_page_frame_addr(pf);
		uint64_t s = atomic_load(&stamp[i]);
		if (s == 0 || atomic_load(&seen_addr[i]) != a) {
			s = ++fifo_clock;
			atomic_store(&seen_addr[i], a);
			atomic_store(&stamp[i], s);
		}
		if (!z_page_frame_is_evictable(pf))
			continue;
		if (best == NULL || s < best_stamp) {
			best = pf;
			best_stamp = s;
		}
	}
	if (best != NULL) {
		*dirty = (arch_page_info_get(z_page_frame_addr(best), NULL,
					     false) & ARCH_DATA_PAGE_DIRTY) != 0;
		unsigned k = atomic_fetch_add(&choice_n, 1) % CHOICE_LOG;
		atomic_store(&choice_addr[k], z_page_frame_addr(best));
		atomic_store(&choice_stamp[k], best_stamp);
	} else {
		atomic_fetch_add(&n_select_null, 1);
	}
	leave(&in_select);
	return best;
}

/* ---- array backing store ---------------------------------------------------------- */

static uint8_t slots[SLOTS][ZPT_PAGE] __attribute__((aligned(4096)));
static bool slot_used[SLOTS], slot_written[SLOTS];
static uintptr_t frame_loc[MAX_FRAMES];
static atomic_size_t nused;          /* locations handed out */
static size_t capacity = SLOTS;      /* set by the tests before start */
static bool keep_clean;              /* set by the tests before start */

/* Tokens are (slot + 1) * page size, so 0 is never valid. */
static size_t slot_of(uintptr_t loc, const char *fn)
{
	size_t s = loc / ZPT_PAGE;
	if (loc % ZPT_PAGE != 0 || s == 0 || s > SLOTS) {
		contract_error("%s: %#lx is not a location of this store", fn,
			       (unsigned long)loc);
		return SIZE_MAX;
	}
	if (!slot_used[s - 1]) {
		contract_error("%s: location %#lx is not in use", fn,
			       (unsigned long)loc);
		return SIZE_MAX;
	}
	return s - 1;
}

static void check_scratch(const char *fn)
{
	void *p = Z_SCRATCH_PAGE;
	if (p == NULL || (uintptr_t)p % ZPT_PAGE != 0)
		contract_error("%s: scratch page %p", fn, p);
}

void k_mem_paging_backing_store_init(void)
{
	atomic_fetch_add(&n_store_init, 1);
	memset(slot_used, 0, sizeof(slot_used));
	memset(slot_written, 0, sizeof(slot_written));
	memset(frame_loc, 0, sizeof(frame_loc));
	atomic_store(&nused, 0);
}

int k_mem_paging_backing_store_location_get(struct z_page_frame *pf,
					    uintptr_t *location,
					    bool page_fault)
{
	int r = 0;

	enter(&in_store, "backing store");
	atomic_fetch_add(&n_loc_get, 1);
	check_frame(pf, "location_get");
	size_t f = z_page_frame_index(pf);
	if (z_page_frame_is_backed(pf)) {
		*location = frame_loc[f];
		if (slot_of(*location, "location_get (backed)") != SIZE_MAX)
			atomic_fetch_add(&n_backed_reuse, 1);
	} else {
		size_t avail = capacity - atomic_load(&nused);
		if (avail == 0 || (!page_fault && avail == 1)) {
			atomic_fetch_add(&n_enomem, 1);
			r = -ENOMEM;
		} else {
			size_t s = 0;
			while (slot_used[s])
				s++;
			slot_used[s] = true;
			slot_written[s] = false;
			atomic_fetch_add(&nused, 1);
			*location = (s + 1) * ZPT_PAGE;
		}
	}
	/* The page leaves its frame (unless this fails): FIFO forgets it. */
	if (r == 0)
		atomic_store(&stamp[f], 0);
	leave(&in_store);
	return r;
}

static void slot_free(size_t s)
{
	slot_used[s] = false;
	slot_written[s] = false;
	atomic_fetch_sub(&nused, 1);
}

void k_mem_paging_backing_store_location_free(uintptr_t location)
{
	enter(&in_store, "backing store");
	atomic_fetch_add(&n_loc_free, 1);
	size_t s = slot_of(location, "location_free");
	if (s != SIZE_MAX)
		slot_free(s);
	leave(&in_store);
}

void k_mem_paging_backing_store_page_out(uintptr_t location)
{
	enter(&in_store, "backing store");
	atomic_fetch_add(&n_page_out, 1);
	check_scratch("page_out");
	size_t s = slot_of(location, "page_out");
	if (s != SIZE_MAX) {
		memcpy(slots[s], Z_SCRATCH_PAGE, ZPT_PAGE);
		slot_written[s] = true;
	}
	leave(&in_store);
}

void k_mem_paging_backing_store_page_in(uintptr_t location)
{
	enter(&in_store, "backing store");
	atomic_fetch_add(&n_page_in, 1);
	check_scratch("page_in");
	size_t s = slot_of(location, "page_in");
	if (s != SIZE_MAX) {
		if (!slot_written[s])
			contract_error("page_in: location %#lx was never written",
				       (unsigned long)location);
		memcpy(Z_SCRATCH_PAGE, slots[s], ZPT_PAGE);
	}
	leave(&in_store);
}

void k_mem_paging_backing_store_page_finalize(struct z_page_frame *pf,
					      uintptr_t location)
{
	enter(&in_store, "backing store");
	atomic_fetch_add(&n_finalize, 1);
	check_frame(pf, "page_finalize");
	size_t s = slot_of(location, "page_finalize");
	if (s != SIZE_MAX) {
		if (keep_clean) {
			frame_loc[z_page_frame_index(pf)] = location;
			z_page_frame_set(pf, Z_PAGE_FRAME_BACKED);
		} else {
			slot_free(s);
		}
	}
	leave(&in_store);
}

/* ---- helpers ---------------------------------------------------------------------- */

static struct zpage_info info;

static void start(size_t cap, bool clean)
{
	atomic_ulong *const counters[] = {
		&n_evict_init, &n_select, &n_select_null, &n_store_init,
		&n_loc_get, &n_loc_free, &n_page_out, &n_page_in, &n_finalize,
		&n_backed_reuse, &n_enomem, &contract_errors,
	};

	atomic_store(&choice_n, 0);

	/* The library is stopped: nothing calls the plug-ins now. */
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		atomic_store(counters[i], 0);
	capacity = cap;
	keep_clean = clean;
	zpt_start_simple(FRAMES, NULL, NULL);
	assert_int_equal(zpage_info_get(&info), 0);
	/* Our init functions ran, once each. */
	assert_int_equal(atomic_load(&n_evict_init), 1);
	assert_int_equal(atomic_load(&n_store_init), 1);
	assert_int_equal(z_num_page_frames, FRAMES);
}


/* Resident flags of n pages. */
static void residency(const uint8_t *p, size_t n, unsigned char *v)
{
	assert_int_equal(mincore((void *)p, n * ZPT_PAGE, v), 0);
	for (size_t i = 0; i < n; i++)
		v[i] &= 1;
}

/* ---- tests ------------------------------------------------------------------------ */

#define THREADS 4
#define REGION_PAGES (4 * FRAMES)

struct worker_arg {
	uint8_t *base;
	int id;
	int bad;
};

/* Pages id, id + THREADS, ...: rewrite and check them again and again. */
static void *worker(void *p)
{
	struct worker_arg *a = p;
	uint64_t seed[REGION_PAGES] = { 0 };

	for (int round = 1; round <= 60; round++) {
		for (size_t i = (size_t)a->id; i < REGION_PAGES; i += THREADS) {
			uint8_t *pg = a->base + i * ZPT_PAGE;
			if (seed[i] != 0 && !zpt_check(pg, seed[i], i))
				a->bad++;
			if ((round + i) % 3 != 0) {
				seed[i] = 1000u * (unsigned)round + (unsigned)a->id;
				zpt_fill(pg, seed[i], i);
			}
		}
	}
	for (size_t i = (size_t)a->id; i < REGION_PAGES; i += THREADS)
		if (seed[i] != 0 && !zpt_check(a->base + i * ZPT_PAGE, seed[i], i))
			a->bad++;
	return NULL;
}

static void replaced(void **state)
{
	(void)state;
	start(SLOTS, false);
	uint8_t *p = k_mem_map(REGION_PAGES * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);

	for (size_t i = 0; i < REGION_PAGES; i++)
		zpt_fill(p + i * ZPT_PAGE, 7, i);
	assert_true(zpt_resident(p, REGION_PAGES * ZPT_PAGE) <= FRAMES);
	for (size_t i = REGION_PAGES; i-- > 0;)
		assert_true(zpt_check(p + i * ZPT_PAGE, 7, i));
	for (size_t i = 0; i < REGION_PAGES; i++)
		assert_true(zpt_check(p + i * ZPT_PAGE, 7, i));

	/* The same, with four threads faulting at once. */
	pthread_t t[THREADS];
	struct worker_arg args[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct worker_arg){ p, i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(args[i].bad, 0);
	}

	/* Our functions did the work: the library counted exactly our calls. */
	struct k_mem_paging_stats_t s;
	struct zpage_counters c;
	k_mem_paging_stats_get(&s);
	zpage_counters_get(&c);
	assert_true(atomic_load(&n_select) > 0);
	assert_true(atomic_load(&n_page_out) > 0);
	assert_true(atomic_load(&n_page_in) > 0);
	assert_int_equal(c.page_outs, atomic_load(&n_page_out));
	assert_int_equal(c.page_ins, atomic_load(&n_page_in));
	assert_int_equal(c.store_loads, atomic_load(&n_page_in));
	assert_int_equal(atomic_load(&n_finalize), atomic_load(&n_page_in));
	assert_int_equal(zpt_hist_total(k_mem_paging_histogram_eviction_get),
			 atomic_load(&n_select));
	assert_int_equal(zpt_hist_total(k_mem_paging_histogram_backing_store_page_out_get),
			 atomic_load(&n_page_out));
	assert_int_equal(zpt_hist_total(k_mem_paging_histogram_backing_store_page_in_get),
			 atomic_load(&n_page_in));
	/* No clean copies: every eviction is dirty and one page_out. */
	assert_int_equal(s.eviction.clean, 0);
	assert_int_equal(s.eviction.dirty, atomic_load(&n_page_out));
	assert_int_equal(c.evictions, s.eviction.dirty);
	/* Evictions come from our selections (no k_mem_page_out here). */
	assert_true(atomic_load(&n_select) - atomic_load(&n_select_null) >=
		    c.evictions);
	/* Locations: those of the pages that are out are still in use. */
	assert_int_equal(atomic_load(&nused),
			 REGION_PAGES - zpt_resident(p, REGION_PAGES * ZPT_PAGE));

	k_mem_unmap(p, REGION_PAGES * ZPT_PAGE);
	assert_int_equal(atomic_load(&nused), 0);
	assert_int_equal(atomic_load(&n_loc_get),
			 atomic_load(&n_loc_free) + atomic_load(&n_finalize));
	assert_int_equal(k_mem_free_get(), (size_t)FRAMES * ZPT_PAGE);
	assert_int_equal(atomic_load(&contract_errors), 0);
}

/* Why the resident set is not FIFO's: what the test expected, what the
 * frames hold, what select chose last. */
static void fifo_report(const uint8_t *p, size_t pages, const size_t *queue,
			size_t head, size_t len, size_t qcap)
{
	fprintf(stderr, "expected FIFO order (oldest first):");
	for (size_t k = 0; k < len; k++)
		fprintf(stderr, " %zu", queue[(head + k) % qcap]);
	fprintf(stderr, "\nframes:");
	for (size_t f = 0; f < z_num_page_frames; f++) {
		const uint8_t *a = z_page_frame_addr(&z_page_frames[f]);
		long pg = a >= p && a < p + pages * ZPT_PAGE ?
				  (long)((a - p) / ZPT_PAGE) : -1;
		fprintf(stderr, " [%zu: page %ld flags %#x stamp %lu]", f, pg,
			z_page_frame_flags(&z_page_frames[f]),
			(unsigned long)atomic_load(&stamp[f]));
	}
	unsigned n = atomic_load(&choice_n);
	fprintf(stderr, "\n%u selections, %lu found nothing; last choices:", n,
		atomic_load(&n_select_null));
	for (unsigned k = n > CHOICE_LOG ? n - CHOICE_LOG : 0; k < n; k++) {
		const uint8_t *a = atomic_load(&choice_addr[k % CHOICE_LOG]);
		fprintf(stderr, " page %ld (stamp %lu)",
			(long)((a - p) / (long)ZPT_PAGE),
			(unsigned long)atomic_load(&choice_stamp[k % CHOICE_LOG]));
	}
	fprintf(stderr, "\n");
}

/*
 * Wait until the library is done with page i of p. A fault handler installs
 * the page (and so lets the faulting thread run on) before it clears the
 * frame's BUSY flag and releases the page; if it is descheduled right then
 * (a loaded 2-vCPU machine, a sanitizer), the page may still be busy when
 * the next fault's eviction runs, and FIFO rightly skips it. k_mem_page_in()
 * of a resident page waits for the page and changes nothing else.
 */
static void settle(uint8_t *p, size_t i)
{
	/* With signal delivery the faulting thread served the fault itself:
	 * nothing to wait for (and k_mem_page_in() would make the page
	 * writable and dirty there, for system calls). */
	if (info.delivery == ZPAGE_DELIVERY_THREAD)
		k_mem_page_in(p + i * ZPT_PAGE, ZPT_PAGE);
}

/* Touch page i (read or write); returns the value read. */
static uint64_t touch(uint8_t *p, size_t i, bool write, uint64_t v)
{
	volatile uint64_t *w = (volatile uint64_t *)(p + i * ZPT_PAGE);
	if (write)
		*w = v;
	uint64_t r = *w;
	settle(p, i);
	return r;
}

static void fill(uint8_t *p, uint64_t seed, size_t i)
{
	zpt_fill(p + i * ZPT_PAGE, seed, i);
	settle(p, i);
}

static bool check(uint8_t *p, uint64_t seed, size_t i)
{
	bool ok = zpt_check(p + i * ZPT_PAGE, seed, i);
	settle(p, i);
	return ok;
}

static void fifo_order(void **state)
{
	enum { N = FRAMES, PAGES = 3 * FRAMES };
	unsigned char v[PAGES], want[PAGES];
	uint64_t val[PAGES] = { 0 };
	size_t queue[N], head = 0, len = 0;

	(void)state;
	start(SLOTS, false);
	uint8_t *p = k_mem_map(PAGES * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	memset(want, 0, sizeof(want));

	/* Pages 0..N-1 fill the pool; then page N evicts page 0, page N+1
	 * page 1, and so on. */
	for (size_t i = 0; i < 2 * N + 3; i++) {
		val[i] = i + 1;
		touch(p, i, true, val[i]);
		if (len == N) {
			want[queue[head]] = 0;
			head = (head + 1) % N;
			len--;
		}
		queue[(head + len++) % N] = i;
		want[i] = 1;
		residency(p, PAGES, v);
		for (size_t k = 0; k < PAGES; k++) {
			if (v[k] != want[k]) {
				fifo_report(p, PAGES, queue, head, len, N);
				fail_msg("after touching page %zu: page %zu is %s"
					 "resident", i, k, v[k] ? "" : "not ");
			}
		}
		if (i >= N)
			assert_int_equal(v[i - N], 0);
	}

	/* Random touches: hits change nothing (FIFO, not LRU), a miss evicts
	 * the page loaded longest ago. */
	uint64_t rng = 12345;
	for (int step = 0; step < 400; step++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		size_t i = (size_t)(rng >> 33) % PAGES;
		bool write = (rng >> 20) & 1;
		if (!want[i]) {
			if (len == N) {
				want[queue[head]] = 0;
				head = (head + 1) % N;
				len--;
			}
			queue[(head + len++) % N] = i;
			want[i] = 1;
		}
		uint64_t got = touch(p, i, false, 0);
		if (got != val[i])
			fail_msg("step %d: page %zu holds %lu, expected %lu", step,
				 i, (unsigned long)got, (unsigned long)val[i]);
		if (write) {
			val[i] = 1000000u + (uint64_t)step;
			touch(p, i, true, val[i]);
		}
		residency(p, PAGES, v);
		for (size_t k = 0; k < PAGES; k++) {
			if (v[k] != want[k]) {
				fifo_report(p, PAGES, queue, head, len, N);
				fail_msg("step %d (page %zu): page %zu is %s"
					 "resident", step, i, k,
					 v[k] ? "" : "not ");
			}
		}
	}
	for (size_t k = 0; k < PAGES; k++)
		assert_int_equal(touch(p, k, false, 0), val[k]);
	k_mem_unmap(p, PAGES * ZPT_PAGE);
	assert_int_equal(atomic_load(&nused), 0);
	assert_int_equal(atomic_load(&contract_errors), 0);
}

static void clean_copies(void **state)
{
	enum { PAGES = 4 * FRAMES };
	struct k_mem_paging_stats_t s0, s1;
	struct zpage_counters c0, c1;

	(void)state;
	start(SLOTS, true);
	if (!info.write_tracking)
		skip(); /* every resident page counts as dirty then */
	uint8_t *p = k_mem_map(PAGES * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);

	/* Written pages: dirty evictions, one page_out each. */
	for (size_t i = 0; i < PAGES; i++)
		fill(p, 3, i);
	assert_int_equal(k_mem_page_out(p, PAGES * ZPT_PAGE), 0);
	assert_int_equal(zpt_resident(p, PAGES * ZPT_PAGE), 0);
	k_mem_paging_stats_get(&s0);
	zpage_counters_get(&c0);
	unsigned long po0 = atomic_load(&n_page_out);
	unsigned long reuse0 = atomic_load(&n_backed_reuse);
	assert_int_equal(s0.eviction.dirty, PAGES);
	assert_int_equal(po0, s0.eviction.dirty);
	assert_int_equal(s0.eviction.clean, 0);

	/* Read twice, never written: every eviction is clean, returns the
	 * page's own location and calls no page_out. */
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < PAGES; i++)
			assert_true(check(p, 3, i));
	k_mem_paging_stats_get(&s1);
	zpage_counters_get(&c1);
	unsigned long clean = s1.eviction.clean - s0.eviction.clean;
	assert_true(clean >= PAGES);
	assert_int_equal(s1.eviction.dirty, s0.eviction.dirty);
	assert_int_equal(atomic_load(&n_page_out), po0);
	assert_int_equal(c1.page_outs, c0.page_outs);
	assert_int_equal(atomic_load(&n_backed_reuse) - reuse0, clean);
	assert_true(c1.page_ins - c0.page_ins >= PAGES);

	/* Written again: dirty, written to the same location. */
	for (size_t i = 0; i < PAGES; i++)
		fill(p, 4, i);
	for (size_t i = 0; i < PAGES; i++)
		assert_true(check(p, 4, i));
	k_mem_paging_stats_get(&s1);
	zpage_counters_get(&c1);
	assert_true(s1.eviction.dirty > s0.eviction.dirty);
	assert_int_equal(atomic_load(&n_page_out), s1.eviction.dirty);
	assert_int_equal(c1.page_outs, s1.eviction.dirty);
	/* Each page has one location: stored pages never exceed the pages. */
	assert_true(atomic_load(&nused) <= PAGES);

	k_mem_unmap(p, PAGES * ZPT_PAGE);
	assert_int_equal(atomic_load(&nused), 0);
	assert_int_equal(k_mem_free_get(), (size_t)FRAMES * ZPT_PAGE);
	assert_int_equal(atomic_load(&contract_errors), 0);
}

static void reserve_rule(void **state)
{
	enum { CAP = 12, PAGES = 3 * FRAMES };
	(void)state;
	start(CAP, false);
	uint8_t *p = k_mem_map(PAGES * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);

	/* FRAMES + CAP - 2 pages written: CAP - 2 are out, 2 locations free;
	 * the frames hold pages CAP-2 .. FRAMES+CAP-3 (FIFO). */
	size_t touched = FRAMES + CAP - 2;
	for (size_t i = 0; i < touched; i++)
		fill(p, 9, i);
	assert_int_equal(atomic_load(&nused), CAP - 2);
	assert_int_equal(k_mem_free_get(), 0);
	size_t a = CAP - 2, b = CAP - 1; /* two resident pages */
	assert_int_equal(zpt_resident(p + a * ZPT_PAGE, 2 * ZPT_PAGE), 2);

	/* Two free: a page-out may take one. */
	assert_int_equal(k_mem_page_out(p + a * ZPT_PAGE, ZPT_PAGE), 0);
	assert_int_equal(atomic_load(&nused), CAP - 1);
	assert_int_equal(zpt_resident(p + a * ZPT_PAGE, ZPT_PAGE), 0);
	assert_int_equal(k_mem_free_get(), ZPT_PAGE);

	/* One free: it is the fault reserve, page-outs get -ENOMEM and the
	 * page stays resident with its data. */
	unsigned long enomem = atomic_load(&n_enomem);
	assert_int_equal(k_mem_page_out(p + b * ZPT_PAGE, ZPT_PAGE), -ENOMEM);
	assert_int_equal(atomic_load(&n_enomem), enomem + 1);
	assert_int_equal(atomic_load(&nused), CAP - 1);
	assert_int_equal(zpt_resident(p + b * ZPT_PAGE, ZPT_PAGE), 1);
	assert_true(check(p, 9, b));
	assert_int_equal(k_mem_free_get(), ZPT_PAGE);

	/* Page a comes back into the free frame (its location is freed). */
	assert_true(check(p, 9, a));
	assert_int_equal(atomic_load(&nused), CAP - 2);
	assert_int_equal(k_mem_page_out(p + a * ZPT_PAGE, ZPT_PAGE), 0);
	assert_int_equal(k_mem_page_out(p + b * ZPT_PAGE, ZPT_PAGE), -ENOMEM);
	assert_int_equal(atomic_load(&nused), CAP - 1);

	/* A new page takes the free frame; the pool is full again. */
	fill(p, 9, touched);
	touched++;
	assert_int_equal(k_mem_free_get(), 0);

	/* K_MEM_MAP_LOCK must evict through the non-fault path: it fails and
	 * leaves no frame, location or address space behind. */
	unsigned long gets = atomic_load(&n_loc_get);
	void *locked = k_mem_map(ZPT_PAGE, K_MEM_PERM_RW | K_MEM_MAP_LOCK);
	assert_null(locked);
	assert_true(atomic_load(&n_loc_get) > gets);
	assert_int_equal(atomic_load(&nused), CAP - 1);
	assert_int_equal(k_mem_free_get(), 0);
	struct zpage_counters c;
	zpage_counters_get(&c);
	assert_int_equal(c.pinned_frames, 0);

	/* A fault may use the reserve: a new page evicts one and succeeds. */
	unsigned long outs = atomic_load(&n_page_out);
	fill(p, 9, touched);
	touched++;
	assert_int_equal(atomic_load(&nused), CAP);
	assert_int_equal(atomic_load(&n_page_out), outs + 1);
	zpage_counters_get(&c);
	assert_int_equal(c.fatal_faults, 0);
	/* Now nothing is left, not even for a page-out. */
	size_t last = touched - 1;
	assert_int_equal(k_mem_page_out(p + last * ZPT_PAGE, ZPT_PAGE), -ENOMEM);
	assert_true(check(p, 9, last));

	/* Every resident page holds its data (reading it does not fault in
	 * anything new). */
	unsigned char v[PAGES];
	residency(p, PAGES, v);
	size_t res = 0;
	for (size_t i = 0; i < touched; i++) {
		if (v[i]) {
			assert_true(check(p, 9, i));
			res++;
		}
	}
	assert_int_equal(res, FRAMES);

	/* Unmapping gives every location and frame back. */
	k_mem_unmap(p, PAGES * ZPT_PAGE);
	assert_int_equal(atomic_load(&nused), 0);
	assert_int_equal(k_mem_free_get(), (size_t)FRAMES * ZPT_PAGE);

	/* And the store works again (as many pages as leave the reserve). */
	size_t n = FRAMES + CAP - 2;
	p = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		fill(p, 11, i);
	for (size_t i = 0; i < n; i++)
		assert_true(check(p, 11, i));
	k_mem_unmap(p, n * ZPT_PAGE);
	assert_int_equal(atomic_load(&nused), 0);
	assert_int_equal(atomic_load(&contract_errors), 0);
}

/* A page-out must not sleep on a page lock while its victims keep frames
 * busy: the lock's holder may be a fault waiting for one of them.
 * The fault on page FRAMES is held inside the eviction algorithm (its page
 * locked, every frame mapped) while k_mem_page_out() of pages 0..FRAMES
 * reaches it; when the fault goes on, only frames the page-out has already
 * freed can serve it. Before the fix this fault failed after 10 s (SIGBUS). */
struct toucher {
	uint8_t *p;
	size_t page;
};

static void *touch_page(void *arg)
{
	struct toucher *t = arg;
	fill(t->p, 21, t->page);
	return NULL;
}

static void *open_gate_later(void *arg)
{
	(void)arg;
	zpt_sleep_ms(300); /* let k_mem_page_out() reach the locked page */
	atomic_store(&gate_open, 1);
	return NULL;
}

static void page_out_lets_go(void **state)
{
	enum { PAGES = FRAMES + 1 };
	(void)state;
	start(SLOTS, false);
	uint8_t *p = k_mem_map(PAGES * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	for (size_t i = 0; i < FRAMES; i++)
		fill(p, 21, i);
	assert_int_equal(k_mem_free_get(), 0);

	atomic_store(&gate_open, 0);
	atomic_store(&gate_waiting, 0);
	atomic_store(&gate_armed, 1);
	struct toucher t = { p, FRAMES };
	pthread_t toucher, opener;
	assert_int_equal(pthread_create(&toucher, NULL, touch_page, &t), 0);
	while (!atomic_load(&gate_waiting))
		zpt_sleep_ms(1);
	assert_int_equal(pthread_create(&opener, NULL, open_gate_later, NULL), 0);

	assert_int_equal(k_mem_page_out(p, PAGES * ZPT_PAGE), 0);
	assert_int_equal(pthread_join(toucher, NULL), 0);
	assert_int_equal(pthread_join(opener, NULL), 0);
	/* The fault's page may be written again after it was paged out. */
	assert_int_equal(zpt_resident(p, FRAMES * ZPT_PAGE), 0);
	for (size_t i = 0; i < PAGES; i++)
		assert_true(check(p, 21, i));
	struct zpage_counters c;
	zpage_counters_get(&c);
	assert_int_equal(c.fatal_faults, 0);
	k_mem_unmap(p, PAGES * ZPT_PAGE);
	assert_int_equal(atomic_load(&contract_errors), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(replaced, zpt_teardown),
		cmocka_unit_test_teardown(fifo_order, zpt_teardown),
		cmocka_unit_test_teardown(clean_copies, zpt_teardown),
		cmocka_unit_test_teardown(reserve_rule, zpt_teardown),
		cmocka_unit_test_teardown(page_out_lets_go, zpt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
