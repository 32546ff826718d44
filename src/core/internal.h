/*
 * zpage core: internal types and cross-file functions, grouped by the file
 * that defines them.
 *
 * Main types:
 *   zp_pte_t          one word per virtual page of the region: lock bit,
 *                     state, sampled bits, frame index or store location
 *   struct zp_state   the single library instance (zp)
 *   struct k_thread   per-thread record (statistics, irq/ISR state)
 *
 * Locking, in the order they may be taken:
 *   1. one page lock, blocking (the page the operation is about)
 *   2. zp.evict_lock (serialises eviction selection)
 *   3. further page locks, only with trylock (victims, zap batches)
 *   4. zp.store_lock (serialises backing-store calls), held for no more than
 *      one store call and never while waiting for anything else
 *   5. zp.track_lock (eviction tracking hooks), a leaf like the store lock
 * zp.vm_lock (address-space bookkeeping) is never held with a page lock
 * waited for. No lock is held across a wait for another thread's fault.
 */
#ifndef ZPAGE_INTERNAL_H
#define ZPAGE_INTERNAL_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mmu.h>
#include <sys/mem_manage.h>
#include <zpage.h>

#include "../arch/arch.h"

#define ZP_PAGE_SIZE CONFIG_MMU_PAGE_SIZE
#define ZP_PAGE_SHIFT 12
#define ZP_NUM_BINS CONFIG_DEMAND_PAGING_TIMING_HISTOGRAM_NUM_BINS

#define zp_likely(x) __builtin_expect(!!(x), 1)
#define zp_unlikely(x) __builtin_expect(!!(x), 0)
#define ZP_NOINLINE __attribute__((noinline))
#define ZP_HIDDEN __attribute__((visibility("hidden")))

#if defined(__x86_64__) || defined(__i386__)
#define zp_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define zp_cpu_relax() __asm__ volatile("yield")
#else
#define zp_cpu_relax() ((void)0)
#endif

/* ---- Page table words ------------------------------------------------- */

/*
 * zp_pte_t layout (one per page of the region, the RAM window included):
 *
 *   63 ........................ 12 | 11 10 | 9 8 7 6 5 | 4 3 2 | 1 0
 *   frame index (RESIDENT) or        -  F    Z W P D A   state   W L
 *   store location (OUT)                                          (waiters,
 *                                                                  lock)
 * The low 32 bits double as the futex word that lock waiters sleep on.
 */
typedef uint64_t zp_pte_t;

#define PTE_LOCK ((zp_pte_t)1 << 0)     /* page lock held */
#define PTE_WAITERS ((zp_pte_t)1 << 1)  /* someone sleeps on the lock */
#define PTE_STATE_SHIFT 2
#define PTE_STATE_MASK ((zp_pte_t)7 << PTE_STATE_SHIFT)
#define PTE_ACCESSED ((zp_pte_t)1 << 5) /* touched since last clearing */
#define PTE_DIRTY ((zp_pte_t)1 << 6)    /* differs from / absent in store */
#define PTE_WP ((zp_pte_t)1 << 7)       /* mapped write-protected */
#define PTE_WRITABLE ((zp_pte_t)1 << 8) /* the mapping allows writes */
#define PTE_ZAPPED ((zp_pte_t)1 << 9)   /* contents kept, unmapped by a
					   clearing (the host may have mapped
					   it back since: zp.port.mapped) */
#define PTE_FILE ((zp_pte_t)1 << 10)    /* a page of a file mapping
					   (zpage_map_file): loaded from and
					   written back to its file, never
					   the store; OUT payload unused */
#define PTE_PAYLOAD_MASK (~(zp_pte_t)(ZP_PAGE_SIZE - 1))

enum zp_page_state {
	PS_NONE = 0,     /* not part of a mapping (free space, guard page) */
	PS_ZERO = 1,     /* mapped, never loaded: first touch zero-fills */
	PS_RESIDENT = 2, /* in a frame; payload = frame index */
	PS_OUT = 3,      /* paged out; payload = store location */
	PS_PHYS = 4,     /* a z_phys_map() window: never paged */
	PS_RAM = 5,      /* permanent RAM mapping page taken by ram_alloc */
};

