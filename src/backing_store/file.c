/*
 * File store: file:PATH[,direct][,nokeep]. Pages live in slots of a sparse
 * file (slot * 4 KiB), or of a block device.
 *
 *   PATH     a directory: an unnamed file in it (O_TMPFILE), gone when
 *            the process ends (no PATH: $TMPDIR, else /var/tmp); a
 *            file: created, or used if it is empty (a file with contents
 *            is refused, never overwritten); a block device: used from
 *            its start, the store full at its end
 *   direct   O_DIRECT: the host's page cache is bypassed (pages are read
 *            and written from page-aligned buffers, as it needs)
 *   nokeep   a paged-in page gives up its slot (by default it keeps it,
 *            so evicting it again unwritten costs no I/O)
 *
 * Freed slots are given back to the file system by punching holes. Each
 * page's checksum is kept in memory and checked on every read. Reads and
 * single writes are plain pread/pwrite system calls (safe in the signal
 * handler that serves a fault), looping over short transfers; an
 * eviction's batch of writes goes to io_uring (liburing) at once, all in
 * flight together, where the kernel allows it (else one pwrite each).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "store.h"

#include "../arch/linux/uring.h"

static char path[256];
static bool direct, keep = true;
static int fd = -1;
static bool punch = true;      /* the file system punches holes */
static size_t device_slots;    /* a block device's size in pages, or 0 */
static uint32_t *sums;         /* checksum per slot */
static size_t sums_bytes;

static bool take_option(char *spec, const char *opt)
{
	size_t n = strlen(spec), m = strlen(opt);

	if (n <= m + 1 || spec[n - m - 1] != ',' || strcmp(spec + n - m, opt))
		return false;
	spec[n - m - 1] = '\0';
	return true;
}

static int file_configure(const char *arg)
{
	if (arg == NULL) {
		/* /tmp is often memory (tmpfs): no place to page to. */
		arg = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/var/tmp";
	}
	if (*arg == '\0' || strlen(arg) >= sizeof(path)) {
		zp_error("file store path '%s' is empty or too long: "
			 "file:PATH[,direct][,nokeep] (a directory, an empty "
			 "file or a block device)", arg);
		return -EINVAL;
	}
	strcpy(path, arg);
	direct = false;
	keep = true;
	for (bool more = true; more;) {
		more = false;
		if (take_option(path, "direct"))
			more = direct = true;
		if (take_option(path, "nokeep")) {
			keep = false;
			more = true;
		}
	}
	return 0;
}

static bool file_keeps_copies(void)
{
	return keep;
}

static void file_close(void)
{
	if (fd >= 0)
		close(fd);
	fd = -1;
	zp_port_table_free(sums, sums_bytes);
	sums = NULL;
}

static int open_path(void)
{
	int flags = O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0);
	struct stat st;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return open(path, flags | O_TMPFILE, 0600);
	int f = open(path, flags | O_CREAT, 0600);
	if (f < 0)
		return -1;
	if (fstat(f, &st) == 0 && S_ISREG(st.st_mode) && st.st_size != 0) {
		close(f);
		errno = EEXIST;
		return -1;
	}
	return f;
}

static int file_open(size_t slots)
{
	file_close();
	fd = open_path();
	if (fd < 0) {
		int e = errno;
		zp_error("file store: cannot use '%s': %s%s", path, strerror(e),
			 e == EEXIST ? " (it has contents: remove it, or name "
				       "a directory for an unnamed file)" : "");
		return -e;
	}
	/* A block device holds what it holds: slots past its end are
	 * refused (the store is full there). */
	struct stat st;
	uint64_t bytes = 0;
	device_slots = 0;
	if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) &&
	    ioctl(fd, BLKGETSIZE64, &bytes) == 0)
		device_slots = (size_t)(bytes / ZP_PAGE_SIZE);
	sums_bytes = slots * sizeof(*sums);
	sums = zp_port_table_alloc(sums_bytes);
	if (sums == NULL) {
		file_close();
		return -ENOMEM;
	}
	punch = true;
	return 0;
}

