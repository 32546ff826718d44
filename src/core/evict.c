/*
 * Eviction: freeing frames by writing pages out, in batches.
 *
 * A batch is a set of resident pages, locked, in address order. Neighbours,
 * with the non-resident pages between them (locked too), form runs; a run is
 * unmapped with one system call, read with one and freed with one, so a TLB
 * flush and the system calls are shared by all its pages. Measured on the
 * development VM: 2.4 us per page for 64-page runs, 11-12 us for one page.
 *
 * Order inside a run is what keeps concurrent writers safe: unmap first (a
 * touch now waits for the page lock; where the host maps pages back itself,
 * write-protect them too), then read, then hand the bytes to the store, then
 * free the memory.
 *
 * Victims come from the eviction algorithm: a built-in one may hand over
 * several pages at once in address order (select_pages); one written against
 * the seed API is asked once per page (k_mem_paging_eviction_select).
 *
 * Frames can also be freed ahead of demand by a background evictor thread
 * (ZPAGE_EVICTOR): it wakes when free frames fall below a low watermark and
 * evicts batches until a high watermark is reached.
 */
#include "internal.h"

#define RUN_GAP 16   /* non-resident pages a run may bridge */
#define SPAN_MAX ZP_IO_BUFFER_PAGES /* pages a run may cover */

/* Give up on an eviction algorithm that keeps finding nothing this long. */
#define EVICT_PATIENCE_NS (10ULL * 1000000000ULL)

/* ---- Taking victims ------------------------------------------------------ */

/* Lock page idx as a victim if it is resident in an evictable frame. */
static bool take(size_t idx, struct zp_victim *v)
{
	zp_pte_t pte;

	if (!zp_page_trylock(idx, &pte))
		return false;
	if (pte_state(pte) != PS_RESIDENT ||
	    !z_page_frame_is_evictable(&z_page_frames[pte_frame(pte)])) {
		zp_page_unlock(idx, pte);
		return false;
	}
	zp_frame_set_busy(pte_frame(pte), true);
	v->idx = idx;
	v->pte = pte;
	v->result = 0;
	v->dirty = (pte & PTE_DIRTY) != 0;
	return true;
}

