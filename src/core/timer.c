/*
 * Zephyr-style timers (k_timer) and k_uptime_get(). Each running timer has a
 * thread of its own that sleeps between expiries and runs the expiry
 * function as an "ISR" (k_is_in_isr() is true there). Built-in plug-ins use
 * them for periodic work such as clearing accessed bits.
 */
#include <stdlib.h>

#include "internal.h"

struct timer_impl {
	struct k_timer *timer;
	void *thread;
	_Atomic long tid;
	_Atomic uint32_t stop;
	int64_t first_ns, period_ns;
	struct timer_impl *next;
};

static zp_lock_t timers_lock;
static struct timer_impl *timers;
static _Atomic uint64_t boot_ns;

int64_t k_uptime_get(void)
{
	uint64_t now = zp_port_now_ns(), zero = 0;

	atomic_compare_exchange_strong(&boot_ns, &zero, now);
	return (int64_t)((now - atomic_load(&boot_ns)) / 1000000);
}

static void sleep_or_stop(struct timer_impl *ti, int64_t ns)
{
	uint64_t end = zp_port_now_ns() + (uint64_t)ns;

	while (!atomic_load(&ti->stop)) {
		uint64_t now = zp_port_now_ns();
		if (now >= end)
			return;
		zp_port_sleep_on((uint32_t *)&ti->stop, 0, (int64_t)(end - now));
	}
}

static void *timer_thread(void *arg)
{
	struct timer_impl *ti = arg;

	ti->tid = zp_port_tid();
	zp_isr_enter();
	sleep_or_stop(ti, ti->first_ns);
	while (!atomic_load(&ti->stop)) {
		if (ti->timer->expiry_fn != NULL)
			ti->timer->expiry_fn(ti->timer);
		zp_accessed_flush();
		if (ti->period_ns <= 0)
			break;
		sleep_or_stop(ti, ti->period_ns);
	}
	zp_isr_exit();
	return NULL;
}

void k_timer_init(struct k_timer *timer, k_timer_expiry_t expiry_fn,
		  k_timer_stop_t stop_fn)
{
	timer->expiry_fn = expiry_fn;
	timer->stop_fn = stop_fn;
	timer->user_data = NULL;
	timer->impl = NULL;
}

/* Stop and reap a timer's thread; returns whether it was running. */
static bool timer_halt(struct k_timer *timer)
{
	zp_lock(&timers_lock);
	struct timer_impl **pp = &timers, *ti = NULL;
	for (; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->timer == timer) {
			ti = *pp;
			*pp = ti->next;
			break;
		}
	}
	zp_unlock(&timers_lock);
	if (ti == NULL)
		return false;
	timer->impl = NULL;
	atomic_store(&ti->stop, 1);
	zp_port_wake_all((uint32_t *)&ti->stop);
	zp_port_thread_join(ti->thread);
	free(ti);
	return true;
}

void k_timer_start(struct k_timer *timer, k_timeout_t duration,
		   k_timeout_t period)
{
	timer_halt(timer);
	if (duration.ns < 0)
		return; /* K_FOREVER: never expires */
	struct timer_impl *ti = calloc(1, sizeof(*ti));
	if (ti == NULL) {
		zp_error("k_timer_start: out of memory");
		return;
	}
	ti->timer = timer;
	ti->first_ns = duration.ns;
	ti->period_ns = period.ns;
	zp_lock(&timers_lock);
	if (zp_port_thread_start(&ti->thread, timer_thread, ti) != 0) {
		zp_unlock(&timers_lock);
		zp_error("k_timer_start: cannot start a timer thread");
		free(ti);
		return;
	}
	ti->next = timers;
	timers = ti;
	timer->impl = ti;
	zp_unlock(&timers_lock);
}

void k_timer_stop(struct k_timer *timer)
{
	struct timer_impl *ti = timer->impl;

	/* From its own expiry function a timer cannot join itself: stop it
	 * and let the halt happen on the next k_timer_start()/shutdown. */
	if (ti != NULL && ti->tid == zp_port_tid()) {
		atomic_store(&ti->stop, 1);
		return;
	}
	if (timer_halt(timer) && timer->stop_fn != NULL)
		timer->stop_fn(timer);
}

void zp_timers_stop_all(void)
{
	for (;;) {
		zp_lock(&timers_lock);
		struct timer_impl *ti = timers;
		zp_unlock(&timers_lock);
		if (ti == NULL)
			return;
		timer_halt(ti->timer);
	}
}

void zp_timers_forget(void)
{
	/* Their threads do not exist here: nothing to stop or join, and the
	 * records stay allocated (a child must not free the parent's copy of
	 * what another thread may have been changing). */
	atomic_store(&timers_lock.word, 0);
	timers = NULL;
}
