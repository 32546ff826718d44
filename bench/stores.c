/*
 * bench/stores: what each backing store costs to page out to and page in
 * from, on real data, next to the kernel's own swap measured in the same
 * run.
 *
 * For every data set and store: a region of PAGES pages is filled, then
 * every page is paged out on its own (k_mem_page_out; for the kernel
 * madvise(MADV_PAGEOUT)) and then touched once in a random order (a fault
 * that pages it in, with frames free: no eviction in between). Each page
 * is timed: throughput, p50 and p99 per page; with T threads each does its
 * own share. Compressed stores report their compression ratio.
 *
 * Data sets: text (the system's C headers), binary (its shared libraries),
 * heap (this program's malloc heap after building a hash table of
 * records, as a real program's heap looks), random bytes.
 *
 * The kernel: swap on zram with lz4 (compare with the lz4 store) and swap
 * on a file in /var/tmp (compare with the file store), set up by the
 * program and removed afterwards; needs root and mkswap, and is left out
 * (with a note) where the machine does not allow it. Swapping to a file
 * writes asynchronously: its page-out time runs until the writes are done
 * and the pages are reclaimed (p50/p99 are of the madvise calls alone).
 * Swap read-ahead
 * (vm.page-cluster) is set to 0 meanwhile: pages are touched in a random
 * order, read-ahead would only add work.
 *
 * redis and memcached are measured where a server answers (at
 * ZPAGE_BENCH_REDIS, default redis://127.0.0.1:6379, and
 * ZPAGE_BENCH_MEMCACHED, default memcached://127.0.0.1:11211).
 *
 * Usage: stores [--pages N] [--threads 1,2] [--stores LIST] [--data LIST]
 *               [--no-kernel] [--markdown FILE]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <time.h>
#include <unistd.h>
#include <zpage.h>

#define PAGE 4096
#define MAX_THREADS 16

static size_t pages = 8192;
static int threads_list[8] = { 1, 2 };
static int nthreads_list = 2;
static const char *store_list = "ram,file,file-direct,lz4,zstd,redis,memcached";
static const char *data_list = "text,binary,heap,random";
static bool kernel = true;
static FILE *md;

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ---- Data sets ------------------------------------------------------------ */

/* Append regular files under dir (recursively, names ending in suffix)
 * to buf until it holds len bytes; returns the bytes added. */
static size_t gather(const char *dir, const char *suffix, uint8_t *buf,
		     size_t have, size_t len, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL || depth > 4) {
		if (d != NULL)
			closedir(d);
		return have;
	}
	while (have < len && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			have = gather(path, suffix, buf, have, len, depth + 1);
			continue;
		}
		size_t n = strlen(e->d_name), m = strlen(suffix);
		if (!S_ISREG(st.st_mode) || n < m ||
		    strcmp(e->d_name + n - m, suffix) != 0)
			continue;
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t r;
		while (have < len && (r = read(fd, buf + have, len - have)) > 0)
			have += (size_t)r;
		close(fd);
	}
	closedir(d);
	return have;
}

/* Repeat what was gathered if the machine has less. */
static void repeat_fill(uint8_t *buf, size_t have, size_t len)
{
	if (have == 0) {
		memset(buf, 'x', len);
		return;
	}
	for (size_t i = have; i < len; i++)
		buf[i] = buf[i - have];
}

struct record {
	struct record *next;
	char key[24];
	double value;
	int count;
	char *note;
};

/* The heap of this program after building a hash table of records, from
 * the program break (glibc's small allocations live there). */
