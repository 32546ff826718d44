/*
 * File mappings (zpage_map_file): a region whose pages are a file's own
 * pages, for data sets larger than RAM worked on in place. A page is read
 * from the file when first touched (zeros past its end) and written back
 * when it is evicted dirty, paged out, synced (zpage_sync) or unmapped;
 * the backing store is never involved. Pages loaded clean are
 * write-protected where the host can, so an unwritten page is evicted
 * without I/O.
 *
 * The table is small and fixed: mappings are added and removed under
 * zp.vm_lock, and read without it by fault handling (an entry is in use
 * once its flag is set, after its fields).
 */
#include "internal.h"

#define MAX_FILEMAPS 64

struct filemap {
	_Atomic bool used;
	size_t first, n;  /* pages of the region */
	int handle;
	uint64_t offset;  /* file offset of the first page */
};

static struct filemap maps[MAX_FILEMAPS];

int zp_filemap_add(size_t first, size_t n, int handle, uint64_t offset)
{
	for (int i = 0; i < MAX_FILEMAPS; i++) {
		struct filemap *m = &maps[i];
		if (atomic_load(&m->used))
			continue;
		m->first = first;
		m->n = n;
		m->handle = handle;
		m->offset = offset;
		atomic_store_explicit(&m->used, true, memory_order_release);
		return 0;
	}
	return -ENOSPC;
}

void zp_filemap_remove(size_t first)
{
	for (int i = 0; i < MAX_FILEMAPS; i++) {
		struct filemap *m = &maps[i];
		if (atomic_load(&m->used) && m->first == first) {
			atomic_store(&m->used, false);
			zp_port_close_handle(m->handle);
			return;
		}
	}
}

void zp_filemap_flush_all(void)
{
	for (int i = 0; i < MAX_FILEMAPS; i++) {
		const struct filemap *m = &maps[i];
		if (!atomic_load(&m->used))
			continue;
		for (size_t idx = m->first; idx < m->first + m->n; idx++) {
			zp_pte_t pte = zp_page_lock(idx);
			zp_filemap_writeback_locked(idx, pte);
			zp_page_unlock(idx, pte);
		}
		zp_port_handle_sync(m->handle);
	}
}

void zp_filemap_reset(void)
{
	for (int i = 0; i < MAX_FILEMAPS; i++) {
		if (atomic_load(&maps[i].used))
			zp_port_close_handle(maps[i].handle);
		atomic_store(&maps[i].used, false);
	}
}

static const struct filemap *find(size_t idx)
{
	for (int i = 0; i < MAX_FILEMAPS; i++) {
		const struct filemap *m = &maps[i];
		if (atomic_load_explicit(&m->used, memory_order_acquire) &&
		    idx >= m->first && idx - m->first < m->n)
			return m;
	}
	return NULL;
}

static uint64_t offset_of(const struct filemap *m, size_t idx)
{
	return m->offset + (uint64_t)(idx - m->first) * ZP_PAGE_SIZE;
}

int zp_filemap_read(size_t idx, void *page)
{
	const struct filemap *m = find(idx);
	int r = m != NULL ? zp_port_handle_read(m->handle, page, ZP_PAGE_SIZE,
						offset_of(m, idx))
			  : -ENOENT;

	if (r != 0)
		zp_error("file mapping: cannot read the page at %p (error %d)",
			 (void *)zp_page_addr(idx), r);
	return r;
}

int zp_filemap_write(size_t idx, const void *page)
{
	const struct filemap *m = find(idx);
	int r = m != NULL ? zp_port_handle_write(m->handle, page, ZP_PAGE_SIZE,
						 offset_of(m, idx))
			  : -ENOENT;

	if (r != 0)
		zp_error("file mapping: cannot write the page at %p back (error "
			 "%d)", (void *)zp_page_addr(idx), r);
	return r;
}

void zp_filemap_write_pages(const size_t *idx, const void *const *data,
			    size_t n, int *result)
{
	uint64_t off[ZP_BATCH_MAX];

	/* Runs of pages of one mapping go out together. */
	for (size_t i = 0; i < n;) {
		const struct filemap *m = find(idx[i]);
		size_t j = i;
		if (m == NULL) {
			result[i++] = -ENOENT;
			continue;
		}
		while (j < n && j - i < ZP_BATCH_MAX && idx[j] >= m->first &&
		       idx[j] - m->first < m->n) {
			off[j - i] = offset_of(m, idx[j]);
			j++;
		}
		zp_port_handle_write_pages(m->handle, data + i, off, j - i,
					   result + i);
		for (size_t k = i; k < j; k++)
			if (result[k] != 0)
				zp_error("file mapping: cannot write the page at "
					 "%p back (error %d)",
					 (void *)zp_page_addr(idx[k]), result[k]);
		i = j;
	}
}

