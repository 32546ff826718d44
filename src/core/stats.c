/*
 * Statistics and timing histograms (nanoseconds). Counters are atomics
 * updated on the fault path without locks; readers get a snapshot that may
 * be a few events behind.
 */
#include <limits.h>

#include "internal.h"

/* Powers of two from 250 ns to 64 us: on a small VM a RAM-store copy takes
 * about 0.3-2 us, a pread-based page-out 2-8 us, an NRU scan 0.1-50 us. */
static const unsigned long default_bounds[ZP_NUM_BINS] = {
	250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, ULONG_MAX,
};

static void stats_zero(struct zp_stats *s)
{
	atomic_store(&s->cnt, 0);
	atomic_store(&s->irq_locked, 0);
	atomic_store(&s->irq_unlocked, 0);
	atomic_store(&s->in_isr, 0);
	atomic_store(&s->clean, 0);
	atomic_store(&s->dirty, 0);
}

void zp_stats_reset(void)
{
	stats_zero(&zp.stats);
	memset(&zp.counters, 0, sizeof(zp.counters));
	for (int h = 0; h < 3; h++) {
		for (int b = 0; b < ZP_NUM_BINS; b++) {
			atomic_store(&zp.hist[h].bounds[b], default_bounds[b]);
			atomic_store(&zp.hist[h].counts[b], 0);
		}
	}
}

void zp_stats_thread_reset(struct zp_stats *s)
{
	stats_zero(s);
}

static void add(_Atomic unsigned long *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static void fault_into(struct zp_stats *s, bool locked, bool isr)
{
	add(&s->cnt);
	add(locked ? &s->irq_locked : &s->irq_unlocked);
	if (isr)
		add(&s->in_isr);
}

struct zp_fault_context zp_stats_context(struct k_thread *t)
{
	return (struct zp_fault_context){
		.irq_locked = atomic_load_explicit(&t->irq_depth,
						   memory_order_relaxed) > 0,
		.in_isr = atomic_load_explicit(&t->isr_depth,
					       memory_order_relaxed) > 0,
	};
}

void zp_stats_fault(struct k_thread *t, struct zp_fault_context ctx)
{
	fault_into(&zp.stats, ctx.irq_locked, ctx.in_isr);
	fault_into(&t->stats, ctx.irq_locked, ctx.in_isr);
}

void zp_stats_eviction(struct k_thread *t, bool dirty)
{
	add(dirty ? &zp.stats.dirty : &zp.stats.clean);
	if (t != NULL)
		add(dirty ? &t->stats.dirty : &t->stats.clean);
	else
		add(&zp.counters.background_evictions);
}

void zp_hist_add(enum zp_hist_id id, uint64_t ns)
{
	struct zp_histogram *h = &zp.hist[id];
	int b = 0;

	while (b < ZP_NUM_BINS - 1 &&
	       ns > atomic_load_explicit(&h->bounds[b], memory_order_relaxed))
		b++;
	add(&h->counts[b]);
}

static void copy_stats(const struct zp_stats *from,
		       struct k_mem_paging_stats_t *to)
{
	to->pagefaults.cnt = atomic_load(&from->cnt);
	to->pagefaults.irq_locked = atomic_load(&from->irq_locked);
	to->pagefaults.irq_unlocked = atomic_load(&from->irq_unlocked);
	to->pagefaults.in_isr = atomic_load(&from->in_isr);
	to->eviction.clean = atomic_load(&from->clean);
	to->eviction.dirty = atomic_load(&from->dirty);
}

void k_mem_paging_stats_get(struct k_mem_paging_stats_t *stats)
{
	if (stats == NULL)
		return;
	memset(stats, 0, sizeof(*stats));
	if (zp_ensure() == 0)
		copy_stats(&zp.stats, stats);
}

void k_mem_paging_thread_stats_get(struct k_thread *thread,
				   struct k_mem_paging_stats_t *stats)
{
	if (stats == NULL)
		return;
	memset(stats, 0, sizeof(*stats));
	if (thread != NULL)
		copy_stats(&thread->stats, stats);
}

static void copy_hist(enum zp_hist_id id, struct k_mem_paging_histogram_t *to)
{
	if (to == NULL)
		return;
	memset(to, 0, sizeof(*to));
	if (zp_ensure() != 0) {
		memcpy(to->bounds, default_bounds, sizeof(default_bounds));
		return;
	}
	for (int b = 0; b < ZP_NUM_BINS; b++) {
		to->counts[b] = atomic_load(&zp.hist[id].counts[b]);
		to->bounds[b] = atomic_load(&zp.hist[id].bounds[b]);
	}
}

void k_mem_paging_histogram_eviction_get(struct k_mem_paging_histogram_t *hist)
{
	copy_hist(ZP_HIST_EVICTION, hist);
}

void k_mem_paging_histogram_backing_store_page_in_get(
	struct k_mem_paging_histogram_t *hist)
{
	copy_hist(ZP_HIST_PAGE_IN, hist);
}

void k_mem_paging_histogram_backing_store_page_out_get(
	struct k_mem_paging_histogram_t *hist)
{
	copy_hist(ZP_HIST_PAGE_OUT, hist);
}

int zpage_histogram_bounds_set(int which, const unsigned long *bounds)
{
	if (which < 0 || which > 2 || bounds == NULL)
		return -EINVAL;
	for (int b = 1; b < ZP_NUM_BINS - 1; b++) {
		if (bounds[b] <= bounds[b - 1]) {
			zp_debug("zpage_histogram_bounds_set: bounds must increase");
			return -EINVAL;
		}
	}
	int r = zp_ensure();
	if (r != 0)
		return r;
	struct zp_histogram *h = &zp.hist[which];
	for (int b = 0; b < ZP_NUM_BINS; b++) {
		atomic_store(&h->bounds[b],
			     b < ZP_NUM_BINS - 1 ? bounds[b] : ULONG_MAX);
		atomic_store(&h->counts[b], 0);
	}
	return 0;
}

void zpage_counters_get(struct zpage_counters *c)
{
	if (c == NULL)
		return;
	memset(c, 0, sizeof(*c));
	if (zp_ensure() != 0)
		return;
	c->zero_fills = atomic_load(&zp.counters.zero_fills);
	c->store_loads = atomic_load(&zp.counters.store_loads);
	c->access_faults = atomic_load(&zp.counters.access_faults);
	c->write_faults = atomic_load(&zp.counters.write_faults);
	c->evictions = atomic_load(&zp.stats.clean) + atomic_load(&zp.stats.dirty);
	c->page_outs = atomic_load(&zp.counters.page_outs);
	c->page_ins = atomic_load(&zp.counters.page_ins);
	c->pinned_frames = atomic_load(&zp.pinned_count);
	c->fatal_faults = atomic_load(&zp.counters.fatal_faults);
	c->extra_loads = atomic_load(&zp.counters.extra_loads);
	c->background_evictions =
		atomic_load(&zp.counters.background_evictions);
	c->store_read_errors = atomic_load(&zp.counters.store_read_errors);
	c->store_write_errors = atomic_load(&zp.counters.store_write_errors);
	c->store_read_failures = atomic_load(&zp.counters.store_read_failures);
}