static void heap_data(uint8_t *buf, size_t len)
{
	size_t nbuckets = 1 << 16;
	struct record **table = calloc(nbuckets, sizeof(*table));
	uint8_t *start = sbrk(0);
	size_t i = 0;

	while ((size_t)((uint8_t *)sbrk(0) - start) < len + PAGE) {
		struct record *r = malloc(sizeof(*r));
		snprintf(r->key, sizeof(r->key), "user:%zu", i * 7919);
		r->value = (double)i * 1.25;
		r->count = (int)(i % 1000);
		r->note = i % 3 == 0 ? strdup("active since 2024-01-01") : NULL;
		size_t b = (i * 2654435761u) % nbuckets;
		r->next = table[b];
		table[b] = r;
		i++;
	}
	memcpy(buf, start, len);
	/* The records stay allocated: freeing them all costs time for no
	 * purpose in a benchmark that ends soon. */
	free(table);
}

static void random_data(uint8_t *buf, size_t len)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < len / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		((uint64_t *)buf)[i] = x;
	}
}

static uint8_t *make_data(const char *name)
{
	size_t len = pages * PAGE;
	uint8_t *buf = malloc(len);

	if (buf == NULL)
		return NULL;
	if (strcmp(name, "text") == 0)
		repeat_fill(buf, gather("/usr/include", ".h", buf, 0, len, 0), len);
	else if (strcmp(name, "binary") == 0)
		repeat_fill(buf, gather("/usr/lib/x86_64-linux-gnu", ".so", buf,
					0, len, 3), len);
	else if (strcmp(name, "heap") == 0)
		heap_data(buf, len);
	else if (strcmp(name, "random") == 0)
		random_data(buf, len);
	else {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- Timing one pass ------------------------------------------------------ */

enum system { ZPAGE, KERNEL };

struct pass {
	enum system sys;
	uint8_t *mem;
	size_t first, n;    /* this thread's pages */
	const size_t *order; /* random permutation of all pages */
	uint64_t *ns;       /* per page, indexed like order */
	bool out;           /* page out (else touch) */
	unsigned long failed;
};

static void *run_pass(void *arg)
{
	struct pass *p = arg;
	volatile uint8_t sink = 0;

	for (size_t i = p->first; i < p->first + p->n; i++) {
		uint8_t *page = p->mem + p->order[i] * PAGE;
		uint64_t t0 = now_ns();
		if (!p->out)
			sink += *page;
		else if (p->sys == ZPAGE)
			p->failed += k_mem_page_out(page, PAGE) != 0;
		else
			p->failed += madvise(page, PAGE, MADV_PAGEOUT) != 0;
		p->ns[i] = now_ns() - t0;
	}
	(void)sink;
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct figures {
	double pages_per_s, p50_us, p99_us;
	unsigned long failed;
};

static struct figures timed(enum system sys, uint8_t *mem, const size_t *order,
			    int nthreads, bool out)
{
	struct pass ps[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	uint64_t *ns = calloc(pages, sizeof(*ns));
	struct figures f = { 0 };
	uint64_t t0 = now_ns();

	for (int t = 0; t < nthreads; t++) {
		size_t share = pages / (size_t)nthreads;
		ps[t] = (struct pass){ sys, mem, (size_t)t * share,
				       t == nthreads - 1 ? pages - (size_t)t * share
							 : share,
				       order, ns, out, 0 };
		pthread_create(&tid[t], NULL, run_pass, &ps[t]);
	}
	for (int t = 0; t < nthreads; t++) {
		pthread_join(tid[t], NULL);
		f.failed += ps[t].failed;
	}
	double secs = (double)(now_ns() - t0) * 1e-9;
	qsort(ns, pages, sizeof(*ns), cmp_u64);
	f.pages_per_s = (double)pages / secs;
	f.p50_us = (double)ns[pages / 2] / 1000;
	f.p99_us = (double)ns[pages * 99 / 100] / 1000;
	free(ns);
	return f;
}

/* ---- Cells ---------------------------------------------------------------- */

struct cell {
	struct figures out, in;
	double batch_out; /* pages/s paging the whole region out in one call */
	double ratio; /* bytes paged out / bytes the store holds, 0 = n/a */
	bool ok, skipped;
};

static char file_spec[300];

static const char *store_spec(const char *name)
{
	if (strcmp(name, "file") == 0) {
		snprintf(file_spec, sizeof(file_spec), "file:/var/tmp");
		return file_spec;
	}
	if (strcmp(name, "file-direct") == 0) {
		snprintf(file_spec, sizeof(file_spec), "file:/var/tmp,direct");
		return file_spec;
	}
	/* Servers already running (left out of the table otherwise). */
	if (strcmp(name, "redis") == 0)
		return getenv("ZPAGE_BENCH_REDIS") != NULL
			       ? getenv("ZPAGE_BENCH_REDIS")
			       : "redis://127.0.0.1:6379";
	if (strcmp(name, "memcached") == 0)
		return getenv("ZPAGE_BENCH_MEMCACHED") != NULL
			       ? getenv("ZPAGE_BENCH_MEMCACHED")
			       : "memcached://127.0.0.1:11211";
	return name;
}

static struct cell zpage_cell(const char *store, const uint8_t *data,
			      const size_t *order, int nthreads)
{
	struct cell c = { 0 };
	struct zpage_config cfg = { .frames = pages + 256,
				    .backing_store = store_spec(store),
				    .evictor = -1 };

	if (zpage_init(&cfg) != 0) {
		fprintf(stderr, "stores: zpage with store %s does not start "
			"(left out)\n", cfg.backing_store);
		c.skipped = true;
		return c;
	}
	uint8_t *mem = k_mem_map(pages * PAGE, K_MEM_PERM_RW);
	if (mem == NULL) {
		zpage_shutdown();
		return c;
	}
	memcpy(mem, data, pages * PAGE);
	c.out = timed(ZPAGE, mem, order, nthreads, true);
	struct zpage_store_stats st;
	if (zpage_store_stats_get(&st) == 0 && st.payload_bytes > 0)
		c.ratio = (double)(st.locations * PAGE) / (double)st.payload_bytes;
	c.in = timed(ZPAGE, mem, order, nthreads, false);
	c.ok = memcmp(mem, data, pages * PAGE) == 0 && c.out.failed == 0;
	/* All pages written again, then out in one call (the library's
	 * batches: several writes in flight where the store can). */
	memcpy(mem, data, pages * PAGE);
	uint64_t t0 = now_ns();
	c.ok &= k_mem_page_out(mem, pages * PAGE) == 0;
	c.batch_out = (double)pages / ((double)(now_ns() - t0) * 1e-9);
	if (!c.ok)
		fprintf(stderr, "stores: %s: data differ after the round trip "
			"or page-outs failed (%lu)\n", store, c.out.failed);
	k_mem_unmap(mem, pages * PAGE);
	zpage_shutdown();
	return c;
}

/* ---- The kernel's swap ---------------------------------------------------- */

static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return false;
	bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok;
}

static char swap_dev[64];
static char old_cluster[16];

static bool swap_on(const char *path)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "mkswap %s >/dev/null 2>&1", path);
	if (system(cmd) != 0 || swapon(path, 0) != 0)
		return false;
	snprintf(swap_dev, sizeof(swap_dev), "%s", path);
	return true;
}

/* Swap of the kind named ("zram" or "file") for the kernel cells. */
static bool kernel_swap_setup(const char *kind)
{
	char size[32];

	snprintf(size, sizeof(size), "%zu", pages * PAGE * 2);
	if (strcmp(kind, "zram") == 0) {
		if (access("/sys/block/zram0", F_OK) != 0)
			return false;
		swapoff("/dev/zram0");
		write_file("/sys/block/zram0/reset", "1");
		if (!write_file("/sys/block/zram0/comp_algorithm", "lz4") ||
		    !write_file("/sys/block/zram0/disksize", size))
			return false;
		return swap_on("/dev/zram0");
	}
	const char *path = "/var/tmp/zpage-bench.swap";
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return false;
	/* Swap files need their blocks allocated. */
	bool ok = posix_fallocate(fd, 0, (off_t)(pages * PAGE * 2)) == 0;
	close(fd);
	return ok && swap_on(path);
}

static void kernel_swap_teardown(const char *kind)
{
	swapoff(swap_dev);
	if (strcmp(kind, "zram") == 0)
		write_file("/sys/block/zram0/reset", "1");
	else
		unlink(swap_dev);
}

/* Swap writes in flight (Writeback in /proc/meminfo). */
static long writeback_kib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long kib = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Writeback: %ld kB", &kib) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kib;
}