/* One page to or from the file, however many calls it takes. */
static int transfer(enum zp_io_op op, void *buf, uintptr_t off)
{
	uint8_t *p = buf;

	for (size_t done = 0; done < ZP_PAGE_SIZE;) {
		size_t len = ZP_PAGE_SIZE - done;
		int r = zp_io_fault(op, &len);
		if (r != 0)
			return r;
		/* O_DIRECT moves whole sectors: a short transfer is retried
		 * from the page start. */
		size_t at = direct ? 0 : done;
		len = direct ? ZP_PAGE_SIZE : len;
		long n = op == ZP_IO_READ
				 ? syscall(SYS_pread64, fd, p + at, len, off + at)
				 : syscall(SYS_pwrite64, fd, p + at, len, off + at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return op == ZP_IO_READ ? -EIO : -ENOSPC;
		done = direct ? (n == (long)ZP_PAGE_SIZE ? ZP_PAGE_SIZE : 0)
			      : done + (size_t)n;
	}
	return 0;
}

static int file_prepare(size_t slot)
{
	return device_slots != 0 && slot >= device_slots ? -ENOMEM : 0;
}

static int file_read_page(uintptr_t loc, void *scratch, const void **page)
{
	int r = transfer(ZP_IO_READ, scratch, loc);

	if (r != 0) {
		zp_debug("file store: reading slot %lu failed (error %d)",
			 (unsigned long)(loc / ZP_PAGE_SIZE), r);
		return r;
	}
	zp_io_received(scratch, ZP_PAGE_SIZE);
	if (zp_page_checksum(scratch) != sums[loc / ZP_PAGE_SIZE]) {
		zp_debug("file store: slot %lu fails its checksum",
			 (unsigned long)(loc / ZP_PAGE_SIZE));
		return -EBADMSG;
	}
	*page = scratch;
	return 0;
}

/* After writing data to loc with result r: its checksum, or a message. */
static int written(uintptr_t loc, const void *data, int r)
{
	if (r == 0)
		sums[loc / ZP_PAGE_SIZE] = zp_page_checksum(data);
	else
		zp_debug("file store: writing slot %lu failed (error %d)",
			 (unsigned long)(loc / ZP_PAGE_SIZE), r);
	return r;
}

static int file_write_page(uintptr_t loc, const void *data)
{
	/* pwrite reads the buffer: it is never written to. */
	return written(loc, data,
		       transfer(ZP_IO_WRITE, (void *)(uintptr_t)data, loc));
}

/* An eviction's batch: all in flight together where io_uring can, the
 * rest (and short completions) with pwrite. */
static void file_write_pages(const uintptr_t *loc, const void *const *data,
			     size_t n, int *result)
{
	for (size_t done = 0; done < n;) {
		size_t m = n - done < 64 ? n - done : 64, len[64];
		uint64_t off[64];
		int *res = result + done;
		for (size_t i = 0; i < m; i++) {
			len[i] = ZP_PAGE_SIZE;
			res[i] = zp_io_fault(ZP_IO_WRITE, &len[i]);
			if (direct)
				len[i] = ZP_PAGE_SIZE;
			if (res[i] == 0)
				res[i] = 1; /* to write */
			off[i] = loc[done + i];
		}
		zp_uring_write(fd, data + done, off, len, m, res);
		/* Not written (1), or written short on purpose (an injected
		 * fault): the whole page with pwrite. */
		for (size_t i = 0; i < m; i++)
			if (res[i] == 1 || (res[i] == 0 && len[i] != ZP_PAGE_SIZE))
				res[i] = transfer(ZP_IO_WRITE,
						  (void *)(uintptr_t)data[done + i],
						  loc[done + i]);
		done += m;
	}
	for (size_t i = 0; i < n; i++)
		written(loc[i], data[i], result[i]);
}

static void file_discard(uintptr_t loc)
{
	if (punch && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       (off_t)loc, ZP_PAGE_SIZE) != 0)
		punch = false; /* not supported here: the slot is reused */
}

const struct zp_store_ops zp_store_file = {
	.name = "file",
	.configure = file_configure,
	.keeps_copies = file_keeps_copies,
	.open = file_open,
	.close = file_close,
	.prepare = file_prepare,
	.read_page = file_read_page,
	.write_page = file_write_page,
	.write_pages = file_write_pages,
	.discard = file_discard,
};
