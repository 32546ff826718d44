/*
 * zpage: Zephyr's memory-management and demand-paging API for Linux user space.
 *
 * The declarations and names follow Zephyr 2.7 include/sys/mem_manage.h; the
 * comments describe what they mean in a Linux process, where this library
 * plays the part of Zephyr's kernel:
 *
 *  - "Physical RAM" is the library's pool of page frames (ZPAGE_FRAMES of
 *    them). Physical addresses start at CONFIG_SRAM_BASE_ADDRESS; the pool has
 *    a permanent mapping at the start of the library's virtual region, so
 *    virt = phys + Z_MEM_VM_OFFSET holds for memory taken with
 *    zpage_ram_alloc() (see <zpage.h>).
 *  - Data pages of k_mem_map() regions live in page frames while resident and
 *    in the backing store otherwise. Touching a non-resident page is a real
 *    hardware page fault, served by the library.
 *  - Every function initialises the library on first use (from the ZPAGE_*
 *    environment variables, see <zpage.h>). If that fails, the call reports
 *    failure the way its contract allows (NULL, -errno, or no effect) and a
 *    message is printed on stderr.
 *  - Misuse (unaligned arguments, addresses outside any mapping) is answered
 *    with NULL / -EINVAL / no effect, plus a message when ZPAGE_DEBUG is set.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ZEPHYR_INCLUDE_SYS_MEM_MANAGE_H
#define ZEPHYR_INCLUDE_SYS_MEM_MANAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>

/*
 * Kconfig-style constants the library is built with. They describe the
 * library, so a program must not define them to other values.
 */
#define CONFIG_MMU 1
#define CONFIG_DEMAND_PAGING 1
/** Size of a page frame and of a data page, in bytes. */
#define CONFIG_MMU_PAGE_SIZE 4096
#define CONFIG_DEMAND_PAGING_STATS 1
#define CONFIG_DEMAND_PAGING_THREAD_STATS 1
#define CONFIG_DEMAND_PAGING_TIMING_HISTOGRAM 1
/** Bins per timing histogram; the last bin has no upper bound. */
#define CONFIG_DEMAND_PAGING_TIMING_HISTOGRAM_NUM_BINS 10
/** Physical address of the first page frame. */
#define CONFIG_SRAM_BASE_ADDRESS 0x80000000UL
#define CONFIG_SRAM_OFFSET 0

#ifndef BIT
#define BIT(n) (1UL << (n))
#endif

/* Caching modes (mutually exclusive). User space has no cache control: the
 * mode is checked for validity and otherwise has no effect. */

/** No caching. */
#define K_MEM_CACHE_NONE 2
/** Write-through caching. */
#define K_MEM_CACHE_WT 1
/** Write-back caching (what all RAM gets). */
#define K_MEM_CACHE_WB 0
/** Bits of the flags argument that hold the caching mode. */
#define K_MEM_CACHE_MASK (BIT(3) - 1)

/* Permissions. Without flags a region is read-only and not executable. */

/** Readable and writable. */
#define K_MEM_PERM_RW BIT(3)
/** Executable. */
#define K_MEM_PERM_EXEC BIT(4)
/** Accessible from user mode. Every thread of a process runs in "user mode",
 *  so the flag has no effect except that it forbids K_MEM_MAP_UNINIT. */
#define K_MEM_PERM_USER BIT(5)

/**
 * Offset from a physical address to its address in the permanent mapping of
 * RAM. The library chooses its virtual region at start-up, so this is a
 * run-time value (calling it starts the library if needed); it holds only for
 * memory in the permanent mapping (zpage_ram_alloc()).
 */
#define Z_MEM_VM_OFFSET (z_mem_vm_offset())

#define Z_MEM_PHYS_ADDR(virt) ((virt) - Z_MEM_VM_OFFSET)
#define Z_MEM_VIRT_ADDR(phys) ((phys) + Z_MEM_VM_OFFSET)

