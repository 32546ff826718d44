/*
 * zpage demo: map four times more memory than there are page frames, write
 * it, verify it, work on it at random, and show what the pager did.
 *
 * Runs on the defaults unless ZPAGE_* variables say otherwise (an embedded
 * default: 1024 frames of 4 KiB = 4 MiB of "RAM", NRU eviction, RAM store).
 * Exit status 0 when every byte read back was what was written.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zpage.h>

#define PAGE CONFIG_MMU_PAGE_SIZE
#define OVERCOMMIT 4

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The stamp of page p in generation g: one word per 512, checked fully. */
static uint64_t stamp(size_t p, uint64_t g)
{
	return (uint64_t)p * 0x9E3779B97F4A7C15ull ^ g;
}

static void write_page(uint8_t *page, size_t p, uint64_t g)
{
	uint64_t *w = (uint64_t *)page;

	for (size_t i = 0; i < PAGE / 8; i++)
		w[i] = stamp(p, g) + i;
}

static int page_ok(const uint8_t *page, size_t p, uint64_t g)
{
	const uint64_t *w = (const uint64_t *)page;

	for (size_t i = 0; i < PAGE / 8; i++)
		if (w[i] != stamp(p, g) + i)
			return 0;
	return 1;
}

static unsigned long faults(void)
{
	struct k_mem_paging_stats_t s;

	k_mem_paging_stats_get(&s);
	return s.pagefaults.cnt;
}

