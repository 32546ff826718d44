/*
 * The fault path: what happens when a thread touches a page that is not
 * mapped in. Runs on a fault-handler thread, on behalf of the faulting thread
 * (tid), holding only the faulting page's lock.
 *
 *   state     fault            action
 *   ZERO/OUT  any              load into a frame: a demand-paging fault
 *   RESIDENT  page zapped      map it back (accessed-bit sampling by minor
 *                              faults; where the host maps zapped pages
 *                              back itself, no such fault arrives)
 *   RESIDENT  write-protected  unprotect, mark dirty (write tracking)
 *   RESIDENT  otherwise        already served: wake the thread
 *   other     any              unmapped meanwhile: wake, the retry faults
 *                              fatally (SIGSEGV)
 */
#include "internal.h"

static const char *why(int r)
{
	switch (r) {
	case -EDEADLK: return "every page frame is pinned";
	case -ENOMEM: return "the backing store is full, even its fault reserve";
	case -EAGAIN: return "the eviction algorithm finds no frame to evict";
	case -EIO: return "the backing store fails to write every victim";
	case -EBADMSG: return "the page read back from the backing store is "
			      "corrupt (checksum mismatch)";
	case -ENODATA: return "the backing store cannot read the page";
	default: return "unexpected error";
	}
}

static ZP_NOINLINE void fault_failed(uint8_t *addr, long tid, size_t nframes,
				     int r)
{
	zp_count(fatal_faults);
	zp_error("page fault at %p by thread %ld cannot be served: %s "
		 "(%zu frames, %zu pinned); sending SIGBUS", (void *)addr,
		 tid == ZP_TID_SELF ? zp_port_tid() : tid, why(r), nframes,
		 atomic_load(&zp.pinned_count));
	zp_port_fault_fail(tid, addr);
}

void zp_fault(uint8_t *addr, enum zp_fault_kind kind, bool write, long tid)
{
	size_t idx = zp_page_index(addr);

	if (zp_unlikely(idx == SIZE_MAX)) {
		zp_port_wake(addr);
		return;
	}
	zp_trace_fault(idx, write, tid);
	zp_pte_t pte = zp_page_lock(idx);
	int r;
	bool self = tid == ZP_TID_SELF;

	switch (pte_state(pte)) {
	case PS_ZERO:
	case PS_OUT: {
		/* Count it while the thread is still blocked: the page-in lets
		 * it run on, and it may read the statistics at once. */
		struct k_thread *t = self ? k_current_get()
					  : zp_thread_by_tid(tid);
		zp_stats_fault(t, zp_stats_context(t));
		/* Extra pages are loaded after the thread runs on (a handler
		 * serves it): counted as work in progress for zpage_quiesce(). */
		bool extra = zp.group_pages > 1 || zp.readahead_max > 0;
		if (extra)
			atomic_fetch_add(&zp.extra_loads_running, 1);
		r = zp_page_in_locked(idx, &pte, t,
				      ZP_LOAD_RESERVE | ZP_LOAD_WAKE |
					      (write ? ZP_LOAD_WRITE : 0));
		zp_page_unlock(idx, pte);
		if (extra && r == 0)
			zp_fault_extra(idx, t);
		if (extra)
			atomic_fetch_sub(&zp.extra_loads_running, 1);
		if (zp_unlikely(r != 0))
			fault_failed(addr, tid, zp.nframes, r);
		return;
	}
	case PS_RESIDENT:
		/* Counted before the thread is woken, as above. */
		if ((pte & PTE_ZAPPED) && zp.port.minor) {
			zp_count(access_faults);
			r = zp_port_remap(addr, (pte & PTE_WP) != 0);
			if (r != 0)
				zp_fatal("cannot map page %p back (error %d)",
					 (void *)addr, r);
			pte = (pte & ~PTE_ZAPPED) | PTE_ACCESSED;
			zp_track_accessed(pte_frame(pte));
		} else if ((kind == ZP_FAULT_WP || kind == ZP_FAULT_UNKNOWN) &&
			   ((pte & PTE_WP) || (zp.port.mapped && write))) {
			/* With signal delivery the kind is unknown, but a
			 * write-protected page that has contents faults only
			 * on writes (also where the host mapped it back).
			 * Where the host maps zapped pages back itself, a
			 * write to a resident page can only fault on a write
			 * protection: whatever protection it has goes. */
			if (pte & PTE_ZAPPED) {
				zp_count(access_faults);
				zp_track_accessed(pte_frame(pte));
			}
			zp_count(write_faults);
			r = zp_port_set_wp(addr, false);
			if (r != 0)
				zp_fatal("cannot unprotect page %p (error %d)",
					 (void *)addr, r);
			pte = (pte & ~(PTE_WP | PTE_ZAPPED)) | PTE_DIRTY |
			      PTE_ACCESSED;
		} else if (!self) {
			zp_port_wake(addr);
		}
		break;
	default:
		if (!self)
			zp_port_wake(addr);
		break;
	}
	zp_page_unlock(idx, pte);
}
