/*
 * Configuration and start-up: defaults with no configuration at all, every
 * ZPAGE_* variable honoured and every invalid value refused (first call
 * fails, message naming the variable), zpage_init() options over the
 * environment, -EALREADY, shutdown and restart, and ZPAGE_DEBUG.
 *
 * Environment tests re-run this program in "probe" mode: it starts the
 * library with the first API call named on its command line, writes what it
 * found to a results file and sends its stdout to /dev/null, so that the
 * captured output is exactly what the library wrote to stderr.
 */
#define _GNU_SOURCE
#include "zpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>



#define PG ZPT_PAGE
#define GiB ((size_t)1 << 30)
#define MiB ((size_t)1 << 20)

extern char **environ;

/* ---- Shared helpers -------------------------------------------------- */

static int count_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;

	if (d == NULL)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void unset_all_zpage(void)
{
	for (;;) {
		char name[256] = "";
		for (char **e = environ; *e != NULL; e++) {
			if (strncmp(*e, "ZPAGE_", 6) == 0) {
				size_t n = strcspn(*e, "=");
				if (n >= sizeof(name))
					n = sizeof(name) - 1;
				memcpy(name, *e, n);
				name[n] = '\0';
				break;
			}
		}
		if (name[0] == '\0')
			return;
		unsetenv(name);
	}
}


/* Fill n pages, then read them all back; 0 if every page held its data. */
static int fill_and_check(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		zpt_fill(p + i * PG, seed, i);
	for (size_t i = 0; i < n; i++)
		if (!zpt_check(p + i * PG, seed, i))
			return -1;
	return 0;
}

/* ---- Probe mode ------------------------------------------------------ */

static FILE *results;

static void probe_report(void)
{
	struct zpage_info info;
	int r = zpage_info_get(&info);

	fprintf(results, "info=%d\n", r);
	fprintf(results, "free=%zu\n", k_mem_free_get());
	if (r == 0) {
		fprintf(results, "frames=%zu\n", info.frames);
		fprintf(results, "eviction=%s\n", info.eviction);
		fprintf(results, "store=%s\n", info.backing_store);
		fprintf(results, "vm_size=%zu\n", info.vm_size);
		fprintf(results, "tasks=%d\n", count_tasks());
		fprintf(results, "delivery=%s\n",
			info.delivery == ZPAGE_DELIVERY_SIGNAL ? "signal"
								: "thread");
		fprintf(results, "access=%s\n",
			info.access_mapped ? "mapped"
			: info.access_tracking ? "fault" : "off");
	}
	void *p = k_mem_map(PG, K_MEM_PERM_RW);
	fprintf(results, "map2=%s\n", p != NULL ? "ok" : "null");
	if (p != NULL)
		k_mem_unmap(p, PG);
}

/* ZPAGE_DEBUG: calls that fail; the exit status says whether they did. */
static int probe_debug(void)
{
	int local = 0;
	void *a = k_mem_map(PG - 1, K_MEM_PERM_RW);
	void *b = k_mem_map(PG, K_MEM_PERM_RW | BIT(20));
	k_mem_unmap(&local, PG);
	return a == NULL && b == NULL ? 0 : 3;
}

/* Fill and check n pages of one mapping. */
static int probe_fill(size_t n)
{
	zpt_child_prepare();
	uint8_t *p = k_mem_map(n * PG, K_MEM_PERM_RW);
	if (p == NULL) {
		fprintf(results, "fill=null\n");
		return 0;
	}
	fprintf(results, "fill=%s\n", fill_and_check(p, n, 7) == 0 ? "ok" : "bad");
	return 0;
}

/* argv: self probe RESULTS CALL [clean] [N] */
static int probe_main(int argc, char **argv)
{
	if (argc < 4)
		return 64;
	results = fopen(argv[2], "w");
	if (results == NULL)
		return 65;
	setvbuf(results, NULL, _IONBF, 0);
	/* Whatever is captured is stderr. */
	int devnull = open("/dev/null", O_WRONLY);
	if (devnull >= 0)
		dup2(devnull, STDOUT_FILENO);
	const char *call = argv[3];
	for (int i = 4; i < argc; i++)
		if (strcmp(argv[i], "clean") == 0)
			unset_all_zpage();

	if (strcmp(call, "debug") == 0)
		return probe_debug();
	if (strcmp(call, "fill") == 0)
		return probe_fill((size_t)strtoul(argv[argc - 1], NULL, 10));
	if (strcmp(call, "map") == 0) {
		volatile uint8_t *p = k_mem_map(PG, K_MEM_PERM_RW);
		fprintf(results, "first=%s\n", p != NULL ? "ok" : "null");
		if (p != NULL)
			p[0] = 1; /* one frame in use from here on */
	} else if (strcmp(call, "init") == 0) {
		fprintf(results, "first=%d\n", zpage_init(NULL));
	} else if (strcmp(call, "info") == 0) {
		struct zpage_info info;
		fprintf(results, "first=%d\n", zpage_info_get(&info));
	} else if (strcmp(call, "free") == 0) {
		fprintf(results, "first=%zu\n", k_mem_free_get());
	} else {
		return 66;
	}
	probe_report();
	return 0;
}

