/*
 * Linux port: shared state of its files.
 *
 * The library's region is one MAP_SHARED mapping of a sparse memfd, page for
 * page (offset = address - base). The page cache page of an offset is the
 * page's contents; a page frame is a unit of that memory budget. The paging
 * area is registered with userfaultfd for MISSING faults (no contents),
 * MINOR faults (contents kept after MADV_DONTNEED: accessed-bit sampling)
 * and write-protect faults (dirty tracking).
 */
#ifndef ZPAGE_LINUX_H
#define ZPAGE_LINUX_H

#include <linux/userfaultfd.h>
#include <stdbool.h>
#include <stdint.h>

#include "../arch.h"

/* Newer than some installed headers. */
#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

#pragma GCC visibility push(hidden)

#define LX_MAX_HANDLERS 64
#define LX_PAGE 4096
#define HUGE_BYTES ((size_t)2 << 20) /* a transparent huge page */

struct lx_state {
	int memfd;
	int uffd;
	int pagemap_fd;     /* /proc/self/pagemap: which pages are mapped */
	int stop_fd;        /* eventfd that ends the handler threads */
	uint8_t *base;
	size_t size;
	size_t ram;
	uint64_t reg_modes; /* UFFDIO_REGISTER_MODE_* of the paging area */
	unsigned nhandlers;
	void *handlers[LX_MAX_HANDLERS];
	int handler_ep[LX_MAX_HANDLERS]; /* each handler's epoll set */
	unsigned wanted_handlers;
	bool signal_delivery; /* faults arrive as SIGBUS on their own thread */
	bool user_only;       /* faults inside system calls are not reported */
};

extern struct lx_state lx __attribute__((visibility("hidden")));

int lx_uffd_open(struct zp_port_info *info, enum zp_delivery delivery,
		 enum zp_access access) __attribute__((visibility("hidden")));
int lx_register(uint8_t *addr, size_t len) __attribute__((visibility("hidden")));
void lx_handlers_stop(void) __attribute__((visibility("hidden")));
/* Signal delivery: install / remove the SIGBUS handler. */
int lx_sigbus_install(void) __attribute__((visibility("hidden")));
void lx_sigbus_remove(void) __attribute__((visibility("hidden")));
/* Die of SIGBUS on this thread (a fault that cannot be served). */
_Noreturn void lx_sigbus_die(void) __attribute__((visibility("hidden")));
/* Turn the system-call fallback (syscalls.c) on for the paging area
 * [lo, hi), or off (NULL, NULL). */
void lx_guard_set(uint8_t *lo, uint8_t *hi) __attribute__((visibility("hidden")));
void lx_error(const char *fmt, ...) __attribute__((visibility("hidden")))
	__attribute__((format(printf, 1, 2)));

#pragma GCC visibility pop

#endif
