/*
 * zpage: what a Linux program needs beyond Zephyr's <sys/mem_manage.h>:
 * start-up and configuration, threads, the user-space notions of "IRQs
 * locked" and "ISR", physical memory, and the library's own counters.
 *
 * Configuration (environment, read at start-up; zpage_init() sets the same
 * from code). Invalid values are refused with a message naming the variable.
 *
 *   ZPAGE_FRAMES          page frames in the pool (default 1024 = 4 MiB)
 *   ZPAGE_EVICTION        eviction algorithm: clock (default: second
 *                         chance, batches), nru (Zephyr's), sweep (address
 *                         order, batches, no sampling), fifo, lru, aging,
 *                         sieve, s3fifo, car (tracking hooks; README)
 *   ZPAGE_TRACE           file: record every fault (zpage trace format)
 *   ZPAGE_EVICTOR         1: a background thread frees frames ahead of
 *                         demand (low/high watermarks); 0: faults evict
 *                         (default 0)
 *   ZPAGE_BACKING_STORE   backing store (README, "Backing stores"):
 *                         ram (default; ram:backed keeps clean copies),
 *                         file:PATH[,direct][,nokeep] (a directory, an
 *                         empty file or a block device), lz4[:ACCEL] and
 *                         zstd[:LEVEL] (compressed memory),
 *                         redis://HOST:PORT[/PREFIX] (a server or cluster),
 *                         memcached://HOST:PORT[/PREFIX]
 *   ZPAGE_STORE_LIMIT     largest store size, bytes with optional K/M/G/T
 *                         suffix (for lz4/zstd: memory the compressed
 *                         pages take), 0 = unlimited (default)
 *   ZPAGE_STORE_FAULTS    store I/O faults to inject (zpage_store_faults_set)
 *   ZPAGE_VM_SIZE         size of the library's virtual region (default 256G)
 *   ZPAGE_FAULT_MODE      who serves a fault: signal (the faulting thread
 *                         itself, from SIGBUS: no hand-off; the C library's
 *                         I/O functions bring paged-out buffers in before
 *                         the system call, other ways into the kernel get
 *                         EFAULT), thread (fault-handler threads: every
 *                         access the kernel makes is served too, at about
 *                         twice the cost per fault), auto (default: signal
 *                         where the kernel offers it, else thread)
 *   ZPAGE_ACCESS_TRACKING how a touch of a page whose accessed bit was
 *                         cleared is seen: mapped (the kernel maps the page
 *                         back by itself; zpage reads which pages it mapped
 *                         when it next looks), fault (a minor fault to
 *                         zpage per touch), auto (default: mapped for the
 *                         algorithms that evict in batches, clock and sweep,
 *                         where the kernel allows it; fault otherwise)
 *   ZPAGE_READAHEAD       most pages loaded ahead of sequential faults
 *                         (window 4, 8, ... up to this; default 0 = off)
 *   ZPAGE_PAGE_SIZE       data page size: pages move in aligned groups of
 *                         this many bytes, a power of two from 4K (default)
 *                         to 2M; frames and store locations stay 4 KiB
 *   ZPAGE_HANDLERS        fault-handler threads (default 2)
 *   ZPAGE_NRU_PERIOD_MS   accessed-bit clearing period of nru (default 100)
 *   ZPAGE_DEBUG           1: print why calls fail and what start-up chose
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ZPAGE_H
#define ZPAGE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mem_manage.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Options for zpage_init(). Zero / NULL fields take the environment value,
 *  or the default. */
struct zpage_config {
	size_t frames;             /**< page frames in the pool */
	const char *eviction;      /**< built-in eviction algorithm name */
	const char *backing_store; /**< built-in store, as ZPAGE_BACKING_STORE */
	size_t store_limit;        /**< bytes; 0 = environment or unlimited */
	size_t vm_size;            /**< bytes of virtual space to reserve */
	unsigned handlers;         /**< fault-handler threads */
	unsigned nru_period_ms;    /**< nru clearing period */
	const char *fault_mode;    /**< "auto", "thread" or "signal" */
	int evictor;               /**< 1 on, -1 off, 0 environment/default */
	int readahead;             /**< most pages read ahead, -1 off */
	size_t page_size;          /**< bytes moved per fault (group size) */
	const char *access_tracking; /**< "auto", "mapped" or "fault" */
};

