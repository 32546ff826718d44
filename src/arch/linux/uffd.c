/*
 * userfaultfd: getting a descriptor with the features zpage needs, and the
 * fault-handler threads that read it.
 *
 * Who may use userfaultfd: a process with CAP_SYS_PTRACE, or read/write
 * access to /dev/userfaultfd, gets one that reports every fault, also those
 * the kernel takes while copying to or from user memory in a system call.
 * Any other process (vm.unprivileged_userfaultfd = 0) gets only a
 * user-mode-only descriptor: faults inside system calls then fail with
 * EFAULT. We try in that order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "linux.h"

static int open_uffd(int flags)
{
	int fd = (int)syscall(SYS_userfaultfd, flags);

	if (fd >= 0 || (errno != EPERM && errno != EACCES))
		return fd;
	/* /dev/userfaultfd: access decided by file permissions. */
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
		close(dev);
		if (fd >= 0)
			return fd;
	}
	errno = EPERM;
	return -1;
}

/* UFFDIO_API may be called once per descriptor: probe on a throw-away one. */
static int probe_features(int flags, uint64_t *features)
{
	int fd = open_uffd(flags);
	if (fd < 0)
		return -errno;
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	int r = ioctl(fd, UFFDIO_API, &api) == 0 ? 0 : -errno;
	close(fd);
	*features = api.features;
	return r;
}

int lx_uffd_open(struct zp_port_info *info, enum zp_delivery delivery,
		 enum zp_access access)
{
	int base_flags = O_CLOEXEC | O_NONBLOCK;
	int flags = base_flags;
	uint64_t avail = 0;
	int r = probe_features(flags, &avail);

	info->mode = ZP_PORT_FULL;
	if (r == -EPERM || r == -EACCES) {
		flags = base_flags | UFFD_USER_MODE_ONLY;
		info->mode = ZP_PORT_USER_ONLY;
		r = probe_features(flags, &avail);
	}
	if (r != 0) {
		lx_error("userfaultfd is not available to this "
				    "process (%s): demand paging is impossible "
				    "(needs Linux >= 5.11 with CONFIG_USERFAULTFD, "
				    "and no seccomp filter against it)",
				    strerror(-r));
		return -ENOSYS;
	}
	if (!(avail & UFFD_FEATURE_MISSING_SHMEM)) {
		lx_error("userfaultfd cannot handle shared memory on "
				    "this kernel (UFFD_FEATURE_MISSING_SHMEM): "
				    "demand paging is impossible");
		return -ENOSYS;
	}
	/* The faulting thread serves its own fault where the kernel can tell
	 * it so (no hand-off: about half the cost per fault), with the
	 * system-call fallback of syscalls.c; handler threads otherwise. */
	if (delivery == ZP_DELIVERY_AUTO)
		delivery = (avail & UFFD_FEATURE_SIGBUS) ? ZP_DELIVERY_SIGNAL
							 : ZP_DELIVERY_THREAD;
	if (delivery == ZP_DELIVERY_SIGNAL && !(avail & UFFD_FEATURE_SIGBUS)) {
		lx_error("this kernel cannot deliver faults as SIGBUS "
			 "(UFFD_FEATURE_SIGBUS): use ZPAGE_FAULT_MODE=thread");
		return -ENOSYS;
	}
	info->delivery = delivery;
	uint64_t want = UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_MINOR_SHMEM |
			UFFD_FEATURE_WP_HUGETLBFS_SHMEM | UFFD_FEATURE_THREAD_ID |
			(delivery == ZP_DELIVERY_SIGNAL ? UFFD_FEATURE_SIGBUS : 0);
	int fd = open_uffd(flags);
	if (fd < 0)
		return -ENOSYS;
	struct uffdio_api api = { .api = UFFD_API, .features = want & avail };
	if (ioctl(fd, UFFDIO_API, &api) != 0) {
		close(fd);
		lx_error("UFFDIO_API failed: %s", strerror(errno));
		return -ENOSYS;
	}
	lx.uffd = fd;
	lx.user_only = info->mode == ZP_PORT_USER_ONLY;
	info->write_protect = (api.features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM) != 0;
	/* Accessed bits: where writes can be stopped on unmapped pages too
	 * (write-protect markers on shared memory, Linux 5.19) and page
	 * presence can be read, the kernel maps a cleared page back by itself
	 * (about 1.7 us against 8 for a reported minor fault here) and the
	 * core reads which pages it mapped. Otherwise minor faults report
	 * the touches. */
	bool can_map = info->write_protect && lx.pagemap_fd >= 0;
	if (access == ZP_ACCESS_AUTO)
		access = can_map ? ZP_ACCESS_MAPPED : ZP_ACCESS_FAULT;
	if (access == ZP_ACCESS_MAPPED && !can_map) {
		lx_error("ZPAGE_ACCESS_TRACKING=mapped needs write protection of "
			 "shared memory (Linux 5.19) and /proc/self/pagemap");
		close(fd);
		lx.uffd = -1;
		return -EINVAL;
	}
	info->mapped = access == ZP_ACCESS_MAPPED;
	info->minor = access == ZP_ACCESS_FAULT &&
		      (api.features & UFFD_FEATURE_MINOR_SHMEM) != 0;
	lx.reg_modes = UFFDIO_REGISTER_MODE_MISSING |
		       (info->minor ? UFFDIO_REGISTER_MODE_MINOR : 0) |
		       (info->write_protect ? UFFDIO_REGISTER_MODE_WP : 0);
	return 0;
}

