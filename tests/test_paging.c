/*
 * Demand-paging semantics: data integrity beyond the frame pool, the
 * residency bound, exact fault counting, k_mem_page_out/in, k_mem_pin/unpin,
 * fatal cases (every frame pinned), the store's fault reserve, clean and
 * dirty evictions, writes racing page-outs, and eviction sanity.
 *
 * Every test starts the library with its own configuration and the teardown
 * shuts it down again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zpt.h"

#define PG(base, i) ((uint8_t *)(base) + (size_t)(i) * ZPT_PAGE)
#define LONG_PERIOD_MS 3600000u /* nru never clears accessed bits */

/* ---- Helpers ------------------------------------------------------------ */

/* No background evictor: frames are freed by the faults that need them,
 * so the tests can count free frames and faults exactly. */
static void start(size_t frames, const char *store, size_t store_limit,
		  unsigned nru_ms)
{
	struct zpage_config c = {
		.frames = frames,
		.backing_store = store,
		.store_limit = store_limit,
		.nru_period_ms = nru_ms,
		.evictor = -1,
	};
	zpt_start(&c);
}





static uint64_t rd(const void *p)
{
	return *(const volatile uint64_t *)p;
}

static void wr(void *p, uint64_t v)
{
	*(volatile uint64_t *)p = v;
}

static size_t resident_pages(const void *p, size_t pages)
{
	size_t r = zpt_resident(p, pages * ZPT_PAGE);
	assert_true(r != SIZE_MAX);
	return r;
}

static bool page_resident(const void *p)
{
	return resident_pages(p, 1) == 1;
}

static void fill_range(uint8_t *p, size_t first, size_t n, uint64_t seed)
{
	for (size_t i = first; i < first + n; i++)
		zpt_fill(PG(p, i), seed, i);
}

static void check_range(const uint8_t *p, size_t first, size_t n, uint64_t seed)
{
	for (size_t i = first; i < first + n; i++) {
		if (!zpt_check(PG(p, i), seed, i)) {
			fprintf(stderr, "page %zu (seed %llu) is wrong\n", i,
				(unsigned long long)seed);
			fail();
		}
	}
}

static bool page_is_zero(const void *p)
{
	const uint64_t *w = p;
	for (size_t i = 0; i < ZPT_PAGE / 8; i++)
		if (w[i] != 0)
			return false;
	return true;
}

/* Deterministic permutation of 0..n-1. */
static size_t *permutation(size_t n, uint64_t seed)
{
	size_t *v = malloc(n * sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		v[i] = i;
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = n; i > 1; i--) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t j = (size_t)(x % i);
		size_t t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
	return v;
}

/* Run a scenario that must kill the process. Normally in a forked child
 * (which must start its own library: the parent's state is reset there);
 * under TSan, which refuses to start threads in a child forked from a
 * multi-threaded process (die_after_fork), in a fresh process running this
 * program with --child NAME. */
struct death {
	const char *name;
	void (*fn)(void *);
};

static void expect_death(const struct death *d, int sig, const char *msg)
{
#if ZPT_TSAN
	char *argv[] = { (char *)zpt_self(), (char *)"--child", (char *)d->name,
			 NULL };
	char out[8192];
	assert_non_null(argv[0]);
	int st = zpt_run_program(argv, NULL, out, sizeof(out));
	if (st != 128 + sig || strstr(out, msg) == NULL) {
		fprintf(stderr, "child exit %d, expected signal %d and \"%s\":\n%s\n",
			st, sig, msg, out);
		fail();
	}
#else
	zpt_expect_death(d->fn, NULL, sig, msg);
#endif
}

/* ---- Data integrity ----------------------------------------------------- */

static void integrity_forward_and_random(void **state)
{
	(void)state;
	const size_t frames = 64, pages = 8 * frames;
	start(frames, NULL, 0, 0);
	uint8_t *p = k_mem_map(pages * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);

	for (uint64_t round = 1; round <= 2; round++) {
		size_t *perm = permutation(pages, round);
		/* Write forward, read forward and in random order. */
		fill_range(p, 0, pages, round * 10);
		assert_true(resident_pages(p, pages) <= frames);
		check_range(p, 0, pages, round * 10);
		assert_true(resident_pages(p, pages) <= frames);
		for (size_t k = 0; k < pages; k++)
			assert_true(zpt_check(PG(p, perm[k]), round * 10, perm[k]));
		assert_true(resident_pages(p, pages) <= frames);
		/* Write in random order, read in random and forward order. */
		for (size_t k = 0; k < pages; k++)
			zpt_fill(PG(p, perm[k]), round * 10 + 1, perm[k]);
		assert_true(resident_pages(p, pages) <= frames);
		for (size_t k = pages; k-- > 0;)
			assert_true(zpt_check(PG(p, perm[k]), round * 10 + 1, perm[k]));
		check_range(p, 0, pages, round * 10 + 1);
		assert_true(resident_pages(p, pages) <= frames);
		free(perm);
	}
	struct zpage_counters c = zpt_counters();
	assert_int_equal(c.fatal_faults, 0);
	assert_int_equal(c.zero_fills, pages);
	k_mem_unmap(p, pages * ZPT_PAGE);
	assert_int_equal(k_mem_free_get(), frames * ZPT_PAGE);
}

/* ---- Residency bound ---------------------------------------------------- */

struct thrash_arg {
	uint8_t *p;
	size_t pages;
	uint64_t seed;
	int rounds;
	int bad; /* pages that read back wrong */
};

static void *thrash_thread(void *arg)
{
	struct thrash_arg *a = arg;
	for (int r = 0; r < a->rounds; r++) {
		uint64_t seed = a->seed + (uint64_t)r;
		for (size_t i = 0; i < a->pages; i++)
			zpt_fill(PG(a->p, i), seed, i);
		for (size_t i = 0; i < a->pages; i++)
			a->bad += !zpt_check(PG(a->p, i), seed, i);
	}
	return NULL;
}

