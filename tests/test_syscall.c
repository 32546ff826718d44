/*
 * Faults taken inside system calls. The same program runs as root and as an
 * unprivileged user, with each delivery. Through the C library's I/O
 * functions, paged-out buffers work in every mode: with handler threads of a
 * full userfaultfd the kernel's own accesses are served; otherwise the
 * library brings the buffers in before the call (syscalls.c). A raw system
 * call (syscall(2)) shows the kernel's own behaviour: served, or EFAULT with
 * nothing lost until the pages are made resident. It uses only pipes,
 * sockets and memfds, so it works whatever the user may write to.
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
#include <sys/socket.h>
#include <sys/syscall.h>
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
 * userfaultfd; otherwise (user-mode-only descriptor, or signal delivery) a
 * raw system call on a non-resident page fails with EFAULT, and the C
 * library's I/O functions bring their buffers in first. */
static bool syscalls_served(void)
{
	return mode == ZPAGE_MODE_UFFD && delivery == ZPAGE_DELIVERY_THREAD;
}

static void need_served(void)
{
	if (!syscalls_served())
		skip();
}

static void need_unserved(void)
{
	if (syscalls_served())
		skip();
}

/* The kernel's own behaviour, past the C library. */
static ssize_t raw_read(int fd, void *buf, size_t n)
{
	return syscall(SYS_read, fd, buf, n);
}

static ssize_t raw_write(int fd, const void *buf, size_t n)
{
	return syscall(SYS_write, fd, buf, n);
}

static ssize_t raw_pread(int fd, void *buf, size_t n, off_t off)
{
	return syscall(SYS_pread64, fd, buf, n, off);
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
	/* auto: the faulting thread serves itself (SIGBUS delivery exists
	 * on every kernel this runs on). */
	const char *fm = getenv("ZPAGE_FAULT_MODE");
	if (fm == NULL || strcmp(fm, "auto") == 0)
		assert_int_equal(info.delivery, ZPAGE_DELIVERY_SIGNAL);
	else
		assert_int_equal(info.delivery, strcmp(fm, "signal") == 0
							? ZPAGE_DELIVERY_SIGNAL
							: ZPAGE_DELIVERY_THREAD);
	assert_int_equal(info.page_size, ZPT_PAGE);
	assert_int_equal(info.frames, 64);
}

/* ---- The C library's I/O on paged-out buffers: every mode --------------- */

