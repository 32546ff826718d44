/* Synthetic traces (synth.c). */
#ifndef ZPAGE_SIM_SYNTH_H
#define ZPAGE_SIM_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

/* Kinds, with the footprint in pages and the number of references:
 *   uniform       every page equally likely
 *   zipf-A        Zipf with skew A (0.6, 0.99, 1.2 ...), hot pages spread
 *   loop          0, 1, ..., pages-1, again and again
 *   scan-zipf     a zipf-0.99 hot tenth, a scan of the rest every so often
 *   phases        four phases, each zipf-0.9 over its own quarter
 *   mix           zipf-0.99 touches and sequential runs of 64 pages, half
 *                 and half
 * A third of the references are writes (chosen at random). Deterministic
 * for a given seed. */
int synth_make(const char *kind, size_t pages, size_t refs, uint64_t seed,
	       struct sim_trace *t);
/* The kinds, for messages. */
extern const char synth_kinds[];

#endif /* ZPAGE_SIM_SYNTH_H */
