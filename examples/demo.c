#include <stdio.h>
#include <string.h>
#include <zpage.h>
int main(void)
{
	size_t size = 16u << 20;
	unsigned char *p = k_mem_map(size, K_MEM_PERM_RW);
	if (!p) { fprintf(stderr, "map failed\n"); return 1; }
	for (size_t i = 0; i < size; i += 4096) p[i] = (unsigned char)(i >> 12);
	unsigned long bad = 0;
	for (size_t i = 0; i < size; i += 4096) bad += p[i] != (unsigned char)(i >> 12);
	struct k_mem_paging_stats_t s; k_mem_paging_stats_get(&s);
	printf("bad %lu faults %lu clean %lu dirty %lu\n", bad, s.pagefaults.cnt, s.eviction.clean, s.eviction.dirty);
	return bad != 0;
}