/* The kernel cells run in a memory cgroup of their own (v1 here, v2
 * where mounted so): swapped pages whose writes are done stay in the swap
 * cache, and MADV_PAGEOUT no longer sees them (their page table entries
 * are swap entries already); lowering the cgroup's limit reclaims them. */
static char cgroup_dir[128];

static void cgroup_enter(void)
{
	char path[200], pid[32];

	snprintf(pid, sizeof(pid), "%d", getpid());
	const char *dirs[] = { "/sys/fs/cgroup/memory/zpage-stores",
			       "/sys/fs/cgroup/zpage-stores" };
	for (int i = 0; i < 2; i++) {
		mkdir(dirs[i], 0755);
		snprintf(path, sizeof(path), "%s/cgroup.procs", dirs[i]);
		if (write_file(path, pid)) {
			snprintf(cgroup_dir, sizeof(cgroup_dir), "%s", dirs[i]);
			return;
		}
		rmdir(dirs[i]);
	}
}

static void cgroup_leave(void)
{
	char path[200], pid[32];

	if (cgroup_dir[0] == '\0')
		return;
	snprintf(pid, sizeof(pid), "%d", getpid());
	snprintf(path, sizeof(path), "%s/../cgroup.procs", cgroup_dir);
	write_file(path, pid);
	rmdir(cgroup_dir);
	cgroup_dir[0] = '\0';
}

