/*
 * Paging: loading a page into a frame, evicting one, and the demand-paging
 * API (k_mem_page_out/in, k_mem_pin/unpin).
 *
 * Every function here works on one page whose lock the caller holds. Frames
 * come from the free stack, or from evicting a victim the eviction plug-in
 * chooses (under zp.evict_lock, victim page locked with trylock). Seed-API
 * store calls are serialised by zp.store_lock, taken for one call at a time;
 * a built-in store's native path reads and writes pages outside it.
 *
 * Page-out order is what keeps concurrent writers safe: the page's mapping is
 * removed first (touches now wait for our page lock), then its contents are
 * copied from the frame, then the frame is emptied.
 */
#include "internal.h"

static void frame_assign(size_t f, uint8_t *addr)
{
	struct z_page_frame *pf = &z_page_frames[f];

	__atomic_store_n(&pf->addr, addr, __ATOMIC_RELEASE);
	__atomic_store_n(&pf->flags, Z_PAGE_FRAME_MAPPED | Z_PAGE_FRAME_BUSY,
			 __ATOMIC_RELEASE);
}

/* Read the page at loc for frame pf into *src (where its bytes are). The
 * seed path copies them to the scratch page and finalizes, under the store
 * lock. A native store is read outside the lock, in place if it keeps its
 * copy (the page is then copied once, into the frame). If it does not, the
 * location is freed by finalizing, which must happen before the faulting
 * thread runs on (its next fault may need that location: the store's fault
 * reserve): where the page is installed without waking anyone (the
 * faulting thread serves itself, or no thread waits), it is read in place
 * too and *later is set: finalize after installing it. Otherwise it is
 * copied into the scratch page and finalized at once. A failed read
 * (retried) leaves the location as it was and returns the error. */
static int load_from_store(struct z_page_frame *pf, uintptr_t loc,
			   bool no_wake, bool *later, const void **src)
{
	const struct zp_store_ops *native = zp_store_native();
	void *scratch = zp_scratch();
	uint64_t t0;

	*later = false;
	if (native == NULL) {
		zp_lock(&zp.store_lock);
		t0 = zp_port_now_ns();
		k_mem_paging_backing_store_page_in(loc);
		zp_hist_add(ZP_HIST_PAGE_IN, zp_port_now_ns() - t0);
		k_mem_paging_backing_store_page_finalize(pf, loc);
		zp_unlock(&zp.store_lock);
		*src = scratch;
		return 0;
	}
	bool keeps = zp_store_keeps_copies();
	t0 = zp_port_now_ns();
	int r = zp_store_read(native, loc, scratch, src);
	if (r != 0)
		return r;
	if (!keeps && *src != scratch && no_wake) {
		zp_hist_add(ZP_HIST_PAGE_IN, zp_port_now_ns() - t0);
		*later = true;
		return 0;
	}
	if (!keeps && *src != scratch) {
		memcpy(scratch, *src, ZP_PAGE_SIZE);
		*src = scratch;
	}
	zp_hist_add(ZP_HIST_PAGE_IN, zp_port_now_ns() - t0);
	zp_lock(&zp.store_lock);
	k_mem_paging_backing_store_page_finalize(pf, loc);
	zp_unlock(&zp.store_lock);
	return 0;
}