static inline enum zp_page_state pte_state(zp_pte_t pte)
{
	return (enum zp_page_state)((pte & PTE_STATE_MASK) >> PTE_STATE_SHIFT);
}

static inline zp_pte_t pte_with_state(zp_pte_t pte, enum zp_page_state s)
{
	return (pte & ~PTE_STATE_MASK) | ((zp_pte_t)s << PTE_STATE_SHIFT);
}

static inline size_t pte_frame(zp_pte_t pte)
{
	return (size_t)(pte >> ZP_PAGE_SHIFT);
}

static inline uintptr_t pte_location(zp_pte_t pte)
{
	return (uintptr_t)(pte & PTE_PAYLOAD_MASK);
}

/* Resident in frame f; keeps the writable and file bits of the old word. */
static inline zp_pte_t pte_resident(zp_pte_t old, size_t f, zp_pte_t bits)
{
	return ((zp_pte_t)f << ZP_PAGE_SHIFT) |
	       (old & (PTE_WRITABLE | PTE_FILE)) | bits |
	       ((zp_pte_t)PS_RESIDENT << PTE_STATE_SHIFT);
}

static inline zp_pte_t pte_out(zp_pte_t old, uintptr_t location)
{
	return (zp_pte_t)location | (old & (PTE_WRITABLE | PTE_FILE)) |
	       ((zp_pte_t)PS_OUT << PTE_STATE_SHIFT);
}

/* ---- Locks ------------------------------------------------------------- */

/* A small sleeping lock on a 32-bit word (0 free, 1 locked, 2 contended). */
typedef struct {
	_Atomic uint32_t word;
} zp_lock_t;

void zp_lock(zp_lock_t *l) ZP_HIDDEN;
void zp_unlock(zp_lock_t *l) ZP_HIDDEN;

/* ---- Statistics (stats.c) --------------------------------------------- */

struct zp_stats {
	_Atomic unsigned long cnt, irq_locked, irq_unlocked, in_isr;
	_Atomic unsigned long clean, dirty;
};

struct zp_histogram {
	/* Atomic: zpage_histogram_bounds_set() may run during faults. */
	_Atomic unsigned long bounds[ZP_NUM_BINS];
	_Atomic unsigned long counts[ZP_NUM_BINS];
};

enum zp_hist_id { ZP_HIST_EVICTION, ZP_HIST_PAGE_IN, ZP_HIST_PAGE_OUT };

struct zp_counters {
	_Atomic unsigned long zero_fills, store_loads, access_faults;
	_Atomic unsigned long write_faults, page_outs, page_ins, fatal_faults;
	_Atomic unsigned long extra_loads, background_evictions;
	_Atomic unsigned long store_read_errors, store_write_errors;
	_Atomic unsigned long store_read_failures;
};

void zp_stats_reset(void) ZP_HIDDEN;
void zp_stats_thread_reset(struct zp_stats *s) ZP_HIDDEN;
/* What a fault is counted as: taken with irq_lock() held, in an ISR. */
struct zp_fault_context {
	bool irq_locked, in_isr;
};
struct zp_fault_context zp_stats_context(struct k_thread *t) ZP_HIDDEN;
void zp_stats_fault(struct k_thread *t, struct zp_fault_context ctx) ZP_HIDDEN;
/* An eviction done for thread t (NULL: by the background evictor). */
void zp_stats_eviction(struct k_thread *t, bool dirty) ZP_HIDDEN;
void zp_hist_add(enum zp_hist_id id, uint64_t ns) ZP_HIDDEN;
#define zp_count(field) atomic_fetch_add_explicit(&zp.counters.field, 1, \
						  memory_order_relaxed)

/* ---- Threads (thread.c) ------------------------------------------------ */

struct k_thread {
	_Atomic long tid;        /* 0: record free */
	struct zp_stats stats;
	_Atomic int irq_depth;   /* irq_lock() nesting, owner writes */
	_Atomic int isr_depth;   /* ISR nesting, owner writes */
	/* Read-ahead state of the thread's faults (readahead.c); written by
	 * whoever serves its fault, one fault at a time. */
	_Atomic size_t ra_next, ra_window, ra_loaded;
	/* Pages of a k_mem_page_in() range whose frames the thread keeps busy
	 * (paging.c); only the thread itself touches these. */
	size_t hold_first, hold_n, hold_reserved;
};

