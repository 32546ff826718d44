/* Batched page writes with io_uring (uring.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uring.h"

#ifdef ZPAGE_HAVE_URING
#include <liburing.h>

#define NRINGS 8
#define RING_DEPTH 64

enum { R_NONE, R_MAKING, R_READY, R_OFF };

struct ring {
	_Atomic bool busy;
	struct io_uring ring;
};

static struct ring rings[NRINGS];
static _Atomic int state;

/* Make the rings once; false where io_uring cannot be used. */
static bool rings_ready(void)
{
	int s = atomic_load_explicit(&state, memory_order_acquire);

	while (s != R_READY && s != R_OFF) {
		int none = R_NONE;
		if (s == R_NONE &&
		    atomic_compare_exchange_strong(&state, &none, R_MAKING)) {
			/* ZPAGE_IO_URING=0: pwrite only (read once, here). */
			const char *use = getenv("ZPAGE_IO_URING");
			if (use != NULL && strcmp(use, "0") == 0) {
				atomic_store(&state, R_OFF);
				break;
			}
			int made = 0;
			while (made < NRINGS &&
			       io_uring_queue_init(RING_DEPTH, &rings[made].ring,
						   0) == 0)
				made++;
			if (made < NRINGS)
				while (made > 0)
					io_uring_queue_exit(&rings[--made].ring);
			atomic_store_explicit(&state, made == NRINGS ? R_READY
								      : R_OFF,
					      memory_order_release);
		} else {
			sched_yield();
		}
		s = atomic_load_explicit(&state, memory_order_acquire);
	}
	return s == R_READY;
}

static struct ring *ring_get(void)
{
	for (unsigned i = (unsigned)gettid();; i++) {
		struct ring *r = &rings[i % NRINGS];
		if (!atomic_load_explicit(&r->busy, memory_order_relaxed) &&
		    !atomic_exchange_explicit(&r->busy, true, memory_order_acquire))
			return r;
		if (i % NRINGS == NRINGS - 1)
			sched_yield();
	}
}

void zp_uring_write(int fd, const void *const *data, const uint64_t *off,
		    const size_t *len, size_t n, int *result)
{
	if (n > RING_DEPTH || !rings_ready())
		return;
	struct ring *rg = ring_get();
	size_t queued = 0;
	for (size_t i = 0; i < n; i++) {
		if (result[i] != 1)
			continue;
		struct io_uring_sqe *sqe = io_uring_get_sqe(&rg->ring);
		io_uring_prep_write(sqe, fd, data[i], (unsigned)len[i], off[i]);
		io_uring_sqe_set_data64(sqe, i);
		queued++;
	}
	if (queued > 0)
		(void)io_uring_submit(&rg->ring);
	for (size_t done = 0; done < queued; done++) {
		struct io_uring_cqe *cqe;
		int r;
		while ((r = io_uring_wait_cqe(&rg->ring, &cqe)) == -EINTR)
			;
		if (r != 0) {
			/* Completions may be left in it: no ring is used
			 * again (the ring stays busy). */
			atomic_store(&state, R_OFF);
			return;
		}
		size_t i = (size_t)io_uring_cqe_get_data64(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&rg->ring, cqe);
		/* Anything else stays to be written with pwrite, which then
		 * says what is wrong: an error here may be io_uring's own (an
		 * operation this kernel or file system refuses). */
		if (i < n && res == (int)len[i])
			result[i] = 0;
	}
	atomic_store_explicit(&rg->busy, false, memory_order_release);
}

void zp_uring_close(void)
{
	if (atomic_load(&state) == R_READY)
		for (int i = 0; i < NRINGS; i++)
			io_uring_queue_exit(&rings[i].ring);
	atomic_store(&state, R_NONE);
}

void zp_uring_forget(void)
{
	atomic_store(&state, R_NONE);
	for (int i = 0; i < NRINGS; i++)
		atomic_store(&rings[i].busy, false);
}
#else
void zp_uring_write(int fd, const void *const *data, const uint64_t *off,
		    const size_t *len, size_t n, int *result)
{
	(void)fd, (void)data, (void)off, (void)len, (void)n, (void)result;
}

void zp_uring_close(void)
{
}

void zp_uring_forget(void)
{
}
#endif