int zp_page_in_locked(size_t idx, zp_pte_t *pte, struct k_thread *t,
		      unsigned how)
{
	bool write = (how & ZP_LOAD_WRITE) != 0;
	long f = zp_frame_for_fault(t, (how & ZP_LOAD_RESERVE) != 0);

	if (f < 0)
		return (int)f;

	uint8_t *addr = zp_page_addr(idx);
	struct z_page_frame *pf = &z_page_frames[f];
	const void *src = NULL;
	bool backed = false, finalize_later = false;
	bool wake = (how & ZP_LOAD_WAKE) != 0;
	uintptr_t loc = 0;

	frame_assign((size_t)f, addr);
	bool file = (*pte & PTE_FILE) != 0;
	if (file) {
		/* A file mapping's page: from its file, clean. */
		src = zp_scratch();
		uint64_t t0 = zp_port_now_ns();
		int r = zp_filemap_read(idx, (void *)src);
		zp_hist_add(ZP_HIST_PAGE_IN, zp_port_now_ns() - t0);
		if (r != 0) {
			zp_frame_release((size_t)f);
			zp_frame_push((size_t)f);
			return -ENODATA;
		}
		zp_count(page_ins);
		backed = true;
	} else if (pte_state(*pte) == PS_OUT) {
		loc = pte_location(*pte);
		int r = load_from_store(pf, loc,
					!wake || zp.port.delivery == ZP_DELIVERY_SIGNAL,
					&finalize_later, &src);
		if (r != 0) {
			/* The page stays out, its location as it was. A
			 * corrupt page is told apart; other read errors
			 * (logged) must not read as the write errors of
			 * eviction. */
			zp_frame_release((size_t)f);
			zp_frame_push((size_t)f);
			return r == -EBADMSG ? r : -ENODATA;
		}
		zp_count(page_ins);
		zp_count(store_loads);
		backed = z_page_frame_is_backed(pf);
		if (backed)
			zp.frame_location[f] = loc;
	} else {
		zp_count(zero_fills);
	}

	/* A page with a clean copy in the store is mapped write-protected, so
	 * that its first write tells us it became dirty. Any other writable
	 * page must be written out when evicted: it is dirty from the start. */
	bool writable = (*pte & PTE_WRITABLE) != 0;
	bool wp = backed && writable && !write && zp.port.write_protect;
	zp_pte_t bits = PTE_ACCESSED;
	if (writable && !wp)
		bits |= PTE_DIRTY;
	if (wp)
		bits |= PTE_WP;

	int r = zp_port_fill(addr, src, wp, wake);
	if (r != 0)
		zp_fatal("cannot install page %p (error %d)", (void *)addr, r);
	if (finalize_later) {
		zp_lock(&zp.store_lock);
		k_mem_paging_backing_store_page_finalize(pf, loc);
		zp_unlock(&zp.store_lock);
	}
	zp_frame_set_busy((size_t)f, false);
	*pte = pte_resident(*pte, (size_t)f, bits) | (*pte & PTE_LOCK);
	zp_track_add((size_t)f);
	return 0;
}

int zp_page_settle_locked(size_t idx, zp_pte_t *pte)
{
	uint8_t *addr = zp_page_addr(idx);

	/* Where the host maps a zapped page back itself, its next touch
	 * costs no fault of ours: nothing to do. */
	if ((*pte & PTE_ZAPPED) && zp.port.minor) {
		if (zp_port_remap(addr, (*pte & PTE_WP) != 0) != 0)
			return -EIO;
		*pte = (*pte & ~PTE_ZAPPED) | PTE_ACCESSED;
	}
	return 0;
}

/* Set frame f's pin reasons; Z_PAGE_FRAME_PINNED follows whether any is
 * left. */
static void pins_set(size_t f, uint32_t pins)
{
	uint32_t old = zp.frame_pins[f];

	zp.frame_pins[f] = pins;
	if (old == 0 && pins != 0) {
		z_page_frame_set(&z_page_frames[f], Z_PAGE_FRAME_PINNED);
		atomic_fetch_add(&zp.pinned_count, 1);
		zp_track_remove(f);
	} else if (old != 0 && pins == 0) {
		z_page_frame_clear(&z_page_frames[f], Z_PAGE_FRAME_PINNED);
		atomic_fetch_sub(&zp.pinned_count, 1);
		zp_track_add(f);
	}
}

void zp_pin_locked(size_t idx, zp_pte_t pte)
{
	size_t f = pte_frame(pte);

	(void)idx;
	pins_set(f, zp.frame_pins[f] | ZP_PIN_USER);
}

bool zp_unpin_locked(size_t idx, zp_pte_t pte)
{
	size_t f = pte_frame(pte);

	(void)idx;
	if (!(zp.frame_pins[f] & ZP_PIN_USER))
		return false;
	pins_set(f, zp.frame_pins[f] & ~ZP_PIN_USER);
	return true;
}

void zp_kpin_locked(zp_pte_t pte, int delta)
{
	size_t f = pte_frame(pte);

	pins_set(f, (uint32_t)((int64_t)zp.frame_pins[f] + delta));
}

void zp_page_drop_locked(size_t idx, zp_pte_t pte)
{
	switch (pte_state(pte)) {
	case PS_RESIDENT: {
		size_t f = pte_frame(pte);
		zp_filemap_writeback_locked(idx, pte);
		if (z_page_frame_is_backed(&z_page_frames[f])) {
			zp_lock(&zp.store_lock);
			k_mem_paging_backing_store_location_free(
				zp.frame_location[f]);
			zp_unlock(&zp.store_lock);
		}
		zp_frame_release(f);
		break;
	}
	case PS_OUT:
		if (pte & PTE_FILE)
			break; /* in its file */
		zp_lock(&zp.store_lock);
		k_mem_paging_backing_store_location_free(pte_location(pte));
		zp_unlock(&zp.store_lock);
		break;
	default:
		break;
	}
}

