#define _GNU_SOURCE
#include "zpt.h"

#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void zpt_start(const struct zpage_config *cfg)
{
	int r = zpage_init(cfg);
	if (r == -ENOSYS) {
		fprintf(stderr, "demand paging is impossible here: skipped\n");
		exit(77);
	}
	if (r != 0) {
		fprintf(stderr, "zpage_init failed: %d\n", r);
		exit(1);
	}
}

void zpt_start_simple(size_t frames, const char *eviction, const char *store)
{
	struct zpage_config c = { .frames = frames, .eviction = eviction,
				  .backing_store = store, .evictor = -1 };
	zpt_start(&c);
}

uint64_t zpt_word(uint64_t seed, size_t page, size_t i)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull ^ (page * 0xBF58476D1CE4E5B9ull) ^
		     (i * 0x94D049BB133111EBull);
	x ^= x >> 31;
	x *= 0xD6E8FEB86659FD93ull;
	return x ^ (x >> 29);
}

void zpt_fill(void *page, uint64_t seed, size_t page_no)
{
	uint64_t *w = page;
	for (size_t i = 0; i < ZPT_PAGE / 8; i++)
		w[i] = zpt_word(seed, page_no, i);
}

int zpt_check(const void *page, uint64_t seed, size_t page_no)
{
	const uint64_t *w = page;
	for (size_t i = 0; i < ZPT_PAGE / 8; i++)
		if (w[i] != zpt_word(seed, page_no, i))
			return 0;
	return 1;
}

void zpt_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

size_t zpt_resident(const void *addr, size_t len)
{
	size_t n = len / ZPT_PAGE, count = 0;
	unsigned char *v = malloc(n);
	if (v == NULL || mincore((void *)addr, len, v) != 0) {
		free(v);
		return SIZE_MAX;
	}
	for (size_t i = 0; i < n; i++)
		count += v[i] & 1;
	free(v);
	return count;
}

static void read_all(int fd, char *out, size_t cap)
{
	size_t used = 0;
	for (;;) {
		char buf[512];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		size_t k = (size_t)n;
		if (used + k > cap - 1)
			k = cap - 1 - used;
		memcpy(out + used, buf, k);
		used += k;
	}
	out[used] = '\0';
}

/* Fork; the child sends stderr (and stdout if asked) into a pipe and runs
 * fn(arg) (which must not return for exec'ing callers); the parent collects
 * the output and returns the wait status. */
static int capture(void (*fn)(void *), void *arg, bool with_stdout, char *out,
		   size_t cap)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		if (with_stdout)
			dup2(p[1], STDOUT_FILENO);
		fn(arg);
		_exit(0);
	}
	close(p[1]);
	read_all(p[0], out, cap);
	close(p[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

int zpt_run_child(void (*fn)(void *), void *arg, char *out, size_t cap)
{
	return capture(fn, arg, false, out, cap);
}

void zpt_expect_death(void (*fn)(void *), void *arg, int sig, const char *msg)
{
	char out[4096];
	int status = zpt_run_child(fn, arg, out, sizeof(out));
	if (!WIFSIGNALED(status) || WTERMSIG(status) != sig) {
		fprintf(stderr, "child status %#x, expected death by signal %d; "
			"stderr:\n%s\n", status, sig, out);
		fail();
	}
	if (msg != NULL && strstr(out, msg) == NULL) {
		fprintf(stderr, "child stderr lacks \"%s\":\n%s\n", msg, out);
		fail();
	}
}

struct program {
	char *const *argv;
	char *const *env_add;
};

static void exec_program(void *arg)
{
	const struct program *pr = arg;

	for (size_t i = 0; pr->env_add != NULL && pr->env_add[i] != NULL; i++)
		putenv(pr->env_add[i]);
	execv(pr->argv[0], pr->argv);
	_exit(127);
}

int zpt_run_program(char *const argv[], char *const env_add[], char *out,
		    size_t cap)
{
	struct program pr = { argv, env_add };
	int status = capture(exec_program, &pr, true, out, cap);

	if (status < 0)
		return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

const char *zpt_self(void)
{
	static char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n < 0)
		return NULL;
	path[n] = '\0';
	return path;
}

void zpt_child_prepare(void)
{
	struct rlimit rl = { 0, 0 };
	struct sigaction sa;

	setrlimit(RLIMIT_CORE, &rl);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGABRT, &sa, NULL);
}

void zpt_expect_child_ok(void (*fn)(void *), void *arg)
{
	char out[8192];
	int status = zpt_run_child(fn, arg, out, sizeof(out));

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "child status %#x; stderr:\n%s\n", status, out);
		fail();
	}
}

struct k_mem_paging_stats_t zpt_stats(void)
{
	struct k_mem_paging_stats_t s;
	k_mem_paging_stats_get(&s);
	return s;
}

struct k_mem_paging_stats_t zpt_thread_stats(void)
{
	struct k_mem_paging_stats_t s;
	k_mem_paging_thread_stats_get(k_current_get(), &s);
	return s;
}

struct zpage_counters zpt_counters(void)
{
	struct zpage_counters c;
	zpage_counters_get(&c);
	return c;
}

unsigned long zpt_hist_total(void (*get)(struct k_mem_paging_histogram_t *))
{
	struct k_mem_paging_histogram_t h;
	unsigned long n = 0;
	get(&h);
	for (int b = 0; b < CONFIG_DEMAND_PAGING_TIMING_HISTOGRAM_NUM_BINS; b++)
		n += h.counts[b];
	return n;
}

unsigned long zpt_pinned_frames(void)
{
	return zpt_counters().pinned_frames;
}

int zpt_teardown(void **state)
{
	(void)state;
	zpage_shutdown();
	return 0;
}

#if ZPT_TSAN
/* Death tests fork this multi-threaded process and the child starts a fresh
 * library (threads), which ThreadSanitizer refuses by default. Probe
 * processes are short: its default 1 s pause at exit would dominate. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "die_after_fork=0:atexit_sleep_ms=50";
}
#endif
