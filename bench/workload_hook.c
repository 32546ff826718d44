/*
 * The reference workload's allocation hook for zpage: the region comes from
 * k_mem_map() (configured by ZPAGE_* variables), and at exit one line of the
 * pager's counters is printed on stderr for bench/reference to read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <zpage.h>

void *workload_alloc(size_t bytes);

void *workload_alloc(size_t bytes)
{
	size_t size = (bytes + CONFIG_MMU_PAGE_SIZE - 1) &
		      ~(size_t)(CONFIG_MMU_PAGE_SIZE - 1);

	return k_mem_map(size, K_MEM_PERM_RW);
}

static void __attribute__((destructor)) report(void)
{
	struct k_mem_paging_stats_t s;
	struct zpage_counters c;

	k_mem_paging_stats_get(&s);
	zpage_counters_get(&c);
	fprintf(stderr, "zpage-stats faults=%lu evictions=%lu dirty=%lu "
		"access_faults=%lu write_faults=%lu\n", s.pagefaults.cnt,
		s.eviction.clean + s.eviction.dirty, s.eviction.dirty,
		c.access_faults, c.write_faults);
}