/**
 * Start the library with explicit options. Optional: the first API call
 * starts it from the environment otherwise.
 *
 * @param config options, or NULL for environment and defaults
 * @retval 0 started
 * @retval -EALREADY already started (options not applied)
 * @retval -EINVAL an option or environment variable is invalid (message)
 * @retval -ENOSYS demand paging is impossible in this process (message says
 *         why: no userfaultfd, or not the features needed)
 * @retval -ENOMEM memory for the frame pool or tables could not be reserved
 */
int zpage_init(const struct zpage_config *config);

/**
 * Stop the library: every mapping, frame and store location is released and
 * the fault-handler threads end. No other thread may use library memory
 * during or after the call. A later call starts the library again.
 */
void zpage_shutdown(void);

/** How page faults reach the library in this process. */
enum zpage_fault_mode {
	ZPAGE_MODE_NONE = 0,      /**< not started */
	ZPAGE_MODE_UFFD,          /**< userfaultfd: all faults, also those
	                               the kernel takes inside system calls */
	ZPAGE_MODE_UFFD_USER,     /**< user-mode-only userfaultfd (unprivileged
	                               process): the kernel's own accesses are
	                               not reported; the C library's I/O
	                               functions bring their buffers in first,
	                               other system calls that touch a
	                               non-resident page fail with EFAULT
	                               (k_mem_page_in()/k_mem_pin() it first) */
};

/** Which thread serves a page fault. */
enum zpage_delivery {
	ZPAGE_DELIVERY_THREAD = 1, /**< fault-handler threads; the faulting
	                                thread sleeps meanwhile */
	ZPAGE_DELIVERY_SIGNAL,     /**< the faulting thread, in a SIGBUS
	                                handler. zpage owns SIGBUS: handlers
	                                the program sets are chained, and
	                                SIGBUS is kept out of the masks it
	                                sets (a fault with SIGBUS blocked
	                                kills). read(2), write(2) and the
	                                other I/O functions of the C library
	                                pin their buffers for the call; raw
	                                syscall(2), io_uring, futex words and
	                                other processes' accesses to
	                                non-resident pages get EFAULT */
};

/** Facts about the running library. */
struct zpage_info {
	enum zpage_fault_mode mode;
	enum zpage_delivery delivery;
	bool write_tracking;   /**< clean pages are detected (write-protect) */
	bool access_tracking;  /**< accessed bits are sampled */
	bool access_mapped;    /**< ... and a touched page whose bit was
	                            cleared is mapped back by the kernel
	                            itself, seen when zpage next looks
	                            (ZPAGE_ACCESS_TRACKING=mapped); else each
	                            such touch is a minor fault */
	bool background_evictor; /**< a thread frees frames ahead of demand */
	size_t evictor_low_water;  /**< free frames below which it wakes */
	size_t evictor_high_water; /**< free frames at which it sleeps */
	size_t data_page_size; /**< bytes loaded per fault (ZPAGE_PAGE_SIZE) */
	size_t readahead;      /**< most pages read ahead, 0 = off */
	size_t frames;         /**< page frames in the pool */
	size_t page_size;
	void *vm_base;         /**< start of the virtual region */
	size_t vm_size;
	const char *eviction;  /**< selected built-in algorithm */
	const char *backing_store;
};

/** Fill @p info; returns 0, or -errno if the library cannot start. */
int zpage_info_get(struct zpage_info *info);

/** Counters beyond Zephyr's statistics. */
struct zpage_counters {
	unsigned long zero_fills;     /**< faults served with a zero page */
	unsigned long store_loads;    /**< faults and page-ins from the store */
	unsigned long access_faults;  /**< touches of pages whose accessed
	                                   bit was cleared, seen as a minor
	                                   fault or, with access_mapped, as
	                                   the page found mapped again (not
	                                   in cnt) */
	unsigned long write_faults;   /**< write-protect faults taken to track
	                                   dirty pages (not in cnt) */
	unsigned long evictions;      /**< clean + dirty */
	unsigned long page_outs;      /**< store page_out calls */
	unsigned long page_ins;       /**< store page_in calls */
	unsigned long pinned_frames;  /**< frames pinned now */
	unsigned long fatal_faults;   /**< faults answered with SIGBUS */
	unsigned long extra_loads;    /**< pages loaded by read-ahead, page
	                                   groups and zpage_prefetch() */
	unsigned long background_evictions; /**< by the background evictor:
	                                   in the global eviction statistics,
	                                   in no thread's */
	unsigned long store_read_errors;  /**< store reads that failed (each
	                                   try; a read is tried 4 times,
	                                   1, 10 and 100 ms apart) */
	unsigned long store_write_errors; /**< store writes that failed: the
	                                   page stayed resident, intact */
	unsigned long store_read_failures; /**< reads given up after the
	                                   retries: the fault got SIGBUS */
};

