/*
 * Address space: the paging area's allocator, k_mem_map()/k_mem_unmap(),
 * z_phys_map()/z_phys_unmap(), RAM taken out of the frame pool
 * (zpage_ram_alloc) and the physical/virtual helpers.
 *
 * Layout of the library's region (page indices):
 *
 *   0 ............ ram_pages ............................... npages
 *   | RAM window  | guard | mapping | guard | free | guard | z_phys_map ...
 *
 * Every allocation from the paging area is the caller's size plus one guard
 * page on each side. Bookkeeping is under zp.vm_lock, which is never held
 * while waiting for a page lock except by zpage_ram_alloc (vm_lock, then
 * page locks: nobody takes vm_lock while holding a page lock).
 */
#include <stdlib.h>

#include "internal.h"

enum region_kind { REGION_MAP, REGION_PHYS };

struct zp_region {
	uint8_t *addr;      /* what the caller got (page-aligned) */
	size_t size;        /* bytes, page-aligned */
	enum region_kind kind;
	struct zp_region *next;
};

struct extent {
	size_t first, n; /* free pages [first, first + n) */
};

static struct extent *ext;
static size_t next_count, ext_cap;

#define CHUNK 256 /* pages dropped per batch when unmapping */

static size_t ram_pages(void)
{
	return zp.ram_size >> ZP_PAGE_SHIFT;
}

static int extents_reset(void)
{
	free(ext);
	ext_cap = 16;
	ext = malloc(ext_cap * sizeof(*ext));
	if (ext == NULL)
		return -ENOMEM;
	ext[0].first = ram_pages();
	ext[0].n = zp.npages - ram_pages();
	next_count = 1;
	return 0;
}

/* First fit; returns the first page index or SIZE_MAX. */
static size_t va_alloc(size_t n)
{
	if (ext == NULL && extents_reset() != 0)
		return SIZE_MAX;
	for (size_t i = 0; i < next_count; i++) {
		if (ext[i].n < n)
			continue;
		size_t first = ext[i].first;
		ext[i].first += n;
		ext[i].n -= n;
		if (ext[i].n == 0) {
			memmove(&ext[i], &ext[i + 1],
				(next_count - i - 1) * sizeof(*ext));
			next_count--;
		}
		return first;
	}
	return SIZE_MAX;
}

/* Give pages back, merging with neighbours. -ENOMEM only if the extent
 * array cannot grow (the space is then lost, nothing else). */
static int va_free(size_t first, size_t n)
{
	size_t i = 0;

	while (i < next_count && ext[i].first < first)
		i++;
	bool join_prev = i > 0 && ext[i - 1].first + ext[i - 1].n == first;
	bool join_next = i < next_count && first + n == ext[i].first;

	if (join_prev && join_next) {
		ext[i - 1].n += n + ext[i].n;
		memmove(&ext[i], &ext[i + 1], (next_count - i - 1) * sizeof(*ext));
		next_count--;
	} else if (join_prev) {
		ext[i - 1].n += n;
	} else if (join_next) {
		ext[i].first = first;
		ext[i].n += n;
	} else {
		if (next_count == ext_cap) {
			struct extent *e = realloc(ext, 2 * ext_cap * sizeof(*ext));
			if (e == NULL)
				return -ENOMEM;
			ext = e;
			ext_cap *= 2;
		}
		memmove(&ext[i + 1], &ext[i], (next_count - i) * sizeof(*ext));
		ext[i].first = first;
		ext[i].n = n;
		next_count++;
	}
	return 0;
}

static struct zp_region *region_find(uint8_t *addr, size_t size,
				     enum region_kind kind, bool unlink)
{
	for (struct zp_region **pp = &zp.regions; *pp != NULL; pp = &(*pp)->next) {
		struct zp_region *r = *pp;
		if (r->addr == addr && r->size == size && r->kind == kind) {
			if (unlink)
				*pp = r->next;
			return r;
		}
	}
	return NULL;
}