struct k_thread *zp_thread_by_tid(long tid) ZP_HIDDEN;
/* t is the calling thread's own record (not one shared by several). */
bool zp_thread_is_self(const struct k_thread *t) ZP_HIDDEN;
void zp_threads_reset(void) ZP_HIDDEN;
void *zp_scratch(void) ZP_HIDDEN;
/* Make Z_SCRATCH_PAGE point at page (NULL: the thread's own scratch page). */
void zp_scratch_use(const void *page) ZP_HIDDEN;

/* ---- Library state (init.c) ------------------------------------------- */

struct zp_conf {
	size_t frames;
	char eviction[32];
	char store[256];
	char trace[256];           /* ZPAGE_TRACE: file to record faults in */
	const char *eviction_from; /* where the names came from, for messages */
	const char *store_from;
	size_t store_limit;
	size_t vm_size;
	unsigned handlers;
	unsigned nru_period_ms;
	enum zp_delivery delivery;
	enum zp_access access;
	size_t group_pages;        /* ZPAGE_PAGE_SIZE / 4096, a power of two */
	size_t readahead_max;      /* pages, 0 = off */
	bool evictor;              /* background evictor thread */
	bool debug;
};

struct zp_phys_range {
	uintptr_t phys;
	size_t size;
	int handle;
	uint64_t offset;
};

#define ZP_MAX_PHYS_RANGES 32

struct zp_region; /* vm.c */

struct zp_state {
	_Atomic int started;
	struct zp_conf conf;
	struct zp_port_info port;

	uint8_t *base;          /* region start (= permanent RAM mapping) */
	size_t vm_size;
	size_t ram_size;        /* frames * page size */
	size_t npages;          /* vm_size / page size */
	_Atomic zp_pte_t *pte;  /* npages words */

	/* Frames: z_page_frames[] plus core-private side arrays. */
	size_t nframes;
	_Atomic uint32_t *free_next; /* free stack links */
	_Atomic uint64_t free_head;  /* (tag << 32) | index, or index NIL */
	_Atomic size_t free_count;
	_Atomic size_t pinned_count;
	_Atomic size_t held_count; /* frames k_mem_page_in() keeps busy */
	uintptr_t *frame_location;   /* clean copy's location, BACKED frames */
	/* Why a frame is pinned (changed under its page's lock): ZP_PIN_USER
	 * for k_mem_pin()/K_MEM_MAP_LOCK, plus one per kernel-access pin
	 * (kpin.c). Z_PAGE_FRAME_PINNED is set while this is not 0. */
	uint32_t *frame_pins;
	_Atomic size_t kpin_pages;  /* frames reserved by kernel-access pins */

	/* Eviction batches and the background evictor. */
	size_t batch;              /* victims per batch (native algorithms) */
	size_t low_water, high_water; /* free frames that wake / calm it */
	void *evictor_thread;      /* NULL: no background evictor */
	_Atomic bool evictor_on;   /* it runs (read by faults, set by start/stop) */
	_Atomic uint32_t evictor_kick, evictor_stop;
	_Atomic uint32_t evictor_busy; /* between a wake-up and its sleep */
	_Atomic uint32_t extra_loads_running; /* faults loading extra pages */
	_Atomic size_t vm_high;    /* end of the highest mapping (page index) */
	size_t group_pages, readahead_max; /* from the configuration */

	zp_lock_t evict_lock;
	zp_lock_t store_lock;
	/* Tracking hooks: whether they are called, their lock (a leaf: held
	 * only around a hook or a selection), which frames were added. */
	bool tracking;
	zp_lock_t track_lock;
	uint8_t *frame_tracked;
	zp_lock_t vm_lock;

	/* Address-space bookkeeping (vm_lock). */
	struct zp_region *regions;
	struct zp_phys_range phys[ZP_MAX_PHYS_RANGES];
	size_t nphys;

	struct zp_stats stats;
	struct zp_counters counters;
	struct zp_histogram hist[3];

