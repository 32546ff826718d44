/*
 * Fault trace (ZPAGE_TRACE=file): every fault the library takes, as a
 * record of the zpage trace format (<zpage_trace.h>): page number within
 * the region, write bit, thread, microseconds since the start. These are
 * the references a pager sees (page faults, and the touches it observes
 * after clearing accessed bits), not every access: replayed by `zpage sim`
 * they show what each algorithm would make of this run's faults.
 *
 * Cost: off, one relaxed load per fault. On, a record in a per-thread
 * buffer, written out with one append when full (a write that lands whole,
 * so threads need no lock) and at shutdown. Buffers come from a fixed pool
 * claimed once per thread; a thread that finds it empty writes each record
 * directly.
 */
#include <zpage_trace.h>

#include "internal.h"

#define RECORDS 512
#define BUFFERS 64

struct buffer {
	struct zpt_record rec[RECORDS];
	size_t n;
};

_Atomic bool zp_tracing;
static int handle = -1;
static uint64_t start_ns;
static struct buffer pool[BUFFERS];
static _Atomic size_t pool_used;
static _Atomic unsigned generation; /* one per start: buffers claimed anew */
static _Thread_local struct buffer *mine;
static _Thread_local bool no_buffer;
static _Thread_local unsigned mine_generation;

int zp_trace_start(const char *path)
{
	struct zpt_header header = { .record_size = sizeof(struct zpt_record),
				     .page_shift = ZP_PAGE_SHIFT };

	memcpy(header.magic, ZPT_MAGIC, sizeof(header.magic));
	int h = zp_port_file_create(path);
	if (h < 0) {
		zp_error("cannot create the trace file %s (ZPAGE_TRACE): error %d",
			 path, h);
		return h;
	}
	int r = zp_port_file_append(h, &header, sizeof(header));
	if (r != 0) {
		zp_port_file_close(h);
		zp_error("cannot write the trace file %s: error %d", path, r);
		return r;
	}
	handle = h;
	start_ns = zp_port_now_ns();
	atomic_store(&pool_used, 0);
	atomic_fetch_add(&generation, 1);
	atomic_store(&zp_tracing, true);
	return 0;
}

static void flush(struct buffer *b)
{
	if (b->n > 0)
		(void)zp_port_file_append(handle, b->rec, b->n * sizeof(b->rec[0]));
	b->n = 0;
}

void zp_trace_record(size_t idx, bool write, long tid)
{
	struct zpt_record r = {
		.page = (uint64_t)idx | (write ? ZPT_WRITE : 0),
		.thread = (uint32_t)(tid == ZP_TID_SELF ? zp_port_tid() : tid),
		.usec = (uint32_t)((zp_port_now_ns() - start_ns) / 1000),
	};

	unsigned g = atomic_load_explicit(&generation, memory_order_relaxed);
	if (mine_generation != g) {
		mine_generation = g;
		mine = NULL;
		no_buffer = false;
	}
	if (mine == NULL && !no_buffer) {
		size_t i = atomic_fetch_add(&pool_used, 1);
		if (i < BUFFERS)
			mine = &pool[i];
		else
			no_buffer = true;
	}
	if (mine == NULL) {
		(void)zp_port_file_append(handle, &r, sizeof(r));
		return;
	}
	mine->rec[mine->n++] = r;
	if (mine->n == RECORDS)
		flush(mine);
}

/* After the fault path has stopped: what the buffers still hold. */
void zp_trace_stop(void)
{
	if (!atomic_exchange(&zp_tracing, false))
		return;
	size_t used = atomic_load(&pool_used);
	for (size_t i = 0; i < used && i < BUFFERS; i++) {
		flush(&pool[i]);
		pool[i].n = 0;
	}
	zp_port_file_close(handle);
	handle = -1;
}

/* A program that exits without zpage_shutdown() still gets its trace. */
static void __attribute__((destructor)) trace_at_exit(void)
{
	zp_trace_stop();
}