/* Reserve size bytes plus guards and record the region; returns the
 * caller's address or NULL. */
static uint8_t *reserve(size_t size, enum region_kind kind)
{
	struct zp_region *r = malloc(sizeof(*r));
	if (r == NULL)
		return NULL;
	zp_lock(&zp.vm_lock);
	size_t first = va_alloc((size >> ZP_PAGE_SHIFT) + 2);
	if (first == SIZE_MAX) {
		zp_unlock(&zp.vm_lock);
		free(r);
		return NULL;
	}
	r->addr = zp_page_addr(first + 1);
	r->size = size;
	size_t end = first + (size >> ZP_PAGE_SHIFT) + 2;
	if (end > atomic_load(&zp.vm_high))
		atomic_store(&zp.vm_high, end);
	r->kind = kind;
	r->next = zp.regions;
	zp.regions = r;
	zp_unlock(&zp.vm_lock);
	return r->addr;
}

static void release(struct zp_region *r)
{
	size_t first = zp_page_index(r->addr) - 1;

	zp_lock(&zp.vm_lock);
	if (va_free(first, (r->size >> ZP_PAGE_SHIFT) + 2) != 0)
		zp_error("address-space bookkeeping out of memory: %zu bytes "
			 "at %p are lost", r->size, (void *)r->addr);
	/* The hands of the eviction algorithms go round [RAM window,
	 * vm_high): keep it at the end of the highest mapping left, or one
	 * large mapping, once unmapped, would make every later round cover
	 * the space it took. */
	struct extent *last = next_count > 0 ? &ext[next_count - 1] : NULL;
	if (last != NULL && last->first + last->n == zp.npages)
		atomic_store(&zp.vm_high, last->first);
	zp_unlock(&zp.vm_lock);
	free(r);
}

void zp_vm_fini(void)
{
	zp_filemap_reset();
	while (zp.regions != NULL) {
		struct zp_region *r = zp.regions;
		zp.regions = r->next;
		free(r);
	}
	free(ext);
	ext = NULL;
	next_count = ext_cap = 0;
	for (size_t i = 0; i < zp.nphys; i++)
		zp_port_close_handle(zp.phys[i].handle);
	zp.nphys = 0;
}

size_t zp_vm_check_range(const char *fn, void *addr, size_t size)
{
	size_t first = zp_page_index(addr);

	if (((uintptr_t)addr & (ZP_PAGE_SIZE - 1)) || size == 0 ||
	    (size & (ZP_PAGE_SIZE - 1)) || first == SIZE_MAX ||
	    first < ram_pages() || size / ZP_PAGE_SIZE > zp.npages - first) {
		zp_debug("%s(%p, %zu): not a page-aligned range of the paging "
			 "area", fn, addr, size);
		return SIZE_MAX;
	}
	for (size_t i = 0; i < size / ZP_PAGE_SIZE; i++) {
		enum zp_page_state s = pte_state(atomic_load(&zp.pte[first + i]));
		if (s != PS_ZERO && s != PS_RESIDENT && s != PS_OUT) {
			zp_debug("%s(%p, %zu): page %p is not in a k_mem_map() "
				 "region", fn, addr, size,
				 (void *)zp_page_addr(first + i));
			return SIZE_MAX;
		}
	}
	return first;
}

int zp_api_range(const char *fn, void *addr, size_t size, size_t *first)
{
	int r = zp_ensure();

	if (r != 0)
		return r;
	*first = zp_vm_check_range(fn, addr, size);
	return *first == SIZE_MAX ? -EINVAL : 0;
}

/* Drop every page of [first, first + n): frames and store locations freed,
 * contents discarded, pages back to PS_NONE. */
