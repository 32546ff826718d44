/*
 * Signal masks under signal delivery. The kernel kills a process whose
 * thread takes a fault with SIGBUS blocked, so while zpage serves faults
 * from SIGBUS it keeps SIGBUS out of every mask the program sets: threads
 * that block all signals, and handlers whose mask is full, still page. With
 * handler threads nothing is changed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "zpt.h"

#define PAGES 32

static uint8_t *map_paged_out(uint64_t seed)
{
	uint8_t *p = k_mem_map(PAGES * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	for (size_t i = 0; i < PAGES; i++)
		zpt_fill(p + i * ZPT_PAGE, seed, i);
	assert_int_equal(k_mem_page_out(p, PAGES * ZPT_PAGE), 0);
	return p;
}

static bool signal_delivery(void)
{
	struct zpage_info info;

	assert_int_equal(zpage_info_get(&info), 0);
	return info.delivery == ZPAGE_DELIVERY_SIGNAL;
}

static int setup(void **state)
{
	(void)state;
	zpt_start_simple(16, NULL, NULL);
	return 0;
}

/* ---- Threads that block every signal ------------------------------------ */

struct blocker {
	uint8_t *p;
	bool use_sigprocmask;
	bool bus_blocked; /* SIGBUS in the mask afterwards */
	bool usr1_blocked;
	size_t good;      /* pages that held their data */
};

static void *blocker(void *arg)
{
	struct blocker *b = arg;
	sigset_t all, now;

	sigfillset(&all);
	if (b->use_sigprocmask)
		assert_int_equal(sigprocmask(SIG_SETMASK, &all, NULL), 0);
	else
		assert_int_equal(pthread_sigmask(SIG_BLOCK, &all, NULL), 0);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &now), 0);
	b->bus_blocked = sigismember(&now, SIGBUS) == 1;
	b->usr1_blocked = sigismember(&now, SIGUSR1) == 1;
	if (b->bus_blocked)
		return NULL; /* a fault now would kill the process */
	for (size_t i = 0; i < PAGES; i++)
		b->good += zpt_check(b->p + i * ZPT_PAGE, 5, i) != 0;
	return NULL;
}

static void run_blocker(bool use_sigprocmask)
{
	uint8_t *p = map_paged_out(5);
	struct blocker b = { .p = p, .use_sigprocmask = use_sigprocmask };
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, blocker, &b), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(b.usr1_blocked);
	assert_int_equal(b.bus_blocked, !signal_delivery());
	if (signal_delivery())
		assert_int_equal(b.good, PAGES);
	k_mem_unmap(p, PAGES * ZPT_PAGE);
}

static void thread_blocking_all_signals_pages(void **state)
{
	(void)state;
	run_blocker(false);
}

static void sigprocmask_keeps_sigbus_open(void **state)
{
	(void)state;
	run_blocker(true);
}

/* ---- A handler whose mask holds every signal ----------------------------- */

static uint8_t *handler_pages;
static volatile size_t handler_good;

static void on_usr1(int sig)
{
	(void)sig;
	for (size_t i = 0; i < PAGES; i++)
		handler_good += zpt_check(handler_pages + i * ZPT_PAGE, 6, i) != 0;
}

static void handler_with_full_mask_pages(void **state)
{
	(void)state;
	if (ZPT_TSAN)
		skip(); /* TSan runs handlers later, every signal blocked */
	struct sigaction sa, old, now;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigfillset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	assert_int_equal(sigaction(SIGUSR1, NULL, &now), 0);
	assert_int_equal(sigismember(&now.sa_mask, SIGBUS) == 1, !signal_delivery());
	assert_true(sigismember(&now.sa_mask, SIGTERM) == 1);
	if (!signal_delivery()) {
		assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
		return;
	}
	handler_pages = map_paged_out(6);
	handler_good = 0;
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(handler_good, PAGES);
	assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
	k_mem_unmap(handler_pages, PAGES * ZPT_PAGE);
}

/* The library's own threads (timers run k_timer expiry functions, which
 * may touch paged memory) keep SIGBUS open too. */
static volatile size_t timer_good;
static uint8_t *timer_pages;
static volatile int timer_done;

static void on_timer(struct k_timer *t)
{
	(void)t;
	for (size_t i = 0; i < PAGES; i++)
		timer_good += zpt_check(timer_pages + i * ZPT_PAGE, 7, i) != 0;
	__atomic_store_n(&timer_done, 1, __ATOMIC_RELEASE);
}

static void timer_function_pages(void **state)
{
	(void)state;
	struct k_timer t;

	timer_pages = map_paged_out(7);
	timer_good = 0;
	timer_done = 0;
	k_timer_init(&t, on_timer, NULL);
	k_timer_start(&t, K_MSEC(1), K_NO_WAIT);
	for (int i = 0; i < 5000 && !__atomic_load_n(&timer_done, __ATOMIC_ACQUIRE); i++)
		zpt_sleep_ms(1);
	k_timer_stop(&t);
	assert_int_equal(timer_done, 1);
	assert_int_equal(timer_good, PAGES);
	k_mem_unmap(timer_pages, PAGES * ZPT_PAGE);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, zpt_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(thread_blocking_all_signals_pages),
		T(sigprocmask_keeps_sigbus_open),
		T(handler_with_full_mask_pages),
		T(timer_function_pages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