	uint64_t start_ns;
};

extern struct zp_state zp ZP_HIDDEN;

/* 0 if the library runs (starting it if needed), else -errno. */
int zp_ensure(void) ZP_HIDDEN;

static inline bool zp_running(void)
{
	return atomic_load_explicit(&zp.started, memory_order_acquire) != 0;
}

/* Whether a fault the kernel takes inside a system call is served (a full
 * userfaultfd with handler threads), or makes the call fail with EFAULT. */
static inline bool zp_syscall_faults_served(void)
{
	return zp.port.mode == ZP_PORT_FULL &&
	       zp.port.delivery == ZP_DELIVERY_THREAD;
}

static inline uint8_t *zp_page_addr(size_t idx)
{
	return zp.base + (idx << ZP_PAGE_SHIFT);
}

/* Page index of addr, or SIZE_MAX if outside the region. */
static inline size_t zp_page_index(const void *addr)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)zp.base;

	if (a < b || a - b >= zp.vm_size)
		return SIZE_MAX;
	return (a - b) >> ZP_PAGE_SHIFT;
}

/* For algorithms whose hand goes round the address space: the mapped part
 * of the paging area is [*lo, *hi); *hand is put back inside it. False if
 * nothing is mapped. */
static inline bool zp_hand_bounds(size_t *hand, size_t *lo, size_t *hi)
{
	*lo = zp.ram_size >> ZP_PAGE_SHIFT;
	*hi = atomic_load_explicit(&zp.vm_high, memory_order_relaxed);
	if (*hand < *lo || *hand >= *hi)
		*hand = *lo;
	return *hi > *lo;
}

/* Whether a page with this word may be taken as a victim now. */
static inline bool zp_pte_evictable(zp_pte_t pte)
{
	return pte_state(pte) == PS_RESIDENT && !(pte & PTE_LOCK) &&
	       z_page_frame_is_evictable(&z_page_frames[pte_frame(pte)]);
}

/* ---- Configuration (config.c) ----------------------------------------- */

int zp_conf_load(struct zp_conf *c, const struct zpage_config *user) ZP_HIDDEN;

/* ---- Logging (log.c) --------------------------------------------------- */

/* Only with ZPAGE_DEBUG. */
void zp_debug(const char *fmt, ...) ZP_HIDDEN
	__attribute__((format(printf, 1, 2)));
/* Always: configuration errors and failures the program cannot see. */
void zp_error(const char *fmt, ...) ZP_HIDDEN
	__attribute__((format(printf, 1, 2)));
_Noreturn void zp_fatal(const char *fmt, ...) ZP_HIDDEN
	__attribute__((format(printf, 1, 2)));

/* ---- Page locks and page bits (pte.c) --------------------------------- */

zp_pte_t zp_page_lock(size_t idx) ZP_HIDDEN;
bool zp_page_trylock(size_t idx, zp_pte_t *pte) ZP_HIDDEN;
/* Store new (lock bits ignored) and release the lock. */
void zp_page_unlock(size_t idx, zp_pte_t new_pte) ZP_HIDDEN;
/* Give a page that is changing hands (free space being mapped or freed,
 * RAM taken from the frame pool) the word new_pte, under its lock: a plain
 * store would be undone by the unlock of whoever holds the lock for a look
 * at it (an eviction run or a hand trylocks any page). */
void zp_page_claim(size_t idx, zp_pte_t new_pte) ZP_HIDDEN;
/* Zap the pages whose accessed bits plug-ins cleared on this thread. */
void zp_accessed_flush(void) ZP_HIDDEN;
/* Where the host maps zapped pages back itself (zp.port.mapped): set the
 * accessed bits of the pages of [first, first + n) it mapped again. */
void zp_access_refresh(size_t first, size_t n) ZP_HIDDEN;
/* arch_page_info_get(), with the refresh of a zapped page's accessed bit
 * left out (!refresh: the caller refreshed a whole range just before). */
uintptr_t zp_page_info(void *addr, uintptr_t *location, bool clear_accessed,
		       bool refresh) ZP_HIDDEN;

/* ---- Frames (frame.c) -------------------------------------------------- */

#define ZP_NO_FRAME SIZE_MAX