static void drop_pages(size_t first, size_t n)
{
	uint32_t freed[CHUNK];

	for (size_t done = 0; done < n;) {
		size_t k = n - done < CHUNK ? n - done : CHUNK, nf = 0;
		for (size_t i = 0; i < k; i++) {
			size_t idx = first + done + i;
			zp_pte_t pte = zp_page_lock(idx);
			if (pte_state(pte) == PS_RESIDENT)
				freed[nf++] = (uint32_t)pte_frame(pte);
			zp_page_drop_locked(idx, pte);
			zp_page_unlock(idx, 0);
		}
		zp_port_discard(zp_page_addr(first + done), k * ZP_PAGE_SIZE);
		for (size_t i = 0; i < nf; i++)
			zp_frame_push(freed[i]);
		done += k;
	}
}

#define MAP_FLAGS (K_MEM_CACHE_MASK | K_MEM_PERM_RW | K_MEM_PERM_EXEC |    \
		   K_MEM_PERM_USER | K_MEM_MAP_UNINIT | K_MEM_MAP_LOCK |      \
		   K_MEM_MAP_GUARD)

static int prot_of(uint32_t flags)
{
	return ZP_PROT_READ | ((flags & K_MEM_PERM_RW) ? ZP_PROT_WRITE : 0) |
	       ((flags & K_MEM_PERM_EXEC) ? ZP_PROT_EXEC : 0);
}

static bool flags_valid(const char *fn, uint32_t flags, uint32_t allowed)
{
	if (flags & ~allowed) {
		zp_debug("%s: unknown flag bits %#x", fn,
			 (unsigned)(flags & ~allowed));
		return false;
	}
	if ((flags & K_MEM_CACHE_MASK) > K_MEM_CACHE_NONE) {
		zp_debug("%s: invalid cache mode %u", fn,
			 (unsigned)(flags & K_MEM_CACHE_MASK));
		return false;
	}
	return true;
}

void *k_mem_map(size_t size, uint32_t flags)
{
	if (zp_ensure() != 0)
		return NULL;
	if (size == 0 || (size & (ZP_PAGE_SIZE - 1)) ||
	    size > zp.vm_size - zp.ram_size) {
		zp_debug("k_mem_map: size %zu is zero, not page-aligned or "
			 "larger than the paging area", size);
		return NULL;
	}
	if (!flags_valid("k_mem_map", flags, MAP_FLAGS))
		return NULL;
	if ((flags & K_MEM_MAP_UNINIT) && (flags & K_MEM_PERM_USER)) {
		zp_debug("k_mem_map: K_MEM_MAP_UNINIT with K_MEM_PERM_USER");
		return NULL;
	}
	size_t pages = size >> ZP_PAGE_SHIFT;
	bool lock = (flags & K_MEM_MAP_LOCK) != 0;
	if (lock && pages > zp.nframes - atomic_load(&zp.pinned_count)) {
		zp_debug("k_mem_map: K_MEM_MAP_LOCK needs %zu frames, only %zu "
			 "are not pinned", pages,
			 zp.nframes - atomic_load(&zp.pinned_count));
		return NULL;
	}

	uint8_t *addr = reserve(size, REGION_MAP);
	if (addr == NULL) {
		zp_debug("k_mem_map: no %zu bytes of virtual space left", size);
		return NULL;
	}
	size_t first = zp_page_index(addr);
	zp_pte_t init = ((zp_pte_t)PS_ZERO << PTE_STATE_SHIFT) |
			((flags & K_MEM_PERM_RW) ? PTE_WRITABLE : 0);
	for (size_t i = 0; i < pages; i++)
		zp_page_claim(first + i, init);
	int r = zp_port_protect(addr, size, prot_of(flags));
	if (r == 0 && lock) {
		unsigned key = zpage_irq_lock();
		r = zp_load_range(first, pages, true, false);
		zpage_irq_unlock(key);
		if (r != 0)
			zp_debug("k_mem_map: cannot load and pin %zu pages "
				 "(error %d)", pages, r);
	}
	if (r != 0) {
		zp_port_protect(addr, size, ZP_PROT_NONE);
		drop_pages(first, pages);
		zp_lock(&zp.vm_lock);
		struct zp_region *reg = region_find(addr, size, REGION_MAP, true);
		zp_unlock(&zp.vm_lock);
		release(reg);
		return NULL;
	}
	return addr;
}