/** Paging statistics. Counters only grow; they count real events. */
struct k_mem_paging_stats_t {
	struct {
		/** Demand-paging faults: touches of a page that was not
		 *  resident and had to be loaded (from the backing store,
		 *  or zero-filled on first use). Faults the library takes only
		 *  to sample accessed/dirty bits are not counted here. */
		unsigned long cnt;
		/** Faults taken while the thread held irq_lock(). */
		unsigned long irq_locked;
		/** Faults taken while it did not; irq_locked + irq_unlocked
		 *  always equals cnt. */
		unsigned long irq_unlocked;
		/** Faults taken inside a signal handler installed with
		 *  zpage_sigaction() (the user-space "ISR"). */
		unsigned long in_isr;
	} pagefaults;

	struct {
		/** Evicted pages that had a clean copy in the store. */
		unsigned long clean;
		/** Evicted pages that had to be written to the store. */
		unsigned long dirty;
	} eviction;
};

/**
 * A timing histogram. counts[i] is the number of events whose duration d (in
 * nanoseconds) satisfied bounds[i-1] < d <= bounds[i] (with bounds[-1] = 0);
 * bounds[NUM_BINS - 1] is ULONG_MAX, so every event lands in some bin and the
 * counts add up to the number of events.
 */
struct k_mem_paging_histogram_t {
	unsigned long counts[CONFIG_DEMAND_PAGING_TIMING_HISTOGRAM_NUM_BINS];
	unsigned long bounds[CONFIG_DEMAND_PAGING_TIMING_HISTOGRAM_NUM_BINS];
};

