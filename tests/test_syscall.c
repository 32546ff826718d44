/*
 * Faults taken inside system calls. The same program runs as root (full
 * userfaultfd: the kernel's own accesses to paged-out memory are served) and
 * as an unprivileged user (user-mode-only userfaultfd: such accesses fail with
 * EFAULT until the pages are made resident). It uses only pipes and memfds,
 * so it works whatever the user may write to.
 *
 * Every test starts the library with its own configuration (nru never clears
 * accessed bits, so resident pages stay mapped) and the teardown shuts it
 * down again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "zpt.h"

#include <stdbool.h>

#define PG(base, i) ((uint8_t *)(base) + (size_t)(i) * ZPT_PAGE)
#define LONG_PERIOD_MS 3600000u

/* ---- Helpers ------------------------------------------------------------ */

static enum zpage_fault_mode mode;
static enum zpage_delivery delivery;

static int setup(void **state)
{
	(void)state;
	/* A hang is a failure, not a stuck test run. */
	alarm(120);
	struct zpage_config c = { .frames = 64, .backing_store = "ram",
				  .nru_period_ms = LONG_PERIOD_MS };
	zpt_start(&c);
	struct zpage_info info;
	assert_int_equal(zpage_info_get(&info), 0);
	mode = info.mode;
	delivery = info.delivery;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	zpage_shutdown();
	alarm(0);
	return 0;
}

/* Faults inside system calls are served only by handler threads of a full
 * userfaultfd; otherwise (user-mode-only descriptor, or signal delivery)
 * such a system call fails with EFAULT. */
static bool syscalls_served(void)
{
	return mode == ZPAGE_MODE_UFFD && delivery == ZPAGE_DELIVERY_THREAD;
}

static void need_full(void)
{
	if (!syscalls_served())
		skip();
}

static void need_user(void)
{
	if (syscalls_served())
		skip();
}

static unsigned long my_faults(void)
{
	struct k_mem_paging_stats_t s;
	k_mem_paging_thread_stats_get(k_current_get(), &s);
	return s.pagefaults.cnt;
}

static unsigned long all_faults(void)
{
	struct k_mem_paging_stats_t s;
	k_mem_paging_stats_get(&s);
	return s.pagefaults.cnt;
}

static void fill_range(uint8_t *p, size_t first, size_t n, uint64_t seed)
{
	for (size_t i = first; i < first + n; i++)
		zpt_fill(PG(p, i), seed, i);
}

/* Heap buffer with the contents zpt_fill(seed) gives pages first.. */
static uint8_t *pattern(size_t n, uint64_t seed, size_t first)
{
	uint8_t *b = malloc(n * ZPT_PAGE);
	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		zpt_fill(b + i * ZPT_PAGE, seed, first + i);
	return b;
}

/* A region of n pages holding zpt_fill(seed), all paged out. */
static uint8_t *paged_out(size_t n, uint64_t seed)
{
	uint8_t *p = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	fill_range(p, 0, n, seed);
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	assert_int_equal(zpt_resident(p, n * ZPT_PAGE), 0);
	return p;
}

static int memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("zpage-test", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, 0), (ssize_t)len);
	return fd;
}

static void make_pipe(int p[2])
{
	assert_int_equal(pipe(p), 0);
}

static void read_exact(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, (uint8_t *)buf + got, len - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
}