static void read_pipe_into_paged_out(void **state)
{
	(void)state;
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

static void write_pipe_from_paged_out(void **state)
{
	(void)state;
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

static void pread_spanning_pages(void **state)
{
	(void)state;
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

static void never_touched(void **state)
{
	(void)state;
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
static void syscalls_under_pressure(void **state)
{
	(void)state;
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

/* Longer than one call may pin (64 frames: 4 pages): a read of a pipe ends
 * after the first part, a short read; nothing is lost, the rest follows. */
static void pipe_read_in_parts(void **state)
{
	(void)state;
	const size_t n = 10;
	uint8_t *p = paged_out(n, 21);
	uint8_t *msg = pattern(n, 22, 0);
	int fds[2];
	make_pipe(fds);
	assert_int_equal(write(fds[1], msg, n * ZPT_PAGE), (ssize_t)(n * ZPT_PAGE));
	ssize_t r = read(fds[0], p, n * ZPT_PAGE);
	assert_true(r > 0);
	if (!syscalls_served())
		assert_int_equal(r, 4 * ZPT_PAGE);
	else
		assert_int_equal(r, n * ZPT_PAGE);
	read_exact(fds[0], p + r, n * ZPT_PAGE - (size_t)r);
	assert_memory_equal(p, msg, n * ZPT_PAGE);
	/* Writes go on until done, as the kernel's would. */
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	assert_int_equal(write(fds[1], p, n * ZPT_PAGE), (ssize_t)(n * ZPT_PAGE));
	memset(msg, 0, n * ZPT_PAGE);
	read_exact(fds[0], msg, n * ZPT_PAGE);
	assert_memory_equal(msg, p, n * ZPT_PAGE);
	assert_int_equal(zpt_pinned_frames(), 0);
	close(fds[0]);
	close(fds[1]);
	free(msg);
	k_mem_unmap(p, n * ZPT_PAGE);
}

/* Buffer lists and sockets: readv/writev, send/recv, sendmsg/recvmsg with
 * paged-out buffers, the headers and lists themselves paged out too. */
static void vectors_and_sockets(void **state)
{
	(void)state;
	const size_t n = 6;
	uint8_t *p = paged_out(n, 23);
	uint8_t *want = pattern(n, 23, 0);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);

	/* writev from pages 0 and 2, readv into pages 4 and 5 of a copy. */
	struct iovec out[2] = { { p + 10, 1000 }, { PG(p, 2) + 50, 3000 } };
	assert_int_equal(writev(sv[0], out, 2), 4000);
	uint8_t *q = paged_out(n, 24);
	uint8_t *qwant = pattern(n, 24, 0);
	struct iovec in[2] = { { PG(q, 4), 1000 }, { PG(q, 5) + 96, 3000 } };
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	ssize_t r = readv(sv[1], in, 2);
	assert_int_equal(r, 4000);
	memcpy(PG(qwant, 4), want + 10, 1000);
	memcpy(PG(qwant, 5) + 96, PG(want, 2) + 50, 3000);
	assert_memory_equal(q, qwant, n * ZPT_PAGE);

	/* send/recv of a page and a half. */
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	assert_int_equal(k_mem_page_out(q, n * ZPT_PAGE), 0);
	assert_int_equal(send(sv[0], PG(p, 1), 6000, 0), 6000);
	size_t got = 0;
	while (got < 6000) {
		r = recv(sv[1], PG(q, 0) + got, 6000 - got, 0);
		assert_true(r > 0);
		got += (size_t)r;
	}
	memcpy(qwant, PG(want, 1), 6000);
	assert_memory_equal(q, qwant, n * ZPT_PAGE);

	/* sendmsg/recvmsg whose header and list live in paged memory. */
	uint8_t *h = k_mem_map(ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(h);
	struct msghdr *m = (struct msghdr *)h;
	struct iovec *iov = (struct iovec *)(h + 256);
	memset(m, 0, sizeof(*m));
	iov[0] = (struct iovec){ PG(p, 3), 2000 };
	iov[1] = (struct iovec){ PG(p, 4) + 7, 2000 };
	m->msg_iov = iov;
	m->msg_iovlen = 2;
	assert_int_equal(k_mem_page_out(h, ZPT_PAGE), 0);
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	assert_int_equal(sendmsg(sv[0], m, 0), 4000);
	iov[0] = (struct iovec){ PG(q, 2), 4000 };
	m->msg_iovlen = 1;
	assert_int_equal(k_mem_page_out(h, ZPT_PAGE), 0);
	assert_int_equal(k_mem_page_out(q, n * ZPT_PAGE), 0);
	got = 0;
	while (got < 4000) {
		iov[0] = (struct iovec){ PG(q, 2) + got, 4000 - got };
		r = recvmsg(sv[1], m, 0);
		assert_true(r > 0);
		got += (size_t)r;
	}
	memcpy(PG(qwant, 2), PG(want, 3), 2000);
	memcpy(PG(qwant, 2) + 2000, PG(want, 4) + 7, 2000);
	assert_memory_equal(q, qwant, n * ZPT_PAGE);
	assert_memory_equal(p, want, n * ZPT_PAGE);
	assert_int_equal(zpt_pinned_frames(), 0);
	close(sv[0]);
	close(sv[1]);
	free(want);
	free(qwant);
	k_mem_unmap(h, ZPT_PAGE);
	k_mem_unmap(q, n * ZPT_PAGE);
	k_mem_unmap(p, n * ZPT_PAGE);
}

/* stdio moves large transfers straight between the kernel and the
 * caller's buffer: fwrite from and fread into paged-out pages. */
static void stdio_large_transfers(void **state)
{
	(void)state;
	const size_t n = 20;
	uint8_t *p = paged_out(n, 25);
	uint8_t *want = pattern(n, 25, 0);
	int fd = memfd_create("zpage-stdio", MFD_CLOEXEC);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w+");
	assert_non_null(f);
	assert_int_equal(fwrite(p + 3, ZPT_PAGE, n - 1, f), n - 1);
	assert_int_equal(fflush(f), 0);
	uint8_t *q = paged_out(n, 26);
	rewind(f);
	assert_int_equal(fread(q, 512, (n - 1) * 8, f), (n - 1) * 8);
	assert_memory_equal(q, want + 3, (n - 1) * ZPT_PAGE);
	/* At the end of the file: what there was, then nothing. */
	rewind(f);
	assert_int_equal(k_mem_page_out(q, n * ZPT_PAGE), 0);
	assert_int_equal(fread(q, ZPT_PAGE, n, f), n - 1);
	assert_true(feof(f));
	assert_memory_equal(q, want + 3, (n - 1) * ZPT_PAGE);
	assert_int_equal(zpt_pinned_frames(), 0);
	fclose(f);
	free(want);
	k_mem_unmap(q, n * ZPT_PAGE);
	k_mem_unmap(p, n * ZPT_PAGE);
}

/* A program's own pin outlives a system call on the same pages, and the
 * call's pins are gone after it. */
static void pins_survive_system_calls(void **state)
{
	(void)state;
	const size_t n = 4;
	uint8_t *p = paged_out(n, 27);
	uint8_t *file = pattern(n, 28, 0);
	int fd = memfd_with(file, n * ZPT_PAGE);
	k_mem_pin(p, 2 * ZPT_PAGE);
	assert_int_equal(zpt_pinned_frames(), 2);
	assert_int_equal(pread(fd, p, n * ZPT_PAGE, 0), (ssize_t)(n * ZPT_PAGE));
	assert_memory_equal(p, file, n * ZPT_PAGE);
	assert_int_equal(zpt_pinned_frames(), 2);
	/* Pages 0-1 still pinned, 2-3 free to go. */
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), -EBUSY);
	assert_int_equal(zpt_resident(p, n * ZPT_PAGE), 2);
	k_mem_unpin(p, 2 * ZPT_PAGE);
	assert_int_equal(zpt_pinned_frames(), 0);
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	assert_memory_equal(p, file, n * ZPT_PAGE);
	close(fd);
	free(file);
	k_mem_unmap(p, n * ZPT_PAGE);
}

/* ---- Raw system calls: served, or EFAULT and nothing lost ---------------- */

static void raw_syscalls_served(void **state)
{
	(void)state;
	need_served();
	const size_t n = 3;
	uint8_t *p = paged_out(n, 10);
	uint8_t *want = pattern(n, 10, 0);
	int fds[2];
	make_pipe(fds);
	unsigned long f0 = my_faults();
	assert_int_equal(raw_write(fds[1], p, n * ZPT_PAGE), (ssize_t)(n * ZPT_PAGE));
	assert_int_equal(my_faults() - f0, n);
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	uint8_t *got = malloc(n * ZPT_PAGE);
	assert_non_null(got);
	size_t done = 0;
	while (done < n * ZPT_PAGE) {
		ssize_t r = raw_read(fds[0], got + done, n * ZPT_PAGE - done);
		assert_true(r > 0);
		done += (size_t)r;
	}
	assert_memory_equal(got, want, n * ZPT_PAGE);
	close(fds[0]);
	close(fds[1]);
	free(got);
	free(want);
	k_mem_unmap(p, n * ZPT_PAGE);
}

static void raw_read_pipe_efault_then_page_in(void **state)
{
	(void)state;
	need_unserved();
	uint8_t *p = paged_out(2, 11);
	uint8_t *want = pattern(2, 11, 0);
	char msg[1000];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('A' + i % 26);
	int fds[2];
	make_pipe(fds);
	assert_int_equal(write(fds[1], msg, sizeof(msg)), (ssize_t)sizeof(msg));

	errno = 0;
	assert_int_equal(raw_read(fds[0], p + 100, sizeof(msg)), -1);
	assert_int_equal(errno, EFAULT);
	/* Nothing was consumed, nothing was loaded. */
	assert_int_equal(zpt_resident(p, 2 * ZPT_PAGE), 0);

	k_mem_page_in(p, ZPT_PAGE);
	assert_int_equal(raw_read(fds[0], p + 100, sizeof(msg)), (ssize_t)sizeof(msg));
	memcpy(want + 100, msg, sizeof(msg));
	assert_memory_equal(p, want, 2 * ZPT_PAGE);
	close(fds[0]);
	close(fds[1]);
	free(want);
	k_mem_unmap(p, 2 * ZPT_PAGE);
}

static void raw_pread_efault_then_pin(void **state)
{
	(void)state;
	need_unserved();
	const size_t n = 4;
	uint8_t *p = paged_out(n, 12);
	uint8_t *want = pattern(n, 12, 0);
	uint8_t *file = pattern(n, 98, 0);
	int fd = memfd_with(file, n * ZPT_PAGE);

	errno = 0;
	assert_int_equal(raw_pread(fd, p + 64, 3 * ZPT_PAGE, 0), -1);
	assert_int_equal(errno, EFAULT);
	/* A never-touched page fails the same way. */
	uint8_t *fresh = k_mem_map(ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(fresh);
	errno = 0;
	assert_int_equal(raw_pread(fd, fresh, ZPT_PAGE, 0), -1);
	assert_int_equal(errno, EFAULT);

	k_mem_pin(p, n * ZPT_PAGE);
	k_mem_pin(fresh, ZPT_PAGE);
	assert_int_equal(raw_pread(fd, p + 64, 3 * ZPT_PAGE, 0),
			 (ssize_t)(3 * ZPT_PAGE));
	assert_int_equal(raw_pread(fd, fresh, ZPT_PAGE, ZPT_PAGE),
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

static void raw_write_efault_then_page_in(void **state)
{
	(void)state;
	need_unserved();
	const size_t n = 2;
	uint8_t *p = paged_out(n, 13);
	uint8_t *want = pattern(n, 13, 0);
	int fds[2];
	make_pipe(fds);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);

	errno = 0;
	assert_int_equal(raw_write(fds[1], p, n * ZPT_PAGE), -1);
	assert_int_equal(errno, EFAULT);
	/* Nothing reached the pipe. */
	char c;
	errno = 0;
	assert_int_equal(read(fds[0], &c, 1), -1);
	assert_int_equal(errno, EAGAIN);

	k_mem_page_in(p, n * ZPT_PAGE);
	assert_int_equal(raw_write(fds[1], p, n * ZPT_PAGE), (ssize_t)(n * ZPT_PAGE));
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

static void touches_page_in_normally(void **state)
{
	(void)state;
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
		T(read_pipe_into_paged_out),
		T(write_pipe_from_paged_out),
		T(pread_spanning_pages),
		T(never_touched),
		T(syscalls_under_pressure),
		T(pipe_read_in_parts),
		T(vectors_and_sockets),
		T(stdio_large_transfers),
		T(pins_survive_system_calls),
		T(raw_syscalls_served),
		T(raw_read_pipe_efault_then_page_in),
		T(raw_pread_efault_then_pin),
		T(raw_write_efault_then_page_in),
		T(touches_page_in_normally),
		T(backed_store_syscall_after_page_in),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