#ifdef __cplusplus
extern "C" {
#endif

/** Run-time value of Z_MEM_VM_OFFSET (0 if the library cannot start). */
uintptr_t z_mem_vm_offset(void);

/** Whether [virt, virt+1) lies in the permanent mapping of RAM. */
bool z_mem_is_permanent_virt(uintptr_t virt);

/** Whether phys is a physical address of a page frame. */
bool z_mem_is_ram_phys(uintptr_t phys);

/** Stop the process with a message about a bad address (assertions). */
void z_mem_addr_panic(const char *what, uintptr_t addr);

/**
 * Physical address of an address in the permanent mapping of RAM.
 * Only memory from zpage_ram_alloc() is guaranteed to stay at its physical
 * address; in builds without NDEBUG other addresses abort with a message.
 */
static inline uintptr_t z_mem_phys_addr(void *virt)
{
	uintptr_t addr = (uintptr_t)virt;
#ifndef NDEBUG
	if (!z_mem_is_permanent_virt(addr)) {
		z_mem_addr_panic("virtual address not in the permanent mapping", addr);
	}
#endif
	return Z_MEM_PHYS_ADDR(addr);
}

/** Address in the permanent mapping of a physical RAM address. */
static inline void *z_mem_virt_addr(uintptr_t phys)
{
#ifndef NDEBUG
	if (!z_mem_is_ram_phys(phys)) {
		z_mem_addr_panic("physical address not in RAM", phys);
	}
#endif
	return (void *)Z_MEM_VIRT_ADDR(phys);
}

/**
 * Map a physical range at a new virtual address chosen by the library.
 *
 * @p phys may lie in RAM (the frame pool; the new mapping then shares memory
 * with the permanent mapping, useful for memory from zpage_ram_alloc()) or in
 * a range registered with zpage_phys_register() (a device file, a shared
 * memory object ...). The range may start and end anywhere: it is widened to
 * whole pages and *virt_ptr points at the byte that corresponds to @p phys.
 * The mapping is never paged. Only the K_MEM_PERM_RW and K_MEM_PERM_EXEC
 * permission bits matter.
 *
 * @param[out] virt_ptr where the virtual address is stored; NULL is stored if
 *             the range is not (entirely) physical memory the library knows,
 *             the flags are invalid or no virtual space is left.
 * @param phys  first physical address
 * @param size  size in bytes (> 0)
 * @param flags K_MEM_CACHE_* and K_MEM_PERM_* bits
 */
void z_phys_map(uint8_t **virt_ptr, uintptr_t phys, size_t size,
		uint32_t flags);

/**
 * Remove a mapping made by z_phys_map(). The arguments are widened to whole
 * pages the same way. Unknown ranges are ignored (message with ZPAGE_DEBUG).
 *
 * @param virt address returned by z_phys_map()
 * @param size the size given to z_phys_map()
 */
void z_phys_unmap(uint8_t *virt, size_t size);

/** The region is not zeroed. zpage always zero-fills new pages, so this only
 *  saves the check; it may not be combined with K_MEM_PERM_USER. */
#define K_MEM_MAP_UNINIT BIT(16)

/** Pin the region and load it now: it never faults afterwards, until
 *  k_mem_unpin() or k_mem_unmap(). */
#define K_MEM_MAP_LOCK BIT(17)

/** Deprecated, kept for source compatibility: every mapping has guard
 *  pages. */
#define K_MEM_MAP_GUARD BIT(18)

/**
 * Free RAM: the number of free page frames times the page size. Goes stale
 * as soon as other threads fault or map.
 *
 * @return bytes of free page frames (0 if the library cannot start)
 */
size_t k_mem_free_get(void);

/**
 * Map anonymous, demand-paged memory.
 *
 * The region is placed in the library's virtual region, with one
 * inaccessible guard page right before and one right after it (touching a
 * guard page raises SIGSEGV). Pages are zero-filled on first touch (no frame
 * is used until then, so a mapping may be far larger than RAM and the store),
 * read-only unless K_MEM_PERM_RW, executable only with K_MEM_PERM_EXEC.
 * With K_MEM_MAP_LOCK every page is loaded and pinned before the call
 * returns; frames are freed for it by evicting other pages through the
 * store's non-fault path, so a store with only its fault reserve left makes
 * the call fail.
 *
 * A failed call leaves no frame, store location or address space behind.
 *
 * @param size  bytes, a non-zero multiple of CONFIG_MMU_PAGE_SIZE
 * @param flags K_MEM_PERM_* and K_MEM_MAP_* bits (K_MEM_CACHE_* accepted)
 * @return page-aligned address, or NULL if size is 0 or not page-aligned, the
 *         flags are invalid (unknown bits, K_MEM_MAP_UNINIT with
 *         K_MEM_PERM_USER), virtual space is exhausted, or K_MEM_MAP_LOCK
 *         needs more frames than can be freed.
 */
void *k_mem_map(size_t size, uint32_t flags);

/**
 * Unmap a region made by k_mem_map(). Its frames, its backing-store
 * locations and its address range (with the guard pages) are freed and may be
 * reused; later accesses raise SIGSEGV. A range that is not exactly a mapping
 * made by k_mem_map() is ignored (message with ZPAGE_DEBUG).
 *
 * @param addr address returned by k_mem_map()
 * @param size the size given to k_mem_map()
 */
void k_mem_unmap(void *addr, size_t size);

/**
 * Widen [addr, addr + size) to a region aligned to @p align.
 *
 * @param[out] aligned_addr addr rounded down to a multiple of align
 * @param[out] aligned_size size such that aligned_addr + aligned_size is
 *             addr + size rounded up to a multiple of align
 * @param addr  region start
 * @param size  region size
 * @param align alignment, a power of two
 * @retval offset of addr from aligned_addr
 */
size_t k_mem_region_align(uintptr_t *aligned_addr, size_t *aligned_size,
			  uintptr_t addr, size_t size, size_t align);

/**
 * @defgroup mem-demand-paging Demand Paging APIs
 * @{
 */

/**
 * Evict a region to the backing store now.
 *
 * Resident pages are written to the store if they are dirty or have no clean
 * copy there, and their frames become free. Pinned pages are left resident
 * and pinned.
 *
 * @param addr page-aligned start, inside one k_mem_map() region
 * @param size page-aligned size
 * @retval 0 every page of the region is out
 * @retval -ENOMEM the store is full (only its fault reserve left); the
 *         region may be partly out
 * @retval -EBUSY some pages are pinned and stayed resident; all others are out
 * @retval -EINVAL addr/size unaligned or not inside one k_mem_map() region
 */
int k_mem_page_out(void *addr, size_t size);

/**
 * Load a region now. When the call returns every page of it is resident
 * (other threads may evict them at once: nothing keeps them so). A region
 * larger than half of the frames that are not pinned cannot be held while
 * it loads: then only its last pages are sure to be resident. Invalid ranges
 * are ignored (message with ZPAGE_DEBUG).
 *
 * @param addr page-aligned start, inside one k_mem_map() region
 * @param size page-aligned size
 */
void k_mem_page_in(void *addr, size_t size);

/**
 * Load and pin a region: its pages stay resident, never fault and are never
 * chosen for eviction until k_mem_unpin() or k_mem_unmap(). Pinning is a flag,
 * not a count. If the region needs more frames than can ever be freed (all
 * others pinned), the process is stopped with a message, as a failed kernel
 * assertion would stop Zephyr.
 *
 * @param addr page-aligned start, inside one k_mem_map() region
 * @param size page-aligned size
 */
void k_mem_pin(void *addr, size_t size);

/**
 * Unpin a region. Its pages stay resident until evicted.
 *
 * @param addr page-aligned start, inside one k_mem_map() region
 * @param size page-aligned size
 */
void k_mem_unpin(void *addr, size_t size);

/**
 * Paging statistics of the whole process since start-up.
 *
 * @param[out] stats filled in
 */
void k_mem_paging_stats_get(struct k_mem_paging_stats_t *stats);

struct k_thread;

/**
 * Paging statistics of one thread: the faults it took and the evictions
 * done on its behalf.
 *
 * @param[in]  thread a thread, from k_current_get() (<zpage.h>)
 * @param[out] stats  filled in (all zero for NULL)
 */
void k_mem_paging_thread_stats_get(struct k_thread *thread,
				   struct k_mem_paging_stats_t *stats);

/**
 * Histogram of the time eviction selection takes (one event per call of
 * k_mem_paging_eviction_select()), in nanoseconds.
 *
 * @param[out] hist filled in
 */
void k_mem_paging_histogram_eviction_get(
	struct k_mem_paging_histogram_t *hist);

/**
 * Histogram of backing-store page-in times (one event per call of
 * k_mem_paging_backing_store_page_in()), in nanoseconds.
 *
 * @param[out] hist filled in
 */
void k_mem_paging_histogram_backing_store_page_in_get(
	struct k_mem_paging_histogram_t *hist);

/**
 * Histogram of backing-store page-out times (one event per call of
 * k_mem_paging_backing_store_page_out()), in nanoseconds.
 *
 * @param[out] hist filled in
 */
void k_mem_paging_histogram_backing_store_page_out_get(
	struct k_mem_paging_histogram_t *hist);

/** @} */

/**
 * Eviction algorithm plug-in API. The library ships several (chosen with
 * ZPAGE_EVICTION); a program that defines these two functions itself
 * replaces them at link time. <mmu.h> gives plug-ins the page-frame table.
 *
 * @defgroup mem-demand-paging-eviction Eviction Algorithm APIs
 * @{
 */

/**
 * Choose a page frame to evict. Called when a frame is needed and none is
 * free. Calls are serialised with each other (never two at once) but run
 * concurrently with faults on other pages, so frame flags and page bits may
 * change underneath: read them with the <mmu.h> helpers, skip frames that
 * are not z_page_frame_is_evictable(), and return NULL if none is. The library
 * checks the choice and asks again if the frame became busy meanwhile.
 *
 * @param[out] dirty whether the chosen page is dirty (the library re-checks)
 * @return the frame to evict, or NULL if no frame can be evicted
 */
struct z_page_frame *k_mem_paging_eviction_select(bool *dirty);

/**
 * Initialise the algorithm. Called once, at library start-up, after the
 * frame table exists and before any k_mem_paging_eviction_select().
 */
void k_mem_paging_eviction_init(void);

/*
 * Tracking hooks (Zephyr 3.x). An algorithm that keeps its own lists (FIFO,
 * LRU) learns from these which frames hold evictable pages and which pages
 * were touched. A program that defines k_mem_paging_eviction_add() gets all
 * three called. The library calls them with a lock of its own held: they
 * are serialised with each other and with k_mem_paging_eviction_select(),
 * and must not block.
 */

/**
 * A frame now holds an evictable data page: loaded by a fault, a page-in or
 * a read-ahead, or unpinned. Until the matching remove, select may choose it.
 */
void k_mem_paging_eviction_add(struct z_page_frame *pf);

/**
 * A frame stops being evictable: its page was evicted, unmapped or pinned.
 * Called once per add, before the frame is reused.
 */
void k_mem_paging_eviction_remove(struct z_page_frame *pf);

/**
 * The data page in the frame at physical address phys was touched. The
 * library sees a touch only when it takes a fault for it: the first touch
 * after the page's accessed bit was cleared (arch_page_info_get() with
 * clear_accessed), where it samples accessed bits by faults
 * (ZPAGE_ACCESS_TRACKING=fault, the default for algorithms with these
 * hooks). An algorithm that wants to hear of the next touch clears the bit.
 */
void k_mem_paging_eviction_accessed(uintptr_t phys);

/** @} */

/**
 * Backing store plug-in API. The library ships several (chosen with
 * ZPAGE_BACKING_STORE); a program that defines all six functions itself
 * replaces them at link time. All calls are serialised with each other.
 *
 * @defgroup mem-demand-paging-backing-store Backing Store APIs
 * @{
 */

/**
 * Get a store location for the data page in @p pf (pf->addr is its virtual
 * address). If the frame is Z_PAGE_FRAME_BACKED, return the location holding
 * its clean copy. One free location must always stay in reserve for page
 * faults: when @p page_fault is false and only that one is left, return
 * -ENOMEM.
 *
 * @param pf frame holding the page
 * @param[out] location page-aligned location token
 * @param page_fault whether this is for a page fault
 * @retval 0 success
 * @retval -ENOMEM the store is full
 */
int k_mem_paging_backing_store_location_get(struct z_page_frame *pf,
					    uintptr_t *location,
					    bool page_fault);

/**
 * Free a location; its contents may be discarded.
 *
 * @param location token from location_get
 */
void k_mem_paging_backing_store_location_free(uintptr_t location);

/**
 * Store the page at Z_SCRATCH_PAGE (CONFIG_MMU_PAGE_SIZE bytes, read-only
 * for the store) at @p location.
 *
 * @param location token from location_get
 */
void k_mem_paging_backing_store_page_out(uintptr_t location);

/**
 * Copy the page at @p location to Z_SCRATCH_PAGE.
 *
 * @param location token of a stored page
 */
void k_mem_paging_backing_store_page_in(uintptr_t location);

/**
 * Called after a page-in from @p location into @p pf. A store that keeps a
 * clean copy sets Z_PAGE_FRAME_BACKED in pf->flags (z_page_frame_set()); a
 * store that does not may free the location here.
 *
 * @param pf frame that was loaded
 * @param location where it was loaded from
 */
void k_mem_paging_backing_store_page_finalize(struct z_page_frame *pf,
					      uintptr_t location);

/**
 * Initialise the store. Called once, at library start-up, before any other
 * store call.
 */
void k_mem_paging_backing_store_init(void);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* ZEPHYR_INCLUDE_SYS_MEM_MANAGE_H */