static bool all_zero(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* ---- Mode --------------------------------------------------------------- */

static void mode_matches_privilege(void **state)
{
	(void)state;
	struct zpage_info info;
	assert_int_equal(zpage_info_get(&info), 0);
	fprintf(stderr, "# euid %u, mode %s\n", (unsigned)geteuid(),
		info.mode == ZPAGE_MODE_UFFD ? "uffd" : "uffd-user");
	if (geteuid() == 0)
		assert_int_equal(info.mode, ZPAGE_MODE_UFFD);
	else
		assert_int_equal(info.mode, ZPAGE_MODE_UFFD_USER);
	/* auto: handler threads where they can serve system calls. */
	const char *fm = getenv("ZPAGE_FAULT_MODE");
	if (fm == NULL || strcmp(fm, "auto") == 0)
		assert_int_equal(info.delivery, info.mode == ZPAGE_MODE_UFFD
							? ZPAGE_DELIVERY_THREAD
							: ZPAGE_DELIVERY_SIGNAL);
	else
		assert_int_equal(info.delivery, strcmp(fm, "signal") == 0
							? ZPAGE_DELIVERY_SIGNAL
							: ZPAGE_DELIVERY_THREAD);
	assert_int_equal(info.page_size, ZPT_PAGE);
	assert_int_equal(info.frames, 64);
}

/* ---- Full userfaultfd: the kernel's accesses are served ----------------- */

static void full_read_pipe_into_paged_out(void **state)
{
	(void)state;
	need_full();
	uint8_t *p = paged_out(2, 1);
	uint8_t *want = pattern(2, 1, 0);
	char msg[1000];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('a' + i % 26);
	int fds[2];
	make_pipe(fds);
	assert_int_equal(write(fds[1], msg, sizeof(msg)), (ssize_t)sizeof(msg));
	unsigned long f0 = my_faults();
	/* Into the middle of page 0: the page must be loaded first. */
	assert_int_equal(read(fds[0], p + 100, sizeof(msg)), (ssize_t)sizeof(msg));
	assert_int_equal(my_faults() - f0, 1);
	memcpy(want + 100, msg, sizeof(msg));
	assert_memory_equal(p, want, 2 * ZPT_PAGE);
	assert_int_equal(zpt_resident(p, 2 * ZPT_PAGE), 2);
	close(fds[0]);
	close(fds[1]);
	free(want);
	k_mem_unmap(p, 2 * ZPT_PAGE);
}

static void full_write_pipe_from_paged_out(void **state)
{
	(void)state;
	need_full();
	const size_t n = 3;
	uint8_t *p = paged_out(n, 2);
	uint8_t *want = pattern(n, 2, 0);
	int fds[2];
	make_pipe(fds);
	uint8_t *got = malloc(n * ZPT_PAGE);
	assert_non_null(got);
	unsigned long f0 = my_faults();
	/* Straddling pages 0, 1 and 2. */
	size_t off = 1000, len = n * ZPT_PAGE - 2000;
	assert_int_equal(write(fds[1], p + off, len), (ssize_t)len);
	assert_int_equal(my_faults() - f0, n);
	read_exact(fds[0], got, len);
	assert_memory_equal(got, want + off, len);
	/* The pages themselves are intact too. */
	assert_memory_equal(p, want, n * ZPT_PAGE);
	close(fds[0]);
	close(fds[1]);
	free(got);
	free(want);
	k_mem_unmap(p, n * ZPT_PAGE);
}

static void full_pread_spanning_pages(void **state)
{
	(void)state;
	need_full();
	const size_t n = 6;
	uint8_t *p = paged_out(n, 3);
	uint8_t *want = pattern(n, 3, 0);
	uint8_t *file = pattern(n, 99, 0);
	int fd = memfd_with(file, n * ZPT_PAGE);
	unsigned long f0 = my_faults(), g0 = all_faults();
	/* Pages 1..4 and a bit of 0 and 5. */
	size_t off = ZPT_PAGE - 300, len = 4 * ZPT_PAGE + 600;
	assert_int_equal(pread(fd, p + off, len, 123), (ssize_t)len);
	assert_int_equal(my_faults() - f0, n);
	assert_int_equal(all_faults() - g0, n);
	memcpy(want + off, file + 123, len);
	assert_memory_equal(p, want, n * ZPT_PAGE);
	/* And back out through pwrite from a paged-out buffer. */
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	assert_int_equal(pwrite(fd, p, n * ZPT_PAGE, 0), (ssize_t)(n * ZPT_PAGE));
	uint8_t *back = malloc(n * ZPT_PAGE);
	assert_non_null(back);
	assert_int_equal(pread(fd, back, n * ZPT_PAGE, 0), (ssize_t)(n * ZPT_PAGE));
	assert_memory_equal(back, want, n * ZPT_PAGE);
	/* Vectored I/O across two paged-out regions. */
	uint8_t *q = paged_out(2, 4);
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	struct iovec iov[2] = { { p + 10, ZPT_PAGE }, { q + 20, ZPT_PAGE } };
	assert_int_equal(preadv(fd, iov, 2, 0), (ssize_t)(2 * ZPT_PAGE));
	assert_memory_equal(p + 10, want, ZPT_PAGE);
	assert_memory_equal(q + 20, want + ZPT_PAGE, ZPT_PAGE);
	close(fd);
	free(back);
	free(file);
	free(want);
	k_mem_unmap(q, 2 * ZPT_PAGE);
	k_mem_unmap(p, n * ZPT_PAGE);
}

static void full_never_touched(void **state)
{
	(void)state;
	need_full();
	const size_t n = 4;
	uint8_t *p = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	uint8_t *q = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	assert_non_null(q);
	uint8_t *file = pattern(n, 5, 0);
	int fd = memfd_with(file, n * ZPT_PAGE);
	struct zpage_counters c0;
	zpage_counters_get(&c0);
	/* Read into fresh pages: zero-filled, then written by the kernel. */
	assert_int_equal(pread(fd, p + 8, n * ZPT_PAGE - 16, 8),
			 (ssize_t)(n * ZPT_PAGE - 16));
	assert_memory_equal(p + 8, file + 8, n * ZPT_PAGE - 16);
	assert_true(all_zero(p, 8));
	assert_true(all_zero(p + n * ZPT_PAGE - 8, 8));
	/* Write from fresh pages: zeros. */
	int fds[2];
	make_pipe(fds);
	assert_int_equal(write(fds[1], q, n * ZPT_PAGE), (ssize_t)(n * ZPT_PAGE));
	uint8_t *got = malloc(n * ZPT_PAGE);
	assert_non_null(got);
	memset(got, 0xee, n * ZPT_PAGE);
	read_exact(fds[0], got, n * ZPT_PAGE);
	assert_true(all_zero(got, n * ZPT_PAGE));
	struct zpage_counters c1;
	zpage_counters_get(&c1);
	assert_int_equal(c1.zero_fills - c0.zero_fills, 2 * n);
	assert_int_equal(c1.fatal_faults, 0);
	close(fds[0]);
	close(fds[1]);
	close(fd);
	free(got);
	free(file);
	k_mem_unmap(q, n * ZPT_PAGE);
	k_mem_unmap(p, n * ZPT_PAGE);
}

/* Many system calls on memory that is being evicted all the time. */
static void full_syscalls_under_pressure(void **state)
{
	(void)state;
	need_full();
	zpage_shutdown();
	struct zpage_config c = { .frames = 8, .nru_period_ms = LONG_PERIOD_MS };
	zpt_start(&c);
	const size_t n = 48;
	uint8_t *p = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	uint8_t *file = pattern(n, 6, 0);
	int fd = memfd_with(file, n * ZPT_PAGE);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(pread(fd, p, n * ZPT_PAGE, 0), (ssize_t)(n * ZPT_PAGE));
		assert_true(zpt_resident(p, n * ZPT_PAGE) <= 8);
		for (size_t i = 0; i < n; i++)
			assert_true(zpt_check(PG(p, i), 6, i));
		fill_range(p, 0, n, 7 + (uint64_t)round);
		assert_int_equal(pwrite(fd, p, n * ZPT_PAGE, 0), (ssize_t)(n * ZPT_PAGE));
		assert_int_equal(pread(fd, file, n * ZPT_PAGE, 0), (ssize_t)(n * ZPT_PAGE));
		for (size_t i = 0; i < n; i++)
			assert_true(zpt_check(file + i * ZPT_PAGE, 7 + (uint64_t)round, i));
		/* Back to the first contents for the next round. */
		free(file);
		file = pattern(n, 6, 0);
		assert_int_equal(pwrite(fd, file, n * ZPT_PAGE, 0), (ssize_t)(n * ZPT_PAGE));
	}
	struct zpage_counters cs;
	zpage_counters_get(&cs);
	assert_int_equal(cs.fatal_faults, 0);
	close(fd);
	free(file);
	k_mem_unmap(p, n * ZPT_PAGE);
}