static void reclaim_swap_cache(void)
{
	char path[200], num[32];
	unsigned long long usage = 0;

	if (cgroup_dir[0] == '\0')
		return;
	snprintf(num, sizeof(num), "%zu", pages * PAGE);
	snprintf(path, sizeof(path), "%s/memory.reclaim", cgroup_dir);
	if (write_file(path, num))
		return; /* v2 */
	snprintf(path, sizeof(path), "%s/memory.usage_in_bytes", cgroup_dir);
	FILE *f = fopen(path, "r");
	if (f == NULL || fscanf(f, "%llu", &usage) != 1)
		usage = 0;
	if (f != NULL)
		fclose(f);
	if (usage == 0)
		return;
	unsigned long long want = usage > pages * PAGE + (1 << 20)
					  ? usage - pages * PAGE : 1 << 20;
	snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", cgroup_dir);
	snprintf(num, sizeof(num), "%llu", want);
	write_file(path, num);
	write_file(path, "-1");
}

/* zram's compression ratio: original / compressed bytes (mm_stat). */
static double zram_ratio(void)
{
	FILE *f = fopen("/sys/block/zram0/mm_stat", "r");
	unsigned long long orig = 0, compr = 0, used = 0;

	if (f == NULL)
		return 0;
	int n = fscanf(f, "%llu %llu %llu", &orig, &compr, &used);
	fclose(f);
	return n == 3 && used > 0 ? (double)orig / (double)used : 0;
}

static size_t resident_pages(uint8_t *mem)
{
	unsigned char *vec = malloc(pages);
	size_t n = 0;

	if (vec != NULL && mincore(mem, pages * PAGE, vec) == 0)
		for (size_t i = 0; i < pages; i++)
			n += vec[i] & 1;
	free(vec);
	return n;
}

