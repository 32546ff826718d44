/*
 * The built-in backing stores (ram, file, lz4, zstd) and their failure
 * behaviour:
 *   - every store keeps data through eviction and explicit page-outs:
 *     random, text-like, zero and same-filled pages, checked against a
 *     copy kept by the test
 *   - the compressed stores hold same-filled pages as a word, random ones
 *     raw, text compressed, and give all their memory back
 *   - a failed write keeps the page resident and intact (k_mem_page_out()
 *     gives -ENOMEM), a fault then evicts another page
 *   - a read that fails twice is retried; one that keeps failing, or comes
 *     back corrupt, ends the fault with SIGBUS and a message, never data
 *   - short transfers are completed
 *   - the store limit keeps its page for faults
 *   - under random faults of every kind no acknowledged write is lost
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zpt.h"

#define FRAMES 32

static char tmpdir[] = "/var/tmp/zpage-test-XXXXXX";
static char file_spec[128], file_nokeep[128], file_direct[128];

static const char *all_stores[12];
static size_t nstores;

/* Real servers on 127.0.0.1 for the remote stores, where installed
 * (.ci/run installs them). */
struct server {
	pid_t pid;
	int port;
};
static struct server redis, memcache, cluster[3];
static char redis_spec[64], memcached_spec[64], cluster_spec[64];