struct probe {
	int rc;
	char err[16384]; /* the library's stderr */
	char res[4096];  /* the results file */
};

/* Run this program as a probe with extra environment entries. */
static void run_probe(struct probe *pr, const char *call, const char *opt,
		      char *const env[])
{
	char path[] = "/tmp/zpt-config-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	char *argv[] = { (char *)zpt_self(), "probe", path, (char *)call,
			 (char *)opt, NULL };
	pr->rc = zpt_run_program(argv, env, pr->err, sizeof(pr->err));
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(pr->res, 1, sizeof(pr->res) - 1, f);
	pr->res[n] = '\0';
	fclose(f);
	unlink(path);
}

/* Whether the results hold the line "key=value". */
static int has(const struct probe *pr, const char *line)
{
	size_t n = strlen(line);

	for (const char *s = pr->res; (s = strstr(s, line)) != NULL; s++)
		if ((s == pr->res || s[-1] == '\n') && s[n] == '\n')
			return 1;
	return 0;
}

static long long value_of(const struct probe *pr, const char *key)
{
	size_t n = strlen(key);

	for (const char *s = pr->res; (s = strstr(s, key)) != NULL; s++)
		if ((s == pr->res || s[-1] == '\n') && s[n] == '=')
			return strtoll(s + n + 1, NULL, 10);
	return -1;
}

static void show(const struct probe *pr)
{
	fprintf(stderr, "probe exit %d\n--- results:\n%s--- stderr:\n%s---\n",
		pr->rc, pr->res, pr->err);
}