static struct cell kernel_cell(const char *kind, const uint8_t *data,
			       const size_t *order, int nthreads)
{
	struct cell c = { 0 };
	uint8_t *mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		return c;
	madvise(mem, pages * PAGE, MADV_NOHUGEPAGE);
	memcpy(mem, data, pages * PAGE);
	uint64_t t0 = now_ns();
	c.out = timed(KERNEL, mem, order, nthreads, true);
	/* Swap to a file writes asynchronously: the pages are gone once the
	 * writes are done and reclaim looks again. That time counts. */
	if (strcmp(kind, "file") == 0) {
		for (int i = 0; i < 50 && resident_pages(mem) > pages / 200; i++) {
			while (writeback_kib() > 0)
				usleep(1000);
			reclaim_swap_cache();
		}
		c.out.pages_per_s = (double)pages / ((double)(now_ns() - t0) * 1e-9);
	}
	/* Whether they really went: a page still resident was not paged. */
	size_t resident = resident_pages(mem);
	if (strcmp(kind, "zram") == 0)
		c.ratio = zram_ratio();
	c.in = timed(KERNEL, mem, order, nthreads, false);
	/* Reclaim may leave a few swap-cache pages: up to 5% pass. */
	c.ok = memcmp(mem, data, pages * PAGE) == 0 && resident <= pages / 20;
	memcpy(mem, data, pages * PAGE);
	t0 = now_ns();
	madvise(mem, pages * PAGE, MADV_PAGEOUT);
	if (strcmp(kind, "file") == 0)
		while (writeback_kib() > 0)
			usleep(1000);
	c.batch_out = (double)pages / ((double)(now_ns() - t0) * 1e-9);
	if (resident > 0)
		fprintf(stderr, "stores: kernel %s: %zu of %zu pages stayed "
			"resident after the page-out\n", kind, resident, pages);
	munmap(mem, pages * PAGE);
	return c;
}

/* ---- Report --------------------------------------------------------------- */

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (md != NULL) {
		va_start(ap, fmt);
		vfprintf(md, fmt, ap);
		va_end(ap);
	}
}

static void row(const char *data, const char *name, int t, const struct cell *c,
		const struct cell *base, const char *base_name)
{
	char ratio[16] = "-", vs[64] = "";

	if (c->ratio > 0)
		snprintf(ratio, sizeof(ratio), "%.2f", c->ratio);
	if (base != NULL && base->ok)
		snprintf(vs, sizeof(vs), "%.2f / %.2f / %.2f (%s)",
			 c->out.pages_per_s / base->out.pages_per_s,
			 c->in.pages_per_s / base->in.pages_per_s,
			 c->batch_out / base->batch_out, base_name);
	out("| %-6s | %-12s | %d | %8.0f | %6.1f | %7.1f | %8.0f | %6.1f | %7.1f "
	    "| %8.0f | %5s | %-31s |%s\n", data, name, t, c->out.pages_per_s,
	    c->out.p50_us, c->out.p99_us, c->in.pages_per_s, c->in.p50_us,
	    c->in.p99_us, c->batch_out, ratio, vs, c->ok ? "" : " FAILED");
}

static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p != NULL && *p != '\0';) {
		const char *end = p + strcspn(p, ",");
		if ((size_t)(end - p) == n && strncmp(p, name, n) == 0)
			return true;
		p = *end == ',' ? end + 1 : end;
	}
	return false;
}