void zpage_counters_get(struct zpage_counters *counters);

/** What the backing store holds now (built-in stores). */
struct zpage_store_stats {
	const char *name;          /**< "ram", "file", "lz4", "zstd", "redis",
	                                "memcached" */
	size_t locations;          /**< slots holding a page or clean copy */
	size_t bytes_charged;      /**< counted against ZPAGE_STORE_LIMIT */
	size_t limit;              /**< bytes, 0 = none */
	/* Compressed stores (lz4, zstd); 0 for the others. */
	unsigned long same_filled; /**< pages held as one repeated word */
	unsigned long raw;         /**< incompressible pages, held as is */
	unsigned long compressed;  /**< pages held compressed */
	size_t payload_bytes;      /**< memory the raw and compressed take */
	unsigned long compressions, decompressions;
	uint64_t compress_ns, decompress_ns; /**< time spent in the codec */
};

/**
 * Fill @p stats for the built-in store in use.
 * @retval 0 filled; -ENOTSUP the program replaced the store functions;
 *         -errno the library cannot start
 */
int zpage_store_stats_get(struct zpage_store_stats *stats);

/**
 * Make the built-in store's I/O fail on purpose (tests, rehearsals):
 * comma-separated rules OP:KIND[@P][+SKIP][*COUNT], the same as
 * ZPAGE_STORE_FAULTS. OP: read, write, connect or any. KIND: eio,
 * enospc, econnrefused, etimedout (the I/O fails so), short (it moves half
 * the bytes: the store must finish it), corrupt (reads: a flipped bit the
 * page checksum must catch). @P: probability per matching I/O (default
 * 1), +SKIP: let that many through first, *COUNT: at most that many faults.
 * A failed page-out leaves the page resident and intact (k_mem_page_out()
 * gives -ENOMEM); a read failing 4 times (over 0.1 s) ends the fault
 * with SIGBUS.
 * Call it while no paging is in progress. The rules hold until the next
 * call or zpage_shutdown(); at start-up ZPAGE_STORE_FAULTS sets them.
 *
 * @param spec the rules, or NULL / "" for none
 * @retval 0 set; -EINVAL a rule is malformed (message with ZPAGE_DEBUG)
 */
int zpage_store_faults_set(const char *spec);

/**
 * Bounds (in ns) of the three timing histograms. The default spreads the
 * costs measured on a small VM: 250 ns .. 64 us in powers of two.
 * @p bounds holds NUM_BINS - 1 increasing values (the last bin is open).
 * which: 0 eviction, 1 page-in, 2 page-out.
 * @retval 0 set (counts reset), -EINVAL bounds not increasing or bad which
 */
int zpage_histogram_bounds_set(int which, const unsigned long *bounds);

/**
 * Ask for a region to be loaded in the background (a hint, like
 * MADV_WILLNEED): the call returns at once and a library thread loads the
 * pages, evicting others if needed, without using the store's fault reserve.
 *
 * @param addr page-aligned start, inside one k_mem_map() region
 * @param size page-aligned size
 * @retval 0 queued
 * @retval -EINVAL not a page-aligned range of one k_mem_map() region
 * @retval -EAGAIN too many requests pending: the hint is dropped
 */
int zpage_prefetch(void *addr, size_t size);

/**
 * Wait until the library's background work is idle: the background evictor
 * has stopped freeing frames, every zpage_prefetch() request is done, and
 * the pages read ahead (or of the same group) of served faults are loaded
 * (a handler thread loads them after the faulting thread runs on).
 * For exact snapshots of statistics and of what is resident; while other
 * threads keep faulting it may wait as long as they do.
 */
void zpage_quiesce(void);

/* ---- File mappings ---------------------------------------------------- */

/**
 * Map a file as a demand-paged region whose pages are the file's own: a
 * data set larger than the page-frame pool, worked on in place. A page is
 * read from the file at its first touch (bytes past the end of the file
 * read as zeros) and written back when it is evicted dirty, paged out
 * (k_mem_page_out()), synced (zpage_sync()) or unmapped (k_mem_unmap());
 * writing past the end extends the file. The backing store is not used.
 * The library keeps its own duplicate of @p fd. Pages of the region work
 * with k_mem_page_in/out and k_mem_pin/unpin like any other.
 *
 * @param fd     a file open for reading (and writing, with K_MEM_PERM_RW)
 * @param offset page-aligned file offset of the region's first page
 * @param size   page-aligned size in bytes
 * @param flags  0 (read-only) or K_MEM_PERM_RW
 * @return the region, or NULL (bad arguments, bad fd, no virtual space,
 *         or 64 file mappings already)
 */