/* ---- User-mode-only userfaultfd: EFAULT, then success after page-in ----- */

static void user_read_pipe_efault_then_page_in(void **state)
{
	(void)state;
	need_user();
	uint8_t *p = paged_out(2, 11);
	uint8_t *want = pattern(2, 11, 0);
	char msg[1000];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('A' + i % 26);
	int fds[2];
	make_pipe(fds);
	assert_int_equal(write(fds[1], msg, sizeof(msg)), (ssize_t)sizeof(msg));

	errno = 0;
	assert_int_equal(read(fds[0], p + 100, sizeof(msg)), -1);
	assert_int_equal(errno, EFAULT);
	/* Nothing was consumed, nothing was loaded. */
	assert_int_equal(zpt_resident(p, 2 * ZPT_PAGE), 0);

	k_mem_page_in(p, ZPT_PAGE);
	assert_int_equal(read(fds[0], p + 100, sizeof(msg)), (ssize_t)sizeof(msg));
	memcpy(want + 100, msg, sizeof(msg));
	assert_memory_equal(p, want, 2 * ZPT_PAGE);
	close(fds[0]);
	close(fds[1]);
	free(want);
	k_mem_unmap(p, 2 * ZPT_PAGE);
}

static void user_pread_efault_then_pin(void **state)
{
	(void)state;
	need_user();
	const size_t n = 4;
	uint8_t *p = paged_out(n, 12);
	uint8_t *want = pattern(n, 12, 0);
	uint8_t *file = pattern(n, 98, 0);
	int fd = memfd_with(file, n * ZPT_PAGE);

	errno = 0;
	assert_int_equal(pread(fd, p + 64, 3 * ZPT_PAGE, 0), -1);
	assert_int_equal(errno, EFAULT);
	/* A never-touched page fails the same way. */
	uint8_t *fresh = k_mem_map(ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(fresh);
	errno = 0;
	assert_int_equal(pread(fd, fresh, ZPT_PAGE, 0), -1);
	assert_int_equal(errno, EFAULT);

	k_mem_pin(p, n * ZPT_PAGE);
	k_mem_pin(fresh, ZPT_PAGE);
	assert_int_equal(pread(fd, p + 64, 3 * ZPT_PAGE, 0), (ssize_t)(3 * ZPT_PAGE));
	assert_int_equal(pread(fd, fresh, ZPT_PAGE, ZPT_PAGE),
			 (ssize_t)ZPT_PAGE);
	memcpy(want + 64, file, 3 * ZPT_PAGE);
	assert_memory_equal(p, want, n * ZPT_PAGE);
	assert_memory_equal(fresh, file + ZPT_PAGE, ZPT_PAGE);
	k_mem_unpin(p, n * ZPT_PAGE);
	k_mem_unpin(fresh, ZPT_PAGE);
	close(fd);
	free(file);
	free(want);
	k_mem_unmap(fresh, ZPT_PAGE);
	k_mem_unmap(p, n * ZPT_PAGE);
}

static void user_write_efault_then_page_in(void **state)
{
	(void)state;
	need_user();
	const size_t n = 2;
	uint8_t *p = paged_out(n, 13);
	uint8_t *want = pattern(n, 13, 0);
	int fds[2];
	make_pipe(fds);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);

	errno = 0;
	assert_int_equal(write(fds[1], p, n * ZPT_PAGE), -1);
	assert_int_equal(errno, EFAULT);
	/* Nothing reached the pipe. */
	char c;
	errno = 0;
	assert_int_equal(read(fds[0], &c, 1), -1);
	assert_int_equal(errno, EAGAIN);

	k_mem_page_in(p, n * ZPT_PAGE);
	assert_int_equal(write(fds[1], p, n * ZPT_PAGE), (ssize_t)(n * ZPT_PAGE));
	uint8_t *got = malloc(n * ZPT_PAGE);
	assert_non_null(got);
	read_exact(fds[0], got, n * ZPT_PAGE);
	assert_memory_equal(got, want, n * ZPT_PAGE);
	close(fds[0]);
	close(fds[1]);
	free(got);
	free(want);
	k_mem_unmap(p, n * ZPT_PAGE);
}