void *zpage_map_file(int fd, uint64_t offset, size_t size, uint32_t flags)
{
	if (zp_ensure() != 0)
		return NULL;
	if (size == 0 || ((size | offset) & (ZP_PAGE_SIZE - 1)) ||
	    size > zp.vm_size - zp.ram_size || (flags & ~K_MEM_PERM_RW)) {
		zp_debug("zpage_map_file: size %zu or offset %llu not "
			 "page-aligned, or flags %#x other than K_MEM_PERM_RW",
			 size, (unsigned long long)offset, (unsigned)flags);
		return NULL;
	}
	int handle = zp_port_open_unbuffered(fd);
	if (handle < 0) {
		zp_debug("zpage_map_file: fd %d is not open (error %d)", fd,
			 handle);
		return NULL;
	}
	uint8_t *addr = reserve(size, REGION_MAP);
	size_t first = addr != NULL ? zp_page_index(addr) : 0;
	if (addr == NULL ||
	    zp_filemap_add(first, size >> ZP_PAGE_SHIFT, handle, offset) != 0) {
		zp_debug("zpage_map_file: no virtual space or no free file "
			 "mapping slot (at most 64)");
		if (addr != NULL) {
			zp_lock(&zp.vm_lock);
			struct zp_region *reg = region_find(addr, size,
							    REGION_MAP, true);
			zp_unlock(&zp.vm_lock);
			release(reg);
		}
		zp_port_close_handle(handle);
		return NULL;
	}
	/* Every page is out, in the file. */
	zp_pte_t init = ((zp_pte_t)PS_OUT << PTE_STATE_SHIFT) | PTE_FILE |
			((flags & K_MEM_PERM_RW) ? PTE_WRITABLE : 0);
	for (size_t i = 0; i < size >> ZP_PAGE_SHIFT; i++)
		zp_page_claim(first + i, init);
	zp_port_protect(addr, size, prot_of(flags));
	return addr;
}

void k_mem_unmap(void *addr, size_t size)
{
	if (zp_ensure() != 0)
		return;
	zp_lock(&zp.vm_lock);
	struct zp_region *r = region_find(addr, size, REGION_MAP, true);
	zp_unlock(&zp.vm_lock);
	if (r == NULL) {
		zp_debug("k_mem_unmap(%p, %zu): not a mapping made by "
			 "k_mem_map()", addr, size);
		return;
	}
	unsigned key = zpage_irq_lock();
	/* Inaccessible first: from now on a touch is a wild access. */
	zp_port_protect(r->addr, size, ZP_PROT_NONE);
	drop_pages(zp_page_index(r->addr), size >> ZP_PAGE_SHIFT);
	zpage_irq_unlock(key);
	zp_filemap_remove(zp_page_index(r->addr));
	release(r);
}

size_t k_mem_region_align(uintptr_t *aligned_addr, size_t *aligned_size,
			  uintptr_t addr, size_t size, size_t align)
{
	uintptr_t base = addr & ~(uintptr_t)(align - 1);
	size_t offset = addr - base;

	*aligned_addr = base;
	*aligned_size = (size + offset + align - 1) & ~(align - 1);
	return offset;
}

/* ---- Physical memory ---------------------------------------------------- */

static bool phys_in_ram(uintptr_t phys, size_t size)
{
	return phys >= Z_PHYS_RAM_START && size <= zp.ram_size &&
	       phys - Z_PHYS_RAM_START <= zp.ram_size - size;
}

static bool ranges_overlap(uintptr_t a, size_t an, uintptr_t b, size_t bn)
{
	return a < b + bn && b < a + an;
}