static void sort_victims(struct zp_victim *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct zp_victim x = v[i];
		size_t j = i;
		while (j > 0 && v[j - 1].idx > x.idx) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

/* Ask the seed-API algorithm for one frame (timed, clearings applied). */
static struct z_page_frame *select_one(void)
{
	bool dirty = false;
	uint64_t t0 = zp_port_now_ns();
	zp_track_lock();
	struct z_page_frame *pf = k_mem_paging_eviction_select(&dirty);
	zp_track_unlock();

	zp_hist_add(ZP_HIST_EVICTION, zp_port_now_ns() - t0);
	zp_accessed_flush();
	if (pf != NULL && (pf < z_page_frames || pf >= z_page_frames + zp.nframes))
		zp_fatal("eviction algorithm returned %p, which is not a page "
			 "frame", (void *)pf);
	return pf;
}

size_t zp_select_victims(struct zp_victim *v, size_t want)
{
	const struct zp_eviction_ops *native = zp_eviction_native();
	size_t n = 0;

	zp_lock(&zp.evict_lock);
	if (native != NULL) {
		size_t idx[ZP_BATCH_MAX];
		uint64_t t0 = zp_port_now_ns();
		size_t k = native->select_pages(idx, want);
		uint64_t ns = zp_port_now_ns() - t0;
		for (size_t i = 0; i < k; i++)
			n += take(idx[i], &v[n]);
		/* One selection per victim, as through the seed interface: the
		 * histogram counts evictions whatever the batch size. */
		for (size_t i = 0; i < (n > 0 ? n : 1); i++)
			zp_hist_add(ZP_HIST_EVICTION, ns / (n > 0 ? n : 1));
	} else {
		/* A chosen frame's lock may be held for a moment (a fault
		 * in progress): ask again a few times. */
		for (size_t tries = 0; n < want && tries < 2 * want; tries++) {
			struct z_page_frame *pf = select_one();
			if (pf == NULL)
				break;
			size_t idx = zp_page_index(z_page_frame_addr(pf));
			if (idx == SIZE_MAX || !take(idx, &v[n]))
				continue;
			if (pte_frame(v[n].pte) == z_page_frame_index(pf)) {
				n++;
				continue;
			}
			/* The frame changed hands since it was chosen. */
			zp_frame_set_busy(pte_frame(v[n].pte), false);
			zp_page_unlock(idx, v[n].pte);
		}
	}
	zp_unlock(&zp.evict_lock);
	sort_victims(v, n);
	return n;
}

/* ---- The engine ---------------------------------------------------------- */

/* Lock the pages [from, to) as holes of a run: none may be resident (its
 * contents would be freed), a window of other memory, or free space (a
 * k_mem_map() claiming it would wait for the whole run). */
static bool lock_holes(size_t from, size_t to, size_t *held, zp_pte_t *held_pte,
		       size_t *nheld)
{
	size_t start = *nheld;

	for (size_t idx = from; idx < to; idx++) {
		zp_pte_t pte;
		enum zp_page_state s;
		if (zp_page_trylock(idx, &pte)) {
			s = pte_state(pte);
			if (s == PS_ZERO || s == PS_OUT) {
				held[*nheld] = idx;
				held_pte[(*nheld)++] = pte;
				continue;
			}
			zp_page_unlock(idx, pte);
		}
		while (*nheld > start) {
			(*nheld)--;
			zp_page_unlock(held[*nheld], held_pte[*nheld]);
		}
		return false;
	}
	return true;
}

/* Free the contents of [from, to) pages, skipping victims still resident. */
static void discard_run(struct zp_victim *v, size_t m)
{
	size_t first = v[0].idx;

	for (size_t i = 0; i <= m; i++) {
		if (i < m && v[i].result >= 0)
			continue;
		/* v[i] stays resident (or the run ends): free up to it. */
		size_t end = i < m ? v[i].idx : v[m - 1].idx + 1;
		if (end > first && zp_port_discard(zp_page_addr(first),
						   (end - first) * ZP_PAGE_SIZE) != 0)
			zp_fatal("cannot free frames at %p", (void *)zp_page_addr(first));
		first = end + 1;
	}
}

/* Whether victim v must be written to the store: dirty, or clean without a
 * copy there (a read-only page holding zeros needs no location at all). */
static bool needs_location(const struct zp_victim *v)
{
	return v->dirty || z_page_frame_is_backed(&z_page_frames[pte_frame(v->pte)]);
}

/* A native store could not write victim v to loc (error r): the page
 * stays resident and dirty; loc may hold part of it, so it is given up,
 * with the clean copy it was. */
static void write_failed(const struct zp_store_ops *native,
			 struct zp_victim *v, uintptr_t loc, int r)
{
	size_t f = pte_frame(v->pte);

	zp_count(store_write_errors);
	zp_debug("backing store %s cannot write location %#lx (error %d): "
		 "page %p stays resident", native->name, (unsigned long)loc, r,
		 (void *)zp_page_addr(v->idx));
	zp_lock(&zp.store_lock);
	k_mem_paging_backing_store_location_free(loc);
	zp_unlock(&zp.store_lock);
	z_page_frame_clear(&z_page_frames[f], Z_PAGE_FRAME_BACKED);
	zp.frame_location[f] = 0;
	v->result = -EIO;
}

/* The page-out histogram counts pages: a batch of n written since t0
 * adds its time shared out. */
static void hist_batch(uint64_t t0, size_t n)
{
	uint64_t per_page = (zp_port_now_ns() - t0) / n;

	for (size_t k = 0; k < n; k++)
		zp_hist_add(ZP_HIST_PAGE_OUT, per_page);
}

/* The dirty victims of v[0..m) that are pages of file mappings go back to
 * their files, together; one whose write fails stays resident and dirty. */
static void write_to_files(struct zp_victim *v, size_t m, uint8_t *const *data)
{
	size_t idx[ZP_BATCH_MAX], who[ZP_BATCH_MAX], n = 0;
	const void *d[ZP_BATCH_MAX];
	int r[ZP_BATCH_MAX];

	for (size_t i = 0; i < m; i++) {
		if (!(v[i].pte & PTE_FILE) || !v[i].dirty)
			continue;
		idx[n] = v[i].idx;
		d[n] = data[i];
		who[n++] = i;
	}
	if (n == 0)
		return;
	uint64_t t0 = zp_port_now_ns();
	zp_filemap_write_pages(idx, d, n, r);
	hist_batch(t0, n);
	for (size_t k = 0; k < n; k++) {
		if (r[k] != 0) {
			zp_count(store_write_errors);
			v[who[k]].result = -EIO;
		}
	}
}

/* Write the dirty victims of v[0..m) that got a location through a native
 * store: all at once where it can have several writes in flight. */
static void write_native(const struct zp_store_ops *native,
			 struct zp_victim *v, size_t m, const uintptr_t *loc,
			 uint8_t *const *data)
{
	uintptr_t bl[ZP_BATCH_MAX];
	const void *bd[ZP_BATCH_MAX];
	int br[ZP_BATCH_MAX];
	size_t who[ZP_BATCH_MAX], n = 0;

	for (size_t i = 0; i < m; i++) {
		if (v[i].result < 0 || !v[i].dirty || (v[i].pte & PTE_FILE))
			continue;
		bl[n] = loc[i];
		bd[n] = data[i];
		who[n++] = i;
	}
	if (n == 0)
		return;
	uint64_t t0 = zp_port_now_ns();
	if (native->write_pages != NULL && n > 1) {
		native->write_pages(bl, bd, n, br);
	} else {
		for (size_t k = 0; k < n; k++)
			br[k] = native->write_page(bl[k], bd[k]);
	}
	hist_batch(t0, n);
	for (size_t k = 0; k < n; k++)
		if (zp_unlikely(br[k] != 0))
			write_failed(native, &v[who[k]], bl[k], br[k]);
}

/* Write out the victims v[0..m), whose bytes are at data[i] (dirty ones),
 * and set their results. The store lock is taken once for all: the seed
 * path does every store call under it; a native store gets its locations
 * under it and is written outside it. */
static void store_run(struct zp_victim *v, size_t m, uint8_t *const *data,
		      bool fault)
{
	const struct zp_store_ops *native = zp_store_native();
	uintptr_t loc[ZP_BATCH_MAX];

	zp_lock(&zp.store_lock);
	for (size_t i = 0; i < m; i++) {
		v[i].result = 0;
		if ((v[i].pte & PTE_FILE) || !needs_location(&v[i]))
			continue;
		struct z_page_frame *pf = &z_page_frames[pte_frame(v[i].pte)];
		loc[i] = 0;
		if (k_mem_paging_backing_store_location_get(pf, &loc[i], fault) != 0) {
			v[i].result = -ENOMEM; /* stays resident, unmapped */
			continue;
		}
		if (native == NULL && v[i].dirty) {
			zp_scratch_use(data[i]);
			uint64_t t0 = zp_port_now_ns();
			k_mem_paging_backing_store_page_out(loc[i]);
			zp_hist_add(ZP_HIST_PAGE_OUT, zp_port_now_ns() - t0);
			zp_scratch_use(NULL);
		}
	}
	zp_unlock(&zp.store_lock);
	if (native != NULL)
		write_native(native, v, m, loc, data);
	write_to_files(v, m, data);

	for (size_t i = 0; i < m; i++) {
		size_t f = pte_frame(v[i].pte);
		zp_pte_t lock = v[i].pte & PTE_LOCK;
		if (v[i].result < 0)
			continue;
		if (v[i].pte & PTE_FILE) {
			/* Back in its file (a clean one was there already). */
			if (v[i].dirty)
				zp_count(page_outs);
			v[i].result = (long)f;
			v[i].pte = pte_out(v[i].pte, 0) | lock;
			continue;
		}
		v[i].result = (long)f;
		if (!needs_location(&v[i])) {
			v[i].pte = pte_with_state(v[i].pte & PTE_WRITABLE, PS_ZERO) |
				   lock;
			continue;
		}
		if (loc[i] & (ZP_PAGE_SIZE - 1))
			zp_fatal("backing store returned location %#lx, which is "
				 "not page-aligned", (unsigned long)loc[i]);
		if (v[i].dirty)
			zp_count(page_outs);
		v[i].pte = pte_out(v[i].pte, loc[i]) | lock;
	}
}

/* Evict the victims v[0..m) of one run (holes between them are locked). */
static void evict_run(struct zp_victim *v, size_t m, struct k_thread *t,
		      bool fault, uint8_t *buf)
{
	size_t first = v[0].idx, span = v[m - 1].idx - first + 1;

	/* From here on every touch of these pages waits for their locks. */
	if (zp_port_zap_range(zp_page_addr(first), span * ZP_PAGE_SIZE) != 0)
		zp_fatal("cannot unmap pages at %p", (void *)zp_page_addr(first));

	/* One read for the dirty ones, from the first to the last. */
	size_t d0 = SIZE_MAX, d1 = 0;
	for (size_t i = 0; i < m; i++) {
		v[i].pte |= PTE_ZAPPED;
		if (v[i].dirty) {
			d0 = d0 == SIZE_MAX ? v[i].idx : d0;
			d1 = v[i].idx;
		}
	}
	/* Where the host maps a zapped page back by itself, a touch could now
	 * write to a victim behind our back: write-protect them first (a write
	 * then waits for the page lock; one that came before is read below). */
	if (d0 != SIZE_MAX && zp.port.mapped &&
	    zp_port_wp_range(zp_page_addr(d0), (d1 - d0 + 1) * ZP_PAGE_SIZE) != 0)
		zp_fatal("cannot write-protect pages at %p", (void *)zp_page_addr(d0));
	if (d0 != SIZE_MAX &&
	    zp_port_read_range(zp_page_addr(d0), (d1 - d0 + 1) * ZP_PAGE_SIZE,
			       buf) != 0)
		zp_fatal("cannot read pages at %p", (void *)zp_page_addr(d0));

	uint8_t *data[ZP_BATCH_MAX];
	for (size_t i = 0; i < m; i++)
		data[i] = v[i].dirty ? buf + (v[i].idx - d0) * ZP_PAGE_SIZE : NULL;
	store_run(v, m, data, fault);
	discard_run(v, m);
	for (size_t i = 0; i < m; i++) {
		size_t f = pte_frame(v[i].pte);
		if (v[i].result < 0) {
			/* Stays (the store is full). Write-protected above:
			 * its next write is then tracked as one. */
			if (v[i].dirty && zp.port.mapped)
				v[i].pte |= PTE_WP;
			zp_frame_set_busy(f, false);
			continue;
		}
		zp_stats_eviction(t, v[i].dirty);
		zp_frame_release((size_t)v[i].result);
	}
}

void zp_evict_locked(struct zp_victim *v, size_t n, struct k_thread *t,
		     bool fault)
{
	size_t held[SPAN_MAX];
	zp_pte_t held_pte[SPAN_MAX];
	uint8_t *buf = zp_port_thread_buffer(SPAN_MAX * ZP_PAGE_SIZE);

	if (buf == NULL)
		zp_fatal("out of memory for the eviction buffer");
	for (size_t i = 0; i < n;) {
		size_t j = i + 1, nheld = 0;
		while (j < n && v[j].idx - v[j - 1].idx <= RUN_GAP + 1 &&
		       v[j].idx - v[i].idx < SPAN_MAX &&
		       lock_holes(v[j - 1].idx + 1, v[j].idx, held, held_pte,
				  &nheld))
			j++;
		evict_run(v + i, j - i, t, fault, buf);
		while (nheld > 0) {
			nheld--;
			zp_page_unlock(held[nheld], held_pte[nheld]);
		}
		i = j;
	}
}

/* ---- Frames for faults ----------------------------------------------------- */

static size_t batch_size(void)
{
	return zp_eviction_native() != NULL ? zp.batch : 1;
}

/* Evict one batch for whoever needs frames; the freed frames are pushed
 * except one, returned (ZP_NO_FRAME if nothing could be evicted now), and
 * *err says why nothing was freed. */
static size_t evict_batch(struct k_thread *t, bool fault, size_t want,
			  bool keep_one, int *err)
{
	struct zp_victim v[ZP_BATCH_MAX];
	size_t n = zp_select_victims(v, want), kept = ZP_NO_FRAME;

	*err = n == 0 ? -EAGAIN : 0;
	zp_evict_locked(v, n, t, fault);
	/* Frames are free before their pages are unlocked: whoever waits for
	 * a page lock (k_mem_unmap(), say) finds the frame counted free. */
	for (size_t i = 0; i < n; i++) {
		if (v[i].result < 0) {
			*err = (int)v[i].result;
			continue;
		}
		if (keep_one && kept == ZP_NO_FRAME)
			kept = (size_t)v[i].result;
		else
			zp_frame_push((size_t)v[i].result);
	}
	for (size_t i = 0; i < n; i++)
		zp_page_unlock(v[i].idx, v[i].pte);
	return kept;
}

/* Batches whose writes all failed before a fault gives up: 8, over a
 * quarter of a second. */
#define WRITE_TRIES 8

long zp_frame_for_fault(struct k_thread *t, bool fault)
{
	uint64_t since = 0; /* when evicting first found nothing */
	unsigned write_failures = 0;

	for (;;) {
		size_t f = zp_frame_pop();
		if (atomic_load_explicit(&zp.evictor_on, memory_order_relaxed) &&
		    atomic_load_explicit(&zp.free_count, memory_order_relaxed) <
			    zp.low_water)
			zp_evictor_kick();
		if (zp_likely(f != ZP_NO_FRAME))
			return (long)f;
		int err;
		f = evict_batch(t, fault, batch_size(), true, &err);
		if (f != ZP_NO_FRAME)
			return (long)f;
		if (err == -ENOMEM)
			return -ENOMEM;
		/* A write failed: that page stays, another victim may do, a
		 * little later (a remote store reconnects meanwhile). */
		if (err == -EIO) {
			if (++write_failures >= WRITE_TRIES)
				return -EIO;
			uint32_t never = 0;
			zp_port_sleep_on(&never, 0, 1000000LL << write_failures);
			continue;
		}
		/* Nothing usable now: every frame pinned, or all busy for a
		 * moment (another thread may free one). Frames this thread
		 * keeps busy for its k_mem_page_in() are let go if that lasts. */
		if (atomic_load(&zp.pinned_count) >= zp.nframes)
			return -EDEADLK;
		uint64_t now = zp_port_now_ns();
		if (since == 0)
			since = now;
		if (now - since > EVICT_PATIENCE_NS)
			return -EAGAIN;
		if (now - since > ZP_HOLD_PATIENCE_NS)
			zp_hold_drop(t);
		zp_port_yield();
	}
}

/* ---- Background evictor ---------------------------------------------------- */

static void *evictor(void *arg)
{
	/* Evictions ahead of demand are done for no thread in particular:
	 * they count in the global statistics only. */
	struct k_thread *t = NULL;

	(void)arg;
	while (!atomic_load(&zp.evictor_stop)) {
		atomic_store(&zp.evictor_busy, 1);
		atomic_store(&zp.evictor_kick, 0);
		while (!atomic_load(&zp.evictor_stop) &&
		       atomic_load(&zp.free_count) < zp.high_water) {
			int err;
			/* Ahead of demand: the store's fault reserve is not
			 * ours to use. */
			evict_batch(t, false, zp.batch, false, &err);
			if (err != 0)
				break;
		}
		atomic_store(&zp.evictor_busy, 0);
		if (atomic_load(&zp.free_count) >= zp.low_water ||
		    atomic_load(&zp.evictor_kick) == 0)
			zp_port_sleep_on((uint32_t *)&zp.evictor_kick, 0,
					 100000000);
	}
	return NULL;
}

bool zp_evictor_idle(void)
{
	return !atomic_load(&zp.evictor_on) ||
	       (atomic_load(&zp.evictor_busy) == 0 &&
		atomic_load(&zp.evictor_kick) == 0);
}

void zp_evictor_kick(void)
{
	if (atomic_exchange(&zp.evictor_kick, 1) == 0)
		zp_port_wake_all((uint32_t *)&zp.evictor_kick);
}

int zp_evictor_start(void)
{
	atomic_store(&zp.evictor_stop, 0);
	int r = zp_port_thread_start(&zp.evictor_thread, evictor, NULL);
	atomic_store(&zp.evictor_on, r == 0);
	return r;
}

void zp_evictor_stop(void)
{
	if (zp.evictor_thread == NULL)
		return;
	atomic_store(&zp.evictor_on, false);
	atomic_store(&zp.evictor_stop, 1);
	atomic_store(&zp.evictor_kick, 1);
	zp_port_wake_all((uint32_t *)&zp.evictor_kick);
	zp_port_thread_join(zp.evictor_thread);
	zp.evictor_thread = NULL;
}
