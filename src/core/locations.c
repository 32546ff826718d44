/*
 * Store locations, for every built-in store: which slot holds a page, how
 * many may be handed out, and which frames keep a clean copy.
 *
 * A slot is handed out from a stack of freed ones, or a new one above all
 * handed out so far; there are at most as many as the region has pages (a
 * page has one location at most). The limit counts bytes: a page per slot,
 * less where a store gives some back (zp_store_charge). The last page of
 * the limit is kept for page faults: a request that is not for a fault
 * gets -ENOMEM when less than two pages are left, so faults can still be
 * served when k_mem_page_out() is refused (the seed's rule).
 *
 * The tables come from the port's page allocator (address space reserved,
 * memory committed when touched): location_get runs inside fault handling.
 */
#include <stdlib.h>

#include "internal.h"

static const struct zp_store_ops *ops;
static uint32_t *free_slots; /* stack of freed slots */
static size_t free_bytes;    /* its size, as allocated */
static size_t nfree;
static size_t next_slot;     /* slots handed out so far, ever */
static size_t max_slots;
static size_t limit;         /* bytes, 0 = unlimited */
static _Atomic long charged; /* bytes counted against the limit */
static bool keep_copies;
static uintptr_t *frame_loc; /* location of each Z_PAGE_FRAME_BACKED frame */
static size_t frame_loc_bytes;

void zp_store_charge(long bytes)
{
	atomic_fetch_add_explicit(&charged, bytes, memory_order_relaxed);
}

void zp_loc_close(void)
{
	if (ops != NULL && ops->close != NULL)
		ops->close();
	(void)zp_inject_configure(NULL, NULL);
	zp_port_table_free(free_slots, free_bytes);
	zp_port_table_free(frame_loc, frame_loc_bytes);
	free_slots = NULL;
	frame_loc = NULL;
	ops = NULL;
	nfree = next_slot = 0;
	atomic_store(&charged, 0);
}

int zp_loc_open(const struct zp_store_ops *store, size_t limit_bytes)
{
	zp_loc_close();
	max_slots = zp.npages < ((size_t)1 << 32) ? zp.npages : (size_t)1 << 32;
	free_bytes = max_slots * sizeof(*free_slots);
	frame_loc_bytes = Z_NUM_PAGE_FRAMES * sizeof(*frame_loc);
	free_slots = zp_port_table_alloc(free_bytes);
	frame_loc = zp_port_table_alloc(frame_loc_bytes);
	if (free_slots == NULL || frame_loc == NULL) {
		zp_error("backing store: cannot reserve its tables");
		zp_loc_close();
		return -ENOMEM;
	}
	const char *faults = getenv("ZPAGE_STORE_FAULTS");
	if (faults != NULL &&
	    zp_inject_configure(faults, "ZPAGE_STORE_FAULTS") != 0) {
		zp_loc_close();
		return -EINVAL;
	}
	limit = limit_bytes;
	keep_copies = store->keeps_copies != NULL && store->keeps_copies();
	int r = store->open(max_slots);
	if (r != 0) {
		zp_loc_close();
		return r;
	}
	ops = store;
	return 0;
}

/* Bytes that may still be charged. */
static size_t headroom(void)
{
	long used = atomic_load_explicit(&charged, memory_order_relaxed);

	if (limit == 0)
		return SIZE_MAX;
	return used >= (long)limit ? 0 : limit - (size_t)used;
}

bool zp_store_keeps_copies(void)
{
	return keep_copies;
}

int zp_loc_get(struct z_page_frame *pf, uintptr_t *loc, bool fault)
{
	if (z_page_frame_is_backed(pf)) {
		*loc = frame_loc[z_page_frame_index(pf)];
		return 0;
	}
	size_t room = headroom();
	if (room < ZP_PAGE_SIZE || (!fault && room < 2 * ZP_PAGE_SIZE))
		return -ENOMEM;
	size_t slot;
	/* Where the store itself ends (a device), its last slot is the
	 * fault reserve as well. */
	if (!fault && nfree == 0 && ops->prepare != NULL &&
	    (next_slot + 1 >= max_slots || ops->prepare(next_slot + 1) != 0))
		return -ENOMEM;
	if (nfree > 0) {
		slot = free_slots[--nfree];
	} else {
		if (next_slot == max_slots ||
		    (ops->prepare != NULL && ops->prepare(next_slot) != 0))
			return -ENOMEM;
		slot = next_slot++;
	}
	zp_store_charge(ZP_PAGE_SIZE);
	*loc = (uintptr_t)slot * ZP_PAGE_SIZE;
	return 0;
}

void zp_loc_free(uintptr_t loc)
{
	if (ops->discard != NULL)
		ops->discard(loc);
	zp_store_charge(-(long)ZP_PAGE_SIZE);
	free_slots[nfree++] = (uint32_t)(loc / ZP_PAGE_SIZE);
}

void zp_loc_finalize(struct z_page_frame *pf, uintptr_t loc)
{
	if (keep_copies) {
		frame_loc[z_page_frame_index(pf)] = loc;
		z_page_frame_set(pf, Z_PAGE_FRAME_BACKED);
	} else {
		zp_loc_free(loc);
	}
}

/* A failed read is tried again, after 1, 10 and 100 ms: a remote store
 * may reconnect meanwhile, a flaky device may answer the next time. A
 * corrupt page stays corrupt, but a corrupted transfer cannot be told
 * from a corrupted copy. */
#define READ_TRIES 4

int zp_store_read(const struct zp_store_ops *store, uintptr_t loc,
		  void *scratch, const void **page)
{
	int r = 0;
	uint32_t never = 0;
	int64_t pause_ns = 1000000;

	for (int i = 0; i < READ_TRIES; i++) {
		if (i > 0) {
			zp_port_sleep_on(&never, 0, pause_ns);
			pause_ns *= 10;
		}
		r = store->read_page(loc, scratch, page);
		if (r == 0)
			return 0;
		zp_count(store_read_errors);
	}
	zp_count(store_read_failures);
	zp_error("backing store %s: reading location %#lx failed %d times, "
		 "last with error %d (%s)", store->name, (unsigned long)loc,
		 READ_TRIES, r, r == -EBADMSG ? "checksum mismatch"
			       : r == -ENODATA ? "the store does not have it"
					       : "see above");
	return r;
}

int zpage_store_stats_get(struct zpage_store_stats *s)
{
	int r = zp_ensure();

	if (r != 0 || s == NULL)
		return r != 0 ? r : -EINVAL;
	const struct zp_store_ops *store = zp_store_native();
	if (store == NULL)
		return -ENOTSUP;
	memset(s, 0, sizeof(*s));
	zp_lock(&zp.store_lock);
	s->name = store->name;
	s->locations = next_slot - nfree;
	long c = atomic_load(&charged);
	s->bytes_charged = c > 0 ? (size_t)c : 0;
	s->limit = limit;
	if (store->stats != NULL)
		store->stats(s);
	zp_unlock(&zp.store_lock);
	return 0;
}