int zp_frames_init(size_t n) ZP_HIDDEN;
void zp_frames_fini(void) ZP_HIDDEN;
size_t zp_frame_pop(void) ZP_HIDDEN;
void zp_frame_push(size_t f) ZP_HIDDEN;
/* Take every free frame at once; returns how many were written to out
 * (out must hold nframes entries). */
size_t zp_frame_drain(uint32_t *out) ZP_HIDDEN;
void zp_frame_set_busy(size_t f, bool busy) ZP_HIDDEN;
/* Forget the page a frame held (flags cleared). */
void zp_frame_release(size_t f) ZP_HIDDEN;

/* ---- Eviction (evict.c) ------------------------------------------------ */

#define ZP_BATCH_MAX 64 /* victims per batch */
/* Pages of the calling thread's I/O buffer (zp_port_thread_buffer: one
 * size for all its users). */
#define ZP_IO_BUFFER_PAGES 256

/* A page being evicted: locked by the evicting thread, frame marked busy. */
struct zp_victim {
	size_t idx;    /* page index */
	zp_pte_t pte;  /* its word; the one to unlock with afterwards */
	long result;   /* the frame freed, or -errno (still resident) */
	bool dirty;    /* to be written out */
};

/* Choose and lock up to want (<= ZP_BATCH_MAX) victims, in address order. */
size_t zp_select_victims(struct zp_victim *v, size_t want) ZP_HIDDEN;
/* Evict n locked victims (ascending); frames are released, not pushed;
 * the pages stay locked. fault: the store's fault reserve may be used. */
void zp_evict_locked(struct zp_victim *v, size_t n, struct k_thread *t,
		     bool fault) ZP_HIDDEN;
/* A free frame, evicting if needed; or -EDEADLK (all pinned), -ENOMEM
 * (store full), -EAGAIN (nothing evictable for too long). */
long zp_frame_for_fault(struct k_thread *t, bool fault) ZP_HIDDEN;
int zp_evictor_start(void) ZP_HIDDEN;
void zp_evictor_stop(void) ZP_HIDDEN;
void zp_evictor_kick(void) ZP_HIDDEN;
bool zp_evictor_idle(void) ZP_HIDDEN;
bool zp_prefetch_idle(void) ZP_HIDDEN;

/* ---- Paging (paging.c) ------------------------------------------------- */

/* How zp_page_in_locked() loads a page. */
enum {
	/* The page-fault reserve of the store may be used. */
	ZP_LOAD_RESERVE = 1 << 0,
	/* For a write access: mapped writable and dirty at once (never
	 * write-protected, which would cost a second fault, with the page
	 * clean and a preferred victim in between). */
	ZP_LOAD_WRITE = 1 << 1,
	/* Serving this page's fault: wake the threads blocked on it. Other
	 * loads leave them blocked until their fault is served, or a fault
	 * already seen as served could be served again later. */
	ZP_LOAD_WAKE = 1 << 2,
};

/* Load the locked page idx (state ZERO or OUT) into a frame and map it
 * (how: ZP_LOAD_* flags). Updates *pte. Errors: those of
 * zp_frame_for_fault(), -ENODATA (the store cannot read the page; logged)
 * or -EBADMSG (it came back corrupt); the page then stays out. */
int zp_page_in_locked(size_t idx, zp_pte_t *pte, struct k_thread *t,
		      unsigned how) ZP_HIDDEN;
/* Make a resident page mapped again if an accessed-bit clearing unmapped it. */
int zp_page_settle_locked(size_t idx, zp_pte_t *pte) ZP_HIDDEN;
/* The same, and writable as the mapping allows (for pins: a pinned page
 * must never fault, not even to record that it became dirty). */
int zp_page_settle_for_pin(size_t idx, zp_pte_t *pte) ZP_HIDDEN;
/* Drop the page (unmap path): frees frame and store location. */
void zp_page_drop_locked(size_t idx, zp_pte_t pte) ZP_HIDDEN;
/* Evict the page in frame f (through the non-fault store path); used by
 * zpage_ram_alloc. -EAGAIN: the frame cannot be evicted now. */
