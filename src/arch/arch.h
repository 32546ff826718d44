/*
 * The port contract: everything the portable core needs from the operating
 * system. One implementation per host under src/arch/<host>/.
 *
 * Model. The port reserves one virtual region at start-up:
 *
 *   base                     base + ram_size                     base + size
 *   | permanent RAM mapping  | paging area: k_mem_map() regions, guard pages,
 *   | (frame pool, pinned)   | z_phys_map() windows, unused space
 *
 * Every page of the paging area starts inaccessible (touching it is a wild
 * access). The core makes ranges accessible, and the port then reports each
 * touch of a page that is not mapped in through zp_fault(); the core answers
 * with one of the page operations below. A page's contents can exist without
 * being mapped (after zp_port_zap_range()): the port keeps them until
 * zp_port_discard().
 *
 * All functions return 0 or a negative errno; addresses are page-aligned.
 */
#ifndef ZPAGE_ARCH_H
#define ZPAGE_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Everything declared here is internal to the library. */
#pragma GCC visibility push(hidden)

#define ZP_PROT_NONE 0
#define ZP_PROT_READ 1
#define ZP_PROT_WRITE 2
#define ZP_PROT_EXEC 4

/* Why a page fault was reported. */
enum zp_fault_kind {
	ZP_FAULT_MISSING, /* no contents: load the page */
	ZP_FAULT_MINOR,   /* contents kept after a zap: map them back */
	ZP_FAULT_WP,      /* write to a write-protected page */
	ZP_FAULT_UNKNOWN, /* not told (signal delivery): the page state says */
};

enum zp_port_mode {
	ZP_PORT_FULL = 1,    /* every fault, including inside system calls */
	ZP_PORT_USER_ONLY,   /* faults inside system calls fail with EFAULT */
};

/* Which thread serves a fault. */
enum zp_delivery {
	ZP_DELIVERY_AUTO = 0, /* thread if faults in system calls can be
				 served that way, else signal */
	ZP_DELIVERY_THREAD,   /* fault-handler threads; the faulting thread
				 sleeps meanwhile */
	ZP_DELIVERY_SIGNAL,   /* the faulting thread itself, in a signal
				 handler; faults inside system calls fail */
};

/* How the touch of a page unmapped by zp_port_zap_range() is observed. */
enum zp_access {
	ZP_ACCESS_AUTO = 0, /* MAPPED where the host can, else FAULT */
	ZP_ACCESS_MAPPED,   /* the host maps the page back itself (no fault
			       reaches the core); zp_port_mapped() tells which
			       pages were mapped again since */
	ZP_ACCESS_FAULT,    /* the touch is reported (ZP_FAULT_MINOR) and
			       waits for zp_port_remap() */
};

struct zp_port_params {
	size_t vm_size;      /* bytes of virtual space to reserve */
	size_t ram_size;     /* bytes of permanent RAM mapping at its start */
	unsigned handlers;   /* fault-handler threads (thread delivery) */
	enum zp_delivery delivery;
	enum zp_access access;
};

struct zp_port_info {
	uint8_t *base;       /* start of the region */
	enum zp_port_mode mode;
	bool write_protect;  /* zp_port_set_wp() and wp fills work */
	bool minor;          /* zapped pages fault until zp_port_remap() */
	bool mapped;         /* zapped pages are mapped back by the host on
				their next touch; zp_port_mapped() works */
	enum zp_delivery delivery; /* THREAD or SIGNAL, never AUTO */
};

/* ---- Implemented by the core, called by the port ---------------------- */

/* A thread touched @addr (page-aligned). @tid identifies the faulting
 * thread: 0 if unknown, ZP_TID_SELF when zp_fault() runs on the faulting
 * thread itself (signal delivery). */
#define ZP_TID_SELF (-1L)
void zp_fault(uint8_t *addr, enum zp_fault_kind kind, bool write, long tid);