#define PROBE_EXPECT(pr, cond)                                                \
	do {                                                                  \
		if (!(cond)) {                                                \
			show(pr);                                             \
			fail_msg("%s", #cond);                                \
		}                                                             \
	} while (0)

static char line_buf[128];

/* "key=v" */
static const char *line(const char *key, unsigned long long v)
{
	snprintf(line_buf, sizeof(line_buf), "%s=%llu", key, v);
	return line_buf;
}

/* ---- Zero configuration -------------------------------------------- */

static void zero_config_defaults(void **state)
{
	(void)state;
	struct probe *pr = malloc(sizeof(*pr));
	assert_non_null(pr);

	/* The first call may be any API function. */
	run_probe(pr, "map", "clean", NULL);
	PROBE_EXPECT(pr, pr->rc == 0);
	PROBE_EXPECT(pr, has(pr, "first=ok"));
	PROBE_EXPECT(pr, has(pr, "info=0"));
	PROBE_EXPECT(pr, has(pr, "frames=1024"));
	PROBE_EXPECT(pr, has(pr, "eviction=clock"));
	PROBE_EXPECT(pr, has(pr, "store=ram"));
	PROBE_EXPECT(pr, has(pr, line("vm_size", 256ull << 30)));
	PROBE_EXPECT(pr, has(pr, line("free", 1023ull * PG)));
	PROBE_EXPECT(pr, has(pr, "map2=ok"));
	PROBE_EXPECT(pr, pr->err[0] == '\0'); /* silent */

	run_probe(pr, "free", "clean", NULL);
	PROBE_EXPECT(pr, pr->rc == 0);
	PROBE_EXPECT(pr, has(pr, line("first", 1024ull * PG)));
	PROBE_EXPECT(pr, has(pr, "frames=1024"));
	PROBE_EXPECT(pr, pr->err[0] == '\0');

	run_probe(pr, "info", "clean", NULL);
	PROBE_EXPECT(pr, pr->rc == 0);
	PROBE_EXPECT(pr, has(pr, "first=0"));
	PROBE_EXPECT(pr, has(pr, "frames=1024"));

	run_probe(pr, "init", "clean", NULL);
	PROBE_EXPECT(pr, pr->rc == 0);
	PROBE_EXPECT(pr, has(pr, "first=0"));
	PROBE_EXPECT(pr, has(pr, "eviction=clock"));
	PROBE_EXPECT(pr, has(pr, "store=ram"));

	/* By default the faulting thread serves its fault: no handler
	 * thread. With handler threads, two by default: one more than with
	 * ZPAGE_HANDLERS=1 (the rest of the threads are the same). */
	run_probe(pr, "map", "clean", NULL);
	PROBE_EXPECT(pr, has(pr, "delivery=signal"));
	long long t_default = value_of(pr, "tasks");
	char *two[] = { "ZPAGE_FAULT_MODE=thread", NULL };
	run_probe(pr, "map", NULL, two);
	PROBE_EXPECT(pr, has(pr, "first=ok"));
	long long t_two = value_of(pr, "tasks");
	char *one[] = { "ZPAGE_HANDLERS=1", "ZPAGE_FAULT_MODE=thread", NULL };
	run_probe(pr, "map", NULL, one);
	PROBE_EXPECT(pr, has(pr, "first=ok"));
	long long t_one = value_of(pr, "tasks");
	assert_true(t_one > 0);
	assert_int_equal(t_two - t_one, 1);
	assert_int_equal(t_one - t_default, 1);
	free(pr);
}

/* ---- Each variable honoured ---------------------------------------- */

static void env_frames(void **state)
{
	(void)state;
	struct probe *pr = malloc(sizeof(*pr));
	char *env[] = { "ZPAGE_FRAMES=100", NULL };

	assert_non_null(pr);
	run_probe(pr, "map", NULL, env);
	PROBE_EXPECT(pr, pr->rc == 0 && has(pr, "first=ok"));
	PROBE_EXPECT(pr, has(pr, "frames=100"));
	PROBE_EXPECT(pr, has(pr, line("free", 99ull * PG)));
	run_probe(pr, "free", NULL, env);
	PROBE_EXPECT(pr, has(pr, line("first", 100ull * PG)));

	char *env2[] = { "ZPAGE_FRAMES=3", NULL };
	run_probe(pr, "map", NULL, env2);
	PROBE_EXPECT(pr, has(pr, "frames=3"));
	PROBE_EXPECT(pr, has(pr, line("free", 2ull * PG)));
	free(pr);
}

static void env_eviction_and_store(void **state)
{
	(void)state;
	struct probe *pr = malloc(sizeof(*pr));
	assert_non_null(pr);

	char *nru[] = { "ZPAGE_EVICTION=nru", NULL };
	run_probe(pr, "map", NULL, nru);
	PROBE_EXPECT(pr, has(pr, "first=ok") && has(pr, "eviction=nru"));

	char *ram[] = { "ZPAGE_BACKING_STORE=ram", NULL };
	run_probe(pr, "map", NULL, ram);
	PROBE_EXPECT(pr, has(pr, "first=ok") && has(pr, "store=ram"));

	char *backed[] = { "ZPAGE_BACKING_STORE=ram:backed", NULL };
	run_probe(pr, "map", NULL, backed);
	PROBE_EXPECT(pr, has(pr, "first=ok") && has(pr, "store=ram:backed"));

	/* Both, and the store still works as one (more pages than frames). */
	char *both[] = { "ZPAGE_EVICTION=nru", "ZPAGE_BACKING_STORE=ram:backed",
			 "ZPAGE_FRAMES=16", NULL };
	run_probe(pr, "fill", "64", both);
	PROBE_EXPECT(pr, pr->rc == 0 && has(pr, "fill=ok"));
	PROBE_EXPECT(pr, pr->err[0] == '\0');
	free(pr);
}

static void env_vm_size(void **state)
{
	(void)state;
	struct probe *pr = malloc(sizeof(*pr));
	assert_non_null(pr);

	char *m64[] = { "ZPAGE_VM_SIZE=64M", NULL };
	run_probe(pr, "map", NULL, m64);
	PROBE_EXPECT(pr, has(pr, "first=ok"));
	PROBE_EXPECT(pr, has(pr, line("vm_size", 64ull << 20)));

	char *g8[] = { "ZPAGE_VM_SIZE=8G", NULL };
	run_probe(pr, "map", NULL, g8);
	PROBE_EXPECT(pr, has(pr, line("vm_size", 8ull << 30)));

	char *k[] = { "ZPAGE_VM_SIZE=16384K", NULL };
	run_probe(pr, "map", NULL, k);
	PROBE_EXPECT(pr, has(pr, line("vm_size", 16ull << 20)));

	/* ThreadSanitizer cannot give a program 1 TiB of address space in one
	 * piece (its application ranges are smaller), so the T suffix is only
	 * checked without it. */
	if (!ZPT_TSAN) {
		char *t[] = { "ZPAGE_VM_SIZE=1T", NULL };
		run_probe(pr, "map", NULL, t);
		PROBE_EXPECT(pr, has(pr, line("vm_size", 1ull << 40)));
	}

	char *bytes[] = { "ZPAGE_VM_SIZE=33554432", NULL };
	run_probe(pr, "map", NULL, bytes);
	PROBE_EXPECT(pr, has(pr, line("vm_size", 32ull << 20)));

	/* The size limits what fits: 16 MiB less 4 MiB of RAM window. */
	char *small[] = { "ZPAGE_VM_SIZE=16M", NULL };
	run_probe(pr, "fill", "3070", small); /* 12 MiB - 2 guard pages */
	PROBE_EXPECT(pr, pr->rc == 0 && has(pr, "fill=ok"));
	run_probe(pr, "fill", "3071", small);
	PROBE_EXPECT(pr, pr->rc == 0 && has(pr, "fill=null"));
	free(pr);
}

static void env_handlers(void **state)
{
	(void)state;
	struct probe *pr = malloc(sizeof(*pr));
	assert_non_null(pr);

	/* Handler threads exist with thread delivery only. */
	char *h1[] = { "ZPAGE_HANDLERS=1", "ZPAGE_FAULT_MODE=thread", NULL };
	char *h5[] = { "ZPAGE_HANDLERS=5", "ZPAGE_FAULT_MODE=thread", NULL };
	char *h64[] = { "ZPAGE_HANDLERS=64", "ZPAGE_FAULT_MODE=thread", NULL };
	char *sig[] = { "ZPAGE_HANDLERS=5", "ZPAGE_FAULT_MODE=signal", NULL };
	run_probe(pr, "map", NULL, h1);
	PROBE_EXPECT(pr, has(pr, "first=ok"));
	long long t1 = value_of(pr, "tasks");
	run_probe(pr, "map", NULL, h5);
	PROBE_EXPECT(pr, has(pr, "first=ok"));
	long long t5 = value_of(pr, "tasks");
	run_probe(pr, "map", NULL, h64);
	PROBE_EXPECT(pr, has(pr, "first=ok"));
	long long t64 = value_of(pr, "tasks");
	run_probe(pr, "map", NULL, sig);
	PROBE_EXPECT(pr, has(pr, "first=ok"));
	long long tsig = value_of(pr, "tasks");
	assert_true(t1 > 0);
	assert_int_equal(t5 - t1, 4);
	assert_int_equal(t64 - t1, 63);
	assert_int_equal(t1 - tsig, 1); /* signal delivery: no handler */
	free(pr);
}

static void env_store_limit(void **state)
{
	(void)state;
	struct probe *pr = malloc(sizeof(*pr));
	assert_non_null(pr);

	/* 16 frames and a store of 16 pages: 20 pages fit, 40 do not (the
	 * fault that finds the store full is answered with SIGBUS). */
	char *lim[] = { "ZPAGE_FRAMES=16", "ZPAGE_STORE_LIMIT=64K", NULL };
	run_probe(pr, "fill", "20", lim);
	PROBE_EXPECT(pr, pr->rc == 0 && has(pr, "fill=ok"));
	PROBE_EXPECT(pr, pr->err[0] == '\0');
	run_probe(pr, "fill", "40", lim);
	PROBE_EXPECT(pr, pr->rc == 128 + SIGBUS);
	PROBE_EXPECT(pr, strstr(pr->err, "cannot be served") != NULL);

	/* The same limit in bytes. */
	char *bytes[] = { "ZPAGE_FRAMES=16", "ZPAGE_STORE_LIMIT=65536", NULL };
	run_probe(pr, "fill", "40", bytes);
	PROBE_EXPECT(pr, pr->rc == 128 + SIGBUS);

	/* 0 and no variable: unlimited. */
	char *zero[] = { "ZPAGE_FRAMES=16", "ZPAGE_STORE_LIMIT=0", NULL };
	run_probe(pr, "fill", "40", zero);
	PROBE_EXPECT(pr, pr->rc == 0 && has(pr, "fill=ok"));
	char *none[] = { "ZPAGE_FRAMES=16", NULL };
	run_probe(pr, "fill", "40", none);
	PROBE_EXPECT(pr, pr->rc == 0 && has(pr, "fill=ok"));
	free(pr);
}

static void env_nru_period(void **state)
{
	(void)state;
	struct probe *pr = malloc(sizeof(*pr));
	char *env[] = { "ZPAGE_NRU_PERIOD_MS=5", "ZPAGE_FRAMES=16", NULL };

	assert_non_null(pr);
	run_probe(pr, "fill", "64", env);
	PROBE_EXPECT(pr, pr->rc == 0 && has(pr, "fill=ok"));
	PROBE_EXPECT(pr, pr->err[0] == '\0');
	free(pr);
}

/* How touches of cleared pages are seen: by default through the kernel's
 * tables for the algorithms that evict in batches, by minor faults for one
 * page at a time; ZPAGE_ACCESS_TRACKING chooses either. */
static void env_access_tracking(void **state)
{
	(void)state;
	struct probe *pr = malloc(sizeof(*pr));
	const struct {
		const char *eviction, *access, *want;
	} cases[] = {
		{ NULL, NULL, "access=mapped" },
		{ "nru", NULL, "access=fault" },
		{ "sweep", "auto", "access=mapped" },
		{ "clock", "fault", "access=fault" },
		{ "nru", "mapped", "access=mapped" },
	};
	char ev[64], ac[64];

	assert_non_null(pr);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *env[3] = { NULL, NULL, NULL };
		size_t k = 0;
		if (cases[i].eviction != NULL) {
			snprintf(ev, sizeof(ev), "ZPAGE_EVICTION=%s", cases[i].eviction);
			env[k++] = ev;
		}
		if (cases[i].access != NULL) {
			snprintf(ac, sizeof(ac), "ZPAGE_ACCESS_TRACKING=%s",
				 cases[i].access);
			env[k++] = ac;
		}
		run_probe(pr, "map", NULL, env);
		PROBE_EXPECT(pr, has(pr, "first=ok"));
		PROBE_EXPECT(pr, has(pr, cases[i].want));
	}
	free(pr);
}