int zpage_phys_register(uintptr_t phys, size_t size, int fd, uint64_t offset)
{
	int r = zp_ensure();
	if (r != 0)
		return r;
	if ((phys | size | offset) & (ZP_PAGE_SIZE - 1) || size == 0 ||
	    phys + size < phys ||
	    ranges_overlap(phys, size, Z_PHYS_RAM_START, zp.ram_size)) {
		zp_debug("zpage_phys_register(%#lx, %zu): unaligned, empty or "
			 "overlapping RAM", (unsigned long)phys, size);
		return -EINVAL;
	}
	zp_lock(&zp.vm_lock);
	for (size_t i = 0; i < zp.nphys; i++) {
		if (ranges_overlap(phys, size, zp.phys[i].phys, zp.phys[i].size)) {
			zp_unlock(&zp.vm_lock);
			zp_debug("zpage_phys_register(%#lx, %zu): overlaps a "
				 "registered range", (unsigned long)phys, size);
			return -EINVAL;
		}
	}
	if (zp.nphys == ZP_MAX_PHYS_RANGES) {
		zp_unlock(&zp.vm_lock);
		return -ENOSPC;
	}
	int handle = zp_port_dup_handle(fd);
	if (handle < 0) {
		zp_unlock(&zp.vm_lock);
		return handle;
	}
	zp.phys[zp.nphys++] = (struct zp_phys_range){ phys, size, handle, offset };
	zp_unlock(&zp.vm_lock);
	return 0;
}

/* Find what backs [phys, phys+size): RAM (handle -1) or a registered file. */
static bool phys_source(uintptr_t phys, size_t size, int *handle,
			uint64_t *offset)
{
	if (phys_in_ram(phys, size)) {
		*handle = -1;
		*offset = phys - Z_PHYS_RAM_START;
		return true;
	}
	bool found = false;
	zp_lock(&zp.vm_lock);
	for (size_t i = 0; i < zp.nphys && !found; i++) {
		struct zp_phys_range *p = &zp.phys[i];
		if (phys >= p->phys && size <= p->size &&
		    phys - p->phys <= p->size - size) {
			*handle = p->handle;
			*offset = p->offset + (phys - p->phys);
			found = true;
		}
	}
	zp_unlock(&zp.vm_lock);
	return found;
}

void z_phys_map(uint8_t **virt_ptr, uintptr_t phys, size_t size,
		uint32_t flags)
{
	uintptr_t aphys;
	size_t asize;
	int handle;
	uint64_t offset;

	if (virt_ptr == NULL)
		return;
	*virt_ptr = NULL;
	if (zp_ensure() != 0)
		return;
	if (size == 0 || phys + size < phys ||
	    !flags_valid("z_phys_map", flags,
			 K_MEM_CACHE_MASK | K_MEM_PERM_RW | K_MEM_PERM_EXEC |
				 K_MEM_PERM_USER))
		return;
	size_t off = k_mem_region_align(&aphys, &asize, phys, size, ZP_PAGE_SIZE);
	if (!phys_source(aphys, asize, &handle, &offset)) {
		zp_debug("z_phys_map(%#lx, %zu): not RAM or a registered range",
			 (unsigned long)phys, size);
		return;
	}
	uint8_t *addr = reserve(asize, REGION_PHYS);
	if (addr == NULL) {
		zp_debug("z_phys_map: no %zu bytes of virtual space left", asize);
		return;
	}
	size_t first = zp_page_index(addr);
	for (size_t i = 0; i < asize / ZP_PAGE_SIZE; i++)
		zp_page_claim(first + i, (zp_pte_t)PS_PHYS << PTE_STATE_SHIFT);
	if (zp_port_map_phys(addr, asize, prot_of(flags), handle, offset) != 0) {
		zp_debug("z_phys_map(%#lx, %zu): the system refused the mapping",
			 (unsigned long)phys, size);
		for (size_t i = 0; i < asize / ZP_PAGE_SIZE; i++)
			zp_page_claim(first + i, 0);
		zp_lock(&zp.vm_lock);
		struct zp_region *r = region_find(addr, asize, REGION_PHYS, true);
		zp_unlock(&zp.vm_lock);
		release(r);
		return;
	}
	*virt_ptr = addr + off;
}

