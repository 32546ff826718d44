/*
 * File mappings (zpage_map_file, zpage_sync):
 *   - a file 8x the frame pool reads back through the mapping, with no
 *     write to the file while nothing was changed
 *   - changed pages reach the file when evicted, paged out, synced,
 *     unmapped or the library shut down, and not before; synced pages are
 *     clean afterwards
 *   - random reads and writes against a copy, the file checked at the end
 *   - an offset into the file, bytes past its end read as zeros and a
 *     write there extends it; read-only mappings; bad arguments refused
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zpt.h"

#define FRAMES 32
#define PAGES (8 * FRAMES)

static char path[] = "/var/tmp/zpage-filemap-XXXXXX";
static int fd = -1;

/* A fresh file of n pages of zpt_fill(seed) contents. */
static void make_file(size_t n, uint64_t seed)
{
	uint8_t page[ZPT_PAGE];

	if (fd >= 0)
		close(fd);
	strcpy(path + strlen(path) - 6, "XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	for (size_t p = 0; p < n; p++) {
		zpt_fill(page, seed, p);
		assert_int_equal(pwrite(fd, page, ZPT_PAGE, (off_t)(p * ZPT_PAGE)),
				 ZPT_PAGE);
	}
}

/* Whether page p of the file holds zpt_fill(seed, q). */
static bool file_page_is(size_t p, uint64_t seed, size_t q)
{
	uint8_t page[ZPT_PAGE];

	if (pread(fd, page, ZPT_PAGE, (off_t)(p * ZPT_PAGE)) != ZPT_PAGE)
		return false;
	return zpt_check(page, seed, q);
}

static int teardown(void **state)
{
	zpt_teardown(state);
	if (fd >= 0)
		close(fd);
	fd = -1;
	return 0;
}

