/*
 * Statistics: irq_locked / irq_unlocked / in_isr classification, per-thread
 * statistics and their sums, the three timing histograms and the library's
 * own counters.
 *
 * Every test starts the library with its own configuration and the teardown
 * shuts it down again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zpt.h"

#define PG(base, i) ((uint8_t *)(base) + (size_t)(i) * ZPT_PAGE)
#define NBINS CONFIG_DEMAND_PAGING_TIMING_HISTOGRAM_NUM_BINS
#define LONG_PERIOD_MS 3600000u /* nru never clears accessed bits */

/* ---- Helpers ------------------------------------------------------------ */

static void start(size_t frames, const char *store, unsigned nru_ms)
{
	/* Evictions in the faults that need them (no background evictor),
	 * so that each one is counted for the thread that faulted. */
	struct zpage_config c = {
		.frames = frames,
		.backing_store = store,
		.nru_period_ms = nru_ms,
		.evictor = -1,
	};
	zpt_start(&c);
}




static struct k_mem_paging_stats_t stats_sub(struct k_mem_paging_stats_t b,
					     struct k_mem_paging_stats_t a)
{
	struct k_mem_paging_stats_t d;
	d.pagefaults.cnt = b.pagefaults.cnt - a.pagefaults.cnt;
	d.pagefaults.irq_locked = b.pagefaults.irq_locked - a.pagefaults.irq_locked;
	d.pagefaults.irq_unlocked =
		b.pagefaults.irq_unlocked - a.pagefaults.irq_unlocked;
	d.pagefaults.in_isr = b.pagefaults.in_isr - a.pagefaults.in_isr;
	d.eviction.clean = b.eviction.clean - a.eviction.clean;
	d.eviction.dirty = b.eviction.dirty - a.eviction.dirty;
	return d;
}

static void assert_sum_invariant(const struct k_mem_paging_stats_t *s)
{
	assert_int_equal(s->pagefaults.irq_locked + s->pagefaults.irq_unlocked,
			 s->pagefaults.cnt);
	assert_true(s->pagefaults.in_isr <= s->pagefaults.cnt);
}


static uint64_t rd(const void *p)
{
	return *(const volatile uint64_t *)p;
}

static void wr(void *p, uint64_t v)
{
	*(volatile uint64_t *)p = v;
}

static void fill_range(uint8_t *p, size_t first, size_t n, uint64_t seed)
{
	for (size_t i = first; i < first + n; i++)
		zpt_fill(PG(p, i), seed, i);
}

static void check_range(const uint8_t *p, size_t first, size_t n, uint64_t seed)
{
	for (size_t i = first; i < first + n; i++)
		assert_true(zpt_check(PG(p, i), seed, i));
}

/* A region of n written pages, all paged out. */
static uint8_t *paged_out_region(size_t n, uint64_t seed)
{
	uint8_t *p = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	fill_range(p, 0, n, seed);
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	assert_int_equal(zpt_resident(p, n * ZPT_PAGE), 0);
	return p;
}

static bool sig_blocked(int sig)
{
	sigset_t cur;
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
	return sigismember(&cur, sig) == 1;
}

/* ---- irq_locked / irq_unlocked ------------------------------------------ */

static void irq_locked_classification(void **state)
{
	(void)state;
	start(64, NULL, 0);
	const size_t n = 16;
	uint8_t *p = paged_out_region(n, 1);
	struct k_mem_paging_stats_t g0 = zpt_stats(), t0 = zpt_thread_stats();

	assert_false(sig_blocked(SIGUSR1));
	for (size_t i = 0; i < 4; i++) /* unlocked: 4 */
		assert_true(zpt_check(PG(p, i), 1, i));
	unsigned int k1 = irq_lock();
	assert_int_equal(k1, 0);
	assert_true(sig_blocked(SIGUSR1));
	for (size_t i = 4; i < 8; i++) /* locked: 4 */
		assert_true(zpt_check(PG(p, i), 1, i));
	unsigned int k2 = zpage_irq_lock(); /* nested */
	assert_int_not_equal(k2, k1);
	for (size_t i = 8; i < 10; i++) /* locked: 2 */
		wr(PG(p, i) + 8, i);
	zpage_irq_unlock(k2);
	assert_true(sig_blocked(SIGUSR1)); /* still locked */
	for (size_t i = 10; i < 12; i++) /* locked: 2 */
		wr(PG(p, i) + 8, i);
	irq_unlock(k1);
	assert_false(sig_blocked(SIGUSR1));
	for (size_t i = 12; i < 16; i++) /* unlocked: 4 */
		wr(PG(p, i) + 8, i);

	struct k_mem_paging_stats_t g = stats_sub(zpt_stats(), g0);
	struct k_mem_paging_stats_t t = stats_sub(zpt_thread_stats(), t0);
	assert_int_equal(g.pagefaults.cnt, n);
	assert_int_equal(g.pagefaults.irq_locked, 8);
	assert_int_equal(g.pagefaults.irq_unlocked, 8);
	assert_int_equal(g.pagefaults.in_isr, 0);
	assert_int_equal(t.pagefaults.cnt, n);
	assert_int_equal(t.pagefaults.irq_locked, 8);
	assert_int_equal(t.pagefaults.irq_unlocked, 8);
	struct k_mem_paging_stats_t ga = zpt_stats(), ta = zpt_thread_stats();
	assert_sum_invariant(&ga);
	assert_sum_invariant(&ta);
	for (size_t i = 8; i < 16; i++)
		assert_int_equal(rd(PG(p, i) + 8), i);
	k_mem_unmap(p, n * ZPT_PAGE);
}

