/*
 * bench/filemap: a data set larger than RAM worked on in place, as LLNL
 * UMap is used: a file of FILE_MIB is mapped and touched (a word read, or
 * written a third of the time) with RAM_MIB of memory, next to the kernel
 * doing the same with mmap(MAP_SHARED) in a memory cgroup of that size
 * in the same run. Both follow the same
 * sequence of touches (uniform, or 80% of them on 20% of the pages) and
 * must leave the same file behind, which is checked. The dirty pages left
 * at the end are written back by zpage_sync() and msync(), timed apart.
 *
 * Both run in a child process in a memory cgroup of RAM_MIB + 4 MiB (root),
 * which the file's page cache is charged to as well: zpage's frames and
 * the host's cache of the file compete for the same memory, as the
 * kernel's cache does.
 *
 * Usage: filemap [--file-mib N] [--ram-mib N] [--touches N]   (root)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zpage.h>

#define PAGE 4096

static size_t file_pages = 32768, ram_pages = 8192, touches = 400000;

struct touch {
	uint32_t page, word;
	uint64_t value; /* 0: read */
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static struct touch *make_touches(bool skewed)
{
	struct touch *t = malloc(touches * sizeof(*t));
	uint64_t x = skewed ? 0x5eed5eed : 0xfeedbeef;

	for (size_t i = 0; i < touches; i++) {
		uint64_t r = next(&x);
		size_t hot = file_pages / 5;
		t[i].page = (uint32_t)(skewed && r % 10 < 8 ? (r >> 8) % hot
							     : (r >> 8) % file_pages);
		t[i].word = (uint32_t)((r >> 40) % (PAGE / 8));
		t[i].value = r % 3 == 0 ? r | 1 : 0;
	}
	return t;
}

static int make_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	uint64_t buf[PAGE / 8];

	for (size_t p = 0; fd >= 0 && p < file_pages; p++) {
		for (size_t w = 0; w < PAGE / 8; w++)
			buf[w] = p * 4096 + w;
		if (pwrite(fd, buf, PAGE, (off_t)(p * PAGE)) != PAGE)
			return -1;
	}
	if (fd >= 0)
		fsync(fd);
	return fd;
}

static uint64_t run_touches(uint64_t *m, const struct touch *t)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < touches; i++) {
		uint64_t *w = &m[(size_t)t[i].page * (PAGE / 8) + t[i].word];
		if (t[i].value != 0)
			*w = t[i].value;
		else
			sum += *w;
	}
	return sum;
}

/* Checksum of the file's contents. */
static uint64_t file_sum(int fd)
{
	uint64_t buf[PAGE / 8], h = 0;

	for (size_t p = 0; p < file_pages; p++) {
		if (pread(fd, buf, PAGE, (off_t)(p * PAGE)) != PAGE)
			return 0;
		for (size_t w = 0; w < PAGE / 8; w++)
			h = (h ^ buf[w]) * 0x100000001b3ULL;
	}
	return h;
}

struct result {
	double secs;
	uint64_t sum, file;
	unsigned long faults;
	double sync_secs; /* writing back the dirty pages left (included) */
	bool ok;
};

static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok;
}

static struct result zpage_run(int fd, const struct touch *t)
{
	struct result r = { 0 };
	struct zpage_config c = { .frames = ram_pages, .vm_size = (size_t)4 << 30 };

	if (zpage_init(&c) != 0)
		return r;
	uint64_t *m = zpage_map_file(fd, 0, file_pages * PAGE, K_MEM_PERM_RW);
	if (m == NULL) {
		zpage_shutdown();
		return r;
	}
	double t0 = now();
	r.sum = run_touches(m, t);
	double t1 = now();
	zpage_sync(m, file_pages * PAGE);
	r.sync_secs = now() - t1;
	k_mem_unmap(m, file_pages * PAGE);
	r.secs = now() - t0;
	struct k_mem_paging_stats_t s;
	k_mem_paging_stats_get(&s);
	r.faults = s.pagefaults.cnt;
	zpage_shutdown();
	r.ok = true;
	return r;
}

static struct result kernel_run(int fd, const struct touch *t)
{
	struct result r = { 0 };
	struct rusage ru0, ru1;
	uint64_t *m = mmap(NULL, file_pages * PAGE, PROT_READ | PROT_WRITE,
			   MAP_SHARED, fd, 0);

