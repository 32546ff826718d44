/*
 * Per-thread records (struct k_thread): statistics, irq_lock() nesting and
 * ISR nesting. A fault-handler thread finds the record of the thread it
 * serves by thread id, so records live in a table that can be read without a
 * lock: records come from a static pool (never freed; a record whose thread
 * exited is reused by a new thread) and are published with atomic stores.
 * Creating a record takes reg_lock with every signal blocked, so a signal
 * handler that creates one cannot deadlock on its own thread.
 */
#include <signal.h>

#include "internal.h"

#define POOL 4096
#define SLOTS 8192 /* power of two, > POOL */

static struct k_thread pool[POOL];
static _Atomic size_t pool_used;
static _Atomic(struct k_thread *) slots[SLOTS];
static zp_lock_t reg_lock;
/* For threads beyond the pool, and faults whose thread is unknown. */
static struct k_thread shared_record;

/* The calling thread's record. A forked child's only thread forgets it in
 * zp_threads_reset(), so it needs no check against the thread id. */
static _Thread_local struct k_thread *self;


static size_t slot_of(long tid)
{
	return ((size_t)tid * 0x9E3779B97F4A7C15ull >> 19) & (SLOTS - 1);
}

static struct k_thread *find(long tid)
{
	for (size_t i = slot_of(tid), n = 0; n < SLOTS; i = (i + 1) & (SLOTS - 1), n++) {
		struct k_thread *r = atomic_load_explicit(&slots[i],
							  memory_order_acquire);
		if (r == NULL)
			return NULL;
		if (atomic_load_explicit(&r->tid, memory_order_relaxed) == tid)
			return r;
	}
	return NULL;
}

static struct k_thread *insert(long tid)
{
	struct k_thread *r = find(tid);
	if (r != NULL)
		return r;

	zp_port_signals_block();
	zp_lock(&reg_lock);
	static bool atfork_set;
	if (!atfork_set) {
		/* Also before the library starts: a forked child's thread
		 * must not keep its parent's record. */
		zp_port_atfork(zp_threads_reset);
		atfork_set = true;
	}
	r = find(tid);
	for (size_t i = slot_of(tid), n = 0; r == NULL && n < SLOTS;
	     i = (i + 1) & (SLOTS - 1), n++) {
		struct k_thread *s = atomic_load(&slots[i]);
		if (s != NULL && atomic_load(&s->tid) != 0)
			continue;
		if (s == NULL) {
			size_t k = atomic_load(&pool_used);
			if (k == POOL)
				break;
			atomic_store(&pool_used, k + 1);
			s = &pool[k];
		}
		/* A free record (its thread exited) or a new one. */
		zp_stats_thread_reset(&s->stats);
		atomic_store(&s->irq_depth, 0);
		atomic_store(&s->isr_depth, 0);
		atomic_store(&s->tid, tid);
		atomic_store_explicit(&slots[i], s, memory_order_release);
		r = s;
	}
	zp_unlock(&reg_lock);
	zp_port_signals_restore();
	return r != NULL ? r : &shared_record;
}

struct k_thread *zp_thread_by_tid(long tid)
{
	if (tid == 0)
		return &shared_record;
	struct k_thread *r = find(tid);
	return r != NULL ? r : insert(tid);
}

k_tid_t k_current_get(void)
{
	if (zp_likely(self != NULL))
		return self;
	self = zp_thread_by_tid(zp_port_tid());
	if (self != &shared_record)
		zp_port_thread_exit_notify(self);
	return self;
}

bool zp_thread_is_self(const struct k_thread *t)
{
	return t != NULL && t == self && t != &shared_record;
}

void zp_thread_exited(void *record)
{
	struct k_thread *r = record;

	atomic_store(&r->tid, 0);
}

void zp_threads_reset(void)
{
	/* After fork: the lock may have been held by a thread that is gone. */
	atomic_store(&reg_lock.word, 0);
	self = NULL;
}

/* The page a store reads from or writes to during one call. */
static _Thread_local uint8_t scratch[ZP_PAGE_SIZE]
	__attribute__((aligned(ZP_PAGE_SIZE)));
static _Thread_local void *scratch_override;

void *zp_scratch(void)
{
	return scratch;
}

void zp_scratch_use(const void *page)
{
	scratch_override = (void *)page;
}

void *z_scratch_page(void)
{
	return scratch_override != NULL ? scratch_override : scratch;
}

unsigned int zpage_irq_lock(void)
{
	struct k_thread *t = k_current_get();
	int depth = atomic_load_explicit(&t->irq_depth, memory_order_relaxed);

	if (depth == 0)
		zp_port_signals_block();
	atomic_store_explicit(&t->irq_depth, depth + 1, memory_order_relaxed);
	return (unsigned)depth;
}

void zpage_irq_unlock(unsigned int key)
{
	struct k_thread *t = k_current_get();

	atomic_store_explicit(&t->irq_depth, (int)key, memory_order_relaxed);
	if (key == 0)
		zp_port_signals_restore();
}

void zp_isr_enter(void)
{
	atomic_fetch_add_explicit(&k_current_get()->isr_depth, 1,
				  memory_order_relaxed);
}

void zp_isr_exit(void)
{
	atomic_fetch_sub_explicit(&k_current_get()->isr_depth, 1,
				  memory_order_relaxed);
}

void zpage_isr_enter(void)
{
	zp_isr_enter();
}

void zpage_isr_exit(void)
{
	zp_isr_exit();
}

bool k_is_in_isr(void)
{
	return atomic_load_explicit(&k_current_get()->isr_depth,
				    memory_order_relaxed) > 0;
}

int zpage_sigaction(int signum, const struct sigaction *act,
		    struct sigaction *oldact)
{
	return zp_port_sigaction(signum, act, oldact);
}