static void irq_unlock_restores_mask(void **state)
{
	(void)state;
	start(16, NULL, 0);
	sigset_t s2, old;
	sigemptyset(&s2);
	sigaddset(&s2, SIGUSR2);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &s2, &old), 0);
	unsigned int k = irq_lock();
	assert_true(sig_blocked(SIGUSR1));
	assert_true(sig_blocked(SIGUSR2));
	/* Synchronous signals stay open so that a bad access still kills. */
	assert_false(sig_blocked(SIGSEGV));
	assert_false(sig_blocked(SIGBUS));
	/* A library call that locks internally keeps us locked. */
	uint8_t *p = paged_out_region(2, 3);
	assert_true(sig_blocked(SIGUSR1));
	irq_unlock(k);
	assert_false(sig_blocked(SIGUSR1));
	assert_true(sig_blocked(SIGUSR2)); /* what it was before */
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
	assert_false(sig_blocked(SIGUSR2));
	/* And without any lock held, internal locking leaves nothing blocked. */
	assert_int_equal(k_mem_page_out(p, 2 * ZPT_PAGE), 0);
	assert_false(sig_blocked(SIGUSR1));
	k_mem_unmap(p, 2 * ZPT_PAGE);
}

/* Each thread takes faults locked and unlocked; the invariant holds for
 * every thread and globally. */
struct lock_arg {
	uint8_t *p;
	size_t first, n;
	struct k_mem_paging_stats_t d;
};

static void *lock_thread(void *arg)
{
	struct lock_arg *a = arg;
	struct k_mem_paging_stats_t t0 = zpt_thread_stats();
	for (size_t i = a->first; i < a->first + a->n; i++) {
		unsigned int k = 0;
		if (i % 3 == 0)
			k = irq_lock();
		wr(PG(a->p, i), i);
		if (i % 3 == 0)
			irq_unlock(k);
	}
	a->d = stats_sub(zpt_thread_stats(), t0);
	return NULL;
}

