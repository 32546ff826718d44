/*
 * The eviction algorithms with tracking hooks (fifo, lru, aging, sieve,
 * s3fifo, car) inside the library, and fault tracing (ZPAGE_TRACE):
 *   - every algorithm keeps data intact under pressure (patterns checked
 *     after random touches), with faults counted
 *   - fifo is exact: a loop one page larger than the frames faults on every
 *     touch, one that fits faults only the first time
 *   - lru keeps a page it saw touched over the ones it did not
 *   - the trace file holds one record per fault, with the right pages
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zpage_trace.h>

#include "zpt.h"

#define FRAMES 32

static const char *const tracking[] = { "fifo", "lru", "aging", "sieve",
					"s3fifo", "car" };

static void data_survives(const char *alg)
{
	size_t pages = 4 * FRAMES;
	zpt_start_simple(FRAMES, alg, NULL);
	uint8_t *m = k_mem_map(pages * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(m);
	for (size_t p = 0; p < pages; p++)
		zpt_fill(m + p * ZPT_PAGE, 7, p);
	uint64_t x = 1;
	for (int i = 0; i < 2000; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		size_t p = (size_t)(x >> 33) % pages;
		/* A skewed mix: a quarter of the touches go to 8 pages. */
		if (i % 4 == 0)
			p %= 8;
		assert_true(zpt_check(m + p * ZPT_PAGE, 7, p));
	}
	for (size_t p = 0; p < pages; p++)
		assert_true(zpt_check(m + p * ZPT_PAGE, 7, p));
	struct k_mem_paging_stats_t s = zpt_stats();
	assert_true(s.pagefaults.cnt >= pages);
	assert_true(s.eviction.clean + s.eviction.dirty >= pages - FRAMES);
	k_mem_unmap(m, pages * ZPT_PAGE);
	assert_int_equal(k_mem_free_get(), FRAMES * ZPT_PAGE);
	zpage_shutdown();
}

static void algorithms_keep_data(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(tracking) / sizeof(tracking[0]); i++)
		data_survives(tracking[i]);
}

static unsigned long loop_faults(size_t pages, int rounds)
{
	uint8_t *m = k_mem_map(pages * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(m);
	unsigned long before = zpt_stats().pagefaults.cnt;
	for (int r = 0; r < rounds; r++)
		for (size_t p = 0; p < pages; p++)
			m[p * ZPT_PAGE] = (uint8_t)(r + 1);
	unsigned long n = zpt_stats().pagefaults.cnt - before;
	k_mem_unmap(m, pages * ZPT_PAGE);
	return n;
}

static void fifo_is_exact(void **state)
{
	(void)state;
	zpt_start_simple(FRAMES, "fifo", NULL);
	assert_int_equal(loop_faults(FRAMES + 1, 5), 5 * (FRAMES + 1));
	assert_int_equal(loop_faults(FRAMES, 5), FRAMES);
	zpage_shutdown();
}

/* lru hears of a touch after a load only once the batch of arms that
 * cleared its bit was applied: touch the hot page after more loads. */
static void lru_keeps_seen_page(void **state)
{
	(void)state;
	zpt_start_simple(FRAMES, "lru", NULL);
	size_t pages = 4 * FRAMES;
	uint8_t *m = k_mem_map(pages * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(m);
	m[0] = 1; /* the hot page */
	unsigned long evictions = 0;
	for (size_t p = 1; p < pages; p++) {
		m[p * ZPT_PAGE] = 1;
		if (p % 8 == 0)
			(void)*(volatile uint8_t *)m; /* seen once armed */
	}
	struct k_mem_paging_stats_t s = zpt_stats();
	evictions = s.eviction.clean + s.eviction.dirty;
	assert_true(evictions >= pages - FRAMES);
	uintptr_t loc;
	assert_int_equal(arch_page_location_get(m, &loc),
			 ARCH_PAGE_LOCATION_PAGED_IN);
	assert_true(zpt_counters().access_faults > 0);
	/* fifo, told nothing of touches, lets it go. */
	k_mem_unmap(m, pages * ZPT_PAGE);
	zpage_shutdown();
	zpt_start_simple(FRAMES, "fifo", NULL);
	m = k_mem_map(pages * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(m);
	m[0] = 1;
	for (size_t p = 1; p < pages; p++) {
		m[p * ZPT_PAGE] = 1;
		if (p % 8 == 0)
			(void)*(volatile uint8_t *)m;
	}
	assert_int_equal(zpt_counters().access_faults, 0);
	k_mem_unmap(m, pages * ZPT_PAGE);
	zpage_shutdown();
}

static void trace_records_faults(void **state)
{
	(void)state;
	char path[] = "/tmp/zpage-test-trace-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	setenv("ZPAGE_TRACE", path, 1);
	zpt_start_simple(FRAMES, "fifo", NULL);
	unsetenv("ZPAGE_TRACE");
	size_t pages = 2 * FRAMES;
	uint8_t *m = k_mem_map(pages * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(m);
	for (size_t p = 0; p < pages; p++)
		m[p * ZPT_PAGE] = 1;
	for (size_t p = 0; p < pages; p++)
		(void)*(volatile uint8_t *)(m + p * ZPT_PAGE);
	unsigned long faults = zpt_stats().pagefaults.cnt;
	assert_int_equal(faults, 2 * pages);
	k_mem_unmap(m, pages * ZPT_PAGE);
	zpage_shutdown();

	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct zpt_header header;
	assert_int_equal(fread(&header, sizeof(header), 1, f), 1);
	assert_memory_equal(header.magic, ZPT_MAGIC, 8);
	assert_int_equal(header.record_size, sizeof(struct zpt_record));
	struct zpt_record r[4 * FRAMES + 1];
	size_t n = fread(r, sizeof(r[0]), 4 * FRAMES + 1, f);
	fclose(f);
	unlink(path);
	/* One record per fault, in order: two passes over the pages. */
	assert_int_equal(n, faults);
	for (size_t i = 1; i < pages; i++)
		assert_int_equal((r[i].page & ~ZPT_WRITE) -
					 (r[0].page & ~ZPT_WRITE), i);
	for (size_t i = 0; i < pages; i++)
		assert_int_equal(r[pages + i].page & ~ZPT_WRITE,
				 r[i].page & ~ZPT_WRITE);
	assert_true(r[n - 1].usec >= r[0].usec);
}

static void unknown_algorithm_lists_names(void **state)
{
	(void)state;
	struct zpage_config c = { .frames = FRAMES, .eviction = "lfu" };
	assert_int_equal(zpage_init(&c), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(algorithms_keep_data, zpt_teardown),
		cmocka_unit_test_teardown(fifo_is_exact, zpt_teardown),
		cmocka_unit_test_teardown(lru_keeps_seen_page, zpt_teardown),
		cmocka_unit_test_teardown(trace_records_faults, zpt_teardown),
		cmocka_unit_test_teardown(unknown_algorithm_lists_names,
					  zpt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
