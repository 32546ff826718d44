/* The worker thread of the remote stores (remote.h). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "remote.h"

/* Slots whose values may be deleted, collected under the store lock and
 * deleted by the worker; when it is full the oldest wait for reuse (a
 * reused slot's value is overwritten). */
#define FORGET_MAX 4096
/* A broken connection is tried again after this long (the failing
 * requests are answered at once, and retried by the library). */
#define RECONNECT_NS (50ULL * 1000000ULL)

static const struct zp_remote_ops *ops;
static void *worker;
static _Atomic(struct zp_remote_req *) pending;
static uint32_t kick;         /* futex word the worker sleeps on */
static _Atomic bool stopping;
static bool connected;
static uint64_t next_try_ns;
static uint64_t forget[FORGET_MAX];
static _Atomic size_t nforget;
static zp_lock_t forget_lock;
static _Atomic size_t high_slot; /* slots used so far: deleted at close */

static void answer(struct zp_remote_req *r, int result)
{
	r->result = result;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	zp_port_wake_all(&r->done);
}

/* Take everything waiting, oldest first. */
static size_t take_all(struct zp_remote_req **out, size_t cap)
{
	struct zp_remote_req *list = atomic_exchange(&pending, NULL), *rev = NULL;
	size_t n = 0;

	while (list != NULL) {
		struct zp_remote_req *next = list->next;
		list->next = rev;
		rev = list;
		list = next;
	}
	for (; rev != NULL && n < cap; rev = rev->next)
		out[n++] = rev;
	/* More than cap: put the rest back, in front of newer ones. */
	while (rev != NULL) {
		struct zp_remote_req *next = rev->next;
		struct zp_remote_req *head = atomic_load(&pending);
		do {
			rev->next = head;
		} while (!atomic_compare_exchange_weak(&pending, &head, rev));
		rev = next;
	}
	return n;
}

static bool ensure_connected(void)
{
	if (connected)
		return true;
	uint64_t now = zp_port_now_ns();
	if (now < next_try_ns)
		return false;
	size_t len = 1;
	int r = zp_io_fault(ZP_IO_CONNECT, &len);
	if (r == 0)
		r = ops->connect();
	connected = r == 0;
	if (!connected) {
		next_try_ns = now + RECONNECT_NS;
		zp_debug("%s store: cannot connect (error %d); trying again "
			 "in %llu ms", ops->name, r, RECONNECT_NS / 1000000);
	}
	return connected;
}

static void forget_some(void)
{
	uint64_t slots[256];
	size_t n = 0;

	zp_lock(&forget_lock);
	while (n < 256 && atomic_load(&nforget) > 0)
		slots[n++] = forget[atomic_fetch_sub(&nforget, 1) - 1];
	zp_unlock(&forget_lock);
	if (n > 0)
		ops->forget(slots, n);
}

#define BATCH 64

/* The worker's buffers for one batch's values. */
static uint8_t values[BATCH][ZP_REMOTE_VALUE];