	if (m == MAP_FAILED)
		return r;
	madvise(m, file_pages * PAGE, MADV_RANDOM);
	getrusage(RUSAGE_SELF, &ru0);
	double t0 = now();
	r.sum = run_touches(m, t);
	double t1 = now();
	msync(m, file_pages * PAGE, MS_SYNC);
	r.sync_secs = now() - t1;
	munmap(m, file_pages * PAGE);
	r.secs = now() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	r.faults = (unsigned long)(ru1.ru_majflt - ru0.ru_majflt);
	r.ok = true;
	return r;
}

/* run(fd, t) in a child process in a memory cgroup of RAM_MIB plus 4 MiB
 * for the program itself (both systems alike: zpage's frames and the
 * host's page cache for the file are charged to it), on a fresh file
 * whose pages are not cached; the result comes back through a pipe. */
static struct result capped(const char *path, const struct touch *t,
			    struct result (*run)(int, const struct touch *))
{
	struct result r = { 0 };
	const char *dirs[] = { "/sys/fs/cgroup/memory/zpage-filemap",
			       "/sys/fs/cgroup/zpage-filemap" };
	const char *limits[] = { "memory.limit_in_bytes", "memory.max" };
	int which = -1, p[2];
	char file[200], num[32];

	for (int i = 0; i < 2 && which < 0; i++) {
		mkdir(dirs[i], 0755);
		snprintf(file, sizeof(file), "%s/%s", dirs[i], limits[i]);
		snprintf(num, sizeof(num), "%zu", (ram_pages + 1024) * PAGE);
		if (write_file(file, num))
			which = i;
		else
			rmdir(dirs[i]);
	}
	int fd = make_file(path);
	if (which < 0 || fd < 0 || pipe(p) != 0)
		return r;
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	pid_t pid = fork();
	if (pid == 0) {
		snprintf(file, sizeof(file), "%s/cgroup.procs", dirs[which]);
		snprintf(num, sizeof(num), "%d", getpid());
		if (!write_file(file, num))
			_exit(1);
		struct result c = run(fd, t);
		_exit(write(p[1], &c, sizeof(c)) == sizeof(c) ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], &r, sizeof(r)) != sizeof(r))
		r.ok = false;
	close(p[0]);
	waitpid(pid, NULL, 0);
	rmdir(dirs[which]);
	r.file = file_sum(fd);
	close(fd);
	return r;
}

int main(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		size_t v = strtoul(argv[i + 1], NULL, 0);
		if (strcmp(argv[i], "--file-mib") == 0)
			file_pages = v * 256;
		else if (strcmp(argv[i], "--ram-mib") == 0)
			ram_pages = v * 256;
		else if (strcmp(argv[i], "--touches") == 0)
			touches = v;
		else {
			fprintf(stderr, "usage: filemap [--file-mib N] "
				"[--ram-mib N] [--touches N]\n");
			return 2;
		}
	}
	const char *path = "/var/tmp/zpage-bench-filemap";
	printf("file %zu MiB, RAM %zu MiB, %zu touches (a third writes); "
	       "touches/s, major faults, zpage / kernel\n\n", file_pages / 256,
	       ram_pages / 256, touches);
	printf("| touches | zpage touches/s | faults | kernel touches/s | "
	       "faults | zpage / kernel | final sync ms zpage / kernel | "
	       "same file |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	int bad = 0;
	for (int skew = 0; skew < 2; skew++) {
		struct touch *t = make_touches(skew);
		struct result z = capped(path, t, zpage_run);
		struct result k = capped(path, t, kernel_run);
		double zr = z.ok ? (double)touches / z.secs : 0;
		double kr = k.ok ? (double)touches / k.secs : 0;
		bool same = z.ok && k.ok && z.file == k.file && z.sum == k.sum;
		printf("| %s | %.0f | %lu | %.0f | %lu | %.2f | %.1f / %.1f | "
		       "%s |\n", skew ? "80% on 20%" : "uniform", zr, z.faults,
		       kr, k.faults, kr > 0 ? zr / kr : 0, z.sync_secs * 1e3,
		       k.sync_secs * 1e3, k.ok ? (same ? "yes" : "NO") : "-");
		bad |= !z.ok || (k.ok && !same);
		free(t);
	}
	unlink(path);
	return bad;
}