static void user_touches_page_in_normally(void **state)
{
	(void)state;
	need_user();
	const size_t n = 32;
	uint8_t *p = paged_out(n, 14);
	unsigned long f0 = my_faults();
	for (size_t i = 0; i < n; i++)
		assert_true(zpt_check(PG(p, i), 14, i));
	assert_int_equal(my_faults() - f0, n);
	/* Resident now: system calls work on them. */
	uint8_t *file = pattern(n, 15, 0);
	int fd = memfd_with(file, n * ZPT_PAGE);
	assert_int_equal(pread(fd, p, n * ZPT_PAGE, 0), (ssize_t)(n * ZPT_PAGE));
	assert_memory_equal(p, file, n * ZPT_PAGE);
	/* A region larger than the pool, by user-mode touches only. */
	zpage_shutdown();
	struct zpage_config c = { .frames = 8, .nru_period_ms = LONG_PERIOD_MS };
	zpt_start(&c);
	uint8_t *q = k_mem_map(64 * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(q);
	fill_range(q, 0, 64, 16);
	for (size_t i = 0; i < 64; i++)
		assert_true(zpt_check(PG(q, i), 16, i));
	assert_true(zpt_resident(q, 64 * ZPT_PAGE) <= 8);
	close(fd);
	free(file);
	k_mem_unmap(q, 64 * ZPT_PAGE);
}

/* With the clean-copy store, pages loaded from the store are mapped
 * write-protected to notice their first write. A system call writing into
 * them must still work after k_mem_page_in() / k_mem_pin(), in both modes:
 * "k_mem_page_in()/k_mem_pin() it first" is the whole recipe. */
static void backed_store_syscall_after_page_in(void **state)
{
	(void)state;
	zpage_shutdown();
	struct zpage_config c = { .frames = 64, .backing_store = "ram:backed",
				  .nru_period_ms = LONG_PERIOD_MS };
	zpt_start(&c);
	const size_t n = 4;
	uint8_t *p = paged_out(n, 17);
	uint8_t *want = pattern(n, 17, 0);
	uint8_t *file = pattern(n, 18, 0);
	int fd = memfd_with(file, n * ZPT_PAGE);

	/* Page 0: loaded by k_mem_page_in. */
	k_mem_page_in(p, ZPT_PAGE);
	assert_int_equal(pread(fd, p + 8, 100, 0), 100);
	memcpy(want + 8, file, 100);
	/* Page 1: loaded by a user-mode read first, then k_mem_page_in. */
	assert_true(zpt_check(PG(p, 1), 17, 1));
	k_mem_page_in(PG(p, 1), ZPT_PAGE);
	assert_int_equal(pread(fd, PG(p, 1) + 16, 200, 300), 200);
	memcpy(want + ZPT_PAGE + 16, file + 300, 200);
	/* Pages 2, 3: pinned. */
	k_mem_pin(PG(p, 2), 2 * ZPT_PAGE);
	assert_int_equal(pread(fd, PG(p, 2) + 4000, 300, 0), 300);
	memcpy(want + 2 * ZPT_PAGE + 4000, file, 300);
	k_mem_unpin(PG(p, 2), 2 * ZPT_PAGE);
	assert_memory_equal(p, want, n * ZPT_PAGE);

	/* Written by the kernel: evicted dirty, the new data comes back. */
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	assert_memory_equal(p, want, n * ZPT_PAGE);
	close(fd);
	free(file);
	free(want);
	k_mem_unmap(p, n * ZPT_PAGE);
}

/* ------------------------------------------------------------------------- */

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(mode_matches_privilege),
		T(full_read_pipe_into_paged_out),
		T(full_write_pipe_from_paged_out),
		T(full_pread_spanning_pages),
		T(full_never_touched),
		T(full_syscalls_under_pressure),
		T(user_read_pipe_efault_then_page_in),
		T(user_pread_efault_then_pin),
		T(user_write_efault_then_page_in),
		T(user_touches_page_in_normally),
		T(backed_store_syscall_after_page_in),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