void zp_filemap_writeback_locked(size_t idx, zp_pte_t pte)
{
	uint8_t *buf = zp_scratch();

	if (pte_state(pte) != PS_RESIDENT || !(pte & PTE_FILE) ||
	    !(pte & PTE_DIRTY))
		return;
	if (zp_port_read(zp_page_addr(idx), buf) != 0 ||
	    zp_filemap_write(idx, buf) != 0)
		zp_error("file mapping: the changes to the page at %p are lost",
			 (void *)zp_page_addr(idx));
}

/* Dirty pages of a zpage_sync(), locked, waiting to go back together. */
struct sync_batch {
	size_t n, idx[ZP_BATCH_MAX];
	zp_pte_t pte[ZP_BATCH_MAX];
	bool clean[ZP_BATCH_MAX]; /* write-protected: clean once written */
};

/* Write the batch's pages back at once and unlock them; 0 or the first
 * error (a page that fails stays dirty). */
static int sync_flush(struct sync_batch *b, uint8_t *buf)
{
	const void *data[ZP_BATCH_MAX];
	size_t idx[ZP_BATCH_MAX], nread = 0;
	int res[ZP_BATCH_MAX], wr[ZP_BATCH_MAX], r = 0;

	for (size_t i = 0; i < b->n; i++) {
		uint8_t *page = buf + i * ZP_PAGE_SIZE;
		res[i] = zp_port_read(zp_page_addr(b->idx[i]), page);
		if (res[i] == 0) {
			idx[nread] = b->idx[i];
			data[nread++] = page;
		}
	}
	if (nread > 0)
		zp_filemap_write_pages(idx, data, nread, wr);
	for (size_t i = 0, k = 0; i < b->n; i++) {
		if (res[i] == 0)
			res[i] = wr[k++];
		if (res[i] == 0 && b->clean[i])
			b->pte[i] = (b->pte[i] & ~PTE_DIRTY) | PTE_WP;
		else if (b->clean[i])
			zp_port_set_wp(zp_page_addr(b->idx[i]), false);
		if (r == 0)
			r = res[i];
		zp_page_unlock(b->idx[i], b->pte[i]);
	}
	b->n = 0;
	return r;
}

int zpage_sync(void *addr, size_t size)
{
	size_t first;
	int r = zp_ensure();

	if (r != 0)
		return r;
	first = zp_vm_check_range("zpage_sync", addr, size);
	if (first == SIZE_MAX)
		return -EINVAL;
	const struct filemap *m = find(first);
	if (m == NULL || size / ZP_PAGE_SIZE > m->n - (first - m->first)) {
		zp_debug("zpage_sync(%p, %zu): not inside one file mapping",
			 addr, size);
		return -EINVAL;
	}
	uint8_t *buf = zp_port_thread_buffer(ZP_IO_BUFFER_PAGES * ZP_PAGE_SIZE);
	if (buf == NULL)
		return -ENOMEM;
	struct sync_batch b = { .n = 0 };
	unsigned key = zpage_irq_lock();
	/* As k_mem_page_out(): locks are taken with trylock while others are
	 * held, and the batch goes out before sleeping on one (its holder
	 * may be a fault waiting for a frame). */
	for (size_t i = 0; i < size / ZP_PAGE_SIZE && r == 0; i++) {
		size_t idx = first + i;
		zp_pte_t pte;
		if (!zp_page_trylock(idx, &pte)) {
			r = sync_flush(&b, buf);
			pte = zp_page_lock(idx);
		}
		if (pte_state(pte) != PS_RESIDENT || !(pte & PTE_DIRTY)) {
			zp_page_unlock(idx, pte);
			continue;
		}
		/* Write-protected first: a write from now on faults and marks
		 * the page dirty again. A zapped page the host may map back
		 * itself stays dirty (its next write might go unseen). */
		bool clean = zp.port.write_protect && !(pte & PTE_ZAPPED) &&
			     zp_port_set_wp(zp_page_addr(idx), true) == 0;
		b.idx[b.n] = idx;
		b.pte[b.n] = pte;
		b.clean[b.n++] = clean;
		if (b.n == ZP_BATCH_MAX && r == 0)
			r = sync_flush(&b, buf);
	}
	int last = sync_flush(&b, buf);
	r = r != 0 ? r : last;
	zpage_irq_unlock(key);
	if (r == 0)
		r = zp_port_handle_sync(m->handle);
	return r;
}