/* Every name an "unknown" message lists as built-in is accepted. */
static void check_listed_names(const char *var, const char *result_key)
{
	struct probe *pr = malloc(sizeof(*pr));
	char entry[128], want[128];
	char *env[] = { entry, NULL };

	assert_non_null(pr);
	snprintf(entry, sizeof(entry), "%s=no-such-name", var);
	run_probe(pr, "map", NULL, env);
	PROBE_EXPECT(pr, has(pr, "first=null"));
	const char *list = strstr(pr->err, "built-in: ");
	PROBE_EXPECT(pr, list != NULL);
	char names[256];
	size_t n = strcspn(list + 10, "\n");
	assert_true(n > 0 && n < sizeof(names));
	memcpy(names, list + 10, n);
	names[n] = '\0';
	int count = 0;
	for (char *save = NULL, *name = strtok_r(names, ", ", &save);
	     name != NULL; name = strtok_r(NULL, ", ", &save)) {
		/* Stores on servers are tested with servers (test_stores). */
		if (strcmp(name, "redis") == 0 || strcmp(name, "memcached") == 0)
			continue;
		snprintf(entry, sizeof(entry), "%s=%s", var, name);
		run_probe(pr, "map", NULL, env);
		snprintf(want, sizeof(want), "%s=%s", result_key, name);
		PROBE_EXPECT(pr, has(pr, "first=ok") && has(pr, want));
		count++;
	}
	assert_true(count >= 1);
	free(pr);
}