struct sampler_arg {
	uint8_t *p[2];
	size_t pages;
	size_t frames;
	atomic_int *stop;
	unsigned long samples, strict_samples, violations;
	size_t worst, worst_strict;
};

static unsigned long loads_now(void)
{
	struct zpage_counters c = zpt_counters();
	return c.zero_fills + c.store_loads;
}

static void *sampler_thread(void *arg)
{
	struct sampler_arg *s = arg;
	do {
		/* mincore() is no atomic snapshot: a page counted early in the
		 * scan may be evicted and its frame reused by a page counted
		 * later. Every such frame reuse is a load that happened during
		 * the scan, so resident <= frames + loads during the scan. */
		unsigned long before = loads_now();
		size_t res = zpt_resident(s->p[0], s->pages * ZPT_PAGE) +
			     zpt_resident(s->p[1], s->pages * ZPT_PAGE);
		unsigned long during = loads_now() - before;
		s->samples++;
		if (during == 0) {
			s->strict_samples++;
			if (res > s->worst_strict)
				s->worst_strict = res;
		}
		if (res > s->frames + during)
			s->violations++;
		if (res > s->worst)
			s->worst = res;
	} while (!atomic_load(s->stop));
	return NULL;
}

static void residency_bound_under_thrash(void **state)
{
	(void)state;
	const size_t frames = 64, pages = 4 * frames;
	start(frames, NULL, 0, 0);
	uint8_t *a = k_mem_map(pages * ZPT_PAGE, K_MEM_PERM_RW);
	uint8_t *b = k_mem_map(pages * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(a);
	assert_non_null(b);

	atomic_int stop = 0;
	struct thrash_arg ta = { .p = a, .pages = pages, .seed = 100, .rounds = 3 };
	struct thrash_arg tb = { .p = b, .pages = pages, .seed = 200, .rounds = 3 };
	struct sampler_arg sa = { .p = { a, b }, .pages = pages, .frames = frames,
				  .stop = &stop };
	pthread_t t1, t2, ts;
	assert_int_equal(pthread_create(&ts, NULL, sampler_thread, &sa), 0);
	assert_int_equal(pthread_create(&t1, NULL, thrash_thread, &ta), 0);
	assert_int_equal(pthread_create(&t2, NULL, thrash_thread, &tb), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	atomic_store(&stop, 1);
	pthread_join(ts, NULL);

	fprintf(stderr, "# residency: %lu samples (%lu with no load during the "
		"scan), max %zu (%zu with no load) of %zu frames\n", sa.samples,
		sa.strict_samples, sa.worst, sa.worst_strict, frames);
	assert_int_equal(ta.bad, 0);
	assert_int_equal(tb.bad, 0);
	assert_true(sa.samples > 0);
	assert_int_equal(sa.violations, 0);
	/* Quiet now: the bound is exact. */
	assert_true(resident_pages(a, pages) + resident_pages(b, pages) <= frames);
	check_range(a, 0, pages, 102);
	check_range(b, 0, pages, 202);
	assert_true(resident_pages(a, pages) + resident_pages(b, pages) <= frames);
	assert_int_equal(zpt_counters().fatal_faults, 0);
}

/* ---- Fault counting ----------------------------------------------------- */

static void fault_count_exact(void **state)
{
	(void)state;
	const size_t n = 20;
	start(64, NULL, 0, 0);
	uint8_t *p = k_mem_map(32 * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);

	struct k_mem_paging_stats_t g0 = zpt_stats(), t0 = zpt_thread_stats();
	fill_range(p, 0, n, 1); /* first touch: one zero-fill fault each */
	struct k_mem_paging_stats_t g1 = zpt_stats(), t1 = zpt_thread_stats();
	assert_int_equal(g1.pagefaults.cnt - g0.pagefaults.cnt, n);
	assert_int_equal(t1.pagefaults.cnt - t0.pagefaults.cnt, n);

	/* Resident pages: touching them costs no demand-paging fault. */
	check_range(p, 0, n, 1);
	fill_range(p, 0, n, 2);
	struct k_mem_paging_stats_t g2 = zpt_stats(), t2 = zpt_thread_stats();
	assert_int_equal(g2.pagefaults.cnt, g1.pagefaults.cnt);
	assert_int_equal(t2.pagefaults.cnt, t1.pagefaults.cnt);
	assert_int_equal(resident_pages(p, n), n);

	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	assert_int_equal(resident_pages(p, n), 0);
	struct k_mem_paging_stats_t g3 = zpt_stats(), t3 = zpt_thread_stats();
	assert_int_equal(g3.pagefaults.cnt, g2.pagefaults.cnt);

	check_range(p, 0, n, 2); /* each page faults exactly once */
	struct k_mem_paging_stats_t g4 = zpt_stats(), t4 = zpt_thread_stats();
	assert_int_equal(g4.pagefaults.cnt - g3.pagefaults.cnt, n);
	assert_int_equal(t4.pagefaults.cnt - t3.pagefaults.cnt, n);

	check_range(p, 0, n, 2);
	for (size_t i = 0; i < n; i++)
		wr(PG(p, i), i);
	struct k_mem_paging_stats_t g5 = zpt_stats(), t5 = zpt_thread_stats();
	assert_int_equal(g5.pagefaults.cnt, g4.pagefaults.cnt);
	assert_int_equal(t5.pagefaults.cnt, t4.pagefaults.cnt);
	assert_int_equal(g5.pagefaults.irq_locked + g5.pagefaults.irq_unlocked,
			 g5.pagefaults.cnt);
	k_mem_unmap(p, 32 * ZPT_PAGE);
}

/* ---- k_mem_page_out ----------------------------------------------------- */

static void page_out_frees_frames(void **state)
{
	(void)state;
	const size_t n = 16;
	start(64, NULL, 0, 0);
	uint8_t *p = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	assert_int_equal(k_mem_free_get(), 64 * ZPT_PAGE);
	fill_range(p, 0, n, 7);
	assert_int_equal(k_mem_free_get(), (64 - n) * ZPT_PAGE);
	assert_int_equal(resident_pages(p, n), n);

	/* A part of the region. */
	assert_int_equal(k_mem_page_out(PG(p, 4), 4 * ZPT_PAGE), 0);
	assert_int_equal(k_mem_free_get(), (64 - n + 4) * ZPT_PAGE);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(page_resident(PG(p, i)), i < 4 || i >= 8);

	/* All of it, including the pages already out. */
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	assert_int_equal(k_mem_free_get(), 64 * ZPT_PAGE);
	assert_int_equal(resident_pages(p, n), 0);
	/* Again: nothing to do, still success. */
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);

	check_range(p, 0, n, 7);
	assert_int_equal(resident_pages(p, n), n);
	assert_int_equal(k_mem_free_get(), (64 - n) * ZPT_PAGE);

	/* Never-touched pages of a fresh region: nothing resident, success. */
	uint8_t *q = k_mem_map(8 * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(q);
	assert_int_equal(k_mem_page_out(q, 8 * ZPT_PAGE), 0);
	assert_true(page_is_zero(PG(q, 3)));
	k_mem_unmap(q, 8 * ZPT_PAGE);
	k_mem_unmap(p, n * ZPT_PAGE);
	assert_int_equal(k_mem_free_get(), 64 * ZPT_PAGE);
}

static void page_out_einval(void **state)
{
	(void)state;
	start(64, NULL, 0, 0);
	const size_t n = 8;
	uint8_t *p = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	uint8_t *q = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	assert_non_null(q);
	fill_range(p, 0, n, 3);

	assert_int_equal(k_mem_page_out(p + 1, ZPT_PAGE), -EINVAL);
	assert_int_equal(k_mem_page_out(p + 8, 2 * ZPT_PAGE), -EINVAL);
	assert_int_equal(k_mem_page_out(p, ZPT_PAGE - 1), -EINVAL);
	assert_int_equal(k_mem_page_out(p, ZPT_PAGE + 512), -EINVAL);
	assert_int_equal(k_mem_page_out(p, 0), -EINVAL);
	/* Guard pages and ranges running into them. */
	assert_int_equal(k_mem_page_out(p - ZPT_PAGE, ZPT_PAGE), -EINVAL);
	assert_int_equal(k_mem_page_out(p - ZPT_PAGE, 2 * ZPT_PAGE), -EINVAL);
	assert_int_equal(k_mem_page_out(p, (n + 1) * ZPT_PAGE), -EINVAL);
	assert_int_equal(k_mem_page_out(PG(p, n), ZPT_PAGE), -EINVAL);
	/* Spanning two mappings. */
	uint8_t *lo = p < q ? p : q, *hi = p < q ? q : p;
	assert_int_equal(k_mem_page_out(lo, (size_t)(hi - lo) + n * ZPT_PAGE),
			 -EINVAL);
	/* Memory that is not the library's. */
	void *heap = aligned_alloc(ZPT_PAGE, 2 * ZPT_PAGE);
	assert_non_null(heap);
	assert_int_equal(k_mem_page_out(heap, ZPT_PAGE), -EINVAL);
	free(heap);
	assert_int_equal(k_mem_page_out(NULL, ZPT_PAGE), -EINVAL);
	/* The permanent RAM mapping is not a k_mem_map() region. */
	struct zpage_info info;
	assert_int_equal(zpage_info_get(&info), 0);
	assert_int_equal(k_mem_page_out(info.vm_base, ZPT_PAGE), -EINVAL);

	/* Nothing went out through the failed calls. */
	assert_int_equal(resident_pages(p, n), n);
	check_range(p, 0, n, 3);

	/* An unmapped region is no region any more. */
	k_mem_unmap(q, n * ZPT_PAGE);
	assert_int_equal(k_mem_page_out(q, n * ZPT_PAGE), -EINVAL);
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	check_range(p, 0, n, 3);
	k_mem_unmap(p, n * ZPT_PAGE);
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), -EINVAL);
}