int zp_evict_frame(size_t f, struct k_thread *t) ZP_HIDDEN;
#define ZP_PIN_USER ((uint32_t)1 << 31)
void zp_pin_locked(size_t idx, zp_pte_t pte) ZP_HIDDEN;
/* Add (+1) or remove (-1) one kernel-access pin of a resident page. */
void zp_kpin_locked(zp_pte_t pte, int delta) ZP_HIDDEN;
/* Load [first, first + n) (and pin it); stops at the first failure. */
int zp_load_range(size_t first, size_t n, bool pin, bool fault) ZP_HIDDEN;
/* How long a thread keeping frames busy waits (for a page lock, or for a
 * frame) before it lets them go: longer than the brief holds of others
 * (accessed-bit sampling, a minor fault), far shorter than a fault's
 * patience. */
#define ZP_HOLD_PATIENCE_NS (10ULL * 1000000ULL)
/* Let go of the frames the calling thread t keeps busy for its
 * k_mem_page_in() range, if any (it is waiting for a frame itself). */
void zp_hold_drop(struct k_thread *t) ZP_HIDDEN;
bool zp_unpin_locked(size_t idx, zp_pte_t pte) ZP_HIDDEN;

/* ---- Plug-ins (plugin.c) ----------------------------------------------- */

struct zp_eviction_ops {
	const char *name;
	void (*init)(void);
	struct z_page_frame *(*select)(bool *dirty);
	void (*fini)(void);
	/* Optional native interface: up to n resident pages to evict, as page
	 * indices in address order (neighbours are evicted together). Called
	 * under zp.evict_lock. */
	size_t (*select_pages)(size_t *pages, size_t n);
	/* Optional tracking hooks (Zephyr 3.x, see <sys/mem_manage.h>). */
	void (*add)(struct z_page_frame *pf);
	void (*remove)(struct z_page_frame *pf);
	void (*accessed)(uintptr_t phys);
};

/* A built-in backing store. Locations (which slot holds which page, the
 * fault reserve, the size limit, clean copies) are managed for every store
 * by src/core/locations.c; a store only moves page contents.
 * Location tokens are slot * ZP_PAGE_SIZE, slots below the VM's page count.
 *
 * read_page and write_page run without zp.store_lock, concurrently for
 * different locations (a location is used only by the thread holding its
 * page's lock), possibly inside a signal handler: no malloc, no stdio.
 * They return 0 or a negative errno (the caller retries reads and keeps a
 * page resident whose write failed) and log the cause themselves. */
struct zp_store_ops {
	const char *name;
	/* Parse the part after "name:" (NULL if none); -EINVAL with message.
	 * Called for checks too: must not open anything. */
	int (*configure)(const char *arg);
	/* Whether clean pages keep their location after a page-in (Z_PAGE_
	 * FRAME_BACKED: evicting them again writes nothing). */
	bool (*keeps_copies)(void);
	/* Start-up: files, memory, connections, for at most slots slots;
	 * 0 or -errno with a message. */
	int (*open)(size_t slots);
	void (*close)(void);
	/* Optional: slot may be handed out for the first time (under
	 * zp.store_lock; asked again when it is); -ENOMEM if it cannot be
	 * backed. */
	int (*prepare)(size_t slot);
	/* The page at loc: *page points to its bytes, in the store or decoded
	 * into scratch, valid until loc is freed or written. */
	int (*read_page)(uintptr_t loc, void *scratch, const void **page);
	int (*write_page)(uintptr_t loc, const void *data);
	/* Optional: write n pages at once (several in flight), result[i]
	 * as write_page's for each. */
	void (*write_pages)(const uintptr_t *loc, const void *const *data,
			    size_t n, int *result);
	/* Optional: loc holds nothing any more (under zp.store_lock). */
	void (*discard)(uintptr_t loc);
	/* Optional: the store's own figures (compression). */
	void (*stats)(struct zpage_store_stats *s);
};

/* ---- Store locations (locations.c) ------------------------------------- */

/* Location management for the selected built-in store: slots from a free
 * stack, the size limit (bytes, 0 = none) with one page kept for faults,
 * clean copies for stores that keep them. All under zp.store_lock except
 * zp_store_charge(). */