static void env_listed_names_work(void **state)
{
	(void)state;
	check_listed_names("ZPAGE_EVICTION", "eviction");
	check_listed_names("ZPAGE_BACKING_STORE", "store");
}

/* ---- Invalid values -------------------------------------------------- */

static void env_invalid_values(void **state)
{
	(void)state;
	static const struct {
		const char *var, *value, *also; /* also: must be in the message */
	} cases[] = {
		{ "ZPAGE_FRAMES", "abc", NULL },
		{ "ZPAGE_FRAMES", "-1", NULL },
		{ "ZPAGE_FRAMES", "0", NULL },
		{ "ZPAGE_FRAMES", "12x", NULL },
		{ "ZPAGE_FRAMES", "", NULL },
		{ "ZPAGE_FRAMES", "1K", NULL },
		{ "ZPAGE_FRAMES", "4294967295", NULL },
		{ "ZPAGE_FRAMES", "99999999999999999999999", NULL },
		{ "ZPAGE_EVICTION", "bogus", "nru" },
		{ "ZPAGE_EVICTION", "NRU", "nru" },
		{ "ZPAGE_EVICTION", "", NULL },
		{ "ZPAGE_BACKING_STORE", "bogus", "ram" },
		{ "ZPAGE_BACKING_STORE", "ramx", "ram" },
		{ "ZPAGE_BACKING_STORE", "ram:bogus", "backed" },
		{ "ZPAGE_BACKING_STORE", "", NULL },
		{ "ZPAGE_STORE_LIMIT", "abc", NULL },
		{ "ZPAGE_STORE_LIMIT", "-1", NULL },
		{ "ZPAGE_STORE_LIMIT", "12x", NULL },
		{ "ZPAGE_STORE_LIMIT", "1KB", NULL },
		{ "ZPAGE_STORE_LIMIT", "100", NULL },
		{ "ZPAGE_VM_SIZE", "abc", NULL },
		{ "ZPAGE_VM_SIZE", "-1", NULL },
		{ "ZPAGE_VM_SIZE", "0", NULL },
		{ "ZPAGE_VM_SIZE", "12x", NULL },
		{ "ZPAGE_VM_SIZE", "1K", NULL },
		{ "ZPAGE_VM_SIZE", "100T", NULL },
		{ "ZPAGE_VM_SIZE", "4M", NULL }, /* smaller than twice the RAM */
		{ "ZPAGE_HANDLERS", "abc", NULL },
		{ "ZPAGE_HANDLERS", "-1", NULL },
		{ "ZPAGE_HANDLERS", "0", NULL },
		{ "ZPAGE_HANDLERS", "12x", NULL },
		{ "ZPAGE_HANDLERS", "65", NULL },
		{ "ZPAGE_NRU_PERIOD_MS", "abc", NULL },
		{ "ZPAGE_NRU_PERIOD_MS", "0", NULL },
		{ "ZPAGE_FAULT_MODE", "bogus", NULL },
		{ "ZPAGE_FAULT_MODE", "", NULL },
		{ "ZPAGE_FAULT_MODE", "Signal", NULL },
		{ "ZPAGE_ACCESS_TRACKING", "bogus", "auto, mapped or fault" },
		{ "ZPAGE_ACCESS_TRACKING", "", NULL },
		{ "ZPAGE_ACCESS_TRACKING", "Mapped", NULL },
	};
	struct probe *pr = malloc(sizeof(*pr));
	char entry[256];
	char *env[] = { entry, NULL };

	assert_non_null(pr);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(entry, sizeof(entry), "%s=%s", cases[i].var,
			 cases[i].value);
		fprintf(stderr, "-- %s\n", entry);

		/* k_mem_map as the first call: NULL, and every later call
		 * fails too. */
		run_probe(pr, "map", NULL, env);
		PROBE_EXPECT(pr, pr->rc == 0);
		PROBE_EXPECT(pr, has(pr, "first=null"));
		PROBE_EXPECT(pr, has(pr, "info=-22"));
		PROBE_EXPECT(pr, has(pr, "free=0"));
		PROBE_EXPECT(pr, has(pr, "map2=null"));
		PROBE_EXPECT(pr, strstr(pr->err, cases[i].var) != NULL);
		PROBE_EXPECT(pr, cases[i].also == NULL ||
				 strstr(pr->err, cases[i].also) != NULL);

		/* zpage_init: -EINVAL, same message. */
		run_probe(pr, "init", NULL, env);
		PROBE_EXPECT(pr, pr->rc == 0);
		PROBE_EXPECT(pr, has(pr, "first=-22"));
		PROBE_EXPECT(pr, has(pr, "info=-22"));
		PROBE_EXPECT(pr, strstr(pr->err, cases[i].var) != NULL);
		PROBE_EXPECT(pr, cases[i].also == NULL ||
				 strstr(pr->err, cases[i].also) != NULL);
	}
	free(pr);
}