void z_phys_unmap(uint8_t *virt, size_t size)
{
	uintptr_t avirt;
	size_t asize;

	if (zp_ensure() != 0)
		return;
	k_mem_region_align(&avirt, &asize, (uintptr_t)virt, size, ZP_PAGE_SIZE);
	zp_lock(&zp.vm_lock);
	struct zp_region *r = region_find((uint8_t *)avirt, asize, REGION_PHYS,
					  true);
	zp_unlock(&zp.vm_lock);
	if (r == NULL) {
		zp_debug("z_phys_unmap(%p, %zu): not a z_phys_map() mapping",
			 (void *)virt, size);
		return;
	}
	zp_port_unmap_phys(r->addr, asize);
	size_t first = zp_page_index(r->addr);
	for (size_t i = 0; i < asize / ZP_PAGE_SIZE; i++)
		zp_page_claim(first + i, 0);
	release(r);
}

/* ---- RAM out of the frame pool ------------------------------------------ */

/* Best run of n frames that are free or can be evicted: most free ones. */
static size_t find_run(const bool *owned, size_t n)
{
	size_t best = SIZE_MAX, best_free = 0, usable = 0, nfree = 0;

	for (size_t f = 0; f < zp.nframes; f++) {
		struct z_page_frame *pf = &z_page_frames[f];
		/* Busy frames count: a page-in or an accessed-bit sampling
		 * ends soon, and zp_evict_frame() waits for the page lock. Free
		 * ones we do not own yet count too: pushed meanwhile (by the
		 * background evictor, say), taken when the run is claimed. */
		uint8_t fl = z_page_frame_flags(pf);
		bool ok = owned[f] || fl == 0 ||
			  (fl & (Z_PAGE_FRAME_MAPPED | Z_PAGE_FRAME_PINNED |
				 Z_PAGE_FRAME_RESERVED)) == Z_PAGE_FRAME_MAPPED;
		usable = ok ? usable + 1 : 0;
		nfree += owned[f];
		if (f >= n)
			nfree -= owned[f - n];
		if (usable >= n && (best == SIZE_MAX || nfree > best_free)) {
			best = f + 1 - n;
			best_free = nfree;
		}
	}
	return best;
}

static void take_free(bool *owned, uint32_t *buf)
{
	size_t k = zp_frame_drain(buf);
	for (size_t i = 0; i < k; i++)
		owned[buf[i]] = true;
}

