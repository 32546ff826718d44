/*
 * k_mem_map(), k_mem_unmap(), k_mem_free_get() and k_mem_region_align():
 * zero-filled page-aligned memory, permissions, guard pages, invalid
 * arguments (a failed call changes nothing), K_MEM_MAP_LOCK, unmapping and
 * address reuse, free-memory accounting, and many mappings at once.
 *
 * Death tests run in a forked child. The parent's region is not present there
 * (MADV_DONTFORK) and the library forgets the parent's state in the child, so
 * a child that needs library memory maps its own (the first call there starts
 * a fresh library).
 */
#define _GNU_SOURCE
#include "zpt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- Sanitizer detection ---------------------------------------------- */



#define FRAMES 128
#define PG ZPT_PAGE

/* ---- Helpers ------------------------------------------------------------ */

/* In a forked child: a failed precondition exits with status 2 (and says
 * why), so that it cannot be mistaken for the death being tested. */




static size_t frames_total(void)
{
	struct zpage_info info;

	assert_int_equal(zpage_info_get(&info), 0);
	return info.frames;
}

/* Pages of the paging area that one mapping can have when nothing else is
 * mapped: everything after the RAM window, less two guard pages. */
static size_t largest_pages(void)
{
	struct zpage_info info;

	assert_int_equal(zpage_info_get(&info), 0);
	return info.vm_size / PG - info.frames - 2;
}

static void fill_pages(uint8_t *p, size_t pages, uint64_t seed)
{
	for (size_t i = 0; i < pages; i++)
		zpt_fill(p + i * PG, seed, i);
}

static void check_pages(const uint8_t *p, size_t pages, uint64_t seed)
{
	for (size_t i = 0; i < pages; i++)
		if (!zpt_check(p + i * PG, seed, i))
			fail_msg("page %zu of %p does not hold its data", i,
				 (const void *)p);
}

static int all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

/* Every test leaves nothing mapped: then all frames are free and nothing is
 * pinned. */
static int check_clean(void **state)
{
	(void)state;
	assert_int_equal(k_mem_free_get(), frames_total() * PG);
	assert_int_equal(zpt_pinned_frames(), 0);
	return 0;
}

/* ---- Basic properties --------------------------------------------------- */

static void map_aligned_zero_filled_writable(void **state)
{
	(void)state;
	size_t pages = 8;
	uint8_t *p = k_mem_map(pages * PG, K_MEM_PERM_RW);

	assert_non_null(p);
	assert_int_equal((uintptr_t)p % PG, 0);
	/* Every byte of every page reads as zero. */
	assert_true(all_zero(p, pages * PG));
	fill_pages(p, pages, 11);
	check_pages(p, pages, 11);
	/* Byte-granular writes at the edges of each page. */
	for (size_t i = 0; i < pages; i++) {
		p[i * PG] = (uint8_t)(0xA0 + i);
		p[i * PG + PG - 1] = (uint8_t)(0x50 + i);
	}
	for (size_t i = 0; i < pages; i++) {
		assert_int_equal(p[i * PG], 0xA0 + i);
		assert_int_equal(p[i * PG + PG - 1], 0x50 + i);
	}
	k_mem_unmap(p, pages * PG);
}

static void map_several_zero_filled_independent(void **state)
{
	(void)state;
	/* Two mappings: writes to one never show in the other, and a second
	 * mapping is zero-filled even after the first was written. */
	uint8_t *a = k_mem_map(4 * PG, K_MEM_PERM_RW);
	assert_non_null(a);
	memset(a, 0xEE, 4 * PG);
	uint8_t *b = k_mem_map(4 * PG, K_MEM_PERM_RW);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_true(all_zero(b, 4 * PG));
	memset(b, 0x11, 4 * PG);
	for (size_t i = 0; i < 4 * PG; i++) {
		assert_int_equal(a[i], 0xEE);
		assert_int_equal(b[i], 0x11);
	}
	k_mem_unmap(a, 4 * PG);
	k_mem_unmap(b, 4 * PG);
}

static void map_cache_modes_accepted(void **state)
{
	(void)state;
	const uint32_t modes[] = { K_MEM_CACHE_WB, K_MEM_CACHE_WT,
				   K_MEM_CACHE_NONE };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		uint8_t *p = k_mem_map(2 * PG, K_MEM_PERM_RW | modes[i]);
		assert_non_null(p);
		p[PG + 5] = 7;
		assert_int_equal(p[PG + 5], 7);
		k_mem_unmap(p, 2 * PG);
	}
	/* K_MEM_PERM_USER, K_MEM_MAP_UNINIT (alone) and the deprecated
	 * K_MEM_MAP_GUARD are valid flags. */
	const uint32_t extra[] = { K_MEM_PERM_USER, K_MEM_MAP_UNINIT,
				   K_MEM_MAP_GUARD };
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		uint8_t *p = k_mem_map(PG, K_MEM_PERM_RW | extra[i]);
		assert_non_null(p);
		assert_true(all_zero(p, PG));
		p[1] = 3;
		assert_int_equal(p[1], 3);
		k_mem_unmap(p, PG);
	}
}

static void map_readonly_reads_zero(void **state)
{
	(void)state;
	size_t pages = 4;
	const uint8_t *p = k_mem_map(pages * PG, 0);

	assert_non_null(p);
	assert_int_equal((uintptr_t)p % PG, 0);
	assert_true(all_zero(p, pages * PG));
	k_mem_unmap((void *)p, pages * PG);
}