int lx_register(uint8_t *addr, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = lx.reg_modes,
	};
	if (ioctl(lx.uffd, UFFDIO_REGISTER, &reg) != 0)
		return -errno;
	uint64_t need = (uint64_t)1 << _UFFDIO_COPY | (uint64_t)1 << _UFFDIO_WAKE;
	if (lx.reg_modes & UFFDIO_REGISTER_MODE_MINOR)
		need |= (uint64_t)1 << _UFFDIO_CONTINUE;
	if (lx.reg_modes & UFFDIO_REGISTER_MODE_WP)
		need |= (uint64_t)1 << _UFFDIO_WRITEPROTECT;
	return (reg.ioctls & need) == need ? 0 : -ENOSYS;
}

static void serve(const struct uffd_msg *m)
{
	if (m->event != UFFD_EVENT_PAGEFAULT)
		return;
	uint64_t flags = m->arg.pagefault.flags;
	enum zp_fault_kind kind = ZP_FAULT_MISSING;

	if (flags & UFFD_PAGEFAULT_FLAG_WP)
		kind = ZP_FAULT_WP;
	else if (flags & UFFD_PAGEFAULT_FLAG_MINOR)
		kind = ZP_FAULT_MINOR;
	uint8_t *addr = (uint8_t *)(uintptr_t)(m->arg.pagefault.address &
					       ~(uint64_t)(LX_PAGE - 1));
	zp_fault(addr, kind, (flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0,
		 (long)m->arg.pagefault.feat.ptid);
}

/* A handler sleeps in its own epoll set, where the userfaultfd is added
 * with EPOLLEXCLUSIVE: a fault wakes one handler, not every one (with a
 * shared poll() all of them woke for each fault and all but one read
 * nothing, two wasted system calls and a context switch each). The stop
 * eventfd is added plainly, so it wakes them all. Per fault: epoll_wait,
 * read, UFFDIO_COPY. */
static void *handler(void *arg)
{
	int ep = (int)(intptr_t)arg;
	struct uffd_msg msgs[16];
	struct epoll_event ev[2];

	for (;;) {
		int k = epoll_wait(ep, ev, 2, -1);
		if (k < 0 && errno != EINTR)
			lx_error("waiting on userfaultfd failed: %s", strerror(errno));
		for (int i = 0; i < k; i++)
			if (ev[i].data.fd == lx.stop_fd)
				return NULL;
		ssize_t n;
		while ((n = read(lx.uffd, msgs, sizeof(msgs))) > 0) {
			for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]); i++)
				serve(&msgs[i]);
			if ((size_t)n < sizeof(msgs))
				break; /* the queue was drained */
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			lx_error("reading userfaultfd failed: %s", strerror(errno));
	}
}

/* A handler's epoll set: the userfaultfd (exclusive) and the stop eventfd. */
static int handler_epoll(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event fault = { .events = EPOLLIN | EPOLLEXCLUSIVE,
				     .data.fd = lx.uffd };
	struct epoll_event stop = { .events = EPOLLIN, .data.fd = lx.stop_fd };

	if (ep < 0)
		return -errno;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lx.uffd, &fault) != 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, lx.stop_fd, &stop) != 0) {
		int r = -errno;
		close(ep);
		return r;
	}
	return ep;
}

int zp_port_start(void)
{
	/* Where the kernel's own faults are not served, system calls get
	 * their buffers brought in first. */
	if (lx.signal_delivery || lx.user_only)
		lx_guard_set(lx.base + lx.ram, lx.base + lx.size);
	if (lx.signal_delivery)
		return lx_sigbus_install();
	lx.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (lx.stop_fd < 0)
		return -errno;
	for (unsigned i = 0; i < lx.wanted_handlers; i++) {
		int ep = handler_epoll();
		if (ep < 0)
			return ep;
		int r = zp_port_thread_start(&lx.handlers[i], handler,
					     (void *)(intptr_t)ep);
		if (r != 0) {
			close(ep);
			return r;
		}
		lx.handler_ep[lx.nhandlers++] = ep;
	}
	return 0;
}

void lx_handlers_stop(void)
{
	lx_guard_set(NULL, NULL);
	if (lx.signal_delivery)
		lx_sigbus_remove();
	if (lx.stop_fd < 0)
		return;
	uint64_t one = 1;
	if (write(lx.stop_fd, &one, sizeof(one)) != sizeof(one))
		lx_error("cannot stop the fault handlers");
	for (unsigned i = 0; i < lx.nhandlers; i++) {
		zp_port_thread_join(lx.handlers[i]);
		close(lx.handler_ep[i]);
	}
	lx.nhandlers = 0;
	close(lx.stop_fd);
	lx.stop_fd = -1;
}