static void reads_cost_no_writes(void **state)
{
	(void)state;
	make_file(PAGES, 3);
	zpt_start_simple(FRAMES, NULL, NULL);
	uint8_t *m = zpage_map_file(fd, 0, PAGES * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(m);
	for (int round = 0; round < 2; round++)
		for (size_t p = 0; p < PAGES; p++)
			assert_true(zpt_check(m + p * ZPT_PAGE, 3, p));
	struct zpage_counters c = zpt_counters();
	assert_true(c.page_ins >= 2 * PAGES - FRAMES);
	assert_int_equal(c.page_outs, 0);
	assert_int_equal(c.store_loads, 0);
	k_mem_unmap(m, PAGES * ZPT_PAGE);
	for (size_t p = 0; p < PAGES; p++)
		assert_true(file_page_is(p, 3, p));
}

static void changes_reach_the_file(void **state)
{
	(void)state;
	make_file(PAGES, 5);
	/* fifo: the pages written first are the first evicted (nru would
	 * keep dirty pages longer). */
	zpt_start_simple(FRAMES, "fifo", NULL);
	uint8_t *m = zpage_map_file(fd, 0, PAGES * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(m);

	/* Evicted: pages 0..FRAMES-1 rewritten, then all others touched. */
	for (size_t p = 0; p < FRAMES; p++)
		zpt_fill(m + p * ZPT_PAGE, 6, p);
	for (size_t p = FRAMES; p < PAGES; p++)
		assert_true(zpt_check(m + p * ZPT_PAGE, 5, p));
	for (size_t p = 0; p < FRAMES; p++)
		assert_true(file_page_is(p, 6, p));
	assert_true(file_page_is(FRAMES, 5, FRAMES));

	/* Paged out explicitly. */
	zpt_fill(m + 40 * ZPT_PAGE, 7, 40);
	assert_int_equal(k_mem_page_out(m + 40 * ZPT_PAGE, ZPT_PAGE), 0);
	assert_true(file_page_is(40, 7, 40));

	/* Synced: in the file, and clean (evicting it writes nothing). */
	zpt_fill(m + 41 * ZPT_PAGE, 8, 41);
	assert_false(file_page_is(41, 8, 41));
	assert_int_equal(zpage_sync(m, PAGES * ZPT_PAGE), 0);
	assert_true(file_page_is(41, 8, 41));
	unsigned long outs = zpt_counters().page_outs;
	assert_int_equal(k_mem_page_out(m + 41 * ZPT_PAGE, ZPT_PAGE), 0);
	assert_int_equal(zpt_counters().page_outs, outs);
	/* A write after the sync is seen. */
	zpt_fill(m + 41 * ZPT_PAGE, 9, 41);
	zpt_fill(m + 42 * ZPT_PAGE, 9, 42);
	assert_int_equal(zpage_sync(m + 41 * ZPT_PAGE, ZPT_PAGE), 0);
	assert_true(file_page_is(41, 9, 41));
	assert_false(file_page_is(42, 9, 42)); /* outside the range */

	/* Unmapped: what was still changed goes back. */
	k_mem_unmap(m, PAGES * ZPT_PAGE);
	assert_true(file_page_is(42, 9, 42));
	assert_true(file_page_is(41, 9, 41));
	assert_true(file_page_is(40, 7, 40));
	assert_true(file_page_is(PAGES - 1, 5, PAGES - 1));
}

/* Random words read and written against a copy; then the file itself. */
static void random_traffic_matches_a_copy(void **state)
{
	(void)state;
	make_file(PAGES, 11);
	uint64_t *copy = malloc(PAGES * ZPT_PAGE);
	assert_non_null(copy);
	for (size_t p = 0; p < PAGES; p++)
		zpt_fill((uint8_t *)copy + p * ZPT_PAGE, 11, p);
	zpt_start_simple(FRAMES, NULL, NULL);
	uint64_t *m = zpage_map_file(fd, 0, PAGES * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(m);
	uint64_t x = 99;
	size_t words = PAGES * ZPT_PAGE / 8;
	for (int i = 0; i < 40000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t w = (size_t)(x >> 11) % words;
		if (i % 3 == 0)
			m[w] = copy[w] = x;
		else
			assert_true(m[w] == copy[w]);
		if (i % 5000 == 0)
			assert_int_equal(zpage_sync(m, PAGES * ZPT_PAGE), 0);
	}
	assert_int_equal(memcmp(m, copy, PAGES * ZPT_PAGE), 0);
	/* Every resident page dirty, then synced (in batches): the file is
	 * the copy before anything is unmapped. */
	for (size_t p = 0; p < PAGES; p += 3)
		m[p * ZPT_PAGE / 8] = copy[p * ZPT_PAGE / 8] = p;
	assert_int_equal(zpage_sync(m, PAGES * ZPT_PAGE), 0);
	uint8_t *back = malloc(PAGES * ZPT_PAGE);
	assert_non_null(back);
	assert_int_equal(pread(fd, back, PAGES * ZPT_PAGE, 0), PAGES * ZPT_PAGE);
	assert_int_equal(memcmp(back, copy, PAGES * ZPT_PAGE), 0);
	k_mem_unmap(m, PAGES * ZPT_PAGE);
	assert_int_equal(pread(fd, back, PAGES * ZPT_PAGE, 0), PAGES * ZPT_PAGE);
	assert_int_equal(memcmp(back, copy, PAGES * ZPT_PAGE), 0);
	free(back);
	free(copy);
}

/* Shutting the library down writes the changes back too. */
static void shutdown_writes_back(void **state)
{
	(void)state;
	make_file(8, 23);
	zpt_start_simple(FRAMES, NULL, NULL);
	uint8_t *m = zpage_map_file(fd, 0, 8 * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(m);
	zpt_fill(m + 3 * ZPT_PAGE, 24, 3);
	zpage_shutdown();
	assert_true(file_page_is(3, 24, 3));
	assert_true(file_page_is(4, 23, 4));
}

static void offsets_and_the_end_of_the_file(void **state)
{
	(void)state;
	make_file(4, 13);
	zpt_start_simple(FRAMES, NULL, NULL);
	/* Pages 2, 3 of the file, then two past its end. */
	uint8_t *m = zpage_map_file(fd, 2 * ZPT_PAGE, 4 * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(m);
	assert_true(zpt_check(m, 13, 2));
	assert_true(zpt_check(m + ZPT_PAGE, 13, 3));
	for (size_t i = 0; i < 2 * ZPT_PAGE; i++)
		assert_int_equal(m[2 * ZPT_PAGE + i], 0);
	zpt_fill(m + 3 * ZPT_PAGE, 14, 5);
	k_mem_unmap(m, 4 * ZPT_PAGE);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 6 * ZPT_PAGE);
	assert_true(file_page_is(5, 14, 5));
	assert_true(file_page_is(0, 13, 0));
}

static void child_write_read_only(void *arg)
{
	(void)arg;
	zpt_child_prepare();
	make_file(2, 17);
	struct zpage_config c = { .frames = FRAMES };
	ZPT_CHILD_REQUIRE(zpage_init(&c) == 0);
	uint8_t *m = zpage_map_file(fd, 0, 2 * ZPT_PAGE, 0);
	ZPT_CHILD_REQUIRE(m != NULL);
	ZPT_CHILD_REQUIRE(zpt_check(m, 17, 0));
	m[0] = 1;
	_exit(3);
}

static void read_only_and_bad_arguments(void **state)
{
	(void)state;
	zpt_expect_death(child_write_read_only, NULL, SIGSEGV, NULL);
	make_file(2, 19);
	zpt_start_simple(FRAMES, NULL, NULL);
	assert_null(zpage_map_file(fd, 100, ZPT_PAGE, 0));
	assert_null(zpage_map_file(fd, 0, 100, 0));
	assert_null(zpage_map_file(fd, 0, 0, 0));
	assert_null(zpage_map_file(-1, 0, ZPT_PAGE, 0));
	assert_null(zpage_map_file(fd, 0, ZPT_PAGE, K_MEM_PERM_EXEC));
	uint8_t *plain = k_mem_map(ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(plain);
	assert_int_equal(zpage_sync(plain, ZPT_PAGE), -EINVAL);
	k_mem_unmap(plain, ZPT_PAGE);
	uint8_t *m = zpage_map_file(fd, 0, 2 * ZPT_PAGE, 0);
	assert_non_null(m);
	assert_int_equal(zpage_sync(m, 3 * ZPT_PAGE), -EINVAL);
	assert_int_equal(zpage_sync(m, 2 * ZPT_PAGE), 0);
	assert_true(zpt_check(m + ZPT_PAGE, 19, 1));
	k_mem_unmap(m, 2 * ZPT_PAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(reads_cost_no_writes, teardown),
		cmocka_unit_test_teardown(changes_reach_the_file, teardown),
		cmocka_unit_test_teardown(random_traffic_matches_a_copy, teardown),
		cmocka_unit_test_teardown(shutdown_writes_back, teardown),
		cmocka_unit_test_teardown(offsets_and_the_end_of_the_file,
					  teardown),
		cmocka_unit_test_teardown(read_only_and_bad_arguments, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