int zp_loc_open(const struct zp_store_ops *ops, size_t limit_bytes) ZP_HIDDEN;
void zp_loc_close(void) ZP_HIDDEN;
int zp_loc_get(struct z_page_frame *pf, uintptr_t *loc, bool fault) ZP_HIDDEN;
void zp_loc_free(uintptr_t loc) ZP_HIDDEN;
void zp_loc_finalize(struct z_page_frame *pf, uintptr_t loc) ZP_HIDDEN;
/* Whether finalizing keeps the location (a clean copy, frame BACKED). */
bool zp_store_keeps_copies(void) ZP_HIDDEN;
/* Every slot counts a page against the limit; a store that holds less for
 * one (compression) gives back the difference after writing it and takes
 * it again when the slot is discarded. Any thread, any time. */
void zp_store_charge(long bytes) ZP_HIDDEN;
/* Read loc through ops, retried on errors; 0 or the last error (logged). */
int zp_store_read(const struct zp_store_ops *ops, uintptr_t loc,
		  void *scratch, const void **page) ZP_HIDDEN;
/* Store fault injection rules (src/backing_store/inject.c); NULL clears. */
int zp_inject_configure(const char *spec, const char *from) ZP_HIDDEN;
/* Whether the selected store's start-up failed (after the seed init). */
int zp_store_open_error(void) ZP_HIDDEN;

extern const struct zp_eviction_ops zp_eviction_nru ZP_HIDDEN;
extern const struct zp_eviction_ops zp_eviction_clock ZP_HIDDEN;
extern const struct zp_eviction_ops zp_eviction_sweep ZP_HIDDEN;
extern const struct zp_eviction_ops zp_eviction_fifo ZP_HIDDEN;
extern const struct zp_eviction_ops zp_eviction_lru ZP_HIDDEN;
extern const struct zp_eviction_ops zp_eviction_aging ZP_HIDDEN;
extern const struct zp_eviction_ops zp_eviction_sieve ZP_HIDDEN;
extern const struct zp_eviction_ops zp_eviction_s3fifo ZP_HIDDEN;
extern const struct zp_eviction_ops zp_eviction_car ZP_HIDDEN;
extern const struct zp_store_ops zp_store_ram ZP_HIDDEN;
extern const struct zp_store_ops zp_store_file ZP_HIDDEN;
#ifdef ZPAGE_HAVE_LZ4
extern const struct zp_store_ops zp_store_lz4 ZP_HIDDEN;
#endif
#ifdef ZPAGE_HAVE_ZSTD
extern const struct zp_store_ops zp_store_zstd ZP_HIDDEN;
#endif
#ifdef ZPAGE_HAVE_HIREDIS
extern const struct zp_store_ops zp_store_redis ZP_HIDDEN;
#endif
#ifdef ZPAGE_HAVE_MEMCACHED
extern const struct zp_store_ops zp_store_memcached ZP_HIDDEN;
#endif

/* Check a name and a store specification (with its options); messages
 * name where they came from. */
int zp_plugins_check(const char *eviction, const char *eviction_from,
		     const char *store, const char *store_from) ZP_HIDDEN;
int zp_plugins_select(const struct zp_conf *c) ZP_HIDDEN;
void zp_plugins_fini(void) ZP_HIDDEN;
const char *zp_eviction_name(void) ZP_HIDDEN;
/* The built-in algorithms (src/eviction/registry.c) and the one called
 * name, or NULL. */
extern const struct zp_eviction_ops *const zp_evictions[] ZP_HIDDEN;
extern const size_t zp_num_evictions ZP_HIDDEN;
const struct zp_eviction_ops *zp_eviction_find(const char *name) ZP_HIDDEN;
/* The selected built-in algorithm if it has a native interface and the
 * program did not replace the seed functions; else NULL. */
const struct zp_eviction_ops *zp_eviction_native(void) ZP_HIDDEN;
const char *zp_store_name(void) ZP_HIDDEN;
/* The selected built-in store if it has the native path and the program
 * did not replace the seed functions; else NULL. */
