/*
 * Kernel-access pins: the fallback for system calls where the kernel's own
 * accesses to paged memory cannot be served.
 *
 * With signal delivery (or a user-mode-only userfaultfd) a fault the kernel
 * takes while copying to or from a buffer makes the system call fail with
 * EFAULT. So the port brings a call's buffers in before the call and keeps
 * them resident, mapped and (for data the kernel writes) writable until it
 * returns: loaded like a fault would load them (counted as page faults of the
 * calling thread, the store's fault reserve usable), then pinned.
 *
 * Such pins count per frame beside k_mem_pin()'s own (frame_pins), so a
 * k_mem_unpin() during a system call, or two calls on one buffer, leave the
 * others in place. The frames they take are limited (a blocking read into a
 * big buffer must not starve the faults of other threads): a call pins at
 * most KPIN_CALL_SHARE of the frames, all calls together KPIN_ALL_SHARE; the
 * port splits longer transfers.
 */
#include "internal.h"

#define KPIN_CALL_SHARE 16 /* one call: at most 1/16 of the frames */
#define KPIN_ALL_SHARE 4   /* all calls: at most 1/4 of the frames */

static size_t call_limit(void)
{
	size_t n = zp.nframes / KPIN_CALL_SHARE;

	if (n > ZP_KPIN_MAX)
		n = ZP_KPIN_MAX;
	return n > 0 ? n : 1;
}

/* Reserve up to want frames from the budget of all calls; at least one
 * while fewer than half of the frames are pinned, so that a call is never
 * left without any. Returns how many. */
static size_t budget_take(size_t want)
{
	size_t limit = zp.nframes / KPIN_ALL_SHARE;
	size_t used = atomic_load(&zp.kpin_pages), give;

	do {
		give = used < limit ? limit - used : 0;
		if (give > want)
			give = want;
		if (give == 0 && atomic_load(&zp.pinned_count) < zp.nframes / 2)
			give = 1;
		if (give == 0)
			return 0;
	} while (!atomic_compare_exchange_weak(&zp.kpin_pages, &used,
					       used + give));
	return give;
}

/* Make the locked page idx resident, mapped and (write) writable. */
static int prepare_locked(size_t idx, zp_pte_t *pte, bool write,
			  struct k_thread *t, struct zp_fault_context ctx)
{
	bool writable = (*pte & PTE_WRITABLE) != 0;

	if (pte_state(*pte) != PS_RESIDENT) {
		/* What the kernel's access would have cost in a fault. */
		zp_stats_fault(t, ctx);
		int r = zp_page_in_locked(idx, pte, t,
					  ZP_LOAD_RESERVE |
						  (write ? ZP_LOAD_WRITE : 0));
		if (r != 0)
			return r;
	}
	return write && writable ? zp_page_settle_for_pin(idx, pte)
				 : zp_page_settle_locked(idx, pte);
}

static void mark(struct zp_kpin *k, size_t i)
{
	k->pinned[i / 64] |= (uint64_t)1 << (i % 64);
}

static bool marked(const struct zp_kpin *k, size_t i)
{
	return (k->pinned[i / 64] >> (i % 64)) & 1;
}

size_t zp_kpin(struct zp_kpin *k, uint8_t *addr, size_t len, bool write)
{
	uintptr_t a = (uintptr_t)addr, base = (uintptr_t)zp.base;

	memset(k, 0, sizeof(*k));
	if (len != 0 && a < base && a + len > base) {
		/* Starts below the region: that part needs nothing. */
		size_t c = zp_kpin(k, zp.base, len - (base - a), write);
		return c != 0 ? (base - a) + c : 0;
	}
	if (len == 0 || zp_page_index(addr) == SIZE_MAX)
		return 0;
	size_t first = zp_page_index(addr);
	size_t last = zp_page_index((uint8_t *)(a + len - 1));
	size_t paging_lo = zp.ram_size >> ZP_PAGE_SHIFT;

	if (last == SIZE_MAX)
		last = zp.npages - 1; /* the rest is not ours to pin */
	size_t n = last - first + 1;
	if (n > ZP_KPIN_MAX)
		n = ZP_KPIN_MAX;
	size_t reserved = budget_take(n < call_limit() ? n : call_limit());
	if (reserved == 0)
		return 0;

	struct k_thread *t = k_current_get();
	struct zp_fault_context ctx = zp_stats_context(t);
	unsigned key = zpage_irq_lock();
	size_t pinned = 0, i;

	k->first = first;
	for (i = 0; i < n; i++) {
		size_t idx = first + i;
		if (idx < paging_lo)
			continue; /* the permanent RAM mapping: never paged */
		zp_pte_t pte = zp_page_lock(idx);
		enum zp_page_state s = pte_state(pte);
		if (s != PS_ZERO && s != PS_OUT && s != PS_RESIDENT) {
			/* A window, or no mapping: the call gets what the
			 * kernel gives it there. */
			zp_page_unlock(idx, pte);
			continue;
		}
		if (pinned == reserved) {
			zp_page_unlock(idx, pte);
			break;
		}
		int r = prepare_locked(idx, &pte, write, t, ctx);
		if (r == 0) {
			zp_kpin_locked(pte, +1);
			mark(k, i);
			pinned++;
		}
		zp_page_unlock(idx, pte);
		if (r != 0) {
			zp_debug("a system call's buffer at %p cannot be "
				 "brought in (error %d): the call may fail "
				 "with EFAULT", (void *)zp_page_addr(idx), r);
			break;
		}
	}
	zpage_irq_unlock(key);
	k->npages = i;
	k->reserved = reserved;
	if (pinned < reserved) {
		atomic_fetch_sub(&zp.kpin_pages, reserved - pinned);
		k->reserved = pinned;
	}
	if (i == 0) {
		zp_kunpin(k);
		return 0;
	}
	/* Covered: up to the first page not looked at. */
	uintptr_t end = (uintptr_t)zp_page_addr(first + i);
	return end - a < len ? end - a : len;
}

void zp_kunpin(struct zp_kpin *k)
{
	if (k->npages == 0 && k->reserved == 0)
		return;
	unsigned key = zpage_irq_lock();
	for (size_t i = 0; i < k->npages; i++) {
		if (!marked(k, i))
			continue;
		size_t idx = k->first + i;
		zp_pte_t pte = zp_page_lock(idx);
		/* Gone only if the program unmapped the buffer meanwhile. */
		if (pte_state(pte) == PS_RESIDENT &&
		    (zp.frame_pins[pte_frame(pte)] & ~ZP_PIN_USER) != 0)
			zp_kpin_locked(pte, -1);
		zp_page_unlock(idx, pte);
	}
	zpage_irq_unlock(key);
	atomic_fetch_sub(&zp.kpin_pages, k->reserved);
	memset(k, 0, sizeof(*k));
}
