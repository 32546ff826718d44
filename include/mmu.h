/*
 * zpage plug-in header: what Zephyr's kernel/include/mmu.h gives eviction
 * algorithms and backing stores, under Zephyr's names.
 *
 * Terms (as in Zephyr):
 *  - page frame: a page of "physical RAM", one entry of z_page_frames[]. Its
 *    physical address is CONFIG_SRAM_BASE_ADDRESS + index * page size.
 *  - data page: a page of virtual memory; while resident it occupies a frame
 *    whose addr field holds the data page's virtual address.
 *
 * Concurrency: unlike in Zephyr, faults on different pages are served at the
 * same time by several threads. Frame flags and page bits may therefore
 * change while a plug-in looks at them; read them through the helpers below
 * (they load atomically) and treat what they say as a hint that the library
 * re-checks. Plug-in calls themselves are serialised per plug-in.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ZPAGE_MMU_H
#define ZPAGE_MMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mem_manage.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Page frame flags ------------------------------------------------ */

/** Never evicted: pinned by k_mem_pin(), K_MEM_MAP_LOCK or zpage_ram_alloc(). */
#define Z_PAGE_FRAME_PINNED BIT(0)
/** Not usable for paging at all. */
#define Z_PAGE_FRAME_RESERVED BIT(1)
/** Holds a data page; addr is its virtual address. */
#define Z_PAGE_FRAME_MAPPED BIT(2)
/** A page-in, page-out or other change of the page is in progress. */
#define Z_PAGE_FRAME_BUSY BIT(3)
/** The backing store holds a clean copy of the page (set by the store in
 *  k_mem_paging_backing_store_page_finalize()). */
#define Z_PAGE_FRAME_BACKED BIT(4)

/** One page frame. Plug-ins that need more per-frame data keep arrays
 *  indexed by z_page_frame_index(). */
struct z_page_frame {
	/** Virtual address of the data page held (when MAPPED). */
	void *addr;
	/** Z_PAGE_FRAME_* bits. */
	uint8_t flags;
};

/** The frame table and its length (the pool size, fixed at start-up). */
extern struct z_page_frame *z_page_frames;
extern size_t z_num_page_frames;
#define Z_NUM_PAGE_FRAMES (z_num_page_frames)

#define Z_PHYS_RAM_START ((uintptr_t)CONFIG_SRAM_BASE_ADDRESS)
#define Z_PHYS_RAM_SIZE ((uintptr_t)Z_NUM_PAGE_FRAMES * CONFIG_MMU_PAGE_SIZE)
#define Z_PHYS_RAM_END (Z_PHYS_RAM_START + Z_PHYS_RAM_SIZE)

static inline uint8_t z_page_frame_flags(struct z_page_frame *pf)
{
	return __atomic_load_n(&pf->flags, __ATOMIC_ACQUIRE);
}

static inline void *z_page_frame_addr(struct z_page_frame *pf)
{
	return __atomic_load_n(&pf->addr, __ATOMIC_ACQUIRE);
}

static inline bool z_page_frame_is_pinned(struct z_page_frame *pf)
{
	return (z_page_frame_flags(pf) & Z_PAGE_FRAME_PINNED) != 0U;
}

static inline bool z_page_frame_is_reserved(struct z_page_frame *pf)
{
	return (z_page_frame_flags(pf) & Z_PAGE_FRAME_RESERVED) != 0U;
}

static inline bool z_page_frame_is_mapped(struct z_page_frame *pf)
{
	return (z_page_frame_flags(pf) & Z_PAGE_FRAME_MAPPED) != 0U;
}

static inline bool z_page_frame_is_busy(struct z_page_frame *pf)
{
	return (z_page_frame_flags(pf) & Z_PAGE_FRAME_BUSY) != 0U;
}

static inline bool z_page_frame_is_backed(struct z_page_frame *pf)
{
	return (z_page_frame_flags(pf) & Z_PAGE_FRAME_BACKED) != 0U;
}

/** Mapped, and neither pinned, reserved nor busy. */
static inline bool z_page_frame_is_evictable(struct z_page_frame *pf)
{
	uint8_t f = z_page_frame_flags(pf);

	return (f & (Z_PAGE_FRAME_MAPPED | Z_PAGE_FRAME_PINNED |
		     Z_PAGE_FRAME_RESERVED | Z_PAGE_FRAME_BUSY)) ==
	       Z_PAGE_FRAME_MAPPED;
}

