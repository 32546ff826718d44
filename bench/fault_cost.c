/*
 * bench/fault_cost: what one demand-paging fault costs with the RAM store,
 * next to the kernel's own anonymous first-touch fault measured in the same
 * run (the ratio is what to compare across machines; absolute times on a
 * small VM are slow and noisy).
 *
 * Scenarios, each in a fresh child process with its own library:
 *   kernel first touch      mmap(MAP_ANONYMOUS) and touch each page once
 *   zero-fill               first touch of a k_mem_map page, free frames
 *   page-in, free frame     page paged out with k_mem_page_out, frames free
 *   page-in, clean evict    store ram:backed, pages only read: every fault
 *                           evicts a page that has a clean copy (no write)
 *   page-in, dirty evict    store ram, pages written: every fault first
 *                           writes a dirty page out
 *
 * Each zpage scenario runs in three configurations: the defaults (faults
 * served by the faulting thread from SIGBUS, clock eviction in batches, a
 * background evictor where there are two processors), handler threads
 * (ZPAGE_FAULT_MODE=thread, otherwise the defaults) and Zephyr's way (nru,
 * one victim per fault, chosen and evicted by the fault itself).
 *
 * Usage: fault_cost [pages] [runs]   (defaults 4096 pages, 5 runs; median)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zpage.h>

#define PAGE CONFIG_MMU_PAGE_SIZE

struct result {
	double us_per_fault;
	unsigned long faults, clean, dirty;
	int ok;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void stats(unsigned long *faults, unsigned long *clean,
		  unsigned long *dirty)
{
	struct k_mem_paging_stats_t s;

	k_mem_paging_stats_get(&s);
	*faults = s.pagefaults.cnt;
	*clean = s.eviction.clean;
	*dirty = s.eviction.dirty;
}

static size_t npages;

struct config {
	const char *name, *eviction, *fault_mode;
	int evictor;
};
static const struct config *cfg;

static void touch_write(volatile uint8_t *p, size_t pages, uint8_t v)
{
	for (size_t i = 0; i < pages; i++)
		p[i * PAGE] = v;
}

static unsigned long touch_read(volatile uint8_t *p, size_t pages)
{
	unsigned long sum = 0;

	for (size_t i = 0; i < pages; i++)
		sum += p[i * PAGE];
	return sum;
}

/* free: the scenario fills the pool without evicting, so no background
 * evictor (it would start evicting as the free frames run low). */
static void start(size_t frames, const char *store, bool free)
{
	struct zpage_config c = { .frames = frames, .backing_store = store,
				  .eviction = cfg->eviction,
				  .fault_mode = cfg->fault_mode,
				  .evictor = free ? -1 : cfg->evictor };
	int r = zpage_init(&c);

	if (r != 0) {
		fprintf(stderr, "zpage_init: %d\n", r);
		exit(r == -ENOSYS ? 77 : 1);
	}
}

/* Time fn over the region, per demand-paging fault taken meanwhile. */
#define TIMED(res, body)                                                     \
	do {                                                                 \
		unsigned long f0, c0, d0, f1, c1, d1;                        \
		stats(&f0, &c0, &d0);                                        \
		double t0 = now();                                           \
		body;                                                        \
		double t1 = now();                                           \
		stats(&f1, &c1, &d1);                                        \
		(res)->faults = f1 - f0;                                     \
		(res)->clean = c1 - c0;                                      \
		(res)->dirty = d1 - d0;                                      \
		(res)->us_per_fault = (res)->faults                          \
			? (t1 - t0) * 1e6 / (double)(res)->faults : 0;       \
	} while (0)

static void run_kernel(struct result *res)
{
	uint8_t *p = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	double t0 = now();
	touch_write(p, npages, 1);
	res->us_per_fault = (now() - t0) * 1e6 / (double)npages;
	res->faults = npages;
	res->ok = 1;
}

static void run_zero_fill(struct result *res)
{
	start(npages, "ram", true);
	uint8_t *p = k_mem_map(npages * PAGE, K_MEM_PERM_RW);
	TIMED(res, touch_write(p, npages, 1));
	res->ok = res->faults == npages && res->clean + res->dirty == 0;
}

static void run_page_in_free(struct result *res)
{
	start(npages, "ram", true);
	uint8_t *p = k_mem_map(npages * PAGE, K_MEM_PERM_RW);
	touch_write(p, npages, 1);
	if (k_mem_page_out(p, npages * PAGE) != 0)
		return;
	TIMED(res, touch_read(p, npages));
	res->ok = res->faults == npages && res->clean + res->dirty == 0;
}