static void page_out_ebusy_with_pinned(void **state)
{
	(void)state;
	const size_t n = 16;
	start(64, NULL, 0, 0);
	uint8_t *p = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	fill_range(p, 0, n, 5);
	k_mem_pin(PG(p, 4), 4 * ZPT_PAGE);
	assert_int_equal(zpt_counters().pinned_frames, 4);
	size_t free0 = k_mem_free_get();

	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), -EBUSY);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(page_resident(PG(p, i)), i >= 4 && i < 8);
	assert_int_equal(k_mem_free_get(), free0 + (n - 4) * ZPT_PAGE);
	assert_int_equal(zpt_counters().pinned_frames, 4);

	/* Only pinned pages: still -EBUSY, nothing moves. */
	assert_int_equal(k_mem_page_out(PG(p, 4), 4 * ZPT_PAGE), -EBUSY);
	assert_int_equal(k_mem_page_out(PG(p, 5), ZPT_PAGE), -EBUSY);
	assert_int_equal(resident_pages(PG(p, 4), 4), 4);
	assert_int_equal(zpt_counters().pinned_frames, 4);

	/* The pinned pages never fault; the others fault back in. */
	struct k_mem_paging_stats_t t0 = zpt_thread_stats();
	check_range(p, 4, 4, 5);
	assert_int_equal(zpt_thread_stats().pagefaults.cnt, t0.pagefaults.cnt);
	check_range(p, 0, n, 5);
	assert_int_equal(zpt_thread_stats().pagefaults.cnt - t0.pagefaults.cnt, n - 4);

	/* Unpinned, they go out like the others. */
	k_mem_unpin(PG(p, 4), 4 * ZPT_PAGE);
	assert_int_equal(zpt_counters().pinned_frames, 0);
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	assert_int_equal(resident_pages(p, n), 0);
	check_range(p, 0, n, 5);
	k_mem_unmap(p, n * ZPT_PAGE);
}