int zp_evict_frame(size_t f, struct k_thread *t)
{
	struct z_page_frame *pf = &z_page_frames[f];
	size_t idx = zp_page_index(z_page_frame_addr(pf));

	if (idx == SIZE_MAX || !z_page_frame_is_mapped(pf))
		return -EAGAIN;
	/* Sleeping on the lock is safe: a resident page's lock is never held
	 * by a thread that waits for a frame. */
	struct zp_victim v = { .idx = idx, .pte = zp_page_lock(idx) };
	if (pte_state(v.pte) != PS_RESIDENT || pte_frame(v.pte) != f ||
	    z_page_frame_is_pinned(pf)) {
		zp_page_unlock(idx, v.pte);
		return -EAGAIN;
	}
	zp_frame_set_busy(f, true);
	v.dirty = (v.pte & PTE_DIRTY) != 0;
	zp_evict_locked(&v, 1, t, false);
	zp_page_unlock(idx, v.pte);
	return v.result < 0 ? (int)v.result : 0;
}

int zp_page_settle_for_pin(size_t idx, zp_pte_t *pte)
{
	int r = zp_page_settle_locked(idx, pte);

	if (r == 0 && (*pte & PTE_WP)) {
		r = zp_port_set_wp(zp_page_addr(idx), false);
		*pte = (*pte & ~PTE_WP) | PTE_DIRTY;
	}
	return r;
}

/* Reserve n frames that load_range() may keep busy. All ranges held at once
 * stay within half of the frames not pinned: the other half is always left
 * to faults, or concurrent k_mem_page_in() calls could starve each other. */
static bool hold_reserve(size_t n)
{
	size_t held = atomic_load(&zp.held_count);

	do {
		size_t unpinned = zp.nframes - atomic_load(&zp.pinned_count);
		if (held + n > unpinned / 2)
			return false;
	} while (!atomic_compare_exchange_weak(&zp.held_count, &held, held + n));
	return true;
}

void zp_hold_drop(struct k_thread *t)
{
	if (!zp_thread_is_self(t) || t->hold_reserved == 0)
		return;
	for (size_t idx = t->hold_first; idx < t->hold_first + t->hold_n; idx++) {
		zp_pte_t pte = atomic_load(&zp.pte[idx]);
		if (pte_state(pte) == PS_RESIDENT)
			zp_frame_set_busy(pte_frame(pte), false);
	}
	atomic_fetch_sub(&zp.held_count, t->hold_reserved);
	t->hold_n = 0;
	t->hold_reserved = 0;
}

/* Lock page idx for load_range(). A thread that keeps frames busy must not
 * sleep on a page lock: its holder may be waiting for a frame (a fault
 * being served), and the held frames may be the only ones it could evict.
 * So it tries for a while (most holds are brief), then lets them go. */
static zp_pte_t lock_for_load(size_t idx, struct k_thread *t)
{
	zp_pte_t pte;
	uint64_t until = 0;

	while (t->hold_reserved != 0) {
		if (zp_page_trylock(idx, &pte))
			return pte;
		uint64_t now = zp_port_now_ns();
		if (until == 0)
			until = now + ZP_HOLD_PATIENCE_NS;
		else if (now > until)
			zp_hold_drop(t);
		zp_port_yield();
	}
	return zp_page_lock(idx);
}

/* Load [first, first+n) and optionally pin it; stops at the first failure. */
static int load_range(size_t first, size_t n, bool pin, bool fault)
{
	struct k_thread *t = k_current_get();
	/* Where a system call cannot take the write-protect fault that
	 * records a write, k_mem_page_in() must leave pages writable too, as
	 * k_mem_pin() does. */
	bool unprotect = pin || !zp_syscall_faults_served();
	int ret = 0;

	/* The whole range should be resident when k_mem_page_in() returns,
	 * so the pages it loaded must not become victims of its later pages:
	 * their frames stay busy until the end, if the range fits in what
	 * hold_reserve() allows. The hold is a preference, not a promise:
	 * it is let go whenever keeping it could make anyone wait (see
	 * lock_for_load() and zp_frame_for_fault()). */
	if (!pin && zp_thread_is_self(t) && hold_reserve(n)) {
		t->hold_first = first;
		t->hold_n = 0;
		t->hold_reserved = n;
	}
	for (size_t i = 0; i < n; i++) {
		size_t idx = first + i;
		zp_pte_t pte = lock_for_load(idx, t);
		int r = 0;

		switch (pte_state(pte)) {
		case PS_ZERO:
		case PS_OUT:
			r = zp_page_in_locked(idx, &pte, t,
					      fault ? ZP_LOAD_RESERVE : 0);
			if (r == 0 && unprotect)
				r = zp_page_settle_for_pin(idx, &pte);
			break;
		case PS_RESIDENT:
			r = unprotect ? zp_page_settle_for_pin(idx, &pte)
				      : zp_page_settle_locked(idx, &pte);
			break;
		default:
			r = -EINVAL; /* unmapped meanwhile */
			break;
		}
		if (r == 0 && pin)
			zp_pin_locked(idx, pte);
		if (r == 0 && t->hold_reserved != 0) {
			zp_frame_set_busy(pte_frame(pte), true);
			t->hold_n = i + 1;
		}
		zp_page_unlock(idx, pte);
		if (r != 0) {
			ret = r;
			break;
		}
	}
	zp_hold_drop(t);
	return ret;
}