static void child_write_readonly(void *arg)
{
	(void)arg;
	zpt_child_prepare();
	volatile uint8_t *p = k_mem_map(2 * PG, 0);
	ZPT_CHILD_REQUIRE(p != NULL);
	ZPT_CHILD_REQUIRE(p[PG + 3] == 0); /* readable */
	p[PG + 3] = 1;
	fprintf(stderr, "write to a read-only mapping succeeded\n");
	_exit(3);
}

static void map_readonly_write_dies(void **state)
{
	(void)state;
	zpt_expect_death(child_write_readonly, NULL, SIGSEGV, NULL);
}

#if defined(__x86_64__)
/* mov eax, 42; ret */
static const uint8_t code_ret42[] = { 0xB8, 0x2A, 0x00, 0x00, 0x00, 0xC3 };

static int call_code(void *p)
{
	int (*fn)(void);

	memcpy(&fn, &p, sizeof(fn));
	return fn();
}

static void child_exec_without_flag(void *arg)
{
	(void)arg;
	zpt_child_prepare();
	uint8_t *p = k_mem_map(PG, K_MEM_PERM_RW);
	ZPT_CHILD_REQUIRE(p != NULL);
	memcpy(p, code_ret42, sizeof(code_ret42));
	int r = call_code(p);
	fprintf(stderr, "code ran without K_MEM_PERM_EXEC (returned %d)\n", r);
	_exit(3);
}
#endif

static void map_exec_runs_code(void **state)
{
	(void)state;
#if defined(__x86_64__)
	uint8_t *p = k_mem_map(2 * PG, K_MEM_PERM_RW | K_MEM_PERM_EXEC);
	assert_non_null(p);
	/* On the second page, so that the first touch of it is the copy. */
	memcpy(p + PG, code_ret42, sizeof(code_ret42));
	__builtin___clear_cache((char *)p + PG,
				(char *)p + PG + sizeof(code_ret42));
	assert_int_equal(call_code(p + PG), 42);
	/* Evicted and loaded again, it still runs. */
	assert_int_equal(k_mem_page_out(p, 2 * PG), 0);
	assert_int_equal(call_code(p + PG), 42);
	k_mem_unmap(p, 2 * PG);
	/* Without K_MEM_PERM_EXEC the same code cannot run. */
	zpt_expect_death(child_exec_without_flag, NULL, SIGSEGV, NULL);
#else
	skip();
#endif
}

/* ---- Guard pages -------------------------------------------------------- */

struct guard_arg {
	int after;      /* touch the byte after the mapping, else before */
	int neighbours; /* map another region right before and after */
};

static void child_touch_guard(void *arg)
{
	const struct guard_arg *g = arg;

	zpt_child_prepare();
	volatile uint8_t *before = NULL, *after = NULL;
	if (g->neighbours) {
		before = k_mem_map(PG, K_MEM_PERM_RW);
		ZPT_CHILD_REQUIRE(before != NULL);
	}
	volatile uint8_t *p = k_mem_map(3 * PG, K_MEM_PERM_RW);
	ZPT_CHILD_REQUIRE(p != NULL);
	if (g->neighbours) {
		after = k_mem_map(PG, K_MEM_PERM_RW);
		ZPT_CHILD_REQUIRE(after != NULL);
		before[0] = 1;
		after[0] = 1;
	}
	/* The first and last bytes are fine. */
	p[0] = 1;
	p[3 * PG - 1] = 2;
	ZPT_CHILD_REQUIRE(p[0] == 1 && p[3 * PG - 1] == 2);
	volatile uint8_t *bad = g->after ? p + 3 * PG : p - 1;
	uint8_t v = *bad;
	fprintf(stderr, "guard page at %p is readable (%u)\n", (void *)bad, v);
	_exit(3);
}

static void guard_before_dies(void **state)
{
	(void)state;
	struct guard_arg g = { .after = 0, .neighbours = 0 };
	zpt_expect_death(child_touch_guard, &g, SIGSEGV, NULL);
	g.neighbours = 1;
	zpt_expect_death(child_touch_guard, &g, SIGSEGV, NULL);
}

static void guard_after_dies(void **state)
{
	(void)state;
	struct guard_arg g = { .after = 1, .neighbours = 0 };
	zpt_expect_death(child_touch_guard, &g, SIGSEGV, NULL);
	g.neighbours = 1;
	zpt_expect_death(child_touch_guard, &g, SIGSEGV, NULL);
}

static void guards_separate_mappings(void **state)
{
	(void)state;
	/* Consecutive mappings are never adjacent: at least one inaccessible
	 * page lies between them. */
	uint8_t *m[6];
	size_t sz[6];

	for (int i = 0; i < 6; i++) {
		sz[i] = (size_t)(i % 3 + 1) * PG;
		m[i] = k_mem_map(sz[i], K_MEM_PERM_RW);
		assert_non_null(m[i]);
	}
	for (int i = 0; i < 6; i++)
		for (int j = 0; j < 6; j++) {
			if (i == j || m[j] < m[i])
				continue;
			assert_true(m[j] >= m[i] + sz[i] + PG);
		}
	for (int i = 0; i < 6; i++)
		k_mem_unmap(m[i], sz[i]);
}

/* ---- Invalid arguments ---------------------------------------------------- */

struct snapshot {
	size_t free;
	unsigned long pinned;
};

static struct snapshot snap(void)
{
	struct snapshot s = { k_mem_free_get(), zpt_pinned_frames() };
	return s;
}

static void assert_same(struct snapshot a, struct snapshot b)
{
	assert_int_equal(a.free, b.free);
	assert_int_equal(a.pinned, b.pinned);
}