static bool port_answers(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* A port nothing listens on, from a range of this process's own. */
static int free_port(void)
{
	static int next;

	if (next == 0)
		next = 20000 + (int)(getpid() % 20000);
	while (port_answers(next))
		next++;
	return next++;
}

/* Start argv (its port at %d in the arguments) and wait until it
 * listens; pid 0 if it cannot run here. */
static struct server start_server(const char *prog, const char *const args[])
{
	struct server sv = { 0, free_port() };
	char port[16], *argv[24];
	int n = 0;

	snprintf(port, sizeof(port), "%d", sv.port);
	argv[n++] = (char *)prog;
	for (int i = 0; args[i] != NULL && n < 22; i++)
		argv[n++] = strcmp(args[i], "PORT") == 0 ? port : (char *)args[i];
	argv[n] = NULL;
	sv.pid = fork();
	if (sv.pid == 0) {
		/* Gone with the test, however it ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execvp(prog, argv);
		_exit(127);
	}
	for (int i = 0; i < 200 && sv.pid > 0; i++) {
		if (port_answers(sv.port))
			return sv;
		int st;
		if (waitpid(sv.pid, &st, WNOHANG) == sv.pid)
			break;
		zpt_sleep_ms(10);
	}
	if (sv.pid > 0) {
		kill(sv.pid, SIGKILL);
		waitpid(sv.pid, NULL, 0);
	}
	fprintf(stderr, "note: %s does not start here: its store is not "
		"tested\n", prog);
	sv.pid = 0;
	return sv;
}

static void stop_server(struct server *sv)
{
	if (sv->pid > 0) {
		kill(sv->pid, SIGTERM);
		waitpid(sv->pid, NULL, 0);
	}
	sv->pid = 0;
}

/* Run a command line; its exit status. */
static int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int shell(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void start_servers(void)
{
	static const char *const redis_args[] = { "--port", "PORT", "--save", "",
		"--appendonly", "no", "--bind", "127.0.0.1", NULL };
	/* As root memcached wants -u; root itself, because a change of user
	 * would clear PR_SET_PDEATHSIG. */
	static const char *const mc_args[] = { "-p", "PORT", "-U", "0", "-l",
		"127.0.0.1", "-m", "256", "-M", "-u", "root", NULL };
	static const char *const node_args[] = { "--port", "PORT", "--save", "",
		"--appendonly", "no", "--bind", "127.0.0.1", "--cluster-enabled",
		"yes", "--cluster-config-file", NULL, NULL };

	redis = start_server("redis-server", redis_args);
	if (redis.pid > 0) {
		snprintf(redis_spec, sizeof(redis_spec), "redis://127.0.0.1:%d",
			 redis.port);
		all_stores[nstores++] = redis_spec;
	}
	memcache = start_server("memcached", mc_args);
	if (memcache.pid > 0) {
		snprintf(memcached_spec, sizeof(memcached_spec),
			 "memcached://127.0.0.1:%d/zpt:", memcache.port);
		all_stores[nstores++] = memcached_spec;
	}
	/* A three-node cluster, each node with a third of the slots. */
	char conf[3][160];
	const char *args[16];
	memcpy(args, node_args, sizeof(node_args));
	for (int i = 0; i < 3 && redis.pid > 0; i++) {
		snprintf(conf[i], sizeof(conf[i]), "%s/nodes-%d.conf", tmpdir, i);
		args[11] = conf[i];
		cluster[i] = start_server("redis-server", args);
	}
	if (cluster[0].pid > 0 && cluster[1].pid > 0 && cluster[2].pid > 0 &&
	    shell("redis-cli --cluster create 127.0.0.1:%d 127.0.0.1:%d "
		  "127.0.0.1:%d --cluster-replicas 0 --cluster-yes "
		  ">/dev/null 2>&1", cluster[0].port, cluster[1].port,
		  cluster[2].port) == 0) {
		for (int i = 0; i < 100; i++) {
			if (shell("redis-cli -p %d cluster info 2>/dev/null | "
				  "grep -q cluster_state:ok", cluster[0].port) == 0) {
				snprintf(cluster_spec, sizeof(cluster_spec),
					 "redis://127.0.0.1:%d/c:", cluster[0].port);
				break;
			}
			zpt_sleep_ms(50);
		}
	}
	if (cluster_spec[0] == '\0')
		fprintf(stderr, "note: no redis cluster here: not tested\n");
}

static void stop_servers(void)
{
	stop_server(&redis);
	stop_server(&memcache);
	for (int i = 0; i < 3; i++) {
		stop_server(&cluster[i]);
		char conf[160];
		snprintf(conf, sizeof(conf), "%s/nodes-%d.conf", tmpdir, i);
		unlink(conf);
	}
}

/* A block device for the file store, where this runs as root: a loop
 * device over a 16 MiB file. */
static char loop_dev[64], loop_spec[80], loop_file[160];

static void loop_setup(void)
{
	snprintf(loop_file, sizeof(loop_file), "%s/loop.img", tmpdir);
	if (geteuid() != 0 ||
	    shell("truncate -s 16M %s && losetup -f --show %s > %s.dev "
		  "2>/dev/null", loop_file, loop_file, loop_file) != 0) {
		fprintf(stderr, "note: no loop device here: the file store on "
			"a block device is not tested\n");
		unlink(loop_file);
		return;
	}
	char path[200];
	snprintf(path, sizeof(path), "%s.dev", loop_file);
	FILE *f = fopen(path, "r");
	if (f != NULL && fscanf(f, "%63s", loop_dev) == 1) {
		snprintf(loop_spec, sizeof(loop_spec), "file:%s", loop_dev);
		all_stores[nstores++] = loop_spec;
	}
	if (f != NULL)
		fclose(f);
	unlink(path);
}

static void loop_teardown(void)
{
	if (loop_dev[0] != '\0')
		shell("losetup -d %s", loop_dev);
	unlink(loop_file);
}

static int setup_stores(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(file_spec, sizeof(file_spec), "file:%s", tmpdir);
	snprintf(file_nokeep, sizeof(file_nokeep), "file:%s,nokeep", tmpdir);
	snprintf(file_direct, sizeof(file_direct), "file:%s,direct", tmpdir);
	nstores = 0;
	all_stores[nstores++] = "ram";
	all_stores[nstores++] = "ram:backed";
	all_stores[nstores++] = file_spec;
	all_stores[nstores++] = file_nokeep;
	/* O_DIRECT where the file system takes it (not tmpfs). */
	char probe[160];
	snprintf(probe, sizeof(probe), "%s/direct", tmpdir);
	int fd = open(probe, O_RDWR | O_CREAT | O_DIRECT, 0600);
	if (fd >= 0) {
		close(fd);
		unlink(probe);
		all_stores[nstores++] = file_direct;
	}
	all_stores[nstores++] = "lz4";
	all_stores[nstores++] = "zstd";
	loop_setup();
	start_servers();
	return 0;
}

static int teardown_stores(void **state)
{
	(void)state;
	stop_servers();
	loop_teardown();
	rmdir(tmpdir);
	return 0;
}

/* Page contents of four kinds, by page number: random, text-like, zeros,
 * one repeated word. */
static void make_page(uint8_t *p, uint64_t seed, size_t page)
{
	switch (page % 4) {
	case 0:
		zpt_fill(p, seed, page);
		break;
	case 1:
		for (size_t i = 0; i < ZPT_PAGE; i++)
			p[i] = (uint8_t)"the quick brown fox jumps "[
				(i + page + seed) % 26];
		break;
	case 2:
		memset(p, 0, ZPT_PAGE);
		break;
	default:
		for (size_t i = 0; i < ZPT_PAGE / 8; i++)
			((uint64_t *)p)[i] = seed * 1000 + page;
	}
}

struct model {
	uint8_t *mem;  /* library memory */
	uint8_t *copy; /* what it must hold */
	size_t pages;
};

static void model_map(struct model *m, size_t pages, uint64_t seed)
{
	m->pages = pages;
	m->mem = k_mem_map(pages * ZPT_PAGE, K_MEM_PERM_RW);
	m->copy = malloc(pages * ZPT_PAGE);
	assert_non_null(m->mem);
	assert_non_null(m->copy);
	for (size_t p = 0; p < pages; p++) {
		make_page(m->copy + p * ZPT_PAGE, seed, p);
		memcpy(m->mem + p * ZPT_PAGE, m->copy + p * ZPT_PAGE, ZPT_PAGE);
	}
}

/* Pages that differ from the copy. */
static size_t model_diff(const struct model *m)
{
	size_t bad = 0;

	for (size_t p = 0; p < m->pages; p++)
		bad += memcmp(m->mem + p * ZPT_PAGE, m->copy + p * ZPT_PAGE,
			      ZPT_PAGE) != 0;
	return bad;
}

static void model_unmap(struct model *m)
{
	k_mem_unmap(m->mem, m->pages * ZPT_PAGE);
	free(m->copy);
}

/* Random reads and writes (a word per touch), random page-outs, whatever
 * they return. */
static void model_churn(struct model *m, int ops, uint64_t seed)
{
	uint64_t x = seed | 1;

	/* ThreadSanitizer makes each fault far dearer: fewer touches. */
	if (ZPT_TSAN)
		ops /= 4;

	for (int i = 0; i < ops; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t p = (size_t)(x >> 20) % m->pages;
		size_t w = (size_t)(x >> 8) % (ZPT_PAGE / 8);
		uint64_t *mem = (uint64_t *)(m->mem + p * ZPT_PAGE);
		uint64_t *copy = (uint64_t *)(m->copy + p * ZPT_PAGE);
		if (i % 16 == 0)
			(void)k_mem_page_out(mem, ZPT_PAGE);
		else if (i % 2 == 0)
			mem[w] = copy[w] = x;
		else
			assert_true(mem[w] == copy[w]);
	}
}

static void stores_keep_data(void **state)
{
	(void)state;
	for (size_t s = 0; s < nstores; s++) {
		struct model m;
		zpt_start_simple(FRAMES, NULL, all_stores[s]);
		model_map(&m, 4 * FRAMES, s + 1);
		model_churn(&m, 20000, s + 7);
		assert_int_equal(model_diff(&m), 0);
		/* Everything out, everything back. */
		assert_int_equal(k_mem_page_out(m.mem, m.pages * ZPT_PAGE), 0);
		assert_int_equal(model_diff(&m), 0);
		struct zpage_counters c = zpt_counters();
		assert_true(c.page_outs >= 3 * FRAMES);
		assert_int_equal(c.store_write_errors + c.store_read_errors, 0);
		model_unmap(&m);
		struct zpage_store_stats st;
		assert_int_equal(zpage_store_stats_get(&st), 0);
		assert_int_equal(st.locations, 0);
		assert_int_equal(st.bytes_charged, 0);
		zpage_shutdown();
	}
}

static void compressed_kinds(const char *store)
{
	struct model m;
	struct zpage_store_stats st;
	size_t pages = FRAMES; /* all fit: reading them back evicts none */

	zpt_start_simple(FRAMES, NULL, store);
	model_map(&m, pages, 3);
	assert_int_equal(k_mem_page_out(m.mem, pages * ZPT_PAGE), 0);
	assert_int_equal(zpage_store_stats_get(&st), 0);
	assert_string_equal(st.name, store);
	/* A quarter each: random (raw), text (compressed), zeros and one
	 * word (same-filled). */
	assert_int_equal(st.locations, pages);
	assert_int_equal(st.same_filled, pages / 2);
	assert_int_equal(st.raw, pages / 4);
	assert_int_equal(st.compressed, pages / 4);
	assert_int_equal(st.compressions, pages / 2);
	/* Raw pages take a page; text takes little. */
	assert_true(st.payload_bytes >= pages / 4 * ZPT_PAGE);
	assert_true(st.payload_bytes < pages / 4 * ZPT_PAGE + pages / 4 * 512);
	assert_int_equal(st.bytes_charged, st.payload_bytes);
	assert_int_equal(model_diff(&m), 0);
	assert_int_equal(zpage_store_stats_get(&st), 0);
	assert_int_equal(st.decompressions, pages / 4);
	assert_int_equal(st.locations, 0);
	assert_int_equal(st.payload_bytes, 0);
	assert_int_equal(st.bytes_charged, 0);
	model_unmap(&m);
	zpage_shutdown();
}

static void compressed_stores_hold_pages_by_kind(void **state)
{
	(void)state;
	compressed_kinds("lz4");
	compressed_kinds("zstd");
}

static void write_failure_keeps_page(void **state)
{
	(void)state;
	for (size_t s = 0; s < nstores; s++) {
		struct model m;
		zpt_start_simple(FRAMES, NULL, all_stores[s]);
		model_map(&m, 4, 5); /* random, text, zero, word */
		assert_int_equal(zpage_store_faults_set("write:enospc"), 0);
		/* Every page was written: each page-out must be refused. */
		assert_int_equal(k_mem_page_out(m.mem, 4 * ZPT_PAGE), -ENOMEM);
		struct zpage_counters c = zpt_counters();
		assert_true(c.store_write_errors >= 1);
		assert_int_equal(c.page_outs, 0);
		assert_int_equal(model_diff(&m), 0);
		assert_int_equal(zpage_store_faults_set(NULL), 0);
		assert_int_equal(k_mem_page_out(m.mem, 4 * ZPT_PAGE), 0);
		assert_int_equal(model_diff(&m), 0);
		model_unmap(&m);
		zpage_shutdown();
	}
}

/* With a third of the writes failing, faults evict other pages. */
static void faults_survive_write_failures(void **state)
{
	(void)state;
	for (size_t s = 0; s < nstores; s++) {
		struct model m;
		zpt_start_simple(FRAMES, NULL, all_stores[s]);
		model_map(&m, 4 * FRAMES, 11);
		assert_int_equal(zpage_store_faults_set("write:eio@0.3"), 0);
		model_churn(&m, 10000, 3);
		assert_true(zpt_counters().store_write_errors > 0);
		assert_int_equal(model_diff(&m), 0);
		assert_int_equal(zpage_store_faults_set(NULL), 0);
		model_unmap(&m);
		zpage_shutdown();
	}
}

static void read_errors_are_retried(void **state)
{
	(void)state;
	for (size_t s = 0; s < nstores; s++) {
		struct model m;
		zpt_start_simple(FRAMES, NULL, all_stores[s]);
		model_map(&m, 4, 13);
		assert_int_equal(k_mem_page_out(m.mem, 4 * ZPT_PAGE), 0);
		/* Two failures, then the third try reads. */
		assert_int_equal(zpage_store_faults_set("read:etimedout*2"), 0);
		assert_int_equal(model_diff(&m), 0);
		struct zpage_counters c = zpt_counters();
		assert_int_equal(c.store_read_errors, 2);
		assert_int_equal(c.store_read_failures, 0);
		assert_int_equal(zpage_store_faults_set(NULL), 0);
		model_unmap(&m);
		zpage_shutdown();
	}
}

static void short_transfers_complete(void **state)
{
	(void)state;
	struct model m;

	zpt_start_simple(FRAMES, NULL, file_spec);
	model_map(&m, 4 * FRAMES, 17);
	assert_int_equal(zpage_store_faults_set("any:short@0.5"), 0);
	model_churn(&m, 10000, 5);
	assert_int_equal(model_diff(&m), 0);
	assert_int_equal(zpage_store_faults_set(NULL), 0);
	assert_int_equal(zpt_counters().store_write_errors, 0);
	model_unmap(&m);
	zpage_shutdown();
}

struct bad_read {
	const char *store;
	const char *faults;
};

/* Page a page out, make reads fail, touch it: must die by SIGBUS. */
static void child_bad_read(void *arg)
{
	const struct bad_read *b = arg;
	struct model m;

	zpt_child_prepare();
	setenv("ZPAGE_DEBUG", "1", 1);
	struct zpage_config c = { .frames = FRAMES, .backing_store = b->store,
				  .evictor = -1 };
	ZPT_CHILD_REQUIRE(zpage_init(&c) == 0);
	model_map(&m, 4, 19);
	ZPT_CHILD_REQUIRE(k_mem_page_out(m.mem, 4 * ZPT_PAGE) == 0);
	ZPT_CHILD_REQUIRE(zpage_store_faults_set(b->faults) == 0);
	/* Never wrong data: either SIGBUS, or (a bug) a mismatch. */
	ZPT_CHILD_REQUIRE(memcmp(m.mem, m.copy, ZPT_PAGE) == 0);
	_exit(3);
}

static void failed_reads_end_in_sigbus(void **state)
{
	(void)state;
	for (size_t s = 0; s < nstores; s++) {
		struct bad_read b = { all_stores[s], "read:eio" };
		zpt_expect_death(child_bad_read, &b, SIGBUS,
				 "backing store cannot read the page");
	}
}

static void corrupt_pages_end_in_sigbus(void **state)
{
	(void)state;
	/* Every store but ram (whose pages never leave memory) checks. */
	for (size_t s = 0; s < nstores; s++) {
		if (strncmp(all_stores[s], "ram", 3) == 0)
			continue;
		struct bad_read b = { all_stores[s], "read:corrupt" };
		zpt_expect_death(child_bad_read, &b, SIGBUS, "checksum mismatch");
	}
}

/* A limit of 8 pages: 7 explicit page-outs, the 8th is refused, and a
 * fault may still use it. Random pages: the compressed stores hold them
 * raw, a page each. */
static void limit_keeps_a_page_for_faults(void **state)
{
	(void)state;
	const char *stores[] = { "ram", file_spec, "lz4", "zstd" };

	for (size_t s = 0; s < 4; s++) {
		struct zpage_config c = { .frames = 8, .backing_store = stores[s],
					  .store_limit = 8 * ZPT_PAGE,
					  .evictor = -1 };
		zpt_start(&c);
		uint8_t *mem = k_mem_map(16 * ZPT_PAGE, K_MEM_PERM_RW);
		assert_non_null(mem);
		for (size_t p = 0; p < 8; p++)
			zpt_fill(mem + p * ZPT_PAGE, 23, p);
		for (size_t p = 0; p < 7; p++)
			assert_int_equal(k_mem_page_out(mem + p * ZPT_PAGE,
							ZPT_PAGE), 0);
		assert_int_equal(k_mem_page_out(mem + 7 * ZPT_PAGE, ZPT_PAGE),
				 -ENOMEM);
		/* 7 frames free: 7 new pages, then one that evicts. */
		for (size_t p = 8; p < 16; p++)
			zpt_fill(mem + p * ZPT_PAGE, 23, p);
		struct zpage_store_stats st;
		assert_int_equal(zpage_store_stats_get(&st), 0);
		assert_int_equal(st.locations, 8);
		assert_int_equal(st.bytes_charged, 8 * ZPT_PAGE);
		/* The store is full now, fault reserve included: page 0
		 * could not come back in. */
		assert_true(zpt_check(mem + 15 * ZPT_PAGE, 23, 15));
		k_mem_unmap(mem, 16 * ZPT_PAGE);
		zpage_shutdown();
	}
}

/* A block device of 4096 pages: 4095 explicit page-outs, the last page
 * kept for a fault. */
static void block_device_fills_at_its_end(void **state)
{
	(void)state;
	if (loop_dev[0] == '\0')
		skip();
	size_t pages = 4096 + 64;
	struct zpage_config c = { .frames = 64, .backing_store = loop_spec,
				  .evictor = -1 };
	zpt_start(&c);
	uint8_t *mem = k_mem_map(pages * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(mem);
	size_t out = 0;
	for (size_t p = 0; p < pages; p++) {
		zpt_fill(mem + p * ZPT_PAGE, 53, p);
		if (k_mem_page_out(mem + p * ZPT_PAGE, ZPT_PAGE) != 0)
			break;
		out++;
	}
	assert_int_equal(out, 4095);
	/* Frames full of new pages, then one more: its fault evicts into
	 * the last slot. */
	for (size_t p = out + 1; p < out + 1 + 64; p++)
		zpt_fill(mem + p * ZPT_PAGE, 53, p);
	struct zpage_store_stats st;
	assert_int_equal(zpage_store_stats_get(&st), 0);
	assert_int_equal(st.locations, 4096);
	for (size_t p = 0; p < 64; p++)
		assert_true(zpt_check(mem + (out + 1 + p) * ZPT_PAGE, 53, out + 1 + p));
	k_mem_unmap(mem, pages * ZPT_PAGE);
	zpage_shutdown();
}

/* Errors of every kind at random; reads fail rarely enough (1%, 4 tries)
 * that no fault gives up. */
static void no_acknowledged_write_is_lost(void **state)
{
	(void)state;
	for (size_t s = 0; s < nstores; s++) {
		struct model m;
		zpt_start_simple(FRAMES, NULL, all_stores[s]);
		model_map(&m, 4 * FRAMES, 29);
		assert_int_equal(zpage_store_faults_set(
					 "write:eio@0.1,write:enospc@0.05,"
					 "any:short@0.2,read:etimedout@0.01"),
				 0);
		model_churn(&m, 30000, 31);
		assert_int_equal(zpage_store_faults_set(NULL), 0);
		assert_int_equal(model_diff(&m), 0);
		assert_int_equal(k_mem_page_out(m.mem, m.pages * ZPT_PAGE), 0);
		assert_int_equal(model_diff(&m), 0);
		assert_int_equal(zpt_counters().store_read_failures, 0);
		model_unmap(&m);
		zpage_shutdown();
	}
}

static void bad_specs_are_refused(void **state)
{
	(void)state;
	const char *bad[] = { "write", "write:bogus", "scan:eio", "read:eio@2",
			      "write:corrupt", "read:eio*", "read:eio#3" };

	zpt_start_simple(FRAMES, NULL, "ram");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(zpage_store_faults_set(bad[i]), -EINVAL);
	assert_int_equal(zpage_store_faults_set("read:eio@0.5+3*2,any:short"), 0);
	assert_int_equal(zpage_store_faults_set(""), 0);
	zpage_shutdown();

	/* A file with contents is never overwritten; a missing directory is
	 * an error at start. */
	char path[160];
	snprintf(path, sizeof(path), "%s/data", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("precious", f);
	fclose(f);
	char spec[200];
	snprintf(spec, sizeof(spec), "file:%s", path);
	struct zpage_config c = { .frames = FRAMES, .backing_store = spec };
	assert_int_equal(zpage_init(&c), -EEXIST);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 8);
	unlink(path);
	/* An empty named file is used. */
	assert_int_equal(zpage_init(&c), 0);
	zpage_shutdown();
	unlink(path);
	snprintf(spec, sizeof(spec), "file:%s/no/such/dir", tmpdir);
	assert_int_equal(zpage_init(&c), -ENOENT);
	c.backing_store = "zstd:99";
	assert_int_equal(zpage_init(&c), -EINVAL);
	c.backing_store = "lz4:0";
	assert_int_equal(zpage_init(&c), -EINVAL);
}

/* Keys in a redis server (DBSIZE). */
static long redis_keys(int port)
{
	char cmd[96];
	long n = -1;

	snprintf(cmd, sizeof(cmd), "redis-cli -p %d dbsize", port);
	FILE *f = popen(cmd, "r");
	if (f != NULL && fscanf(f, "%ld", &n) != 1)
		n = -1;
	if (f != NULL)
		pclose(f);
	return n;
}

/* The cluster's nodes each get a share of the pages (MOVED followed),
 * and every key goes at shutdown. */
static void redis_cluster_spreads_pages(void **state)
{
	(void)state;
	if (cluster_spec[0] == '\0')
		skip();
	struct model m;
	zpt_start_simple(FRAMES, NULL, cluster_spec);
	model_map(&m, 4 * FRAMES, 37);
	model_churn(&m, 5000, 41);
	assert_int_equal(k_mem_page_out(m.mem, m.pages * ZPT_PAGE), 0);
	for (int i = 0; i < 3; i++)
		assert_true(redis_keys(cluster[i].port) > 4 * FRAMES / 10);
	assert_int_equal(model_diff(&m), 0);
	model_unmap(&m);
	zpage_shutdown();
	for (int i = 0; i < 3; i++)
		assert_int_equal(redis_keys(cluster[i].port), 0);
}

/* The server drops every connection: the store reconnects, nothing is
 * lost. */
static void redis_reconnects(void **state)
{
	(void)state;
	if (redis.pid == 0)
		skip();
	struct model m;
	/* Children of the death tests left theirs. */
	long before = redis_keys(redis.port);
	zpt_start_simple(FRAMES, NULL, redis_spec);
	model_map(&m, 4 * FRAMES, 43);
	assert_int_equal(k_mem_page_out(m.mem, m.pages * ZPT_PAGE), 0);
	for (int round = 0; round < 3; round++) {
		/* The first reconnection is refused too: the next one,
		 * 50 ms later, is within the reads' retries. */
		assert_int_equal(zpage_store_faults_set("connect:econnrefused*1"),
				 0);
		assert_int_equal(shell("redis-cli -p %d client kill type normal "
				       ">/dev/null", redis.port), 0);
		model_churn(&m, 2000, (uint64_t)round + 47);
	}
	assert_int_equal(zpage_store_faults_set(NULL), 0);
	assert_int_equal(model_diff(&m), 0);
	struct zpage_counters c = zpt_counters();
	assert_true(c.store_read_errors + c.store_write_errors >= 1);
	assert_int_equal(c.store_read_failures, 0);
	model_unmap(&m);
	zpage_shutdown();
	assert_int_equal(redis_keys(redis.port), before);
}

/* A server that is not there: start-up fails with a message. */
static void remote_store_absent(void **state)
{
	(void)state;
	char spec[64];
	int port = free_port();

	snprintf(spec, sizeof(spec), "redis://127.0.0.1:%d", port);
	struct zpage_config c = { .frames = FRAMES, .backing_store = spec };
	if (redis.pid > 0)
		assert_int_equal(zpage_init(&c), -ECONNREFUSED);
	snprintf(spec, sizeof(spec), "memcached://127.0.0.1:%d", port);
	if (memcache.pid > 0)
		assert_int_equal(zpage_init(&c), -ECONNREFUSED);
	c.backing_store = "redis://127.0.0.1:99999";
	if (redis.pid > 0)
		assert_int_equal(zpage_init(&c), -EINVAL);
	/* An injected refusal at start-up. */
	if (redis.pid > 0) {
		setenv("ZPAGE_STORE_FAULTS", "connect:econnrefused", 1);
		c.backing_store = redis_spec;
		assert_int_equal(zpage_init(&c), -ECONNREFUSED);
		unsetenv("ZPAGE_STORE_FAULTS");
		assert_int_equal(zpage_init(&c), 0);
		zpage_shutdown();
	}
	if (redis.pid == 0 && memcache.pid == 0)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(stores_keep_data, zpt_teardown),
		cmocka_unit_test_teardown(compressed_stores_hold_pages_by_kind,
					  zpt_teardown),
		cmocka_unit_test_teardown(write_failure_keeps_page, zpt_teardown),
		cmocka_unit_test_teardown(faults_survive_write_failures,
					  zpt_teardown),
		cmocka_unit_test_teardown(read_errors_are_retried, zpt_teardown),
		cmocka_unit_test_teardown(short_transfers_complete, zpt_teardown),
		cmocka_unit_test(failed_reads_end_in_sigbus),
		cmocka_unit_test(corrupt_pages_end_in_sigbus),
		cmocka_unit_test_teardown(limit_keeps_a_page_for_faults,
					  zpt_teardown),
		cmocka_unit_test_teardown(block_device_fills_at_its_end,
					  zpt_teardown),
		cmocka_unit_test_teardown(no_acknowledged_write_is_lost,
					  zpt_teardown),
		cmocka_unit_test_teardown(bad_specs_are_refused, zpt_teardown),
		cmocka_unit_test_teardown(redis_cluster_spreads_pages,
					  zpt_teardown),
		cmocka_unit_test_teardown(redis_reconnects, zpt_teardown),
		cmocka_unit_test_teardown(remote_store_absent, zpt_teardown),
	};
	return cmocka_run_group_tests(tests, setup_stores, teardown_stores);
}