void *zpage_map_file(int fd, uint64_t offset, size_t size, uint32_t flags);

/**
 * Write the changed pages of [addr, addr + size) inside one file mapping
 * back to the file and make them durable (fdatasync). The pages stay
 * resident, clean.
 * @retval 0 written; -EINVAL not inside one file mapping; -errno from
 *         the file (the pages stay dirty)
 */
int zpage_sync(void *addr, size_t size);

/* ---- Threads ---------------------------------------------------------- */

/** The library's per-thread record (statistics, irq-lock and ISR state). */
struct k_thread;
typedef struct k_thread *k_tid_t;

/** The calling thread's record, created on first use (NULL only if memory
 *  for it cannot be found). Records outlive their threads; a new thread may
 *  reuse the record of one that has exited. */
k_tid_t k_current_get(void);

/* ---- "IRQs locked" and "ISR" ----------------------------------------- */

/**
 * Lock "interrupts" for the calling thread: block every signal that can be
 * blocked. Nests; returns a key for zpage_irq_unlock(). Faults taken while
 * locked count as irq_locked. It does not exclude other threads.
 */
unsigned int zpage_irq_lock(void);
void zpage_irq_unlock(unsigned int key);

/**
 * Install a signal handler that runs as an "ISR": while it runs,
 * k_is_in_isr() is true and faults count as in_isr. Same contract as
 * sigaction(2).
 */
int zpage_sigaction(int signum, const struct sigaction *act,
		    struct sigaction *oldact);

/** Mark the start / end of ISR context by hand (nests). */
void zpage_isr_enter(void);
void zpage_isr_exit(void);

/** Whether the calling thread runs in ISR context. */
bool k_is_in_isr(void);

#ifndef ZPAGE_NO_ZEPHYR_NAMES
#define irq_lock() zpage_irq_lock()
#define irq_unlock(key) zpage_irq_unlock(key)
#endif

/* ---- Physical memory ------------------------------------------------- */

/**
 * Take physically contiguous page frames out of the pool, pinned, in the
 * permanent mapping of RAM: for such memory z_mem_phys_addr() and
 * z_mem_virt_addr() round-trip and z_phys_map() makes a second mapping.
 *
 * @param size bytes, rounded up to whole pages
 * @return the address in the permanent mapping, or NULL if no run of frames
 *         of that length can be freed
 */
void *zpage_ram_alloc(size_t size);

/** Give memory from zpage_ram_alloc() back to the pool (contents lost). */
void zpage_ram_free(void *addr, size_t size);

/**
 * Make a file (a device node, a shared-memory object ...) physical memory at
 * [phys, phys + size), for z_phys_map(). phys and size must be page-aligned
 * and the range must not overlap RAM or another registered range. The
 * library keeps its own duplicate of @p fd.
 *
 * @retval 0 registered; -EINVAL bad range or overlap; -EBADF bad fd;
 *         -ENOSPC too many ranges
 */
int zpage_phys_register(uintptr_t phys, size_t size, int fd, uint64_t offset);

/* ---- Time and timers (Zephyr names) ---------------------------------- */

/** Milliseconds since the library started. */
int64_t k_uptime_get(void);

typedef struct {
	int64_t ns;
} k_timeout_t;
#define K_NSEC(n) ((k_timeout_t){ (int64_t)(n) })
#define K_USEC(n) ((k_timeout_t){ (int64_t)(n) * 1000 })
#define K_MSEC(n) ((k_timeout_t){ (int64_t)(n) * 1000000 })
#define K_NO_WAIT ((k_timeout_t){ 0 })
#define K_FOREVER ((k_timeout_t){ -1 })

struct k_timer;
typedef void (*k_timer_expiry_t)(struct k_timer *timer);
typedef void (*k_timer_stop_t)(struct k_timer *timer);

/** A periodic or one-shot timer; its expiry function runs on a thread of
 *  its own (the user-space "timer ISR"), with k_is_in_isr() true. */
struct k_timer {
	k_timer_expiry_t expiry_fn;
	k_timer_stop_t stop_fn;
	void *user_data;
	void *impl; /* library-private */
};

void k_timer_init(struct k_timer *timer, k_timer_expiry_t expiry_fn,
		  k_timer_stop_t stop_fn);
void k_timer_start(struct k_timer *timer, k_timeout_t duration,
		   k_timeout_t period);
void k_timer_stop(struct k_timer *timer);

#ifdef __cplusplus
}
#endif

#endif /* ZPAGE_H */