/* ---- ZPAGE_DEBUG ----------------------------------------------------- */

static void debug_explains_failures(void **state)
{
	(void)state;
	struct probe *pr = malloc(sizeof(*pr));
	assert_non_null(pr);

	char *on[] = { "ZPAGE_DEBUG=1", NULL };
	run_probe(pr, "debug", NULL, on);
	PROBE_EXPECT(pr, pr->rc == 0);
	PROBE_EXPECT(pr, strstr(pr->err, "k_mem_map") != NULL);
	PROBE_EXPECT(pr, strstr(pr->err, "4095") != NULL);
	PROBE_EXPECT(pr, strstr(pr->err, "size") != NULL);
	PROBE_EXPECT(pr, strstr(pr->err, "flag") != NULL);
	PROBE_EXPECT(pr, strstr(pr->err, "k_mem_unmap") != NULL);
	/* What start-up chose. */
	PROBE_EXPECT(pr, strstr(pr->err, "started") != NULL);
	PROBE_EXPECT(pr, strstr(pr->err, "1024 frames") != NULL);

	/* Without it, or with 0 or empty, the same calls print nothing. */
	run_probe(pr, "debug", NULL, NULL);
	PROBE_EXPECT(pr, pr->rc == 0 && pr->err[0] == '\0');
	char *zero[] = { "ZPAGE_DEBUG=0", NULL };
	run_probe(pr, "debug", NULL, zero);
	PROBE_EXPECT(pr, pr->rc == 0 && pr->err[0] == '\0');
	char *empty[] = { "ZPAGE_DEBUG=", NULL };
	run_probe(pr, "debug", NULL, empty);
	PROBE_EXPECT(pr, pr->rc == 0 && pr->err[0] == '\0');
	free(pr);
}

/* ---- zpage_init ------------------------------------------------------ */

static char *saved_vm_size;

static int restore_env(void **state)
{
	(void)state;
	zpage_shutdown();
	unsetenv("ZPAGE_FRAMES");
	unsetenv("ZPAGE_BACKING_STORE");
	unsetenv("ZPAGE_HANDLERS");
	unsetenv("ZPAGE_STORE_LIMIT");
	unsetenv("ZPAGE_EVICTION");
	if (saved_vm_size != NULL)
		setenv("ZPAGE_VM_SIZE", saved_vm_size, 1);
	else
		unsetenv("ZPAGE_VM_SIZE");
	return 0;
}

static void init_fields_override_env(void **state)
{
	(void)state;
	struct zpage_info info;

	setenv("ZPAGE_FRAMES", "100", 1);
	setenv("ZPAGE_BACKING_STORE", "ram", 1);
	setenv("ZPAGE_VM_SIZE", "16G", 1);

	struct zpage_config cfg = { .frames = 48, .backing_store = "ram:backed",
				    .vm_size = 8 * GiB, .eviction = "nru" };
	assert_int_equal(zpage_init(&cfg), 0);
	assert_int_equal(zpage_info_get(&info), 0);
	assert_int_equal(info.frames, 48);
	assert_string_equal(info.backing_store, "ram:backed");
	assert_string_equal(info.eviction, "nru");
	assert_int_equal(info.vm_size, 8 * GiB);
	assert_int_equal(k_mem_free_get(), 48 * PG);
	zpage_shutdown();

	/* Zero fields take the environment. */
	struct zpage_config none = { 0 };
	assert_int_equal(zpage_init(&none), 0);
	assert_int_equal(zpage_info_get(&info), 0);
	assert_int_equal(info.frames, 100);
	assert_string_equal(info.backing_store, "ram");
	assert_int_equal(info.vm_size, 16 * GiB);
	zpage_shutdown();

	/* NULL: the environment too. */
	assert_int_equal(zpage_init(NULL), 0);
	assert_int_equal(zpage_info_get(&info), 0);
	assert_int_equal(info.frames, 100);
	zpage_shutdown();

	/* A field overrides one variable; the others still apply. */
	struct zpage_config vm = { .vm_size = 2 * GiB };
	assert_int_equal(zpage_init(&vm), 0);
	assert_int_equal(zpage_info_get(&info), 0);
	assert_int_equal(info.frames, 100);
	assert_int_equal(info.vm_size, 2 * GiB);
}