static void map_invalid_returns_null(void **state)
{
	(void)state;
	size_t frames = frames_total(), largest = largest_pages();
	struct zpage_info info;
	assert_int_equal(zpage_info_get(&info), 0);
	size_t vm = info.vm_size;

	/* The largest mapping that fits, and where it goes. */
	uint8_t *big = k_mem_map(largest * PG, 0);
	assert_non_null(big);
	k_mem_unmap(big, largest * PG);

	struct snapshot s0 = snap();
	struct {
		size_t size;
		uint32_t flags;
		const char *what;
	} cases[] = {
		{ 0, K_MEM_PERM_RW, "size 0" },
		{ 1, K_MEM_PERM_RW, "size 1" },
		{ PG - 1, K_MEM_PERM_RW, "size 4095" },
		{ PG + 1, K_MEM_PERM_RW, "size 4097" },
		{ 3 * PG + 100, K_MEM_PERM_RW, "size 3 pages + 100" },
		{ PG, K_MEM_MAP_UNINIT | K_MEM_PERM_USER, "UNINIT|USER" },
		{ PG, K_MEM_PERM_RW | K_MEM_MAP_UNINIT | K_MEM_PERM_USER,
		  "RW|UNINIT|USER" },
		{ PG, K_MEM_PERM_RW | BIT(6), "unknown bit 6" },
		{ PG, K_MEM_PERM_RW | BIT(15), "unknown bit 15" },
		{ PG, K_MEM_PERM_RW | BIT(19), "unknown bit 19" },
		{ PG, K_MEM_PERM_RW | BIT(31), "unknown bit 31" },
		{ PG, K_MEM_PERM_RW | 3, "cache mode 3" },
		{ PG, K_MEM_PERM_RW | 4, "cache mode 4" },
		{ PG, K_MEM_PERM_RW | 7, "cache mode 7" },
		{ (largest + 1) * PG, 0, "one page more than the largest" },
		{ vm, 0, "ZPAGE_VM_SIZE bytes" },
		{ vm + PG, 0, "more than ZPAGE_VM_SIZE" },
		{ 2 * vm, 0, "twice ZPAGE_VM_SIZE" },
		{ (size_t)1 << 46, 0, "64 TiB" },
		{ SIZE_MAX & ~(size_t)(PG - 1), 0, "SIZE_MAX" },
		{ (frames + 1) * PG, K_MEM_PERM_RW | K_MEM_MAP_LOCK,
		  "LOCK with more pages than frames" },
		{ (frames + 1) * PG, K_MEM_MAP_LOCK, "read-only LOCK too big" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		void *p = k_mem_map(cases[i].size, cases[i].flags);
		if (p != NULL)
			fail_msg("k_mem_map(%zu, %#x) (%s) returned %p",
				 cases[i].size, (unsigned)cases[i].flags,
				 cases[i].what, p);
		assert_same(s0, snap());
	}

	/* Nothing was left behind: the largest mapping still fits, at the
	 * same place. */
	uint8_t *again = k_mem_map(largest * PG, 0);
	assert_ptr_equal(again, big);
	assert_same(s0, snap());
	k_mem_unmap(again, largest * PG);
}

static void map_exhausts_virtual_space(void **state)
{
	(void)state;
	size_t largest = largest_pages(), half = largest / 2;

	uint8_t *a = k_mem_map(half * PG, 0);
	assert_non_null(a);
	/* What is left: largest - half pages including the second mapping's
	 * own two guard pages. */
	size_t rest = largest - half - 2;
	assert_null(k_mem_map((rest + 1) * PG, 0));
	uint8_t *b = k_mem_map(rest * PG, K_MEM_PERM_RW);
	assert_non_null(b);
	assert_true(b >= a + half * PG + PG || a >= b + rest * PG + PG);
	/* Full: not even one page fits now. */
	assert_null(k_mem_map(PG, K_MEM_PERM_RW));
	/* The full space still works. */
	b[rest * PG - 1] = 9;
	assert_int_equal(b[rest * PG - 1], 9);
	k_mem_unmap(b, rest * PG);
	uint8_t *c = k_mem_map(PG, K_MEM_PERM_RW);
	assert_non_null(c);
	k_mem_unmap(c, PG);
	k_mem_unmap(a, half * PG);
	uint8_t *d = k_mem_map(largest * PG, 0);
	assert_non_null(d);
	k_mem_unmap(d, largest * PG);
}

static void map_lock_too_many_with_pins(void **state)
{
	(void)state;
	size_t frames = frames_total();
	uint8_t *l = k_mem_map(16 * PG, K_MEM_PERM_RW | K_MEM_MAP_LOCK);

	assert_non_null(l);
	struct snapshot s0 = snap();
	assert_int_equal(s0.pinned, 16);
	/* Only frames - 16 can still be pinned. */
	assert_null(k_mem_map((frames - 16 + 1) * PG,
			      K_MEM_PERM_RW | K_MEM_MAP_LOCK));
	assert_same(s0, snap());
	uint8_t *m = k_mem_map((frames - 16) * PG, K_MEM_PERM_RW | K_MEM_MAP_LOCK);
	assert_non_null(m);
	assert_int_equal(zpt_pinned_frames(), frames);
	assert_int_equal(k_mem_free_get(), 0);
	/* Every frame pinned: no LOCK mapping fits, an ordinary one still
	 * maps (it would only fail when touched). */
	assert_null(k_mem_map(PG, K_MEM_PERM_RW | K_MEM_MAP_LOCK));
	void *n = k_mem_map(PG, K_MEM_PERM_RW);
	assert_non_null(n);
	k_mem_unmap(n, PG);
	k_mem_unmap(m, (frames - 16) * PG);
	k_mem_unmap(l, 16 * PG);
}

/* A K_MEM_MAP_LOCK that fails half-way (the store fills up while frames are
 * freed for it) leaves no frame, pin, store location or address space. */
static void child_lock_fails_midway(void *arg)
{
	(void)arg;
	/* Frames freed only when needed (no background evictor): the counts
	 * below are exact. */
	struct zpage_config cfg = { .frames = 16, .store_limit = 8 * PG,
				    .evictor = -1 };
	ZPT_CHILD_REQUIRE(zpage_init(&cfg) == 0);

	uint8_t *a = k_mem_map(16 * PG, K_MEM_PERM_RW);
	ZPT_CHILD_REQUIRE(a != NULL);
	for (size_t i = 0; i < 16; i++)
		zpt_fill(a + i * PG, 5, i);
	ZPT_CHILD_REQUIRE(k_mem_free_get() == 0);

	/* Where the next mapping of this size goes. */
	void *probe = k_mem_map(16 * PG, K_MEM_PERM_RW);
	ZPT_CHILD_REQUIRE(probe != NULL);
	k_mem_unmap(probe, 16 * PG);

	/* 16 frames must be freed; the store takes 7 pages (one location stays
	 * in reserve for faults). */
	void *b = k_mem_map(16 * PG, K_MEM_PERM_RW | K_MEM_MAP_LOCK);
	ZPT_CHILD_REQUIRE(b == NULL);
	ZPT_CHILD_REQUIRE(zpt_pinned_frames() == 0);
	/* The frames loaded for it are free again (those of the pages that
	 * were evicted for it). */
	ZPT_CHILD_REQUIRE(k_mem_free_get() == 7 * PG);
	void *c = k_mem_map(16 * PG, K_MEM_PERM_RW);
	ZPT_CHILD_REQUIRE(c == probe);
	k_mem_unmap(c, 16 * PG);

	/* The evicted pages come back intact. */
	for (size_t i = 0; i < 16; i++)
		ZPT_CHILD_REQUIRE(zpt_check(a + i * PG, 5, i));
	k_mem_unmap(a, 16 * PG);
	ZPT_CHILD_REQUIRE(k_mem_free_get() == 16 * PG);

	/* No store location was lost: 22 pages need 6 locations, plus one at
	 * a time while they are read back (7 of the 8 at most). */
	uint8_t *d = k_mem_map(22 * PG, K_MEM_PERM_RW);
	ZPT_CHILD_REQUIRE(d != NULL);
	for (size_t i = 0; i < 22; i++)
		zpt_fill(d + i * PG, 6, i);
	for (size_t i = 0; i < 22; i++)
		ZPT_CHILD_REQUIRE(zpt_check(d + i * PG, 6, i));
	k_mem_unmap(d, 22 * PG);
	_exit(0);
}

static void map_lock_failure_leaves_nothing(void **state)
{
	(void)state;
	zpt_expect_child_ok(child_lock_fails_midway, NULL);
}

/* ---- K_MEM_MAP_LOCK --------------------------------------------------- */

static void lock_resident_and_pinned(void **state)
{
	(void)state;
	size_t pages = 16;
	struct snapshot s0 = snap();
	struct k_mem_paging_stats_t st0, st1;

	uint8_t *p = k_mem_map(pages * PG, K_MEM_PERM_RW | K_MEM_MAP_LOCK);
	assert_non_null(p);
	assert_int_equal(zpt_resident(p, pages * PG), pages);
	assert_int_equal(zpt_pinned_frames(), s0.pinned + pages);
	assert_int_equal(k_mem_free_get(), s0.free - pages * PG);
	k_mem_paging_stats_get(&st0);
	assert_true(all_zero(p, pages * PG));
	fill_pages(p, pages, 21);
	check_pages(p, pages, 21);
	k_mem_paging_stats_get(&st1);
	assert_int_equal(st1.pagefaults.cnt, st0.pagefaults.cnt);

	k_mem_unmap(p, pages * PG);
	assert_same(s0, snap());
}

static void lock_readonly_resident(void **state)
{
	(void)state;
	size_t pages = 5;
	struct snapshot s0 = snap();
	const uint8_t *p = k_mem_map(pages * PG, K_MEM_MAP_LOCK);

	assert_non_null(p);
	assert_int_equal(zpt_resident(p, pages * PG), pages);
	assert_int_equal(zpt_pinned_frames(), s0.pinned + pages);
	assert_true(all_zero(p, pages * PG));
	k_mem_unmap((void *)p, pages * PG);
	assert_same(s0, snap());
}

static void lock_never_faults_under_thrashing(void **state)
{
	(void)state;
	size_t pages = 16, frames = frames_total();
	size_t big_pages = 4 * frames;
	struct k_mem_paging_stats_t s0, s1, s2, s3;
	struct zpage_counters c2, c3;

	uint8_t *p = k_mem_map(pages * PG, K_MEM_PERM_RW | K_MEM_MAP_LOCK);
	assert_non_null(p);
	k_mem_paging_stats_get(&s0);
	fill_pages(p, pages, 31);
	k_mem_paging_stats_get(&s1);
	assert_int_equal(s1.pagefaults.cnt, s0.pagefaults.cnt);

	/* Thrash a mapping four times larger than the frame pool. */
	uint8_t *q = k_mem_map(big_pages * PG, K_MEM_PERM_RW);
	assert_non_null(q);
	for (int round = 0; round < 2; round++) {
		fill_pages(q, big_pages, 32 + (uint64_t)round);
		check_pages(q, big_pages, 32 + (uint64_t)round);
	}
	k_mem_paging_stats_get(&s2);
	zpage_counters_get(&c2);
	/* The thrashing really evicted pages, but none of the pinned ones. */
	assert_true(s2.pagefaults.cnt >= s1.pagefaults.cnt + 2 * big_pages);
	assert_true(s2.eviction.dirty + s2.eviction.clean >=
		    s1.eviction.dirty + s1.eviction.clean + 2 * big_pages);
	assert_int_equal(c2.pinned_frames, pages);
	assert_int_equal(zpt_resident(p, pages * PG), pages);

	check_pages(p, pages, 31);
	k_mem_paging_stats_get(&s3);
	zpage_counters_get(&c3);
	assert_int_equal(s3.pagefaults.cnt, s2.pagefaults.cnt);
	assert_int_equal(c3.access_faults, c2.access_faults);
	assert_int_equal(c3.write_faults, c2.write_faults);
	assert_int_equal(c3.zero_fills, c2.zero_fills);
	assert_int_equal(c3.store_loads, c2.store_loads);

	k_mem_unmap(q, big_pages * PG);
	k_mem_unmap(p, pages * PG);
	assert_int_equal(zpt_pinned_frames(), 0);
}

static void lock_unmap_releases_pins(void **state)
{
	(void)state;
	size_t frames = frames_total();

	for (int round = 0; round < 3; round++) {
		/* All frames pinned at once: only possible if the previous
		 * round's pins were released. */
		uint8_t *p = k_mem_map(frames * PG, K_MEM_PERM_RW | K_MEM_MAP_LOCK);
		assert_non_null(p);
		assert_int_equal(zpt_pinned_frames(), frames);
		assert_int_equal(k_mem_free_get(), 0);
		p[round * PG] = 1;
		k_mem_unmap(p, frames * PG);
		assert_int_equal(zpt_pinned_frames(), 0);
		assert_int_equal(k_mem_free_get(), frames * PG);
	}
}

static void lock_evicts_other_pages(void **state)
{
	(void)state;
	size_t frames = frames_total();
	uint8_t *q = k_mem_map(frames * PG, K_MEM_PERM_RW);

	assert_non_null(q);
	fill_pages(q, frames, 41);
	assert_int_equal(k_mem_free_get(), 0);
	/* Frames for the locked mapping come from evicting q's pages. */
	uint8_t *p = k_mem_map(32 * PG, K_MEM_PERM_RW | K_MEM_MAP_LOCK);
	assert_non_null(p);
	assert_int_equal(zpt_resident(p, 32 * PG), 32);
	assert_int_equal(zpt_pinned_frames(), 32);
	assert_true(zpt_resident(q, frames * PG) <= frames - 32);
	check_pages(q, frames, 41);
	assert_int_equal(zpt_resident(p, 32 * PG), 32);
	k_mem_unmap(p, 32 * PG);
	k_mem_unmap(q, frames * PG);
}

/* ---- k_mem_unmap ------------------------------------------------------- */

static void unmap_frees_frames(void **state)
{
	(void)state;
	size_t pages = 10;
	size_t free0 = k_mem_free_get();

	uint8_t *p = k_mem_map(pages * PG, K_MEM_PERM_RW);
	assert_non_null(p);
	assert_int_equal(k_mem_free_get(), free0);
	fill_pages(p, pages, 51);
	assert_int_equal(k_mem_free_get(), free0 - pages * PG);
	k_mem_unmap(p, pages * PG);
	assert_int_equal(k_mem_free_get(), free0);

	/* Also when part of the mapping is out in the store. */
	size_t frames = frames_total();
	p = k_mem_map(2 * frames * PG, K_MEM_PERM_RW);
	assert_non_null(p);
	fill_pages(p, 2 * frames, 52);
	assert_int_equal(k_mem_free_get(), 0);
	k_mem_unmap(p, 2 * frames * PG);
	assert_int_equal(k_mem_free_get(), free0);
}

static void child_store_reuse(void *arg)
{
	(void)arg;
	/* 16 frames and 32 store locations: each round needs 24 locations,
	 * so a second round works only if unmapping freed the first's. */
	struct zpage_config cfg = { .frames = 16, .store_limit = 32 * PG };
	ZPT_CHILD_REQUIRE(zpage_init(&cfg) == 0);
	for (int round = 0; round < 6; round++) {
		uint8_t *p = k_mem_map(40 * PG, K_MEM_PERM_RW);
		ZPT_CHILD_REQUIRE(p != NULL);
		for (size_t i = 0; i < 40; i++)
			zpt_fill(p + i * PG, 60 + (uint64_t)round, i);
		for (size_t i = 0; i < 40; i++)
			ZPT_CHILD_REQUIRE(zpt_check(p + i * PG, 60 + (uint64_t)round, i));
		k_mem_unmap(p, 40 * PG);
		ZPT_CHILD_REQUIRE(k_mem_free_get() == 16 * PG);
	}
	_exit(0);
}

static void unmap_frees_store_locations(void **state)
{
	(void)state;
	zpt_expect_child_ok(child_store_reuse, NULL);
}

static void unmap_reuses_address(void **state)
{
	(void)state;
	uint8_t *p = k_mem_map(8 * PG, K_MEM_PERM_RW);

	assert_non_null(p);
	fill_pages(p, 8, 71);
	k_mem_unmap(p, 8 * PG);
	uint8_t *q = k_mem_map(8 * PG, K_MEM_PERM_RW);
	assert_ptr_equal(q, p);
	/* The old contents are gone. */
	assert_true(all_zero(q, 8 * PG));
	k_mem_unmap(q, 8 * PG);

	/* Between two live mappings as well. */
	uint8_t *a = k_mem_map(PG, K_MEM_PERM_RW);
	uint8_t *b = k_mem_map(3 * PG, K_MEM_PERM_RW);
	uint8_t *c = k_mem_map(PG, K_MEM_PERM_RW);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	memset(b, 0x5A, 3 * PG);
	k_mem_unmap(b, 3 * PG);
	uint8_t *b2 = k_mem_map(3 * PG, K_MEM_PERM_RW);
	assert_ptr_equal(b2, b);
	assert_true(all_zero(b2, 3 * PG));
	k_mem_unmap(a, PG);
	k_mem_unmap(b2, 3 * PG);
	k_mem_unmap(c, PG);
}

static void child_access_after_unmap(void *arg)
{
	int write = arg != NULL;

	zpt_child_prepare();
	volatile uint8_t *p = k_mem_map(2 * PG, K_MEM_PERM_RW);
	ZPT_CHILD_REQUIRE(p != NULL);
	p[PG + 10] = 42;
	ZPT_CHILD_REQUIRE(p[PG + 10] == 42);
	k_mem_unmap((void *)p, 2 * PG);
	if (write)
		p[10] = 1;
	uint8_t v = p[PG + 10];
	fprintf(stderr, "access after unmap worked (%u)\n", v);
	_exit(3);
}

static void unmap_then_access_dies(void **state)
{
	(void)state;
	zpt_expect_death(child_access_after_unmap, NULL, SIGSEGV, NULL);
	static int yes = 1;
	zpt_expect_death(child_access_after_unmap, &yes, SIGSEGV, NULL);
}

static void unmap_bogus_ignored(void **state)
{
	(void)state;
	size_t pages = 4;
	uint8_t *p = k_mem_map(pages * PG, K_MEM_PERM_RW);
	int local = 0;

	assert_non_null(p);
	fill_pages(p, pages, 81);
	size_t free1 = k_mem_free_get();

	k_mem_unmap(p, (pages - 1) * PG);       /* too small */
	k_mem_unmap(p, (pages + 1) * PG);       /* too large */
	k_mem_unmap(p, pages * PG - 1);         /* unaligned size */
	k_mem_unmap(p, 0);                      /* empty */
	k_mem_unmap(p + PG, (pages - 1) * PG);  /* inside */
	k_mem_unmap(p + 1, pages * PG);         /* unaligned start */
	k_mem_unmap(p - PG, pages * PG);        /* from the guard page */
	k_mem_unmap(p - PG, (pages + 2) * PG);  /* with both guards */
	k_mem_unmap(&local, PG);                /* not library memory */
	k_mem_unmap(NULL, PG);
	k_mem_unmap((void *)(uintptr_t)0x1000, PG);
	k_mem_unmap((void *)(uintptr_t)0xdeadbeef000ull, PG);

	/* The mapping is intact and still uses its frames. */
	assert_int_equal(k_mem_free_get(), free1);
	check_pages(p, pages, 81);
	assert_int_equal(k_mem_free_get(), free1);

	k_mem_unmap(p, pages * PG);
	size_t free2 = k_mem_free_get();
	assert_int_equal(free2, free1 + pages * PG);
	k_mem_unmap(p, pages * PG); /* twice: the second is ignored */
	assert_int_equal(k_mem_free_get(), free2);
}

static void unmap_partial_region_not_affected_by_bogus(void **state)
{
	(void)state;
	/* Two regions of the same size: unmapping one with the other's size
	 * but a wrong address changes neither. */
	uint8_t *a = k_mem_map(2 * PG, K_MEM_PERM_RW);
	uint8_t *b = k_mem_map(2 * PG, K_MEM_PERM_RW);
	assert_non_null(a);
	assert_non_null(b);
	fill_pages(a, 2, 91);
	fill_pages(b, 2, 92);
	k_mem_unmap(a + 2 * PG, 2 * PG); /* a's after-guard and beyond */
	k_mem_unmap(b - 2 * PG, 2 * PG);
	check_pages(a, 2, 91);
	check_pages(b, 2, 92);
	k_mem_unmap(a, 2 * PG);
	check_pages(b, 2, 92);
	k_mem_unmap(b, 2 * PG);
}

/* ---- k_mem_free_get ----------------------------------------------------- */

static void free_get_counts_frames(void **state)
{
	(void)state;
	size_t frames = frames_total();

	/* Nothing mapped: every frame is free. */
	assert_int_equal(k_mem_free_get(), frames * PG);
	assert_int_equal(k_mem_free_get() % PG, 0);

	uint8_t *p = k_mem_map(40 * PG, K_MEM_PERM_RW);
	assert_non_null(p);
	size_t before = k_mem_free_get();
	assert_int_equal(before, frames * PG); /* mapping takes no frame */
	size_t touched = 0;
	for (size_t n = 1; n <= 8; n++) {
		/* Touch n fresh pages: half of them by reading. */
		for (size_t i = 0; i < n; i++, touched++) {
			if (i % 2)
				(void)*(volatile uint8_t *)(p + touched * PG + 7);
			else
				p[touched * PG + 7] = 1;
		}
		assert_int_equal(k_mem_free_get(), before - touched * PG);
	}
	/* Touching pages already resident takes nothing. */
	for (size_t i = 0; i < touched; i++)
		p[i * PG + 100] = 2;
	assert_int_equal(k_mem_free_get(), before - touched * PG);
	k_mem_unmap(p, 40 * PG);
	assert_int_equal(k_mem_free_get(), frames * PG);
}

static void free_get_zero_when_pool_used(void **state)
{
	(void)state;
	size_t frames = frames_total();
	uint8_t *p = k_mem_map((frames + 20) * PG, K_MEM_PERM_RW);

	assert_non_null(p);
	for (size_t i = 0; i < frames; i++)
		p[i * PG] = 1;
	assert_int_equal(k_mem_free_get(), 0);
	for (size_t i = frames; i < frames + 20; i++)
		p[i * PG] = 1;
	/* Evictions reuse the frames they free: all of them with one victim
	 * per fault (nru), all but what is left of a batch of an eighth of
	 * the frames (clock, sweep). */
	struct zpage_info info;
	assert_int_equal(zpage_info_get(&info), 0);
	if (strcmp(info.eviction, "nru") == 0)
		assert_int_equal(k_mem_free_get(), 0);
	else
		assert_true(k_mem_free_get() < frames / 8 * PG);
	/* Paging a range out frees exactly its resident frames. */
	size_t res = zpt_resident(p, 10 * PG), free0 = k_mem_free_get();
	assert_int_equal(k_mem_page_out(p, 10 * PG), 0);
	assert_int_equal(k_mem_free_get(), free0 + res * PG);
	k_mem_unmap(p, (frames + 20) * PG);
	assert_int_equal(k_mem_free_get(), frames * PG);
}

/* ---- k_mem_region_align ------------------------------------------------- */

static void region_align_table(void **state)
{
	(void)state;
	static const struct {
		uintptr_t addr;
		size_t size, align;
		uintptr_t want_addr;
		size_t want_size, want_ret;
	} cases[] = {
		/* already aligned */
		{ 0x10000, 0x2000, 4096, 0x10000, 0x2000, 0 },
		{ 0x10000, 0x10000, 65536, 0x10000, 0x10000, 0 },
		/* unaligned start */
		{ 0x10010, 0x1000, 4096, 0x10000, 0x2000, 0x10 },
		{ 0x10fff, 1, 4096, 0x10000, 0x1000, 0xfff },
		{ 0x10fff, 2, 4096, 0x10000, 0x2000, 0xfff },
		{ 0x12345, 0x100, 65536, 0x10000, 0x10000, 0x2345 },
		{ 0x1ffff, 2, 65536, 0x10000, 0x20000, 0xffff },
		/* unaligned size */
		{ 0x20000, 1, 4096, 0x20000, 0x1000, 0 },
		{ 0x20000, 0x1001, 4096, 0x20000, 0x2000, 0 },
		{ 0x20000, 0x10001, 65536, 0x20000, 0x20000, 0 },
		/* both unaligned */
		{ 0x30800, 0x1000, 4096, 0x30000, 0x2000, 0x800 },
		{ 0x30800, 0x800, 4096, 0x30000, 0x1000, 0x800 },
		/* size 0 */
		{ 0x40000, 0, 4096, 0x40000, 0, 0 },
		{ 0x40001, 0, 4096, 0x40000, 0x1000, 1 },
		{ 0x40001, 0, 65536, 0x40000, 0x10000, 1 },
		/* address 0 and a high address */
		{ 0, 0x1800, 4096, 0, 0x2000, 0 },
		{ 0x7ffffffff123ull, 0x10, 4096, 0x7ffffffff000ull, 0x1000, 0x123 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uintptr_t a = 1;
		size_t s = 1;
		size_t r = k_mem_region_align(&a, &s, cases[i].addr,
					      cases[i].size, cases[i].align);
		/* The documented formula, computed here independently. */
		uintptr_t mask = (uintptr_t)cases[i].align - 1;
		uintptr_t fa = cases[i].addr & ~mask;
		uintptr_t fend = (cases[i].addr + cases[i].size + mask) & ~mask;
		if (a != cases[i].want_addr || s != cases[i].want_size ||
		    r != cases[i].want_ret || a != fa || s != fend - fa ||
		    r != cases[i].addr - fa)
			fail_msg("case %zu (%#lx, %#zx, %#zx): got %#lx/%#zx/%#zx, "
				 "want %#lx/%#zx/%#zx", i,
				 (unsigned long)cases[i].addr, cases[i].size,
				 cases[i].align, (unsigned long)a, s, r,
				 (unsigned long)cases[i].want_addr,
				 cases[i].want_size, cases[i].want_ret);
	}
}

static void region_align_random(void **state)
{
	(void)state;
	for (int i = 0; i < 20000; i++) {
		size_t align = (size_t)1 << (rng() % 21);
		uintptr_t addr = (uintptr_t)(rng() & 0x7fffffffffffull);
		size_t size = (size_t)(rng() % (1u << 24));
		uintptr_t a;
		size_t s;
		size_t r = k_mem_region_align(&a, &s, addr, size, align);
		assert_int_equal(a % align, 0);
		assert_true(a <= addr && addr - a < align);
		assert_int_equal(r, addr - a);
		assert_int_equal((a + s) % align, 0);
		assert_true(a + s >= addr + size && a + s - (addr + size) < align);
	}
}

/* ---- Many mappings ---------------------------------------------------- */

struct live {
	uint8_t *addr;
	size_t pages;
	uint64_t tag;
};

static int by_addr(const void *x, const void *y)
{
	const struct live *a = x, *b = y;

	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

static void tag_mapping(const struct live *m)
{
	for (size_t i = 0; i < m->pages; i++) {
		uint64_t *w = (uint64_t *)(m->addr + i * PG);
		w[0] = m->tag + i;
		w[PG / 8 - 1] = ~(m->tag + i);
	}
}

static int tag_ok(const struct live *m)
{
	for (size_t i = 0; i < m->pages; i++) {
		const uint64_t *w = (const uint64_t *)(m->addr + i * PG);
		if (w[0] != m->tag + i || w[PG / 8 - 1] != ~(m->tag + i))
			return 0;
	}
	return 1;
}

static void check_disjoint(const struct live *set, size_t n)
{
	struct live *s = malloc(n * sizeof(*s));

	assert_non_null(s);
	memcpy(s, set, n * sizeof(*s));
	qsort(s, n, sizeof(*s), by_addr);
	size_t bad = SIZE_MAX;
	for (size_t i = 0; i + 1 < n && bad == SIZE_MAX; i++) {
		/* No overlap, and a guard page between neighbours. */
		if (s[i + 1].addr < s[i].addr + s[i].pages * PG + PG)
			bad = i;
	}
	if (bad != SIZE_MAX)
		fprintf(stderr, "mappings %p (+%zu pages) and %p overlap or "
			"touch\n", (void *)s[bad].addr, s[bad].pages,
			(void *)s[bad + 1].addr);
	free(s);
	assert_int_equal(bad, SIZE_MAX);
}

static void unmap_at(struct live *set, size_t *n, size_t k)
{
	if (!tag_ok(&set[k]))
		fail_msg("mapping %p lost its data", (void *)set[k].addr);
	k_mem_unmap(set[k].addr, set[k].pages * PG);
	set[k] = set[--*n];
}

static void many_mappings_random_order(void **state)
{
	(void)state;
	/* Fewer under ThreadSanitizer, where each fault costs ~20 times more
	 * (the same paths are exercised, 1200 mappings still fragment the
	 * space thoroughly). */
	enum { FIRST = ZPT_TSAN ? 1200 : 3000, SECOND = FIRST / 2 };
	struct live *set = malloc((FIRST + SECOND) * sizeof(*set));
	size_t n = 0;
	uint64_t next_tag = 1;

	assert_non_null(set);
	for (size_t i = 0; i < FIRST; i++) {
		struct live m = { .pages = 1 + rng() % 3, .tag = next_tag };
		next_tag += 16;
		m.addr = k_mem_map(m.pages * PG, K_MEM_PERM_RW);
		assert_non_null(m.addr);
		tag_mapping(&m);
		set[n++] = m;
	}
	check_disjoint(set, n);

	/* Unmap half of them in random order (checking each first). */
	for (size_t i = 0; i < FIRST / 2; i++)
		unmap_at(set, &n, (size_t)(rng() % n));
	check_disjoint(set, n);

	/* New mappings fill the holes; none may overlap a live one. */
	for (size_t i = 0; i < SECOND; i++) {
		struct live m = { .pages = 1 + rng() % 4, .tag = next_tag };
		next_tag += 16;
		m.addr = k_mem_map(m.pages * PG, K_MEM_PERM_RW);
		assert_non_null(m.addr);
		tag_mapping(&m);
		set[n++] = m;
		/* Interleave some unmaps. */
		if (i % 3 == 0)
			unmap_at(set, &n, (size_t)(rng() % n));
	}
	check_disjoint(set, n);

	for (size_t i = 0; i < n; i++)
		if (!tag_ok(&set[i]))
			fail_msg("mapping %zu at %p lost its data", i,
				 (void *)set[i].addr);
	while (n > 0)
		unmap_at(set, &n, (size_t)(rng() % n));
	free(set);
	assert_int_equal(k_mem_free_get(), frames_total() * PG);
	assert_int_equal(zpt_pinned_frames(), 0);
	/* The whole space is one piece again. */
	size_t largest = largest_pages();
	void *big = k_mem_map(largest * PG, 0);
	assert_non_null(big);
	k_mem_unmap(big, largest * PG);
}

int main(void)
{
	zpt_start_simple(FRAMES, NULL, NULL);

#define T(f) cmocka_unit_test_teardown(f, check_clean)
	const struct CMUnitTest tests[] = {
		T(map_aligned_zero_filled_writable),
		T(map_several_zero_filled_independent),
		T(map_cache_modes_accepted),
		T(map_readonly_reads_zero),
		T(map_readonly_write_dies),
		T(map_exec_runs_code),
		T(guard_before_dies),
		T(guard_after_dies),
		T(guards_separate_mappings),
		T(map_invalid_returns_null),
		T(map_exhausts_virtual_space),
		T(map_lock_too_many_with_pins),
		T(map_lock_failure_leaves_nothing),
		T(lock_resident_and_pinned),
		T(lock_readonly_resident),
		T(lock_never_faults_under_thrashing),
		T(lock_unmap_releases_pins),
		T(lock_evicts_other_pages),
		T(unmap_frees_frames),
		T(unmap_frees_store_locations),
		T(unmap_reuses_address),
		T(unmap_then_access_dies),
		T(unmap_bogus_ignored),
		T(unmap_partial_region_not_affected_by_bogus),
		T(free_get_counts_frames),
		T(free_get_zero_when_pool_used),
		T(region_align_table),
		T(region_align_random),
		T(many_mappings_random_order),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
