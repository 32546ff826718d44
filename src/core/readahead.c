/*
 * Bringing in more than the faulting page:
 *
 *  - page groups (ZPAGE_PAGE_SIZE): pages move in aligned groups of that
 *    size, as with a larger data page: a fault loads every page of its group;
 *  - read-ahead (ZPAGE_READAHEAD): when a thread faults on consecutive pages,
 *    the next pages are loaded with the same fault, the window doubling from
 *    4 pages up to the configured maximum while the pattern holds;
 *  - zpage_prefetch(): a program that knows what it will touch asks for it
 *    to be loaded in the background.
 *
 * Each extra page costs a frame and a page-in but no fault (about 20 us on
 * the development VM). Extra pages are loaded one lock at a time after the
 * faulting page was released, so the faulting thread is not held up by them
 * when a handler thread serves it.
 */
#include <stdlib.h>

#include "internal.h"

#define RA_START 4

/* Load page idx if it is mapped and not resident; false if the caller
 * should stop (unmapped, or no frame can be had). */
static bool load_one(size_t idx, struct k_thread *t)
{
	zp_pte_t pte = zp_page_lock(idx);
	enum zp_page_state s = pte_state(pte);
	bool ok = true;

	if (s == PS_ZERO || s == PS_OUT) {
		ok = zp_page_in_locked(idx, &pte, t, 0) == 0;
		if (ok) {
			pte &= ~PTE_ACCESSED; /* loaded, not touched yet */
			zp_count(extra_loads);
		}
	} else if (s != PS_RESIDENT) {
		ok = false;
	}
	zp_page_unlock(idx, pte);
	return ok;
}

/* Load [from, to), stopping at the first page that cannot be loaded. */
static void load_span(size_t from, size_t to, struct k_thread *t)
{
	for (size_t idx = from; idx < to && idx < zp.npages; idx++)
		if (!load_one(idx, t))
			return;
}

void zp_fault_extra(size_t idx, struct k_thread *t)
{
	size_t group = zp.group_pages;

	if (group > 1) {
		size_t first = idx & ~(group - 1);
		load_span(first, idx, t);
		load_span(idx + 1, first + group, t);
	}
	if (zp.readahead_max == 0)
		return;
	/* Per faulting thread: consecutive faults grow the window. The
	 * fields are atomics only because different handler threads may
	 * serve the thread's successive faults. */
	size_t window = atomic_load_explicit(&t->ra_window, memory_order_relaxed);
	size_t loaded = atomic_load_explicit(&t->ra_loaded, memory_order_relaxed);
	/* Sequential: the page after the last fault, or the first page past
	 * what was read ahead (the pages between did not fault). */
	size_t from = 0, to = 0;
	if (idx == atomic_load_explicit(&t->ra_next, memory_order_relaxed) ||
	    (loaded != 0 && idx == loaded)) {
		window = window == 0 ? RA_START : 2 * window;
		if (window > zp.readahead_max)
			window = zp.readahead_max;
		from = idx + 1 > loaded ? idx + 1 : loaded;
		to = loaded = idx + 1 + window;
	} else {
		window = loaded = 0;
	}
	/* Recorded before loading: the thread runs on meanwhile and its next
	 * fault, maybe served by another handler, must see this one. */
	atomic_store_explicit(&t->ra_window, window, memory_order_relaxed);
	atomic_store_explicit(&t->ra_loaded, loaded, memory_order_relaxed);
	atomic_store_explicit(&t->ra_next, idx + 1, memory_order_relaxed);
	load_span(from, to, t);
}

/* ---- zpage_prefetch: a queue served by one background thread -------------- */

#define QUEUE 64

struct request {
	size_t first, n;
};

static zp_lock_t queue_lock;
static struct request queue[QUEUE];
static size_t qhead, qlen;
static _Atomic uint32_t qwake; /* futex: 1 when there is work */
static _Atomic uint32_t qstop;
static _Atomic uint32_t qbusy; /* a request is taken and not yet done */
static void *worker;

static void *prefetcher(void *arg)
{
	(void)arg;
	while (!atomic_load(&qstop)) {
		struct request r = { 0, 0 };
		zp_lock(&queue_lock);
		if (qlen > 0) {
			atomic_store(&qbusy, 1);
			r = queue[qhead];
			qhead = (qhead + 1) % QUEUE;
			qlen--;
		} else {
			atomic_store(&qwake, 0);
		}
		zp_unlock(&queue_lock);
		if (r.n == 0) {
			zp_port_wait((uint32_t *)&qwake, 0);
			continue;
		}
		/* Ahead of demand: not a fault, no use of the store's fault
		 * reserve; a page unmapped meanwhile ends the request. */
		zp_load_range(r.first, r.n, false, false);
		atomic_store(&qbusy, 0);
	}
	return NULL;
}

int zpage_prefetch(void *addr, size_t size)
{
	size_t first;
	int r = zp_api_range(__func__, addr, size, &first);
	if (r != 0)
		return r;

	zp_lock(&queue_lock);
	if (worker == NULL) {
		atomic_store(&qstop, 0);
		r = zp_port_thread_start(&worker, prefetcher, NULL);
		if (r != 0) {
			worker = NULL;
			zp_unlock(&queue_lock);
			return r;
		}
	}
	if (qlen == QUEUE) {
		zp_unlock(&queue_lock);
		zp_debug("zpage_prefetch(%p, %zu): queue full, hint dropped",
			 addr, size);
		return -EAGAIN;
	}
	queue[(qhead + qlen) % QUEUE] = (struct request){ first, size / ZP_PAGE_SIZE };
	qlen++;
	zp_unlock(&queue_lock);
	atomic_store(&qwake, 1);
	zp_port_wake_all((uint32_t *)&qwake);
	return 0;
}

bool zp_prefetch_idle(void)
{
	zp_lock(&queue_lock);
	bool idle = qlen == 0 && atomic_load(&qbusy) == 0;
	zp_unlock(&queue_lock);
	return idle;
}

void zpage_quiesce(void)
{
	if (zp_ensure() != 0)
		return;
	/* Both are checked again after a pause: a prefetch may wake the
	 * evictor, an evictor that finished may have been kicked again. */
	for (int quiet = 0; quiet < 2;) {
		uint32_t nobody_wakes = 0;
		quiet = zp_prefetch_idle() && zp_evictor_idle() &&
				atomic_load(&zp.extra_loads_running) == 0
			? quiet + 1
			: 0;
		zp_port_sleep_on(&nobody_wakes, 0, 1000000);
	}
}

void zp_prefetch_stop(void)
{
	if (worker == NULL)
		return;
	atomic_store(&qstop, 1);
	atomic_store(&qwake, 1);
	zp_port_wake_all((uint32_t *)&qwake);
	zp_port_thread_join(worker);
	worker = NULL;
	qhead = qlen = 0;
	atomic_store(&qbusy, 0);
}

void zp_prefetch_forget(void)
{
	atomic_store(&queue_lock.word, 0);
	worker = NULL;
	qhead = qlen = 0;
	atomic_store(&qbusy, 0);
}
