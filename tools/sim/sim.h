/*
 * The eviction simulator: replays a trace through the library's own
 * eviction plug-ins (the same object code, on a simulated page table) and
 * through Belady's OPT.
 */
#ifndef ZPAGE_SIM_H
#define ZPAGE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace.h"

enum sim_mode {
	/* What the library sees: a touch of a resident page shows only when
	 * its accessed bit was cleared (and costs an observation fault). */
	SIM_SAMPLED,
	/* Every touch sets the accessed bit and is reported to the tracking
	 * hooks, at no cost: the algorithm as if it saw everything. */
	SIM_FULL,
};

struct sim_result {
	uint64_t refs;
	uint64_t faults;     /* page-ins, cold ones included */
	uint64_t cold;       /* first touch of a page: no algorithm avoids it */
	uint64_t writebacks; /* evictions of dirty pages */
	uint64_t observed;   /* observation faults (touches after a clearing) */
	double seconds;      /* simulation time */
};

/* Virtual time for timer-driven algorithms (nru): per reference, per page
 * fault and per observation fault, in nanoseconds. */
struct sim_timing {
	uint64_t ref_ns, fault_ns, observe_ns;
};
extern struct sim_timing sim_timing;

/* Names of the library's algorithms, NULL-terminated ("clock", ...). */
const char *const *sim_algorithms(void);

/* Replay t through algorithm name with frames frames; 0, or -1 with a
 * message (unknown name, no memory). progress: called now and then with the
 * share done (may be NULL). */
int sim_run(const struct sim_trace *t, const char *name, size_t frames,
	    enum sim_mode mode, void (*progress)(double done),
	    struct sim_result *r);

/* Belady's OPT: on a miss with every frame used, evict the page whose next
 * use is furthest away; pages never used again first, the highest page
 * number among them (and among equal next uses, which cannot happen). */
int sim_opt(const struct sim_trace *t, size_t frames, struct sim_result *r);

#endif /* ZPAGE_SIM_H */