/* Kernel-access pins, for system calls where the kernel's own accesses to
 * paged memory cannot be served: zp_kpin() makes the pages of [addr,
 * addr + len) that belong to mappings resident and mapped (writable too if
 * write: the kernel writes there) and keeps them so until zp_kunpin(k).
 * Returns how many bytes from addr it covers: all of len, or less when one
 * call may not pin more (the caller splits the transfer); 0 if it could pin
 * nothing (k needs no zp_kunpin then). */
#define ZP_KPIN_MAX 256 /* pages one pin may cover */
struct zp_kpin {
	size_t first;    /* page index of the first page looked at */
	size_t npages;   /* pages looked at */
	size_t reserved; /* frames taken from the budget of all pins */
	uint64_t pinned[ZP_KPIN_MAX / 64]; /* which of them are pinned */
};
size_t zp_kpin(struct zp_kpin *k, uint8_t *addr, size_t len, bool write);
void zp_kunpin(struct zp_kpin *k);

/* ---- Start and stop ---------------------------------------------------- */

/* Reserve the region and set up fault delivery (but no handlers yet).
 * Fails with -ENOSYS and a message when demand paging is impossible. */
int zp_port_init(const struct zp_port_params *params, struct zp_port_info *info);

/* Start the fault-handler threads. */
int zp_port_start(void);

/* Stop the handlers and release the region. */
void zp_port_shutdown(void);

/* Forget the parent's state in a forked child (nothing is released). */
void zp_port_forget(void);

/* ---- Address space ----------------------------------------------------- */

/* Set the access rights of a range of the paging area. */
int zp_port_protect(uint8_t *addr, size_t len, int prot);

/* Map physical memory at addr: RAM (handle -1, offset = byte offset in the
 * frame pool) or a registered file (handle = its descriptor). The range
 * leaves the paging area until zp_port_unmap_phys(). */
int zp_port_map_phys(uint8_t *addr, size_t len, int prot, int handle,
		     uint64_t offset);
int zp_port_unmap_phys(uint8_t *addr, size_t len);

/* Duplicate a file descriptor for zpage_phys_register(). */
int zp_port_dup_handle(int fd);
/* A handle of its own on fd's file that bypasses the host's cache where
 * it can (else a plain duplicate): the pages are cached in frames
 * already. Transfers on it are whole, aligned pages. */
int zp_port_open_unbuffered(int fd);
/* Whole-page transfers with a file handle at byte offset off: 0 or
 * -errno. A read past the end of the file fills the rest with zeros. */
int zp_port_handle_read(int handle, void *buf, size_t len, uint64_t off);
int zp_port_handle_write(int handle, const void *buf, size_t len, uint64_t off);
/* n pages (buf[i] to off[i]) written with several in flight where the
 * host can; result[i] 0 or -errno. */
void zp_port_handle_write_pages(int handle, const void *const *buf,
				const uint64_t *off, size_t n, int *result);
/* Make what was written to handle durable. */
int zp_port_handle_sync(int handle);
void zp_port_close_handle(int handle);

/* ---- Pages of the paging area ------------------------------------------ */

/* Give the page contents (a copy of src, or zeros if src is NULL) and map
 * it; wake: let the threads waiting on it go on. wp: map it write-protected,
 * so the first write is reported as ZP_FAULT_WP. -EEXIST: it already had
 * contents (nothing changed). */
int zp_port_fill(uint8_t *addr, const void *src, bool wp, bool wake);

/* Map the kept contents of a zapped page back and wake waiters. */
int zp_port_remap(uint8_t *addr, bool wp);

/* Wake threads waiting on a page without changing it. */
int zp_port_wake(uint8_t *addr);

/* Write-protect (on) or unprotect a mapped page; unprotecting wakes the
 * threads waiting to write. */
int zp_port_set_wp(uint8_t *addr, bool on);

/* Unmap a range but keep its contents (one system call, one TLB flush).
 * The next touch of each page is reported (ZP_FAULT_MINOR; info.minor), or
 * maps it back without the core (info.mapped). */
int zp_port_zap_range(uint8_t *addr, size_t len);