static void phase(const char *name, double t0, unsigned long f0, size_t ops)
{
	double dt = now() - t0;
	unsigned long f = faults() - f0;

	printf("  %-34s %8zu pages %8lu faults %7.3f s  %6.1f us/fault\n", name,
	       ops, f, dt, f ? dt * 1e6 / (double)f : 0.0);
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void bar(unsigned long count, unsigned long max)
{
	int width = max ? (int)((count * 40 + max - 1) / max) : 0;

	for (int i = 0; i < width; i++)
		fputs("#", stdout);
	printf("%*s", 41 - width, "");
}

static void show_histogram(const char *title,
			   void (*get)(struct k_mem_paging_histogram_t *))
{
	struct k_mem_paging_histogram_t h;
	unsigned long max = 0, total = 0;

	get(&h);
	for (int b = 0; b < CONFIG_DEMAND_PAGING_TIMING_HISTOGRAM_NUM_BINS; b++) {
		if (h.counts[b] > max)
			max = h.counts[b];
		total += h.counts[b];
	}
	printf("\n%s (%lu events)\n", title, total);
	unsigned long lo = 0;
	for (int b = 0; b < CONFIG_DEMAND_PAGING_TIMING_HISTOGRAM_NUM_BINS; b++) {
		char range[32];
		if (h.bounds[b] == ULONG_MAX)
			snprintf(range, sizeof(range), "> %6.2f us", (double)lo / 1000);
		else
			snprintf(range, sizeof(range), "<= %6.2f us",
				 (double)h.bounds[b] / 1000);
		printf("  %-12s ", range);
		bar(h.counts[b], max);
		printf(" %lu\n", h.counts[b]);
		lo = h.bounds[b];
	}
}

int main(void)
{
	struct zpage_info info;
	int r = zpage_info_get(&info);

	if (r != 0) {
		fprintf(stderr, "zpage cannot start here (error %d)\n", r);
		return 1;
	}
	size_t pages = info.frames * OVERCOMMIT;
	size_t size = pages * PAGE;

	printf("zpage demo: %zu frames (%zu KiB of RAM), mapping %zu KiB = %dx "
	       "more\n", info.frames, info.frames * PAGE / 1024, size / 1024,
	       OVERCOMMIT);
	printf("eviction %s%s, backing store %s, faults via %s userfaultfd "
	       "served by %s,\nwrite tracking %s, access tracking %s\n\n",
	       info.eviction,
	       info.background_evictor ? " with a background evictor" : "",
	       info.backing_store,
	       info.mode == ZPAGE_MODE_UFFD ? "full" : "user-mode-only",
	       info.delivery == ZPAGE_DELIVERY_SIGNAL ? "the faulting thread"
						      : "handler threads",
	       info.write_tracking ? "on" : "off",
	       info.access_mapped ? "on (pages mapped back by the kernel)"
	       : info.access_tracking ? "on (minor faults)" : "off");

	uint8_t *region = k_mem_map(size, K_MEM_PERM_RW);
	if (region == NULL) {
		fprintf(stderr, "k_mem_map(%zu) failed\n", size);
		return 1;
	}
	size_t bad = 0;
	double t0;
	unsigned long f0;

	t0 = now(), f0 = faults();
	for (size_t p = 0; p < pages; p++)
		write_page(region + p * PAGE, p, 0);
	phase("write every page", t0, f0, pages);

	t0 = now(), f0 = faults();
	for (size_t p = 0; p < pages; p++)
		bad += !page_ok(region + p * PAGE, p, 0);
	phase("verify every page", t0, f0, pages);

	/* Random work with a hot quarter: 3 of 4 touches go to it. */
	uint64_t *gen = calloc(pages, sizeof(*gen));
	uint64_t seed = 0x5eed;
	size_t touches = pages * 8;
	t0 = now(), f0 = faults();
	for (size_t t = 0; t < touches; t++) {
		size_t p = rng(&seed) % pages;
		if (rng(&seed) % 4 != 0)
			p %= pages / 4;
		uint8_t *page = region + p * PAGE;
		bad += !page_ok(page, p, gen[p]);
		if (rng(&seed) % 2) {
			gen[p]++;
			write_page(page, p, gen[p]);
		}
	}
	phase("random read/write, hot quarter", t0, f0, touches);

	t0 = now(), f0 = faults();
	r = k_mem_page_out(region, size / 2);
	k_mem_page_in(region, PAGE * 64);
	for (size_t p = 0; p < pages; p++)
		bad += !page_ok(region + p * PAGE, p, gen[p]);
	phase("page out half, verify all", t0, f0, pages);

	struct k_mem_paging_stats_t s;
	struct zpage_counters c;
	k_mem_paging_stats_get(&s);
	zpage_counters_get(&c);
	printf("\nStatistics\n");
	printf("  page faults           %lu (irq unlocked %lu, irq locked %lu, "
	       "in ISR %lu)\n", s.pagefaults.cnt, s.pagefaults.irq_unlocked,
	       s.pagefaults.irq_locked, s.pagefaults.in_isr);
	printf("    zero-filled         %lu\n", c.zero_fills);
	printf("    loaded from store   %lu\n", c.store_loads);
	printf("  evictions             %lu (clean %lu, dirty %lu)\n",
	       s.eviction.clean + s.eviction.dirty, s.eviction.clean,
	       s.eviction.dirty);
	printf("  store page-outs       %lu, page-ins %lu\n", c.page_outs,
	       c.page_ins);
	printf("  tracking              %lu touches of cleared pages seen, %lu "
	       "write faults (not counted above)\n", c.access_faults,
	       c.write_faults);
	printf("  free RAM now          %zu KiB\n", k_mem_free_get() / 1024);

	show_histogram("Eviction selection time",
		       k_mem_paging_histogram_eviction_get);
	show_histogram("Backing store page-in time",
		       k_mem_paging_histogram_backing_store_page_in_get);
	show_histogram("Backing store page-out time",
		       k_mem_paging_histogram_backing_store_page_out_get);

	k_mem_unmap(region, size);
	free(gen);
	printf("\n%s: %zu bad pages (k_mem_page_out returned %d)\n",
	       bad == 0 && r == 0 ? "OK" : "FAILED", bad, r);
	return bad == 0 && r == 0 ? 0 : 1;
}