/* ---- k_mem_page_in ------------------------------------------------------ */

/* k_mem_page_in must not evict the pages it loaded itself: with few free
 * frames scattered through the pool, the eviction algorithm would otherwise
 * pick the range's own freshly loaded pages for its later ones. */
static void page_in_keeps_range_resident(void **state)
{
	(void)state;
	start(64, NULL, 0, 0);
	for (int trial = 0; trial < 20; trial++) {
		uint8_t *p = k_mem_map(256 * ZPT_PAGE, K_MEM_PERM_RW);
		assert_non_null(p);
		fill_range(p, 0, 256, (uint64_t)trial);
		for (size_t i = 0; i < 10; i++)
			assert_int_equal(k_mem_page_out(PG(p, 200 + i * 5),
							ZPT_PAGE), 0);
		k_mem_page_in(p, 16 * ZPT_PAGE);
		assert_int_equal(resident_pages(p, 16), 16);
		check_range(p, 0, 256, (uint64_t)trial);
		k_mem_unmap(p, 256 * ZPT_PAGE);
	}
}

static void page_in_loads(void **state)
{
	(void)state;
	const size_t n = 16;
	start(64, NULL, 0, 0);
	uint8_t *p = k_mem_map(2 * n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	fill_range(p, 0, n, 9);
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	assert_int_equal(resident_pages(p, 2 * n), 0);

	struct k_mem_paging_stats_t g0 = zpt_stats(), t0 = zpt_thread_stats();
	struct zpage_counters c0 = zpt_counters();
	k_mem_page_in(p, n * ZPT_PAGE);
	assert_int_equal(resident_pages(p, n), n);
	struct zpage_counters c1 = zpt_counters();
	assert_int_equal(c1.store_loads - c0.store_loads, n);
	assert_int_equal(c1.page_ins - c0.page_ins, n);
	assert_int_equal(zpt_stats().pagefaults.cnt, g0.pagefaults.cnt);
	check_range(p, 0, n, 9);
	for (size_t i = 0; i < n; i++)
		wr(PG(p, i) + 8, 1);
	assert_int_equal(zpt_stats().pagefaults.cnt, g0.pagefaults.cnt);
	assert_int_equal(zpt_thread_stats().pagefaults.cnt, t0.pagefaults.cnt);

	/* Pages never touched: loaded zero-filled, no fault afterwards. */
	k_mem_page_in(PG(p, n), n * ZPT_PAGE);
	assert_int_equal(resident_pages(PG(p, n), n), n);
	assert_int_equal(zpt_counters().zero_fills - c1.zero_fills, n);
	for (size_t i = n; i < 2 * n; i++)
		assert_true(page_is_zero(PG(p, i)));
	assert_int_equal(zpt_stats().pagefaults.cnt, g0.pagefaults.cnt);

	/* Invalid ranges are ignored. */
	k_mem_page_in(p + 1, ZPT_PAGE);
	k_mem_page_in(p - ZPT_PAGE, ZPT_PAGE);
	k_mem_page_in(p, 3 * n * ZPT_PAGE);
	assert_int_equal(resident_pages(p, 2 * n), 2 * n);
	k_mem_unmap(p, 2 * n * ZPT_PAGE);
}

/* ---- k_mem_pin / k_mem_unpin -------------------------------------------- */

static void thrash(uint8_t *big, size_t pages, uint64_t seed)
{
	for (size_t i = 0; i < pages; i++)
		wr(PG(big, i) + 16 * (i % 64), seed + i);
}

static void pinned_pages_survive_thrash(void **state)
{
	(void)state;
	const size_t frames = 64, big_pages = 8 * frames;
	start(frames, NULL, 0, 0);
	/* 0..7 resident, 8..15 never touched, 16..23 paged out. */
	uint8_t *p = k_mem_map(24 * ZPT_PAGE, K_MEM_PERM_RW);
	uint8_t *big = k_mem_map(big_pages * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	assert_non_null(big);
	fill_range(p, 0, 8, 11);
	fill_range(p, 16, 8, 11);
	assert_int_equal(k_mem_page_out(PG(p, 16), 8 * ZPT_PAGE), 0);
	assert_int_equal(resident_pages(p, 24), 8);

	struct k_mem_paging_stats_t g0 = zpt_stats();
	k_mem_pin(p, 24 * ZPT_PAGE);
	assert_int_equal(resident_pages(p, 24), 24);
	assert_int_equal(zpt_counters().pinned_frames, 24);
	/* Pinning loads; it is no touch, so no demand-paging fault. */
	assert_int_equal(zpt_stats().pagefaults.cnt, g0.pagefaults.cnt);

	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < big_pages; i += frames) {
			thrash(PG(big, i), frames, (uint64_t)round);
			assert_int_equal(resident_pages(p, 24), 24);
			assert_true(resident_pages(p, 24) +
					    resident_pages(big, big_pages) <= frames);
		}
	}
	struct k_mem_paging_stats_t t0 = zpt_thread_stats();
	check_range(p, 0, 8, 11);
	for (size_t i = 8; i < 16; i++)
		assert_true(page_is_zero(PG(p, i)));
	check_range(p, 16, 8, 11);
	fill_range(p, 0, 24, 12); /* writes do not fault either */
	check_range(p, 0, 24, 12);
	assert_int_equal(zpt_thread_stats().pagefaults.cnt, t0.pagefaults.cnt);
	assert_int_equal(zpt_counters().pinned_frames, 24);
	assert_int_equal(zpt_counters().fatal_faults, 0);

	/* Pinning twice is a flag, not a count: one unpin releases. */
	k_mem_pin(p, 8 * ZPT_PAGE);
	assert_int_equal(zpt_counters().pinned_frames, 24);
	k_mem_unpin(p, 24 * ZPT_PAGE);
	assert_int_equal(zpt_counters().pinned_frames, 0);
	/* Unpinned pages are evicted again by thrashing ... */
	thrash(big, big_pages, 7);
	assert_int_equal(resident_pages(p, 24), 0);
	check_range(p, 0, 24, 12);
	/* ... and by k_mem_page_out. */
	assert_int_equal(k_mem_page_out(p, 24 * ZPT_PAGE), 0);
	assert_int_equal(resident_pages(p, 24), 0);
	check_range(p, 0, 24, 12);
	k_mem_unmap(big, big_pages * ZPT_PAGE);
	k_mem_unmap(p, 24 * ZPT_PAGE);
}