/* Evictions match faults one for one when each fault evicts its own
 * victim; batches and the background evictor free frames somewhat ahead,
 * within a quarter of the pool. */
static int about_one_each(unsigned long evictions, unsigned long faults)
{
	unsigned long slack = npages / 4;

	return evictions + slack >= faults && evictions <= faults + slack;
}

static void run_clean_evict(struct result *res)
{
	start(npages, "ram:backed", false);
	size_t pages = 2 * npages;
	uint8_t *p = k_mem_map(pages * PAGE, K_MEM_PERM_RW);
	touch_write(p, pages, 1);
	touch_read(p, pages); /* now every resident page has a clean copy */
	TIMED(res, touch_read(p, pages));
	res->ok = res->faults >= npages && res->dirty == 0 &&
		  about_one_each(res->clean, res->faults);
}

static void run_dirty_evict(struct result *res)
{
	start(npages, "ram", false);
	size_t pages = 2 * npages;
	uint8_t *p = k_mem_map(pages * PAGE, K_MEM_PERM_RW);
	touch_write(p, pages, 1);
	TIMED(res, touch_write(p, pages, 2));
	res->ok = res->faults >= npages && res->clean == 0 &&
		  about_one_each(res->dirty, res->faults);
}

static int in_child(void (*fn)(struct result *), struct result *out)
{
	int fd[2];

	if (pipe(fd) != 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		struct result r = { 0 };
		close(fd[0]);
		fn(&r);
		if (write(fd[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	ssize_t n = read(fd[0], out, sizeof(*out));
	close(fd[0]);
	int status;
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		return 77;
	return n == (ssize_t)sizeof(*out) ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median us/fault of runs runs of fn, printed with its ratio to base
 * (0: this is the base). */
static double measure(const char *name, void (*fn)(struct result *), int runs,
		      double base, int *bad)
{
	double v[99];
	struct result r = { 0 };

	for (int i = 0; i < runs; i++) {
		int rc = in_child(fn, &r);
		if (rc == 77) {
			printf("userfaultfd unavailable: skipped\n");
			exit(77);
		}
		if (rc != 0 || !r.ok) {
			fprintf(stderr, "%s: run %d failed (faults %lu, clean %lu, "
				"dirty %lu)\n", name, i, r.faults, r.clean,
				r.dirty);
			*bad = 1;
		}
		v[i] = r.us_per_fault;
	}
	qsort(v, (size_t)runs, sizeof(v[0]), cmp);
	double med = v[runs / 2];
	printf("%-40s %10.2f %10.2f %lu\n", name, med,
	       base > 0 ? med / base : 1.0, r.faults);
	return med;
}

int main(int argc, char **argv)
{
	npages = argc > 1 ? strtoul(argv[1], NULL, 10) : 4096;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	if (npages < 64 || runs < 1 || runs > 99) {
		fprintf(stderr, "usage: %s [pages >= 64] [runs 1..99]\n", argv[0]);
		return 2;
	}
	static const struct {
		const char *name;
		void (*fn)(struct result *);
	} sc[] = {
		{ "zero-fill, free frame", run_zero_fill },
		{ "page-in, free frame", run_page_in_free },
		{ "page-in + clean eviction", run_clean_evict },
		{ "page-in + dirty eviction", run_dirty_evict },
	};
	static const struct config configs[] = {
		{ "default", NULL, NULL, 0 },
		{ "threads", NULL, "thread", 0 },
		{ "zephyr", "nru", NULL, -1 },
	};
	int bad = 0;

	printf("fault_cost: %zu pages per run, median of %d runs, RAM store, "
	       "%zu frames\n", npages, runs, npages);
	printf("default: faulting thread (SIGBUS), clock, background evictor; "
	       "threads: handler threads; zephyr: nru, no evictor\n\n");
	printf("%-40s %10s %10s %s\n", "scenario", "us/fault", "vs kernel",
	       "faults/run");
	double kernel = measure("kernel anonymous first touch", run_kernel, runs,
				0, &bad);
	for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
		cfg = &configs[c];
		for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
			char name[64];
			snprintf(name, sizeof(name), "zpage %s: %s", cfg->name,
				 sc[i].name);
			measure(name, sc[i].fn, runs, kernel, &bad);
		}
	}
	return bad;
}