const struct zp_store_ops *zp_store_native(void) ZP_HIDDEN;
/* Built-in names for messages ("nru"). */
void zp_eviction_names(char *buf, size_t len) ZP_HIDDEN;
void zp_store_names(char *buf, size_t len) ZP_HIDDEN;

/* ---- Tracking hooks (track.c) ------------------------------------------ */

/* Frame f holds an evictable page now / no longer / its page was touched.
 * Each is one test when the algorithm does not track; add and remove pair
 * up per frame whatever the order of calls. */
void zp_track_add(size_t f) ZP_HIDDEN;
void zp_track_remove(size_t f) ZP_HIDDEN;
void zp_track_accessed(size_t f) ZP_HIDDEN;
/* Around k_mem_paging_eviction_select(): the hooks' lock, when tracking. */
void zp_track_lock(void) ZP_HIDDEN;
void zp_track_unlock(void) ZP_HIDDEN;

/* ---- File mappings (filemap.c) ----------------------------------------- */

/* Record a file mapping of pages [first, first + n) on handle (owned from
 * now on) at offset; 0 or -ENOSPC. */
int zp_filemap_add(size_t first, size_t n, int handle, uint64_t offset) ZP_HIDDEN;
/* Write back every file mapping's changed pages (shutdown). */
void zp_filemap_flush_all(void) ZP_HIDDEN;
/* Forget every file mapping (after the flush, or in a forked child). */
void zp_filemap_reset(void) ZP_HIDDEN;
/* Forget the mapping starting at first (its pages dropped already). */
void zp_filemap_remove(size_t first) ZP_HIDDEN;
/* Page idx of a file mapping from / to its file; 0 or -errno (logged).
 * Bytes past the end of the file read as zeros. */
int zp_filemap_read(size_t idx, void *page) ZP_HIDDEN;
int zp_filemap_write(size_t idx, const void *page) ZP_HIDDEN;
/* The same for n pages at once (an eviction batch); result[i] per page. */
void zp_filemap_write_pages(const size_t *idx, const void *const *data,
			    size_t n, int *result) ZP_HIDDEN;
/* Write back resident dirty page idx (locked, word *pte) for unmapping. */
void zp_filemap_writeback_locked(size_t idx, zp_pte_t pte) ZP_HIDDEN;

/* ---- Fault trace (trace.c) --------------------------------------------- */

/* Start / stop recording (ZPAGE_TRACE); 0 or -errno with a message. */
int zp_trace_start(const char *path) ZP_HIDDEN;
void zp_trace_stop(void) ZP_HIDDEN;
extern _Atomic bool zp_tracing ZP_HIDDEN;
void zp_trace_record(size_t idx, bool write, long tid) ZP_HIDDEN;
/* A fault on page idx, recorded when tracing: one load and test if not. */
static inline void zp_trace_fault(size_t idx, bool write, long tid)
{
	if (zp_unlikely(atomic_load_explicit(&zp_tracing, memory_order_relaxed)))
		zp_trace_record(idx, write, tid);
}

/* ---- Address space (vm.c) ---------------------------------------------- */

void zp_vm_fini(void) ZP_HIDDEN;
/* Check that [addr, addr+size) is page-aligned and inside one k_mem_map()
 * region; returns the first page index or SIZE_MAX (message with debug). */
size_t zp_vm_check_range(const char *fn, void *addr, size_t size) ZP_HIDDEN;
/* Start of an API call on a range: start the library if needed and check
 * the range; 0 and *first set, or a negative errno. */
int zp_api_range(const char *fn, void *addr, size_t size, size_t *first) ZP_HIDDEN;

/* ---- Read-ahead and prefetch (readahead.c) ---------------------------- */

/* After a demand fault on idx (released): load its group and read-ahead. */
void zp_fault_extra(size_t idx, struct k_thread *t) ZP_HIDDEN;
void zp_prefetch_stop(void) ZP_HIDDEN;
void zp_prefetch_forget(void) ZP_HIDDEN;

/* ---- Timers (timer.c) -------------------------------------------------- */

void zp_timers_stop_all(void) ZP_HIDDEN;
/* In a forked child: drop the parent's timers (their threads are gone). */
void zp_timers_forget(void) ZP_HIDDEN;

#endif /* ZPAGE_INTERNAL_H */