void *zpage_ram_alloc(size_t size)
{
	if (zp_ensure() != 0)
		return NULL;
	size_t n = (size + ZP_PAGE_SIZE - 1) >> ZP_PAGE_SHIFT;
	if (n == 0 || n > zp.nframes) {
		zp_debug("zpage_ram_alloc(%zu): size is 0 or beyond the pool", size);
		return NULL;
	}
	bool *owned = calloc(zp.nframes, sizeof(*owned));
	uint32_t *buf = malloc(zp.nframes * sizeof(*buf));
	if (owned == NULL || buf == NULL) {
		free(owned);
		free(buf);
		return NULL;
	}

	unsigned key = zpage_irq_lock();
	struct k_thread *t = k_current_get();
	zp_lock(&zp.vm_lock);
	size_t run = SIZE_MAX;
	/* Frames in flight (being evicted in another thread's batch) settle
	 * within moments: try a few times, for a little while. */
	uint64_t until = zp_port_now_ns() + ZP_HOLD_PATIENCE_NS;
	for (int attempt = 0;
	     run == SIZE_MAX && (attempt < 8 || zp_port_now_ns() < until);
	     attempt++) {
		if (attempt > 0)
			zp_port_yield();
		/* Frames freed meanwhile (by the background evictor, say) are
		 * free, not mapped: take them before looking for a run. */
		take_free(owned, buf);
		run = find_run(owned, n);
		for (size_t f = run; run != SIZE_MAX && f < run + n; f++) {
			if (owned[f])
				continue;
			if (zp_evict_frame(f, t) == 0) {
				owned[f] = true;
				continue;
			}
			/* It changed hands meanwhile: maybe freed (then it is
			 * on the free stack), maybe busy or pinned. */
			take_free(owned, buf);
			if (!owned[f])
				run = SIZE_MAX;
		}
	}
	if (run != SIZE_MAX) {
		for (size_t f = run; f < run + n; f++) {
			owned[f] = false;
			struct z_page_frame *pf = &z_page_frames[f];
			__atomic_store_n(&pf->addr, zp_page_addr(f), __ATOMIC_RELEASE);
			__atomic_store_n(&pf->flags,
					 Z_PAGE_FRAME_MAPPED | Z_PAGE_FRAME_PINNED,
					 __ATOMIC_RELEASE);
			zp_page_claim(f, (zp_pte_t)PS_RAM << PTE_STATE_SHIFT);
		}
		atomic_fetch_add(&zp.pinned_count, n);
	}
	for (size_t f = zp.nframes; f-- > 0;)
		if (owned[f])
			zp_frame_push(f);
	zp_unlock(&zp.vm_lock);
	zpage_irq_unlock(key);
	free(owned);
	free(buf);
	if (run == SIZE_MAX) {
		zp_debug("zpage_ram_alloc(%zu): no run of %zu frames can be freed",
			 size, n);
		return NULL;
	}
	return zp_page_addr(run);
}

void zpage_ram_free(void *addr, size_t size)
{
	if (zp_ensure() != 0)
		return;
	size_t n = (size + ZP_PAGE_SIZE - 1) >> ZP_PAGE_SHIFT;
	size_t first = zp_page_index(addr);
	if (((uintptr_t)addr & (ZP_PAGE_SIZE - 1)) || n == 0 ||
	    first == SIZE_MAX || first + n > ram_pages()) {
		zp_debug("zpage_ram_free(%p, %zu): not RAM from zpage_ram_alloc",
			 addr, size);
		return;
	}
	zp_lock(&zp.vm_lock);
	for (size_t f = first; f < first + n; f++) {
		if (pte_state(atomic_load(&zp.pte[f])) != PS_RAM) {
			zp_unlock(&zp.vm_lock);
			zp_debug("zpage_ram_free(%p, %zu): page %zu was not "
				 "allocated", addr, size, f - first);
			return;
		}
	}
	zp_port_discard(addr, n * ZP_PAGE_SIZE);
	for (size_t f = first; f < first + n; f++) {
		zp_page_claim(f, 0);
		zp_frame_release(f);
		zp_frame_push(f);
	}
	zp_unlock(&zp.vm_lock);
}

/* ---- Physical/virtual helpers of <sys/mem_manage.h> ---------------------- */

uintptr_t z_mem_vm_offset(void)
{
	if (zp_ensure() != 0)
		return 0;
	return (uintptr_t)zp.base - Z_PHYS_RAM_START;
}

bool z_mem_is_permanent_virt(uintptr_t virt)
{
	return zp_ensure() == 0 && virt >= (uintptr_t)zp.base &&
	       virt - (uintptr_t)zp.base < zp.ram_size;
}

bool z_mem_is_ram_phys(uintptr_t phys)
{
	return zp_ensure() == 0 && phys_in_ram(phys, 1);
}

void z_mem_addr_panic(const char *what, uintptr_t addr)
{
	zp_fatal("%s: %#lx", what, (unsigned long)addr);
}