/* Which of the n pages from addr are mapped now: bit i % 64 of bits[i / 64]
 * for page i (info.mapped only). */
int zp_port_mapped(uint8_t *addr, size_t n, uint64_t *bits);

/* Write-protect a range, unmapped pages included: a write to any of them is
 * reported as ZP_FAULT_WP even if the host maps it back meanwhile. */
int zp_port_wp_range(uint8_t *addr, size_t len);

/* Copy a page's contents to dst without touching its mapping. */
int zp_port_read(uint8_t *addr, void *dst);

/* Copy the contents of a range (holes read as zeros) to dst. */
int zp_port_read_range(uint8_t *addr, size_t len, void *dst);

/* Drop the contents of a range (it must be unmapped or zapped first, or
 * inaccessible); its memory goes back to the system. */
int zp_port_discard(uint8_t *addr, size_t len);

/* Whether a page has contents (for tests and assertions). */
bool zp_port_has_contents(uint8_t *addr);

/* Tell thread @tid its fault at @addr cannot be served: it receives SIGBUS
 * (or the host's equivalent) when it resumes. */
void zp_port_fault_fail(long tid, uint8_t *addr);

/* ---- Threads, time, waiting ------------------------------------------- */

typedef void *(*zp_thread_fn)(void *arg);

/* Start a thread with every signal blocked. */
int zp_port_thread_start(void **handle, zp_thread_fn fn, void *arg);
void zp_port_thread_join(void *handle);

/* Identifier of the calling thread (what zp_fault() receives as tid). */
long zp_port_tid(void);

/* Monotonic nanoseconds. */
uint64_t zp_port_now_ns(void);

/* An append-only output file (the fault trace): a handle >= 0, or -errno.
 * Writes may come from any thread, also in a fault handler; each lands
 * whole. */
int zp_port_file_create(const char *path);
int zp_port_file_append(int handle, const void *buf, size_t len);
void zp_port_file_close(int handle);

/* Sleep at most ns nanoseconds (less if woken through zp_port_wake_all on
 * word). */
void zp_port_sleep_on(uint32_t *word, uint32_t expected, int64_t ns);

/* Sleep while *word == expected (may return early). */
void zp_port_wait(uint32_t *word, uint32_t expected);

/* Wake every thread sleeping on word. */
void zp_port_wake_all(uint32_t *word);

/* Let another thread run. */
void zp_port_yield(void);

/* Write a message to the error stream. */
void zp_port_print(const char *msg, size_t len);

/* Stop the process (after a fatal message). */
_Noreturn void zp_port_abort(void);

/* Block all signals of the calling thread (first level of irq_lock) and
 * restore them. */
void zp_port_signals_block(void);
void zp_port_signals_restore(void);

/* Install an "ISR" signal handler: the port calls zp_isr_enter/exit around
 * the user's handler. */
struct sigaction;
int zp_port_sigaction(int signum, const struct sigaction *act,
		      struct sigaction *oldact);
void zp_isr_enter(void);
void zp_isr_exit(void);

/* Number of processors available to the process. */
unsigned zp_port_cpus(void);

/* Register handlers that run in a forked child. */
void zp_port_atfork(void (*child)(void));

/* Zero-filled memory for large tables, committed only where touched. */
void *zp_port_table_alloc(size_t bytes);
/* The same, committed at once (memory about to be filled: one system call
 * instead of a page fault per page); freed with zp_port_table_free. */
void *zp_port_table_alloc_committed(size_t bytes);
void zp_port_table_free(void *p, size_t bytes);

/* A buffer of the calling thread, page-aligned, at least bytes long (one
 * size per process), freed when the thread exits; NULL if out of memory.
 * Safe to call inside fault handling. */
void *zp_port_thread_buffer(size_t bytes);

/* Call zp_thread_exited(record) when the calling thread exits. */
void zp_port_thread_exit_notify(void *record);
void zp_thread_exited(void *record);

#pragma GCC visibility pop

#endif /* ZPAGE_ARCH_H */