struct limit_arg {
	const char *env_limit;
	size_t field_limit;
	size_t pages;
};

static void child_store_limit(void *arg)
{
	const struct limit_arg *a = arg;

	zpt_child_prepare();
	setenv("ZPAGE_STORE_LIMIT", a->env_limit, 1);
	struct zpage_config cfg = { .frames = 16, .store_limit = a->field_limit };
	if (zpage_init(&cfg) != 0)
		_exit(2);
	uint8_t *p = k_mem_map(a->pages * PG, K_MEM_PERM_RW);
	if (p == NULL)
		_exit(2);
	_exit(fill_and_check(p, a->pages, 9) == 0 ? 0 : 3);
}

static void init_store_limit_overrides_env(void **state)
{
	(void)state;
	char out[4096];

	/* The field's 1 MiB wins over the variable's 64 KiB: 40 pages fit. */
	struct limit_arg big = { "64K", MiB, 40 };
	int st = zpt_run_child(child_store_limit, &big, out, sizeof(out));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "child status %#x: %s\n", st, out);
		fail();
	}
	/* And the other way round: 64 KiB from the field. */
	struct limit_arg small = { "1M", 64 * 1024, 40 };
	zpt_expect_death(child_store_limit, &small, SIGBUS, "cannot be served");
}

static void child_count_handlers(void *arg)
{
	struct zpage_config cfg = { .handlers = *(const unsigned *)arg,
				    .fault_mode = "thread" };

	setenv("ZPAGE_HANDLERS", "7", 1);
	if (zpage_init(&cfg) != 0)
		_exit(2);
	fprintf(stderr, "tasks=%d\n", count_tasks());
	_exit(0);
}

static int child_tasks(unsigned handlers)
{
	char out[1024];
	int st = zpt_run_child(child_count_handlers, &handlers, out, sizeof(out));
	const char *t = strstr(out, "tasks=");

	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || t == NULL) {
		fprintf(stderr, "child status %#x: %s\n", st, out);
		fail();
	}
	return atoi(t + 6);
}

static void init_handlers_field(void **state)
{
	(void)state;
	/* The variable says 7; the field decides. */
	int t1 = child_tasks(1), t4 = child_tasks(4);
	assert_int_equal(t4 - t1, 3);
}

static void init_already_started(void **state)
{
	(void)state;
	struct zpage_info info;
	struct zpage_config small = { .frames = 7 };

	assert_int_equal(zpage_init(NULL), 0);
	assert_int_equal(zpage_info_get(&info), 0);
	size_t frames = info.frames;
	assert_int_equal(zpage_init(NULL), -EALREADY);
	assert_int_equal(zpage_init(&small), -EALREADY);
	assert_int_equal(zpage_info_get(&info), 0);
	assert_int_equal(info.frames, frames);
	uint8_t *p = k_mem_map(PG, K_MEM_PERM_RW);
	assert_non_null(p);
	p[0] = 1;
	k_mem_unmap(p, PG);
	zpage_shutdown();

	/* Started by the first API call: the same. */
	p = k_mem_map(PG, K_MEM_PERM_RW);
	assert_non_null(p);
	assert_int_equal(zpage_init(&small), -EALREADY);
	assert_int_equal(zpage_info_get(&info), 0);
	assert_int_equal(info.frames, 1024);
	k_mem_unmap(p, PG);
}

