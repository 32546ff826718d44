/*
 * The region and the page operations of the port contract.
 *
 * Costs measured on the 2-vCPU VM (us): UFFDIO_COPY 2.8-3.4, UFFDIO_CONTINUE
 * 2.0, MADV_DONTNEED of one page 8 (a TLB flush), process_madvise over
 * scattered pages 0.8-5 per page, pread of a page 2.1, punching an unmapped
 * page 3.7 (10.5 if still mapped: zap before discarding).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "linux.h"
#include "uring.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define LX_INIT { .memfd = -1, .uffd = -1, .stop_fd = -1, .pagemap_fd = -1 }
struct lx_state lx = LX_INIT;

static const uint8_t zero_page[LX_PAGE] __attribute__((aligned(LX_PAGE)));

static off_t offset_of(const uint8_t *addr)
{
	return (off_t)(addr - lx.base);
}

static int os_prot(int prot)
{
	return ((prot & ZP_PROT_READ) ? PROT_READ : 0) |
	       ((prot & ZP_PROT_WRITE) ? PROT_WRITE : 0) |
	       ((prot & ZP_PROT_EXEC) ? PROT_EXEC : 0);
}

static int create_memfd(size_t size)
{
	/* MFD_EXEC keeps K_MEM_PERM_EXEC working where vm.memfd_noexec would
	 * seal new memfds against execution; older kernels reject the flag. */
	int fd = memfd_create("zpage", MFD_CLOEXEC | MFD_EXEC);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("zpage", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* Close every descriptor and forget the region (unmapping it if asked). */
static void release_all(bool unmap)
{
	lx_guard_set(NULL, NULL);
	if (unmap && lx.base != NULL)
		munmap(lx.base, lx.size);
	int fds[] = { lx.uffd, lx.memfd, lx.stop_fd, lx.pagemap_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* Still open only where the threads were not stopped (a forked
	 * child, which has none of them). */
	for (unsigned i = 0; i < lx.nhandlers; i++)
		close(lx.handler_ep[i]);
	lx = (struct lx_state)LX_INIT;
}

int zp_port_init(const struct zp_port_params *p, struct zp_port_info *info)
{
	memset(info, 0, sizeof(*info));
	lx.pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int r = lx_uffd_open(info, p->delivery, p->access);
	if (r != 0) {
		release_all(true);
		return r;
	}
	lx.signal_delivery = info->delivery == ZP_DELIVERY_SIGNAL;
	r = create_memfd(p->vm_size);
	if (r < 0) {
		lx_error("cannot create the memory object (%s)", strerror(-r));
		release_all(true);
		return r;
	}
	lx.memfd = r;
	void *base = mmap(NULL, p->vm_size, PROT_NONE, MAP_SHARED | MAP_NORESERVE,
			  lx.memfd, 0);
	if (base == MAP_FAILED) {
		r = -errno;
		lx_error("cannot reserve %zu bytes of address space (%s)",
			 p->vm_size, strerror(errno));
		release_all(true);
		return r;
	}
	lx.base = base;
	lx.size = p->vm_size;
	lx.ram = p->ram_size;
	lx.wanted_handlers = p->handlers > LX_MAX_HANDLERS ? LX_MAX_HANDLERS
							   : p->handlers;
	/* A forked child gets no copy: touching library memory there is a
	 * clean SIGSEGV instead of silently reading zeros. */
	madvise(lx.base, lx.size, MADV_DONTFORK);
	if (mprotect(lx.base, lx.ram, PROT_READ | PROT_WRITE) != 0 ||
	    (r = lx_register(lx.base + lx.ram, lx.size - lx.ram)) != 0) {
		if (r == 0)
			r = -errno;
		lx_error("cannot set up demand paging on the region (%s)",
			 strerror(-r));
		release_all(true);
		return r == -ENOSYS ? r : -ENOSYS;
	}
	info->base = lx.base;
	return 0;
}

void zp_port_shutdown(void)
{
	lx_handlers_stop();
	release_all(true);
	zp_uring_close();
}

void zp_port_forget(void)
{
	/* In a forked child: the descriptors are copies, and the region was
	 * not inherited (MADV_DONTFORK). */
	release_all(false);
	zp_uring_forget();
}

void *zp_port_table_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void *zp_port_table_alloc_committed(size_t bytes)
{
	/* Aligned to huge pages where it is large enough for them: fewer TLB
	 * misses when pages are copied in and out. */
	size_t align = bytes >= HUGE_BYTES ? HUGE_BYTES : LX_PAGE;
	uint8_t *p = mmap(NULL, bytes + align - LX_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uint8_t *start = (uint8_t *)(((uintptr_t)p + align - 1) & ~(align - 1));
	if (start > p)
		munmap(p, (size_t)(start - p));
	uint8_t *end = start + bytes, *map_end = p + bytes + align - LX_PAGE;
	if (map_end > end)
		munmap(end, (size_t)(map_end - end));
	if (align == HUGE_BYTES)
		madvise(start, bytes, MADV_HUGEPAGE);
	madvise(start, bytes, MADV_POPULATE_WRITE); /* best effort */
	return start;
}

void zp_port_table_free(void *p, size_t bytes)
{
	if (p != NULL)
		munmap(p, bytes);
}

int zp_port_protect(uint8_t *addr, size_t len, int prot)
{
	return mprotect(addr, len, os_prot(prot)) == 0 ? 0 : -errno;
}

int zp_port_map_phys(uint8_t *addr, size_t len, int prot, int handle,
		     uint64_t offset)
{
	int fd = handle >= 0 ? handle : lx.memfd;
	void *p = mmap(addr, len, os_prot(prot), MAP_SHARED | MAP_FIXED, fd,
		       (off_t)offset);
	if (p == MAP_FAILED)
		return -errno;
	madvise(addr, len, MADV_DONTFORK);
	return 0;
}

int zp_port_unmap_phys(uint8_t *addr, size_t len)
{
	void *p = mmap(addr, len, PROT_NONE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
		       lx.memfd, offset_of(addr));
	if (p == MAP_FAILED)
		return -errno;
	madvise(addr, len, MADV_DONTFORK);
	return lx_register(addr, len);
}

int zp_port_dup_handle(int fd)
{
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return h >= 0 ? h : -EBADF;
}

int zp_port_open_unbuffered(int fd)
{
	char path[64];
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -EBADF;
	/* A file description of its own: O_DIRECT on a duplicate would
	 * change the program's descriptor too. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int h = open(path, (flags & O_ACCMODE) | O_DIRECT | O_CLOEXEC);
	return h >= 0 ? h : zp_port_dup_handle(fd);
}

void zp_port_close_handle(int handle)
{
	close(handle);
}

int zp_port_fill(uint8_t *addr, const void *src, bool wp, bool wake)
{
	struct uffdio_copy c = {
		.dst = (uintptr_t)addr,
		.src = (uintptr_t)(src != NULL ? src : zero_page),
		.len = LX_PAGE,
		.mode = (wp ? UFFDIO_COPY_MODE_WP : 0) |
			(wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE),
	};
	while (ioctl(lx.uffd, UFFDIO_COPY, &c) != 0) {
		if (errno == EEXIST)
			return -EEXIST;
		if (errno != EAGAIN)
			return -errno;
		c.copy = 0; /* the address space changed under us: retry */
	}
	return 0;
}

int zp_port_remap(uint8_t *addr, bool wp)
{
	struct uffdio_continue c = {
		.range = { .start = (uintptr_t)addr, .len = LX_PAGE },
		.mode = wp ? UFFDIO_CONTINUE_MODE_WP : 0,
	};
	while (ioctl(lx.uffd, UFFDIO_CONTINUE, &c) != 0) {
		if (errno == EEXIST)
			return zp_port_wake(addr);
		if (errno != EAGAIN)
			return -errno;
	}
	return 0;
}

int zp_port_wake(uint8_t *addr)
{
	struct uffdio_range r = { .start = (uintptr_t)addr, .len = LX_PAGE };
	return ioctl(lx.uffd, UFFDIO_WAKE, &r) == 0 ? 0 : -errno;
}

static int write_protect(uint8_t *addr, size_t len, bool on)
{
	struct uffdio_writeprotect w = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};
	while (ioctl(lx.uffd, UFFDIO_WRITEPROTECT, &w) != 0) {
		if (errno != EAGAIN)
			return -errno;
	}
	return 0;
}

int zp_port_set_wp(uint8_t *addr, bool on)
{
	return write_protect(addr, LX_PAGE, on);
}

int zp_port_wp_range(uint8_t *addr, size_t len)
{
	/* On shared memory the kernel keeps a marker where nothing is
	 * mapped: a page it maps back later is write-protected too. */
	return write_protect(addr, len, true);
}

int zp_port_zap_range(uint8_t *addr, size_t len)
{
	return madvise(addr, len, MADV_DONTNEED) == 0 ? 0 : -errno;
}

#define PAGEMAP_PRESENT ((uint64_t)1 << 63)
#define PAGEMAP_CHUNK 512

int zp_port_mapped(uint8_t *addr, size_t n, uint64_t *bits)
{
	/* Kept off the stack: this may run in a fault handler on a small
	 * signal stack. */
	static _Thread_local uint64_t entry[PAGEMAP_CHUNK];

	memset(bits, 0, (n + 63) / 64 * sizeof(*bits));
	for (size_t done = 0; done < n;) {
		size_t k = n - done < PAGEMAP_CHUNK ? n - done : PAGEMAP_CHUNK;
		off_t at = (off_t)(((uintptr_t)addr / LX_PAGE + done) * sizeof(entry[0]));
		ssize_t got = pread(lx.pagemap_fd, entry, k * sizeof(entry[0]), at);
		if (got != (ssize_t)(k * sizeof(entry[0])))
			return got < 0 ? -errno : -EIO;
		for (size_t i = 0; i < k; i++)
			if (entry[i] & PAGEMAP_PRESENT)
				bits[(done + i) / 64] |= (uint64_t)1 << ((done + i) % 64);
		done += k;
	}
	return 0;
}

int zp_port_read_range(uint8_t *addr, size_t len, void *dst)
{
	ssize_t n = pread(lx.memfd, dst, len, offset_of(addr));
	return n == (ssize_t)len ? 0 : -EIO;
}

int zp_port_read(uint8_t *addr, void *dst)
{
	ssize_t n = pread(lx.memfd, dst, LX_PAGE, offset_of(addr));
	return n == LX_PAGE ? 0 : -EIO;
}

int zp_port_discard(uint8_t *addr, size_t len)
{
	if (fallocate(lx.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      offset_of(addr), (off_t)len) != 0)
		return -errno;
	return 0;
}

bool zp_port_has_contents(uint8_t *addr)
{
	unsigned char v = 0;
	return mincore(addr, LX_PAGE, &v) == 0 && (v & 1);
}

void zp_port_fault_fail(long tid, uint8_t *addr)
{
	if (tid == ZP_TID_SELF)
		lx_sigbus_die();
	if (tid <= 0) {
		lx_error("the faulting thread is unknown: stopping the process");
		zp_port_abort();
	}
	syscall(SYS_tgkill, getpid(), (pid_t)tid, SIGBUS);
	zp_port_wake(addr);
}