static void *worker_main(void *arg)
{
	struct zp_remote_req *batch[BATCH];

	(void)arg;
	while (!atomic_load(&stopping) || atomic_load(&pending) != NULL) {
		uint32_t seen = __atomic_load_n(&kick, __ATOMIC_ACQUIRE);
		size_t n = take_all(batch, BATCH);
		if (n == 0) {
			if (connected && atomic_load(&nforget) > 0) {
				forget_some();
				continue;
			}
			if (!atomic_load(&stopping))
				zp_port_sleep_on(&kick, seen, 100000000);
			continue;
		}
		if (!ensure_connected()) {
			for (size_t i = 0; i < n; i++)
				answer(batch[i], -ECONNREFUSED);
			continue;
		}
		/* Injected faults answer single requests before the wire. */
		size_t m = 0;
		for (size_t i = 0; i < n; i++) {
			size_t len = ZP_REMOTE_VALUE;
			int r = zp_io_fault(batch[i]->op == ZP_RQ_GET ? ZP_IO_READ
								      : ZP_IO_WRITE,
					    &len);
			if (r != 0)
				answer(batch[i], r);
			else
				batch[m++] = batch[i];
		}
		for (size_t i = 0; i < m; i++) {
			struct zp_remote_req *r = batch[i];
			r->result = 1; /* not answered yet */
			r->value = values[i];
			if (r->op == ZP_RQ_SET) {
				memcpy(r->value, r->page, ZP_PAGE_SIZE);
				memcpy(r->value + ZP_PAGE_SIZE, &r->sum, 4);
			}
		}
		if (m > 0 && !ops->run(batch, m)) {
			ops->disconnect();
			connected = false;
		}
		for (size_t i = 0; i < m; i++) {
			struct zp_remote_req *r = batch[i];
			if (r->result == 0 && r->op == ZP_RQ_GET) {
				memcpy(r->page, r->value, ZP_PAGE_SIZE);
				memcpy(&r->sum, r->value + ZP_PAGE_SIZE, 4);
			}
			answer(r, r->result == 1 ? -ECONNRESET : r->result);
		}
	}
	return NULL;
}

/* Hand n requests to the worker (one wake-up) and wait for them all. */
static void call(struct zp_remote_req *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		r[i].done = 0;
		struct zp_remote_req *head = atomic_load(&pending);
		do {
			r[i].next = head;
		} while (!atomic_compare_exchange_weak(&pending, &head, &r[i]));
	}
	__atomic_fetch_add(&kick, 1, __ATOMIC_RELEASE);
	zp_port_wake_all(&kick);
	for (size_t i = 0; i < n; i++)
		while (__atomic_load_n(&r[i].done, __ATOMIC_ACQUIRE) == 0)
			zp_port_wait(&r[i].done, 0);
}

int zp_remote_open(const struct zp_remote_ops *o)
{
	ops = o;
	connected = false;
	next_try_ns = 0;
	atomic_store(&stopping, false);
	atomic_store(&nforget, 0);
	atomic_store(&high_slot, 0);
	size_t len = 1;
	int r = zp_io_fault(ZP_IO_CONNECT, &len);
	if (r == 0)
		r = ops->connect();
	if (r != 0) {
		zp_error("%s store: cannot connect (error %d)", ops->name, r);
		return r;
	}
	connected = true;
	r = zp_port_thread_start(&worker, worker_main, NULL);
	if (r != 0) {
		ops->disconnect();
		connected = false;
	}
	return r;
}

void zp_remote_close(void)
{
	if (worker == NULL)
		return;
	atomic_store(&stopping, true);
	__atomic_fetch_add(&kick, 1, __ATOMIC_RELEASE);
	zp_port_wake_all(&kick);
	zp_port_thread_join(worker);
	worker = NULL;
	/* Every value this process stored goes, on a fresh connection (the
	 * last one may have broken unnoticed). */
	ops->disconnect();
	if (ops->connect() == 0) {
		uint64_t slots[256];
		size_t top = atomic_load(&high_slot);
		for (size_t s = 0; s < top;) {
			size_t n = 0;
			while (n < 256 && s < top)
				slots[n++] = s++;
			ops->forget(slots, n);
		}
		ops->disconnect();
	}
	connected = false;
}

int zp_remote_read_page(uintptr_t loc, void *scratch, const void **page)
{
	struct zp_remote_req r = { .op = ZP_RQ_GET, .slot = loc / ZP_PAGE_SIZE,
				   .page = scratch };

	call(&r, 1);
	if (r.result != 0) {
		zp_debug("%s store: reading slot %lu failed (error %d)",
			 ops->name, (unsigned long)r.slot, r.result);
		return r.result;
	}
	zp_io_received(scratch, ZP_PAGE_SIZE);
	if (zp_page_checksum(scratch) != r.sum) {
		zp_debug("%s store: slot %lu fails its checksum", ops->name,
			 (unsigned long)r.slot);
		return -EBADMSG;
	}
	*page = scratch;
	return 0;
}

