/*
 * trace_replay: touch memory under the library as a trace says, for the
 * live check of `zpage sim` (bench/eviction --live).
 *
 *   ZPAGE_EVICTION=sieve ZPAGE_FRAMES=1638 ZPAGE_EVICTOR=0 trace_replay TRACE
 *
 * Page i of the trace (renumbered densely, as the simulator does) is page i
 * of one k_mem_map() region; a write stores the page's number and a count,
 * a read checks that the page holds what was last written there (or zero),
 * so the run also proves that no write was lost. Prints the library's
 * statistics on one line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zpage.h>

#include "sim/trace.h"

int main(int argc, char **argv)
{
	struct sim_trace t;

	if (argc != 2) {
		fprintf(stderr, "usage: trace_replay TRACE\n");
		return 2;
	}
	if (trace_load(argv[1], TF_AUTO, &t) != 0)
		return 1;
	uint64_t *model = calloc(t.npages, sizeof(*model));
	uint8_t *mem = k_mem_map(t.npages * CONFIG_MMU_PAGE_SIZE, K_MEM_PERM_RW);
	if (mem == NULL || model == NULL) {
		fprintf(stderr, "trace_replay: cannot map %zu pages\n", t.npages);
		return 1;
	}
	size_t bad = 0;
	for (size_t i = 0; i < t.n; i++) {
		size_t p = t.ref[i] >> 1;
		volatile uint64_t *word = (volatile uint64_t *)
			(mem + p * CONFIG_MMU_PAGE_SIZE);
		if (t.ref[i] & 1) {
			model[p] = ((uint64_t)p << 32) | (uint32_t)i;
			*word = model[p];
		} else if (*word != model[p]) {
			bad++;
		}
	}
	struct k_mem_paging_stats_t s;
	struct zpage_counters c;
	k_mem_paging_stats_get(&s);
	zpage_counters_get(&c);
	printf("faults=%lu evictions=%lu dirty=%lu access_faults=%lu "
	       "mismatches=%zu\n", s.pagefaults.cnt,
	       s.eviction.clean + s.eviction.dirty, s.eviction.dirty,
	       c.access_faults, bad);
	k_mem_unmap(mem, t.npages * CONFIG_MMU_PAGE_SIZE);
	trace_free(&t);
	free(model);
	return bad == 0 ? 0 : 1;
}