/** Set / clear flag bits (stores use these for Z_PAGE_FRAME_BACKED). */
static inline void z_page_frame_set(struct z_page_frame *pf, uint8_t flags)
{
	__atomic_fetch_or(&pf->flags, flags, __ATOMIC_ACQ_REL);
}

static inline void z_page_frame_clear(struct z_page_frame *pf, uint8_t flags)
{
	__atomic_fetch_and(&pf->flags, (uint8_t)~flags, __ATOMIC_ACQ_REL);
}

static inline size_t z_page_frame_index(struct z_page_frame *pf)
{
	return (size_t)(pf - z_page_frames);
}

static inline uintptr_t z_page_frame_to_phys(struct z_page_frame *pf)
{
	return Z_PHYS_RAM_START + z_page_frame_index(pf) * CONFIG_MMU_PAGE_SIZE;
}

/** Virtual address of the data page the frame holds. */
static inline void *z_page_frame_to_virt(struct z_page_frame *pf)
{
	return z_page_frame_addr(pf);
}

static inline bool z_is_page_frame(uintptr_t phys)
{
	return phys >= Z_PHYS_RAM_START && phys < Z_PHYS_RAM_END;
}

static inline struct z_page_frame *z_phys_to_page_frame(uintptr_t phys)
{
	return &z_page_frames[(phys - Z_PHYS_RAM_START) / CONFIG_MMU_PAGE_SIZE];
}

/** Iterate over every frame: _phys (uintptr_t) and _pageframe (pointer). */
#define Z_PAGE_FRAME_FOREACH(_phys, _pageframe)                                \
	for ((_phys) = Z_PHYS_RAM_START, (_pageframe) = z_page_frames;         \
	     (_phys) < Z_PHYS_RAM_END;                                         \
	     (_phys) += CONFIG_MMU_PAGE_SIZE, (_pageframe)++)

/* ---- Scratch page ---------------------------------------------------- */

/** The page a store copies from (page_out) or to (page_in): a buffer of
 *  the calling thread, valid for the duration of the store call. */
void *z_scratch_page(void);
#define Z_SCRATCH_PAGE (z_scratch_page())

/* ---- Page bits ------------------------------------------------------- */

/** Accessed since the bit was last cleared (sampled, see below). */
#define ARCH_DATA_PAGE_ACCESSED BIT(0)
/** Written since loaded, or has no clean copy in the store. */
#define ARCH_DATA_PAGE_DIRTY BIT(1)
/** Resident; *location is the frame's physical address. */
#define ARCH_DATA_PAGE_LOADED BIT(2)
/** Not part of any mapping. */
#define ARCH_DATA_PAGE_NOT_MAPPED BIT(3)

/**
 * Accessed/dirty/loaded bits of a data page.
 *
 * The accessed bit is set when the page is loaded and whenever it is touched
 * after the bit was cleared: clearing it removes the page's mapping (the
 * contents stay in the frame), so the next touch takes a cheap minor fault
 * that sets it again. The dirty bit is exact when the store keeps clean
 * copies; otherwise every resident page reports dirty.
 *
 * @param addr data page address (any address inside the page)
 * @param[out] location if not NULL: the frame's physical address when
 *             loaded, the store location when paged out
 * @param clear_accessed clear the accessed bit (ignored for pinned pages).
 *             Clearings are applied in batches: at the latest when the
 *             calling plug-in function or timer callback returns.
 * @return ARCH_DATA_PAGE_* bits
 */
uintptr_t arch_page_info_get(void *addr, uintptr_t *location,
			     bool clear_accessed);

#define ARCH_PAGE_LOCATION_PAGED_OUT 0
#define ARCH_PAGE_LOCATION_PAGED_IN 1
#define ARCH_PAGE_LOCATION_BAD 2

/**
 * Where a data page is.
 *
 * @param addr data page address
 * @param[out] location store location (paged out) or physical address
 * @return ARCH_PAGE_LOCATION_PAGED_OUT, _PAGED_IN, or _BAD (not mapped, or
 *         never loaded: a fresh page has no location yet)
 */
int arch_page_location_get(void *addr, uintptr_t *location);

#ifdef __cplusplus
}
#endif

#endif /* ZPAGE_MMU_H */