int zp_load_range(size_t first, size_t n, bool pin, bool fault)
{
	return load_range(first, n, pin, fault);
}

static const char *load_error(int r)
{
	switch (r) {
	case -EDEADLK: return "every page frame is pinned";
	case -ENOMEM: return "the backing store is full";
	case -EAGAIN: return "the eviction algorithm finds no frame to evict";
	case -EIO: return "the backing store fails to write every victim";
	case -ENODATA: return "the backing store cannot read a page";
	case -EBADMSG: return "a page read back from the store is corrupt";
	default: return "the region was unmapped meanwhile";
	}
}

/* Evict the victims gathered so far and push their frames; false if the
 * store is full. */
static bool page_out_batch(struct zp_victim *v, size_t n, struct k_thread *t)
{
	bool full = false;

	zp_evict_locked(v, n, t, false);
	for (size_t i = 0; i < n; i++) {
		if (v[i].result >= 0)
			zp_frame_push((size_t)v[i].result);
		else
			full = true;
		zp_page_unlock(v[i].idx, v[i].pte);
	}
	return !full;
}

int k_mem_page_out(void *addr, size_t size)
{
	size_t first;
	int r = zp_api_range(__func__, addr, size, &first);
	if (r != 0)
		return r;

	struct k_thread *t = k_current_get();
	struct zp_victim v[ZP_BATCH_MAX];
	unsigned key = zpage_irq_lock();
	bool pinned = false, ok = true;
	size_t n = 0;

	/* Victims stay locked, their frames busy, until their batch is
	 * evicted. The batch is evicted before sleeping on a page lock, so
	 * nothing is held while sleeping: the lock's holder may be a fault
	 * waiting for a frame. */
	for (size_t i = 0; i < size / ZP_PAGE_SIZE && ok; i++) {
		size_t idx = first + i;
		zp_pte_t pte;

		if (!zp_page_trylock(idx, &pte)) {
			if (n > 0)
				ok = page_out_batch(v, n, t);
			n = 0;
			if (!ok)
				break;
			pte = zp_page_lock(idx);
		}
		if (pte_state(pte) != PS_RESIDENT) {
			zp_page_unlock(idx, pte);
			continue;
		}
		size_t f = pte_frame(pte);
		if (z_page_frame_is_pinned(&z_page_frames[f])) {
			pinned = true;
			zp_page_unlock(idx, pte);
			continue;
		}
		zp_frame_set_busy(f, true);
		v[n++] = (struct zp_victim){ .idx = idx, .pte = pte,
					     .dirty = (pte & PTE_DIRTY) != 0 };
		if (n == ZP_BATCH_MAX) {
			ok = page_out_batch(v, n, t);
			n = 0;
		}
	}
	if (n > 0 && ok)
		ok = page_out_batch(v, n, t);
	zpage_irq_unlock(key);
	if (!ok) {
		zp_debug("k_mem_page_out(%p, %zu): backing store full", addr, size);
		return -ENOMEM;
	}
	if (pinned) {
		zp_debug("k_mem_page_out(%p, %zu): pinned pages stay resident",
			 addr, size);
		return -EBUSY;
	}
	return 0;
}

static void load_api(const char *fn, void *addr, size_t size, bool pin)
{
	size_t first;
	if (zp_api_range(fn, addr, size, &first) != 0)
		return;
	unsigned key = zpage_irq_lock();
	int r = load_range(first, size / ZP_PAGE_SIZE, pin, true);
	zpage_irq_unlock(key);
	if (r == 0)
		return;
	if (pin)
		zp_fatal("k_mem_pin(%p, %zu) cannot be honoured: %s", addr, size,
			 load_error(r));
	zp_error("k_mem_page_in(%p, %zu) stopped early: %s", addr, size,
		 load_error(r));
}

void k_mem_page_in(void *addr, size_t size)
{
	load_api(__func__, addr, size, false);
}

void k_mem_pin(void *addr, size_t size)
{
	load_api(__func__, addr, size, true);
}

void k_mem_unpin(void *addr, size_t size)
{
	size_t first;
	if (zp_api_range(__func__, addr, size, &first) != 0)
		return;
	unsigned key = zpage_irq_lock();
	for (size_t i = 0; i < size / ZP_PAGE_SIZE; i++) {
		zp_pte_t pte = zp_page_lock(first + i);
		if (pte_state(pte) == PS_RESIDENT)
			zp_unpin_locked(first + i, pte);
		zp_page_unlock(first + i, pte);
	}
	zpage_irq_unlock(key);
}