static void irq_invariant_threads(void **state)
{
	(void)state;
	/* Frames for every page: each write faults exactly once. */
	const size_t per = 48, nt = 3;
	start(nt * per + 16, NULL, 0);
	uint8_t *p = k_mem_map(nt * per * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	struct k_mem_paging_stats_t g0 = zpt_stats();
	struct lock_arg args[3];
	pthread_t th[3];
	for (size_t t = 0; t < nt; t++) {
		args[t] = (struct lock_arg){ .p = p, .first = t * per, .n = per };
		assert_int_equal(pthread_create(&th[t], NULL, lock_thread,
						&args[t]), 0);
	}
	for (size_t t = 0; t < nt; t++)
		pthread_join(th[t], NULL);
	struct k_mem_paging_stats_t g = stats_sub(zpt_stats(), g0);
	unsigned long sum_locked = 0;
	for (size_t t = 0; t < nt; t++) {
		/* One fresh page per write: one zero-fill fault each. */
		assert_int_equal(args[t].d.pagefaults.cnt, per);
		assert_int_equal(args[t].d.pagefaults.irq_locked, per / 3);
		assert_int_equal(args[t].d.pagefaults.irq_unlocked, per - per / 3);
		sum_locked += args[t].d.pagefaults.irq_locked;
	}
	assert_int_equal(g.pagefaults.cnt, nt * per);
	assert_int_equal(g.pagefaults.irq_locked, sum_locked);
	struct k_mem_paging_stats_t ga = zpt_stats();
	assert_sum_invariant(&ga);
	k_mem_unmap(p, nt * per * ZPT_PAGE);
}

/* ---- in_isr ------------------------------------------------------------- */

static uint8_t *isr_page;
static volatile sig_atomic_t isr_ran, isr_saw_isr;
static volatile uint64_t isr_value;

static void isr_handler(int sig)
{
	(void)sig;
	isr_saw_isr = k_is_in_isr();
	isr_value = rd(isr_page + 64);
	isr_ran++;
}

/* ThreadSanitizer runs a program's signal handlers later, from its own
 * context and with every signal blocked: a fault inside such a handler
 * cannot be delivered as SIGBUS then (signal delivery), and kills the
 * process. Only that combination is skipped. */
static void skip_isr_faults_under_tsan_signal(void)
{
	struct zpage_info info;

	assert_int_equal(zpage_info_get(&info), 0);
	if (ZPT_TSAN && info.delivery == ZPAGE_DELIVERY_SIGNAL)
		skip();
}

static void in_isr_counts_one(void **state)
{
	(void)state;
	start(64, NULL, 0);
	skip_isr_faults_under_tsan_signal();
	uint8_t *p = k_mem_map(4 * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	for (size_t i = 0; i < 4; i++)
		wr(PG(p, i) + 64, 1000 + i);
	assert_int_equal(k_mem_page_out(p, 4 * ZPT_PAGE), 0);

	struct sigaction sa, old, cur;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = isr_handler;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(zpage_sigaction(SIGUSR1, &sa, &old), 0);
	/* What is installed reads back as the program's own handler. */
	assert_int_equal(zpage_sigaction(SIGUSR1, NULL, &cur), 0);
	assert_ptr_equal(cur.sa_handler, isr_handler);

	assert_false(k_is_in_isr());
	struct k_mem_paging_stats_t g0 = zpt_stats(), t0 = zpt_thread_stats();

	/* raise(): the handler touches paged-out page 0. */
	isr_page = PG(p, 0);
	isr_ran = isr_saw_isr = 0;
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(isr_ran, 1);
	assert_true(isr_saw_isr);
	assert_int_equal(isr_value, 1000);
	assert_false(k_is_in_isr());
	struct k_mem_paging_stats_t g = stats_sub(zpt_stats(), g0);
	struct k_mem_paging_stats_t t = stats_sub(zpt_thread_stats(), t0);
	assert_int_equal(g.pagefaults.cnt, 1);
	assert_int_equal(g.pagefaults.in_isr, 1);
	assert_int_equal(g.pagefaults.irq_unlocked, 1);
	assert_int_equal(t.pagefaults.cnt, 1);
	assert_int_equal(t.pagefaults.in_isr, 1);

	/* Outside the handler: no in_isr. */
	assert_int_equal(rd(PG(p, 1) + 64), 1001);
	g = stats_sub(zpt_stats(), g0);
	assert_int_equal(g.pagefaults.cnt, 2);
	assert_int_equal(g.pagefaults.in_isr, 1);

	/* pthread_kill() to ourselves: page 2. */
	isr_page = PG(p, 2);
	isr_ran = isr_saw_isr = 0;
	assert_int_equal(pthread_kill(pthread_self(), SIGUSR1), 0);
	assert_int_equal(isr_ran, 1);
	assert_true(isr_saw_isr);
	assert_int_equal(isr_value, 1002);
	/* The handler touching a resident page: no fault at all. */
	isr_ran = 0;
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(isr_ran, 1);
	g = stats_sub(zpt_stats(), g0);
	t = stats_sub(zpt_thread_stats(), t0);
	assert_int_equal(g.pagefaults.cnt, 3);
	assert_int_equal(g.pagefaults.in_isr, 2);
	assert_int_equal(t.pagefaults.in_isr, 2);
	assert_false(k_is_in_isr());

	assert_int_equal(zpage_sigaction(SIGUSR1, &old, NULL), 0);
	struct k_mem_paging_stats_t ga = zpt_stats();
	assert_sum_invariant(&ga);
	k_mem_unmap(p, 4 * ZPT_PAGE);
}

/* The "interrupt" comes from another thread; the target first has
 * "interrupts" locked, so the handler runs only when it unlocks. */
struct isr_target {
	atomic_int ready, sent;
	int ran_while_locked, ran_after_unlock;
	struct k_mem_paging_stats_t d;
};

static void *isr_target_thread(void *arg)
{
	struct isr_target *a = arg;
	struct k_mem_paging_stats_t t0 = zpt_thread_stats();
	unsigned int k = irq_lock();
	atomic_store(&a->ready, 1);
	while (!atomic_load(&a->sent))
		usleep(1000);
	usleep(10000);
	a->ran_while_locked = isr_ran;
	irq_unlock(k); /* the pending signal is delivered here */
	for (int i = 0; i < 1000 && !isr_ran; i++)
		usleep(1000);
	a->ran_after_unlock = isr_ran;
	a->d = stats_sub(zpt_thread_stats(), t0);
	return NULL;
}

static void in_isr_other_thread(void **state)
{
	(void)state;
	start(64, NULL, 0);
	skip_isr_faults_under_tsan_signal();
	uint8_t *p = k_mem_map(ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	wr(p + 64, 4242);
	assert_int_equal(k_mem_page_out(p, ZPT_PAGE), 0);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = isr_handler;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(zpage_sigaction(SIGUSR1, &sa, &old), 0);
	isr_page = p;
	isr_ran = isr_saw_isr = 0;
	isr_value = 0;

	struct isr_target a = { 0 };
	struct k_mem_paging_stats_t g0 = zpt_stats(), m0 = zpt_thread_stats();
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, isr_target_thread, &a), 0);
	while (!atomic_load(&a.ready))
		usleep(1000);
	assert_int_equal(pthread_kill(th, SIGUSR1), 0);
	atomic_store(&a.sent, 1);
	pthread_join(th, NULL);
	assert_int_equal(zpage_sigaction(SIGUSR1, &old, NULL), 0);

	assert_int_equal(a.ran_while_locked, 0);
	assert_int_equal(a.ran_after_unlock, 1);
	assert_true(isr_saw_isr);
	assert_int_equal(isr_value, 4242);
	/* One fault, in the target thread's ISR, after it unlocked. */
	assert_int_equal(a.d.pagefaults.cnt, 1);
	assert_int_equal(a.d.pagefaults.in_isr, 1);
	assert_int_equal(a.d.pagefaults.irq_unlocked, 1);
	struct k_mem_paging_stats_t g = stats_sub(zpt_stats(), g0);
	assert_int_equal(g.pagefaults.cnt, 1);
	assert_int_equal(g.pagefaults.in_isr, 1);
	assert_int_equal(stats_sub(zpt_thread_stats(), m0).pagefaults.cnt, 0);
	k_mem_unmap(p, ZPT_PAGE);
}

static void isr_enter_exit(void **state)
{
	(void)state;
	start(64, NULL, 0);
	uint8_t *p = paged_out_region(4, 5);
	struct k_mem_paging_stats_t t0 = zpt_thread_stats();
	assert_false(k_is_in_isr());
	zpage_isr_enter();
	assert_true(k_is_in_isr());
	assert_true(zpt_check(PG(p, 0), 5, 0)); /* in_isr */
	zpage_isr_enter();
	zpage_isr_exit();
	assert_true(k_is_in_isr()); /* nests */
	assert_true(zpt_check(PG(p, 1), 5, 1)); /* in_isr */
	zpage_isr_exit();
	assert_false(k_is_in_isr());
	assert_true(zpt_check(PG(p, 2), 5, 2)); /* not */
	/* ISR with "interrupts" locked: both. */
	zpage_isr_enter();
	unsigned int k = irq_lock();
	assert_true(zpt_check(PG(p, 3), 5, 3));
	irq_unlock(k);
	zpage_isr_exit();
	struct k_mem_paging_stats_t t = stats_sub(zpt_thread_stats(), t0);
	assert_int_equal(t.pagefaults.cnt, 4);
	assert_int_equal(t.pagefaults.in_isr, 3);
	assert_int_equal(t.pagefaults.irq_locked, 1);
	assert_int_equal(t.pagefaults.irq_unlocked, 3);
	k_mem_unmap(p, 4 * ZPT_PAGE);
}

/* ---- Per-thread statistics ---------------------------------------------- */

#define NT 4

struct worker {
	uint8_t *p;
	size_t first, n;
	int rounds;
	bool page_out; /* explicit page-out between rounds */
	struct k_mem_paging_stats_t start, end;
	unsigned long bad;
};

static void *worker_thread(void *arg)
{
	struct worker *w = arg;
	w->start = zpt_thread_stats();
	for (int r = 0; r < w->rounds; r++) {
		if (r > 0 && w->page_out &&
		    k_mem_page_out(PG(w->p, w->first), w->n * ZPT_PAGE) != 0)
			w->bad++;
		for (size_t i = w->first; i < w->first + w->n; i++) {
			if (r > 0 && rd(PG(w->p, i)) != i * 100 + (size_t)r - 1)
				w->bad++;
			wr(PG(w->p, i), i * 100 + (size_t)r);
		}
	}
	w->end = zpt_thread_stats();
	return NULL;
}

static void run_workers(struct worker *w, size_t nt)
{
	pthread_t th[NT];
	for (size_t t = 0; t < nt; t++)
		assert_int_equal(pthread_create(&th[t], NULL, worker_thread,
						&w[t]), 0);
	for (size_t t = 0; t < nt; t++)
		pthread_join(th[t], NULL);
}

/* Enough frames for everything: each thread's faults and its own
 * page-outs are known exactly. */
static void per_thread_exact(void **state)
{
	(void)state;
	const size_t per = 24;
	start(NT * per + 8, NULL, 0);
	uint8_t *p = k_mem_map(NT * per * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	struct worker w[NT];
	for (size_t t = 0; t < NT; t++)
		w[t] = (struct worker){ .p = p, .first = t * per, .n = per,
					.rounds = 3, .page_out = true };
	struct k_mem_paging_stats_t g0 = zpt_stats(), m0 = zpt_thread_stats();
	run_workers(w, NT);
	struct k_mem_paging_stats_t g = stats_sub(zpt_stats(), g0);
	unsigned long sum_cnt = 0, sum_ev = 0;
	for (size_t t = 0; t < NT; t++) {
		struct k_mem_paging_stats_t d = stats_sub(w[t].end, w[t].start);
		/* A new thread starts with zero statistics. */
		assert_int_equal(w[t].start.pagefaults.cnt, 0);
		assert_int_equal(w[t].start.eviction.dirty, 0);
		assert_int_equal(w[t].bad, 0);
		/* Round 0: zero fills; rounds 1, 2: after its own page-out. */
		assert_int_equal(d.pagefaults.cnt, 3 * per);
		assert_int_equal(d.pagefaults.irq_unlocked, 3 * per);
		assert_int_equal(d.eviction.dirty, 2 * per);
		assert_int_equal(d.eviction.clean, 0);
		sum_cnt += d.pagefaults.cnt;
		sum_ev += d.eviction.clean + d.eviction.dirty;
	}
	assert_int_equal(g.pagefaults.cnt, sum_cnt);
	assert_int_equal(g.eviction.clean + g.eviction.dirty, sum_ev);
	/* The main thread did nothing. */
	struct k_mem_paging_stats_t m = stats_sub(zpt_thread_stats(), m0);
	assert_int_equal(m.pagefaults.cnt, 0);
	assert_int_equal(m.eviction.dirty + m.eviction.clean, 0);
	/* NULL thread: all zero. */
	struct k_mem_paging_stats_t z;
	memset(&z, 0xff, sizeof(z));
	k_mem_paging_thread_stats_get(NULL, &z);
	assert_int_equal(z.pagefaults.cnt, 0);
	assert_int_equal(z.eviction.dirty, 0);
	k_mem_unmap(p, NT * per * ZPT_PAGE);
}

/* A small pool: evictions happen on the faulting threads' behalf, one per
 * fault with Zephyr's algorithm (nru; clock evicts in batches). */
static void per_thread_evictions_add_up(void **state)
{
	(void)state;
	const size_t frames = 32, per = 64;
	struct zpage_config c = { .frames = frames, .eviction = "nru",
				  .evictor = -1 };
	zpt_start(&c);
	uint8_t *p = k_mem_map(NT * per * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	struct worker w[NT];
	for (size_t t = 0; t < NT; t++)
		w[t] = (struct worker){ .p = p, .first = t * per, .n = per,
					.rounds = 3 };
	struct k_mem_paging_stats_t g0 = zpt_stats();
	struct zpage_counters c0 = zpt_counters();
	run_workers(w, NT);
	struct k_mem_paging_stats_t g = stats_sub(zpt_stats(), g0);
	struct zpage_counters c1 = zpt_counters();
	unsigned long sum_cnt = 0, sum_ev = 0, sum_locked = 0;
	for (size_t t = 0; t < NT; t++) {
		struct k_mem_paging_stats_t d = stats_sub(w[t].end, w[t].start);
		unsigned long ev = d.eviction.clean + d.eviction.dirty;
		assert_int_equal(w[t].bad, 0);
		/* Each page faults at least once per round... */
		assert_true(d.pagefaults.cnt >= per);
		/* ... and each fault evicts at most one page. */
		assert_true(ev <= d.pagefaults.cnt);
		assert_int_equal(d.pagefaults.irq_locked + d.pagefaults.irq_unlocked,
				 d.pagefaults.cnt);
		sum_cnt += d.pagefaults.cnt;
		sum_ev += ev;
		sum_locked += d.pagefaults.irq_locked;
	}
	unsigned long gev = g.eviction.clean + g.eviction.dirty;
	assert_int_equal(g.pagefaults.cnt, sum_cnt);
	assert_int_equal(g.pagefaults.irq_locked, sum_locked);
	assert_int_equal(gev, sum_ev);
	/* No page-outs, no unmaps: after the first `frames` faults took the
	 * free frames, every fault evicted exactly one page. */
	assert_int_equal(gev, g.pagefaults.cnt - frames);
	assert_int_equal(c1.evictions - c0.evictions, gev);
	assert_int_equal(c1.zero_fills - c0.zero_fills, NT * per);
	assert_int_equal(c1.store_loads - c0.store_loads,
			 g.pagefaults.cnt - NT * per);
	k_mem_unmap(p, NT * per * ZPT_PAGE);
}

/* ---- Histograms --------------------------------------------------------- */

typedef void (*hist_get_fn)(struct k_mem_paging_histogram_t *);

static const hist_get_fn hist_get[3] = {
	k_mem_paging_histogram_eviction_get,
	k_mem_paging_histogram_backing_store_page_in_get,
	k_mem_paging_histogram_backing_store_page_out_get,
};

static unsigned long hist_total(int which)
{
	return zpt_hist_total(hist_get[which]);
}

static void histogram_bounds_shape(void **state)
{
	(void)state;
	start(16, NULL, 0);
	for (int w = 0; w < 3; w++) {
		struct k_mem_paging_histogram_t h;
		memset(&h, 0xa5, sizeof(h));
		hist_get[w](&h);
		for (int i = 1; i < NBINS; i++)
			assert_true(h.bounds[i] > h.bounds[i - 1]);
		assert_true(h.bounds[0] > 0);
		assert_int_equal(h.bounds[NBINS - 1], ULONG_MAX);
		/* Documented default: 250 ns .. 64 us in powers of two. */
		assert_int_equal(h.bounds[0], 250);
		assert_int_equal(h.bounds[NBINS - 2], 64000);
		for (int i = 0; i < NBINS; i++)
			assert_int_equal(h.counts[i], 0); /* fresh start */
	}
}

static void histogram_counts_match_events(void **state)
{
	(void)state;
	/* One faulting thread and no accessed-bit clearing: every eviction
	 * selection evicts its choice. */
	const size_t frames = 32, n = 128;
	start(frames, NULL, LONG_PERIOD_MS);
	uint8_t *p = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	fill_range(p, 0, n, 7);
	check_range(p, 0, n, 7);
	struct k_mem_paging_stats_t s = zpt_stats();
	struct zpage_counters c = zpt_counters();
	unsigned long ev = s.eviction.clean + s.eviction.dirty;
	assert_true(ev >= 2 * n - 2 * frames);
	assert_int_equal(hist_total(0), ev);
	/* Every frame a fault took beyond the pool was evicted for it; a
	 * batch may have freed a few more, still free. */
	assert_int_equal(ev - k_mem_free_get() / ZPT_PAGE,
			 s.pagefaults.cnt - frames);
	assert_int_equal(hist_total(1), c.page_ins);
	assert_int_equal(hist_total(2), c.page_outs);
	assert_int_equal(c.page_outs, s.eviction.dirty);
	assert_int_equal(c.page_ins, c.store_loads);
	assert_true(c.page_ins > 0);

	/* Explicit page-outs and page-ins: the store histograms follow, the
	 * eviction histogram (selections) does not move. */
	unsigned long sel = hist_total(0);
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	k_mem_page_in(p, 16 * ZPT_PAGE);
	c = zpt_counters();
	assert_int_equal(hist_total(0), sel);
	assert_int_equal(hist_total(1), c.page_ins);
	assert_int_equal(hist_total(2), c.page_outs);
	check_range(p, 0, n, 7);
	c = zpt_counters();
	assert_int_equal(hist_total(1), c.page_ins);
	assert_int_equal(hist_total(2), c.page_outs);
	/* Page-ins / page-outs of the clean-copy store. */
	k_mem_unmap(p, n * ZPT_PAGE);
	zpage_shutdown();
	start(frames, "ram:backed", LONG_PERIOD_MS);
	p = k_mem_map(n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	fill_range(p, 0, n, 8);
	check_range(p, 0, n, 8);
	check_range(p, 0, n, 8);
	s = zpt_stats();
	c = zpt_counters();
	assert_int_equal(hist_total(0), s.eviction.clean + s.eviction.dirty);
	assert_int_equal(hist_total(1), c.page_ins);
	assert_int_equal(hist_total(2), c.page_outs);
	assert_int_equal(c.page_outs, s.eviction.dirty);
	k_mem_unmap(p, n * ZPT_PAGE);
}

static void histogram_bounds_set_validates(void **state)
{
	(void)state;
	start(16, NULL, LONG_PERIOD_MS);
	uint8_t *p = k_mem_map(64 * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	fill_range(p, 0, 64, 1);
	check_range(p, 0, 64, 1);
	for (int w = 0; w < 3; w++)
		assert_true(hist_total(w) > 0);

	struct k_mem_paging_histogram_t before[3];
	for (int w = 0; w < 3; w++)
		hist_get[w](&before[w]);

	unsigned long good[NBINS - 1], bad[NBINS - 1];
	for (int i = 0; i < NBINS - 1; i++)
		good[i] = 100ul * (unsigned long)(i + 1);
	/* Equal neighbours, a decrease, at the start and at the end. */
	memcpy(bad, good, sizeof(bad));
	bad[4] = bad[3];
	assert_int_equal(zpage_histogram_bounds_set(0, bad), -EINVAL);
	memcpy(bad, good, sizeof(bad));
	bad[1] = 50;
	assert_int_equal(zpage_histogram_bounds_set(1, bad), -EINVAL);
	memcpy(bad, good, sizeof(bad));
	bad[NBINS - 2] = bad[NBINS - 3] - 1;
	assert_int_equal(zpage_histogram_bounds_set(2, bad), -EINVAL);
	assert_int_equal(zpage_histogram_bounds_set(3, good), -EINVAL);
	assert_int_equal(zpage_histogram_bounds_set(-1, good), -EINVAL);
	assert_int_equal(zpage_histogram_bounds_set(0, NULL), -EINVAL);
	/* Refused: nothing changed. */
	for (int w = 0; w < 3; w++) {
		struct k_mem_paging_histogram_t h;
		hist_get[w](&h);
		assert_memory_equal(&h, &before[w], sizeof(h));
	}

	for (int w = 0; w < 3; w++) {
		assert_int_equal(zpage_histogram_bounds_set(w, good), 0);
		struct k_mem_paging_histogram_t h;
		hist_get[w](&h);
		for (int i = 0; i < NBINS - 1; i++)
			assert_int_equal(h.bounds[i], good[i]);
		assert_int_equal(h.bounds[NBINS - 1], ULONG_MAX);
		for (int i = 0; i < NBINS; i++)
			assert_int_equal(h.counts[i], 0); /* reset */
	}
	/* Counting goes on with the new bounds. */
	struct zpage_counters c0 = zpt_counters();
	check_range(p, 0, 64, 1);
	struct zpage_counters c1 = zpt_counters();
	assert_int_equal(hist_total(1), c1.page_ins - c0.page_ins);
	assert_int_equal(hist_total(2), c1.page_outs - c0.page_outs);
	k_mem_unmap(p, 64 * ZPT_PAGE);
}

static void histogram_everything_in_bin0(void **state)
{
	(void)state;
	start(16, NULL, LONG_PERIOD_MS);
	unsigned long huge[NBINS - 1];
	for (int i = 0; i < NBINS - 1; i++)
		huge[i] = ULONG_MAX - (unsigned long)(NBINS - 1 - i);
	for (int w = 0; w < 3; w++)
		assert_int_equal(zpage_histogram_bounds_set(w, huge), 0);
	struct zpage_counters c0 = zpt_counters();
	struct k_mem_paging_stats_t s0 = zpt_stats();
	uint8_t *p = k_mem_map(64 * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	fill_range(p, 0, 64, 2);
	check_range(p, 0, 64, 2);
	struct zpage_counters c1 = zpt_counters();
	struct k_mem_paging_stats_t s1 = zpt_stats();
	unsigned long events[3] = {
		s1.eviction.clean + s1.eviction.dirty -
			s0.eviction.clean - s0.eviction.dirty,
		c1.page_ins - c0.page_ins,
		c1.page_outs - c0.page_outs,
	};
	for (int w = 0; w < 3; w++) {
		struct k_mem_paging_histogram_t h;
		hist_get[w](&h);
		assert_true(events[w] > 0);
		assert_int_equal(h.counts[0], events[w]);
		for (int i = 1; i < NBINS; i++)
			assert_int_equal(h.counts[i], 0);
	}
	k_mem_unmap(p, 64 * ZPT_PAGE);
}

/* ---- Counters ----------------------------------------------------------- */

static void counters_zero_fills_and_store_loads(void **state)
{
	(void)state;
	start(64, NULL, 0);
	const size_t n = 24;
	uint8_t *p = k_mem_map(2 * n * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	struct zpage_counters c0 = zpt_counters();
	/* First touches: reads and writes alike. */
	for (size_t i = 0; i < n; i += 2)
		assert_int_equal(rd(PG(p, i) + 8), 0);
	for (size_t i = 1; i < n; i += 2)
		wr(PG(p, i), i);
	struct zpage_counters c1 = zpt_counters();
	assert_int_equal(c1.zero_fills - c0.zero_fills, n);
	assert_int_equal(c1.store_loads - c0.store_loads, 0);
	/* Touching again: nothing. */
	for (size_t i = 0; i < n; i++)
		wr(PG(p, i) + 16, i);
	struct zpage_counters c2 = zpt_counters();
	assert_int_equal(c2.zero_fills, c1.zero_fills);
	assert_int_equal(c2.store_loads, c1.store_loads);
	/* Paged out, then touched: loads from the store. */
	assert_int_equal(k_mem_page_out(p, n * ZPT_PAGE), 0);
	struct k_mem_paging_stats_t s0 = zpt_stats();
	for (size_t i = 0; i < n; i++)
		assert_int_equal(rd(PG(p, i) + 16), i);
	struct zpage_counters c3 = zpt_counters();
	assert_int_equal(c3.store_loads - c2.store_loads, n);
	assert_int_equal(c3.page_ins - c2.page_ins, n);
	assert_int_equal(c3.zero_fills, c2.zero_fills);
	assert_int_equal(zpt_stats().pagefaults.cnt - s0.pagefaults.cnt, n);
	/* Fresh pages of the same region still zero-fill. */
	for (size_t i = n; i < 2 * n; i++)
		wr(PG(p, i), i);
	struct zpage_counters c4 = zpt_counters();
	assert_int_equal(c4.zero_fills - c3.zero_fills, n);
	assert_int_equal(c4.store_loads, c3.store_loads);
	assert_int_equal(c4.fatal_faults, 0);

	/* Thrashing: first touches are exactly the zero fills, all other
	 * demand faults load from the store. */
	k_mem_unmap(p, 2 * n * ZPT_PAGE);
	const size_t big = 8 * 64;
	uint8_t *q = k_mem_map(big * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(q);
	struct zpage_counters d0 = zpt_counters();
	struct k_mem_paging_stats_t t0 = zpt_stats();
	fill_range(q, 0, big, 9);
	check_range(q, 0, big, 9);
	check_range(q, 0, big, 9);
	struct zpage_counters d1 = zpt_counters();
	unsigned long faults = zpt_stats().pagefaults.cnt - t0.pagefaults.cnt;
	assert_int_equal(d1.zero_fills - d0.zero_fills, big);
	assert_int_equal(d1.store_loads - d0.store_loads, faults - big);
	assert_true(faults >= big + 2 * (big - 64));
	k_mem_unmap(q, big * ZPT_PAGE);
}

/* ------------------------------------------------------------------------- */

#define T(f) cmocka_unit_test_teardown(f, zpt_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(irq_locked_classification),
		T(irq_unlock_restores_mask),
		T(irq_invariant_threads),
		T(in_isr_counts_one),
		T(in_isr_other_thread),
		T(isr_enter_exit),
		T(per_thread_exact),
		T(per_thread_evictions_add_up),
		T(histogram_bounds_shape),
		T(histogram_counts_match_events),
		T(histogram_bounds_set_validates),
		T(histogram_everything_in_bin0),
		T(counters_zero_fills_and_store_loads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