/* With the clean-copy store, pages are mapped write-protected and the
 * accessed bits are sampled by unmapping pages: a pinned page must take
 * neither kind of fault. */
static void pinned_pages_never_fault_backed(void **state)
{
	(void)state;
	const size_t frames = 32, n = 8, big_pages = 4 * frames;
	start(frames, "ram:backed", 0, 1);
	uint8_t *p = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	uint8_t *big = k_mem_map(big_pages * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	assert_non_null(big);
	fill_range(p, 0, n, 61);
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	check_range(p, 0, n / 2, 61); /* loaded by read faults: clean copies */
	k_mem_pin(p, n * ZPT_PAGE);   /* the other half loaded by the pin */
	for (int round = 0; round < 4; round++)
		thrash(big, big_pages, (uint64_t)round);

	struct zpage_counters c0 = zpt_counters();
	struct k_mem_paging_stats_t t0 = zpt_thread_stats();
	check_range(p, 0, n, 61);
	fill_range(p, 0, n, 62);
	check_range(p, 0, n, 62);
	struct zpage_counters c1 = zpt_counters();
	assert_int_equal(zpt_thread_stats().pagefaults.cnt, t0.pagefaults.cnt);
	assert_int_equal(c1.write_faults, c0.write_faults);
	assert_int_equal(c1.access_faults, c0.access_faults);
	assert_int_equal(c1.pinned_frames, n);
	k_mem_unpin(p, n * ZPT_PAGE);
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	check_range(p, 0, n, 62);
	k_mem_unmap(big, big_pages * ZPT_PAGE);
	k_mem_unmap(p, n * ZPT_PAGE);
}

static void map_lock_pins(void **state)
{
	(void)state;
	const size_t frames = 32;
	start(frames, NULL, 0, 0);
	uint8_t *l = k_mem_map(8 * ZPT_PAGE, K_MEM_PERM_RW | K_MEM_MAP_LOCK);
	assert_non_null(l);
	assert_int_equal(resident_pages(l, 8), 8);
	assert_int_equal(zpt_counters().pinned_frames, 8);
	for (size_t i = 0; i < 8; i++)
		assert_true(page_is_zero(PG(l, i)));
	struct k_mem_paging_stats_t t0 = zpt_thread_stats();
	fill_range(l, 0, 8, 4);
	uint8_t *big = k_mem_map(4 * frames * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(big);
	struct k_mem_paging_stats_t t1 = zpt_thread_stats();
	thrash(big, 4 * frames, 1);
	struct k_mem_paging_stats_t t2 = zpt_thread_stats();
	check_range(l, 0, 8, 4);
	assert_int_equal(t1.pagefaults.cnt, t0.pagefaults.cnt);
	assert_int_equal(zpt_thread_stats().pagefaults.cnt, t2.pagefaults.cnt);
	assert_int_equal(k_mem_page_out(l, 8 * ZPT_PAGE), -EBUSY);
	/* More than the frames that are not pinned: refused, nothing left. */
	size_t free0 = k_mem_free_get();
	assert_null(k_mem_map((frames - 8 + 1) * ZPT_PAGE,
			      K_MEM_PERM_RW | K_MEM_MAP_LOCK));
	assert_int_equal(zpt_counters().pinned_frames, 8);
	assert_int_equal(k_mem_free_get(), free0);
	k_mem_unmap(l, 8 * ZPT_PAGE);
	assert_int_equal(zpt_counters().pinned_frames, 0);
	k_mem_unmap(big, 4 * frames * ZPT_PAGE);
	assert_int_equal(k_mem_free_get(), frames * ZPT_PAGE);
}

/* ---- Fatal: every frame pinned ------------------------------------------ */

static void child_start(size_t frames)
{
	struct zpage_config c = { .frames = frames };
	int r = zpage_init(&c);
	if (r != 0) {
		fprintf(stderr, "child: zpage_init failed: %d\n", r);
		_exit(3);
	}
}

static void child_all_pinned_fault(void *arg)
{
	(void)arg;
	/* Sanitizers catch SIGBUS themselves; we want the plain death. */
	signal(SIGBUS, SIG_DFL);
	child_start(8);
	uint8_t *p = k_mem_map(16 * ZPT_PAGE, K_MEM_PERM_RW);
	if (p == NULL)
		_exit(4);
	k_mem_pin(p, 8 * ZPT_PAGE);
	wr(PG(p, 10), 1); /* needs a frame: none can be freed */
	fprintf(stderr, "child: survived the fault\n");
	_exit(5);
}

static void child_pin_too_much(void *arg)
{
	(void)arg;
	child_start(8);
	uint8_t *p = k_mem_map(16 * ZPT_PAGE, K_MEM_PERM_RW);
	if (p == NULL)
		_exit(4);
	k_mem_pin(p, 9 * ZPT_PAGE);
	fprintf(stderr, "child: k_mem_pin returned\n");
	_exit(5);
}

static const struct death death_all_pinned = { "all-pinned",
					       child_all_pinned_fault };
static const struct death death_pin_too_much = { "pin-too-much",
						 child_pin_too_much };

static void all_frames_pinned_sigbus(void **state)
{
	(void)state;
	/* The parent runs its own library meanwhile; the child's is its own. */
	start(16, NULL, 0, 0);
	uint8_t *p = k_mem_map(4 * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	fill_range(p, 0, 4, 21);
	expect_death(&death_all_pinned, SIGBUS, "every page frame is pinned");
	check_range(p, 0, 4, 21);
	assert_int_equal(zpt_counters().fatal_faults, 0);
	k_mem_unmap(p, 4 * ZPT_PAGE);
}

static void pin_more_than_frames_aborts(void **state)
{
	(void)state;
	start(16, NULL, 0, 0);
	expect_death(&death_pin_too_much, SIGABRT, "k_mem_pin");
	assert_int_equal(k_mem_free_get(), 16 * ZPT_PAGE);
}

/* ---- The store's fault reserve ------------------------------------------ */

static void store_fault_reserve_with(const char *access)
{
	const size_t frames = 8, store_pages = 16, n = 32;
	struct zpage_config c = { .frames = frames, .backing_store = "ram",
				  .store_limit = store_pages * ZPT_PAGE,
				  .evictor = -1, .access_tracking = access };
	zpt_start(&c);
	uint8_t *p = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);

	/* Page out one written page after the other until the store, less
	 * its fault reserve, is full. */
	size_t out = 0;
	int r = 0;
	for (; out < n; out++) {
		zpt_fill(PG(p, out), 31, out);
		r = k_mem_page_out(PG(p, out), ZPT_PAGE);
		if (r != 0)
			break;
	}
	assert_int_equal(r, -ENOMEM);
	assert_int_equal(out, store_pages - 1);
	assert_int_equal(resident_pages(p, out), 0);
	/* The page that stayed takes writes as before. */
	zpt_fill(PG(p, out), 31, out);
	assert_true(zpt_check(PG(p, out), 31, out));

	/* Page `out` stayed resident; five more leave two frames free. */
	size_t last = out + frames; /* pages 0..last-1 are written */
	fill_range(p, out + 1, frames - 3, 31);
	assert_int_equal(k_mem_free_get(), 2 * ZPT_PAGE);
	/* K_MEM_MAP_LOCK of 4 pages gets the two free frames, then needs
	 * page-outs beyond the reserve: refused, and what it took is given
	 * back, unpinned. */
	assert_null(k_mem_map(4 * ZPT_PAGE, K_MEM_PERM_RW | K_MEM_MAP_LOCK));
	assert_int_equal(k_mem_free_get(), 2 * ZPT_PAGE);
	assert_int_equal(zpt_counters().pinned_frames, 0);
	/* Use every frame. */
	fill_range(p, last - 2, 2, 31);
	assert_int_equal(k_mem_free_get(), 0);
	assert_true(resident_pages(p, n) <= frames);

	/* Freeing a frame without a fault needs a store location beyond the
	 * reserve: refused, nothing left behind. */
	struct zpage_counters c0 = zpt_counters();
	assert_null(k_mem_map(ZPT_PAGE, K_MEM_PERM_RW | K_MEM_MAP_LOCK));
	assert_int_equal(k_mem_page_out(PG(p, last - 1), ZPT_PAGE), -ENOMEM);
	assert_int_equal(k_mem_free_get(), 0);
	assert_int_equal(zpt_counters().pinned_frames, c0.pinned_frames);

	/* Faults may use the reserve; each page-in gives a location back. */
	check_range(p, 0, last, 31);
	check_range(p, 0, last, 31);
	struct zpage_counters c1 = zpt_counters();
	assert_true(c1.store_loads > c0.store_loads);
	assert_int_equal(c1.fatal_faults, 0);
	assert_true(resident_pages(p, n) <= frames);
	k_mem_unmap(p, n * ZPT_PAGE);

	/* Unmapping gave every location back. */
	uint8_t *q = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(q);
	for (size_t i = 0; i < store_pages - 1; i++) {
		zpt_fill(PG(q, i), 32, i);
		assert_int_equal(k_mem_page_out(PG(q, i), ZPT_PAGE), 0);
	}
	check_range(q, 0, store_pages - 1, 32);
	k_mem_unmap(q, n * ZPT_PAGE);
	zpage_shutdown();
}

/* Also where the kernel maps pages back itself: a page that stays resident
 * because the store is full was write-protected for its eviction, and its
 * next write must still go through. */
static void store_fault_reserve(void **state)
{
	(void)state;
	alarm(120); /* a write that faults for ever is a failure */
	store_fault_reserve_with("fault");
	store_fault_reserve_with("mapped");
	alarm(0);
}

/* ---- Clean and dirty evictions ------------------------------------------ */

struct evict_delta {
	unsigned long clean, dirty, page_outs, hist_out, write_faults;
};

static struct evict_delta evict_now(void)
{
	struct k_mem_paging_stats_t s = zpt_stats();
	struct zpage_counters c = zpt_counters();
	unsigned long hist_out =
		zpt_hist_total(k_mem_paging_histogram_backing_store_page_out_get);
	return (struct evict_delta){ s.eviction.clean, s.eviction.dirty,
				     c.page_outs, hist_out, c.write_faults };
}

static struct evict_delta evict_since(struct evict_delta a)
{
	struct evict_delta b = evict_now();
	return (struct evict_delta){ b.clean - a.clean, b.dirty - a.dirty,
				     b.page_outs - a.page_outs,
				     b.hist_out - a.hist_out,
				     b.write_faults - a.write_faults };
}

/* k_mem_page_out() of range [p, p + n pages) evicted `clean` pages without
 * writing them and `dirty` pages with one page-out (and histogram event)
 * each; returns the counter deltas. */
static struct evict_delta page_out_expect(uint8_t *p, size_t n,
					  unsigned long clean,
					  unsigned long dirty)
{
	struct evict_delta d0 = evict_now();
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	struct evict_delta d = evict_since(d0);
	assert_int_equal(d.clean, clean);
	assert_int_equal(d.dirty, dirty);
	assert_int_equal(d.page_outs, dirty);
	assert_int_equal(d.hist_out, dirty);
	return d;
}

static void clean_evictions_backed(void **state)
{
	(void)state;
	const size_t n = 16;
	start(64, "ram:backed", 0, LONG_PERIOD_MS);
	struct zpage_info info;
	assert_int_equal(zpage_info_get(&info), 0);
	assert_string_equal(info.backing_store, "ram:backed");
	if (!info.write_tracking) {
		fprintf(stderr, "# no write tracking on this kernel\n");
		skip();
	}
	uint8_t *p = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	fill_range(p, 0, n, 41);

	/* Written, never stored: dirty. */
	page_out_expect(p, n, 0, n);

	/* Paged in and only read: clean, no page-out. */
	check_range(p, 0, n, 41);
	page_out_expect(p, n, n, 0);
	assert_int_equal(resident_pages(p, n), 0);

	/* Paged in, half of them written afterwards. */
	check_range(p, 0, n, 41);
	struct evict_delta d0 = evict_now();
	for (size_t i = 0; i < n; i += 2)
		zpt_fill(PG(p, i), 42, i);
	assert_int_equal(evict_since(d0).write_faults, n / 2);
	page_out_expect(p, n, n / 2, n / 2);
	for (size_t i = 0; i < n; i++)
		assert_true(zpt_check(PG(p, i), i % 2 ? 41 : 42, i));

	/* Fault-driven evictions follow the same rule: a small pool, a
	 * region read twice after being stored is evicted clean only. */
	k_mem_unmap(p, n * ZPT_PAGE);
	zpage_shutdown();
	start(8, "ram:backed", 0, LONG_PERIOD_MS);
	uint8_t *q = k_mem_map(64 * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(q);
	fill_range(q, 0, 64, 43);
	assert_int_equal(k_mem_page_out(q, 64 * ZPT_PAGE), 0);
	d0 = evict_now();
	check_range(q, 0, 64, 43);
	check_range(q, 0, 64, 43);
	struct evict_delta d = evict_since(d0);
	assert_true(d.clean >= 64);
	assert_int_equal(d.dirty, 0);
	assert_int_equal(d.page_outs, 0);
	k_mem_unmap(q, 64 * ZPT_PAGE);
}

static void dirty_evictions_plain_ram(void **state)
{
	(void)state;
	const size_t n = 16;
	start(64, "ram", 0, LONG_PERIOD_MS);
	uint8_t *p = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	fill_range(p, 0, n, 51);
	page_out_expect(p, n, 0, n);

	/* Only read after the page-in: the store kept no copy, dirty again. */
	check_range(p, 0, n, 51);
	assert_int_equal(page_out_expect(p, n, 0, n).write_faults, 0);
	check_range(p, 0, n, 51);
	k_mem_unmap(p, n * ZPT_PAGE);
}

/* ---- Writes racing page-outs -------------------------------------------- */

#define RACE_PAGES 16
#define RACE_MIN_ITER 1000
#define RACE_MIN_EVICTIONS 400
#define RACE_MAX_ITER 50000000ul /* give up (the test then fails) */

struct race {
	uint8_t *p;
	atomic_int writer_started, writer_done;
	unsigned long evictions0; /* global evictions before the writer */
	unsigned long iterations;
	unsigned long lost;     /* reads that did not see the last write */
	unsigned long errors;   /* k_mem_page_out failures */
	unsigned long pageouts; /* calls made while the writer ran */
};

static unsigned long evictions_total(void)
{
	struct k_mem_paging_stats_t s = zpt_stats();
	return s.eviction.clean + s.eviction.dirty;
}

/* Writes v+1 over v into every page, checking that v is still there, until
 * enough evictions happened under its feet. */
static void *race_writer(void *arg)
{
	struct race *r = arg;
	uint64_t v = 0;
	atomic_store(&r->writer_started, 1);
	for (;;) {
		for (size_t i = 0; i < RACE_PAGES; i++) {
			uint8_t *pg = PG(r->p, i);
			if (rd(pg) != v || rd(pg + 2048) != v ||
			    rd(pg + ZPT_PAGE - 8) != v)
				r->lost++;
			wr(pg, v + 1);
			wr(pg + 2048, v + 1);
			wr(pg + ZPT_PAGE - 8, v + 1);
		}
		v++;
		if (v >= RACE_MIN_ITER &&
		    evictions_total() - r->evictions0 >= RACE_MIN_EVICTIONS)
			break;
		if (v >= RACE_MAX_ITER)
			break;
	}
	r->iterations = v;
	atomic_store(&r->writer_done, 1);
	return NULL;
}

static void *race_pager(void *arg)
{
	struct race *r = arg;
	while (!atomic_load(&r->writer_started))
		sched_yield();
	while (!atomic_load(&r->writer_done)) {
		if (k_mem_page_out(r->p, RACE_PAGES * ZPT_PAGE) != 0)
			r->errors++;
		r->pageouts++;
	}
	return NULL;
}

static void write_during_page_out(const char *store, const char *access)
{
	struct zpage_config c = { .frames = 64, .backing_store = store,
				  .access_tracking = access };
	zpt_start(&c);
	struct race r = { 0 };
	r.p = k_mem_map(RACE_PAGES * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(r.p);
	r.evictions0 = evictions_total();
	pthread_t w, pager;
	assert_int_equal(pthread_create(&pager, NULL, race_pager, &r), 0);
	assert_int_equal(pthread_create(&w, NULL, race_writer, &r), 0);
	pthread_join(w, NULL);
	pthread_join(pager, NULL);
	unsigned long ev = evictions_total() - r.evictions0;
	fprintf(stderr, "# %s: %lu iterations, %lu page-out calls, %lu "
		"evictions\n", store, r.iterations, r.pageouts, ev);
	assert_int_equal(r.lost, 0);
	assert_int_equal(r.errors, 0);
	assert_true(ev >= RACE_MIN_EVICTIONS);
	for (size_t i = 0; i < RACE_PAGES; i++) {
		uint8_t *pg = PG(r.p, i);
		assert_int_equal(rd(pg), r.iterations);
		assert_int_equal(rd(pg + 2048), r.iterations);
		assert_int_equal(rd(pg + ZPT_PAGE - 8), r.iterations);
	}
	/* And once more after a final page-out. */
	assert_int_equal(k_mem_page_out(r.p, RACE_PAGES * ZPT_PAGE), 0);
	for (size_t i = 0; i < RACE_PAGES; i++)
		assert_int_equal(rd(PG(r.p, i) + 2048), r.iterations);
	assert_int_equal(zpt_counters().fatal_faults, 0);
	k_mem_unmap(r.p, RACE_PAGES * ZPT_PAGE);
}

static void write_during_page_out_ram(void **state)
{
	(void)state;
	write_during_page_out("ram", NULL);
}

static void write_during_page_out_backed(void **state)
{
	(void)state;
	write_during_page_out("ram:backed", NULL);
}

/* Where the kernel maps an unmapped page back by itself, a write could
 * reach a page between its unmapping and its copy-out: eviction
 * write-protects its victims for that. */
static void write_during_page_out_mapped(void **state)
{
	(void)state;
	write_during_page_out("ram", "mapped");
	zpage_shutdown();
	write_during_page_out("ram:backed", "mapped");
}

/* ---- Eviction sanity ---------------------------------------------------- */

/* A small hot set stays resident while a cold region 16 times the pool
 * streams past, with each algorithm that samples accessed bits. */
static void hot_set_stays_resident_with(const char *eviction)
{
	const size_t frames = 64, hot_pages = 4, cold_pages = 16 * frames;
	struct zpage_config c = { .frames = frames, .eviction = eviction };
	zpt_start(&c);
	struct zpage_info info;
	assert_int_equal(zpage_info_get(&info), 0);
	assert_string_equal(info.eviction, eviction);
	uint8_t *hot = k_mem_map(hot_pages * ZPT_PAGE, K_MEM_PERM_RW);
	uint8_t *cold = k_mem_map(cold_pages * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(hot);
	assert_non_null(cold);
	for (size_t h = 0; h < hot_pages; h++)
		wr(PG(hot, h), h);

	unsigned long hot_faults = 0, cold_faults = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < cold_pages; i++) {
			unsigned long c0 = zpt_thread_stats().pagefaults.cnt;
			wr(PG(cold, i) + 8, i + (size_t)pass);
			unsigned long c1 = zpt_thread_stats().pagefaults.cnt;
			for (size_t h = 0; h < hot_pages; h++) {
				assert_int_equal(rd(PG(hot, h)), h);
				wr(PG(hot, h) + 8, i);
			}
			unsigned long c2 = zpt_thread_stats().pagefaults.cnt;
			cold_faults += c1 - c0;
			hot_faults += c2 - c1;
		}
	}
	fprintf(stderr, "# %s: hot set %lu faults, cold region %lu faults\n",
		eviction, hot_faults, cold_faults);
	/* The cold region is 16 times the pool: nearly every touch faults. */
	assert_true(cold_faults >= 2 * cold_pages - frames);
	/* Even a plain clock sweep would evict each hot page about once per
	 * sweep of the 64 frames, i.e. hot faults ~ cold faults * 4 / 60;
	 * sampling accessed bits only lowers that. */
	assert_true(hot_faults * 4 <= cold_faults);
	for (size_t h = 0; h < hot_pages; h++)
		assert_int_equal(rd(PG(hot, h) + 8), cold_pages - 1);
	k_mem_unmap(cold, cold_pages * ZPT_PAGE);
	k_mem_unmap(hot, hot_pages * ZPT_PAGE);
	zpage_shutdown();
}

static void hot_set_stays_resident(void **state)
{
	(void)state;
	hot_set_stays_resident_with("nru");
	hot_set_stays_resident_with("clock");
}

/* ------------------------------------------------------------------------- */

#define T(f) cmocka_unit_test_teardown(f, zpt_teardown)

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--child") == 0) {
		const struct death *all[] = { &death_all_pinned,
					      &death_pin_too_much };
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
			if (strcmp(argv[2], all[i]->name) == 0) {
				all[i]->fn(NULL);
				return 0;
			}
		}
		return 2;
	}
	const struct CMUnitTest tests[] = {
		T(integrity_forward_and_random),
		T(residency_bound_under_thrash),
		T(fault_count_exact),
		T(page_out_frees_frames),
		T(page_out_einval),
		T(page_out_ebusy_with_pinned),
		T(page_in_loads),
		T(page_in_keeps_range_resident),
		T(pinned_pages_survive_thrash),
		T(pinned_pages_never_fault_backed),
		T(map_lock_pins),
		T(all_frames_pinned_sigbus),
		T(pin_more_than_frames_aborts),
		T(store_fault_reserve),
		T(clean_evictions_backed),
		T(dirty_evictions_plain_ram),
		T(write_during_page_out_ram),
		T(write_during_page_out_backed),
		T(write_during_page_out_mapped),
		T(hot_set_stays_resident),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