static void init_invalid_fields(void **state)
{
	(void)state;
	const struct {
		struct zpage_config cfg;
		const char *what;
	} cases[] = {
		{ { .handlers = 65 }, "handlers=65" },
		{ { .frames = (size_t)UINT32_MAX }, "frames=UINT32_MAX" },
		{ { .frames = (size_t)1 << 20, .vm_size = GiB }, "frames > vm/2" },
		{ { .eviction = "bogus" }, "eviction bogus" },
		{ { .eviction = "" }, "eviction empty" },
		{ { .backing_store = "disk" }, "store disk" },
		{ { .backing_store = "ram:bogus" }, "store ram:bogus" },
		{ { .store_limit = 100 }, "store_limit below a page" },
		{ { .vm_size = 4096 }, "vm_size one page" },
		{ { .access_tracking = "sometimes" }, "access_tracking" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = zpage_init(&cases[i].cfg);
		if (r != -EINVAL)
			fail_msg("zpage_init(%s) returned %d", cases[i].what, r);
		/* Not started: a later start works. */
		struct zpage_info info;
		assert_int_equal(zpage_init(NULL), 0);
		assert_int_equal(zpage_info_get(&info), 0);
		assert_int_equal(info.frames, 1024);
		assert_string_equal(info.backing_store, "ram");
		zpage_shutdown();
	}
}

static void shutdown_and_restart(void **state)
{
	(void)state;
	struct zpage_config cfg = { .frames = 32 };
	struct zpage_info info;
	size_t pages = 96;

	/* Shutting down what is not started does nothing. */
	zpage_shutdown();
	zpage_shutdown();

	assert_int_equal(zpage_init(&cfg), 0);
	uint8_t *p = k_mem_map(pages * PG, K_MEM_PERM_RW);
	assert_non_null(p);
	assert_int_equal(fill_and_check(p, pages, 1), 0);
	void *ram = zpage_ram_alloc(2 * PG);
	assert_non_null(ram);
	int fd = memfd_create("zpt-config", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, PG), 0);
	uintptr_t dev = CONFIG_SRAM_BASE_ADDRESS + ((uintptr_t)1 << 32);
	assert_int_equal(zpage_phys_register(dev, PG, fd, 0), 0);
	close(fd);
	struct k_mem_paging_stats_t st;
	k_mem_paging_stats_get(&st);
	assert_true(st.pagefaults.cnt >= pages);
	assert_true(st.eviction.dirty > 0);

	zpage_shutdown();
	zpage_shutdown(); /* twice */

	assert_int_equal(zpage_init(&cfg), 0);
	assert_int_equal(zpage_init(&cfg), -EALREADY);
	assert_int_equal(zpage_info_get(&info), 0);
	assert_int_equal(info.frames, 32);

	/* Statistics start from zero. */
	struct k_mem_paging_stats_t s;
	struct zpage_counters c;
	struct k_mem_paging_histogram_t h;
	k_mem_paging_stats_get(&s);
	zpage_counters_get(&c);
	assert_int_equal(s.pagefaults.cnt, 0);
	assert_int_equal(s.pagefaults.irq_locked + s.pagefaults.irq_unlocked, 0);
	assert_int_equal(s.eviction.clean + s.eviction.dirty, 0);
	assert_int_equal(c.zero_fills + c.store_loads + c.evictions, 0);
	assert_int_equal(c.page_outs + c.page_ins + c.pinned_frames, 0);
	k_mem_paging_histogram_backing_store_page_out_get(&h);
	for (int i = 0; i < CONFIG_DEMAND_PAGING_TIMING_HISTOGRAM_NUM_BINS; i++)
		assert_int_equal(h.counts[i], 0);
	k_mem_paging_histogram_eviction_get(&h);
	for (int i = 0; i < CONFIG_DEMAND_PAGING_TIMING_HISTOGRAM_NUM_BINS; i++)
		assert_int_equal(h.counts[i], 0);

	/* All frames free (the RAM allocation is gone), nothing registered. */
	assert_int_equal(k_mem_free_get(), 32 * PG);
	uint8_t *v = (uint8_t *)1;
	z_phys_map(&v, dev, PG, K_MEM_PERM_RW);
	assert_null(v);

	/* A new mapping of the same size is zero-filled: the old data is
	 * gone, wherever the new region lies. */
	uint8_t *q = k_mem_map(pages * PG, K_MEM_PERM_RW);
	assert_non_null(q);
	for (size_t i = 0; i < pages * PG; i += 8)
		if (*(uint64_t *)(q + i) != 0)
			fail_msg("byte %zu of the new mapping is not zero", i);
	assert_int_equal(fill_and_check(q, pages, 2), 0);
	k_mem_paging_stats_get(&s);
	assert_true(s.pagefaults.cnt >= pages);
	k_mem_unmap(q, pages * PG);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "probe") == 0)
		return probe_main(argc, argv);

	const char *vm = getenv("ZPAGE_VM_SIZE");
	saved_vm_size = vm != NULL ? strdup(vm) : NULL;
	int r = zpage_init(NULL);
	if (r == -ENOSYS) {
		fprintf(stderr, "demand paging is impossible here: skipped\n");
		return 77;
	}
	if (r != 0) {
		fprintf(stderr, "zpage_init failed: %d\n", r);
		return 1;
	}
	zpage_shutdown();

#define T(f) cmocka_unit_test_teardown(f, restore_env)
	const struct CMUnitTest tests[] = {
		T(zero_config_defaults),
		T(env_frames),
		T(env_eviction_and_store),
		T(env_vm_size),
		T(env_handlers),
		T(env_store_limit),
		T(env_nru_period),
		T(env_access_tracking),
		T(env_listed_names_work),
		T(env_invalid_values),
		T(debug_explains_failures),
		T(init_fields_override_env),
		T(init_store_limit_overrides_env),
		T(init_handlers_field),
		T(init_already_started),
		T(init_invalid_fields),
		T(shutdown_and_restart),
	};
#undef T
	r = cmocka_run_group_tests(tests, NULL, NULL);
	free(saved_vm_size);
	return r;
}