/* A delete still waiting for a slot that is written again (freed, now
 * reused) must not remove the new value. */
static void keep_slot(uint64_t slot)
{
	zp_lock(&forget_lock);
	size_t n = atomic_load(&nforget);
	for (size_t i = 0; i < n; i++)
		if (forget[i] == slot) {
			forget[i] = forget[--n];
			atomic_store(&nforget, n);
			break;
		}
	zp_unlock(&forget_lock);
	size_t top = atomic_load(&high_slot);
	while (slot >= top &&
	       !atomic_compare_exchange_weak(&high_slot, &top, slot + 1))
		;
}

/* Writes go out together: the worker pipelines them. */
void zp_remote_write_pages(const uintptr_t *loc, const void *const *data,
			   size_t n, int *result)
{
	struct zp_remote_req r[BATCH];

	for (size_t done = 0; done < n;) {
		size_t m = n - done < BATCH ? n - done : BATCH;
		for (size_t i = 0; i < m; i++) {
			r[i] = (struct zp_remote_req){
				.op = ZP_RQ_SET,
				.slot = loc[done + i] / ZP_PAGE_SIZE,
				.page = (void *)(uintptr_t)data[done + i],
				.sum = zp_page_checksum(data[done + i]),
			};
			keep_slot(r[i].slot);
		}
		call(r, m);
		for (size_t i = 0; i < m; i++) {
			result[done + i] = r[i].result;
			if (r[i].result != 0)
				zp_debug("%s store: writing slot %lu failed "
					 "(error %d)", ops->name,
					 (unsigned long)r[i].slot, r[i].result);
		}
		done += m;
	}
}

int zp_remote_write_page(uintptr_t loc, const void *data)
{
	int result;

	zp_remote_write_pages(&loc, &data, 1, &result);
	return result;
}

void zp_remote_discard(uintptr_t loc)
{
	zp_lock(&forget_lock);
	size_t n = atomic_load(&nforget);
	if (n < FORGET_MAX) {
		forget[n] = loc / ZP_PAGE_SIZE;
		atomic_store(&nforget, n + 1);
	}
	zp_unlock(&forget_lock);
}

int zp_remote_parse(const char *store, const char *arg, char *host,
		    size_t host_len, int *port, int default_port, char *prefix,
		    size_t prefix_len)
{
	char hostname[64] = "localhost";

	gethostname(hostname, sizeof(hostname) - 1);
	snprintf(host, host_len, "127.0.0.1");
	*port = default_port;
	snprintf(prefix, prefix_len, "zpage:%s:%d:", hostname, (int)getpid());
	if (arg == NULL)
		return 0;
	if (strncmp(arg, "//", 2) == 0)
		arg += 2;
	const char *slash = strchr(arg, '/');
	size_t hp = slash != NULL ? (size_t)(slash - arg) : strlen(arg);
	const char *colon = memchr(arg, ':', hp);
	size_t hl = colon != NULL ? (size_t)(colon - arg) : hp;
	if (hl >= host_len)
		goto bad;
	if (hl > 0) {
		memcpy(host, arg, hl);
		host[hl] = '\0';
	}
	if (colon != NULL) {
		char *end;
		long p = strtol(colon + 1, &end, 10);
		if (end != arg + hp || p < 1 || p > 65535)
			goto bad;
		*port = (int)p;
	}
	if (slash != NULL && slash[1] != '\0') {
		if (strlen(slash + 1) >= prefix_len)
			goto bad;
		snprintf(prefix, prefix_len, "%s", slash + 1);
	}
	return 0;
bad:
	zp_error("%s store: '%s' is not [//]HOST[:PORT][/PREFIX]", store, arg);
	return -EINVAL;
}