static void usage(void)
{
	fprintf(stderr, "usage: stores [--pages N] [--threads 1,2] [--stores "
		"ram,file,file-direct,lz4,zstd,redis,memcached] [--data text,binary,heap,random] "
		"[--no-kernel] [--markdown FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--pages") == 0 && v) {
			pages = strtoul(v, NULL, 0);
			i++;
		} else if (strcmp(a, "--threads") == 0 && v) {
			nthreads_list = 0;
			for (char *s = strdup(v), *tok = strtok(s, ","); tok &&
			     nthreads_list < 8; tok = strtok(NULL, ","))
				threads_list[nthreads_list++] = atoi(tok);
			i++;
		} else if (strcmp(a, "--stores") == 0 && v) {
			store_list = v;
			i++;
		} else if (strcmp(a, "--data") == 0 && v) {
			data_list = v;
			i++;
		} else if (strcmp(a, "--no-kernel") == 0) {
			kernel = false;
		} else if (strcmp(a, "--markdown") == 0 && v) {
			md = fopen(v, "w");
			i++;
		} else {
			usage();
		}
	}
	for (int i = 0; i < nthreads_list; i++)
		if (threads_list[i] < 1 || threads_list[i] > MAX_THREADS)
			usage();
	if (pages < 256)
		usage();

	size_t *order = malloc(pages * sizeof(*order));
	uint64_t x = 88172645463325252ULL;
	for (size_t i = 0; i < pages; i++)
		order[i] = i;
	for (size_t i = pages - 1; i > 0; i--) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t j = x % (i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}

	/* Kernel swap: zram and a file, where root and the machine allow. */
	bool can_kernel = kernel && geteuid() == 0;
	int cluster_fd = -1;
	if (can_kernel) {
		cgroup_enter();
		cluster_fd = open("/proc/sys/vm/page-cluster", O_RDWR);
		if (cluster_fd >= 0) {
			ssize_t n = read(cluster_fd, old_cluster,
					 sizeof(old_cluster) - 1);
			old_cluster[n > 0 ? n : 0] = '\0';
			close(cluster_fd);
			write_file("/proc/sys/vm/page-cluster", "0");
		}
	} else if (kernel) {
		printf("(kernel swap left out: needs root)\n");
	}

	out("%zu pages (%zu MiB) per cell; out: every page paged out alone "
	    "(k_mem_page_out / MADV_PAGEOUT), in: each touched once in random "
	    "order; pages/s, p50 and p99 in us per page; batch out: all pages "
	    "written again, then out in one call (pages/s); ratio: "
	    "compression; vs: zpage / kernel throughput\n\n", pages,
	    pages * PAGE >> 20);
	out("| data   | store        | T | out pg/s |  p50   |  p99    |  in pg/s "
	    "|  p50   |  p99    | batch out | ratio | vs kernel: out / in / batch     |\n");
	out("|--------|--------------|---|----------|--------|---------|---------"
	    "-|--------|---------|----------|-------|---------------------------------|\n");

	const char *datas[] = { "text", "binary", "heap", "random" };
	const char *stores[] = { "ram", "file", "file-direct", "lz4", "zstd",
				 "redis", "memcached" };
	for (size_t d = 0; d < 4; d++) {
		if (!in_list(data_list, datas[d]))
			continue;
		uint8_t *data = make_data(datas[d]);
		if (data == NULL)
			continue;
		for (int ti = 0; ti < nthreads_list; ti++) {
			int t = threads_list[ti];
			struct cell kz = { 0 }, kf = { 0 };
			if (can_kernel && kernel_swap_setup("zram")) {
				kz = kernel_cell("zram", data, order, t);
				kernel_swap_teardown("zram");
				row(datas[d], "kernel-zram", t, &kz, NULL, NULL);
			}
			if (can_kernel && kernel_swap_setup("file")) {
				kf = kernel_cell("file", data, order, t);
				kernel_swap_teardown("file");
				row(datas[d], "kernel-file", t, &kf, NULL, NULL);
			}
			for (size_t s = 0; s < 7; s++) {
				if (!in_list(store_list, stores[s]))
					continue;
				struct cell c = zpage_cell(stores[s], data, order, t);
				if (c.skipped)
					continue;
				/* Remote stores have no kernel counterpart. */
				bool file = strncmp(stores[s], "file", 4) == 0;
				bool remote = s >= 5;
				row(datas[d], stores[s], t, &c,
				    remote ? NULL : file ? &kf : &kz,
				    file ? "kernel-file" : "kernel-zram");
			}
		}
		free(data);
	}
	if (can_kernel && old_cluster[0] != '\0')
		write_file("/proc/sys/vm/page-cluster", old_cluster);
	cgroup_leave();
	if (md != NULL)
		fclose(md);
	free(order);
	return 0;
}
