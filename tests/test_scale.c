/*
 * Scale: a 64 GiB mapping over 1 GiB of page frames, with no sysctl
 * changed. Pages spread over the whole mapping are written and read back,
 * a third more than there are frames, so some of them live in the store.
 * Labelled "heavy": it runs in the normal build only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zpt.h"

#define GIB ((size_t)1 << 30)
#define MAP_SIZE (64 * GIB)
#define FRAMES (GIB / ZPT_PAGE)
#define STRIDE 48 /* pages: 1.33 GiB touched over the 64 GiB */

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kib;
}

static void stamp(uint8_t *page, size_t p)
{
	uint64_t *w = (uint64_t *)page;
	w[0] = p;
	w[ZPT_PAGE / 8 - 1] = ~(uint64_t)p;
}

static void map_64g_over_1g(void **state)
{
	(void)state;
	uint8_t *p = k_mem_map(MAP_SIZE, K_MEM_PERM_RW);
	assert_non_null(p);

	size_t touched = MAP_SIZE / ZPT_PAGE / STRIDE;
	for (size_t i = 0; i < touched; i++)
		stamp(p + i * STRIDE * ZPT_PAGE, i);

	size_t resident = zpt_resident(p, MAP_SIZE);
	printf("# %zu pages written, %zu resident, %zu frames, RSS %ld MiB\n",
	       touched, resident, FRAMES, rss_kib() / 1024);
	assert_true(resident <= FRAMES);

	size_t bad = 0;
	for (size_t i = 0; i < touched; i++) {
		const uint64_t *w = (const uint64_t *)(p + i * STRIDE * ZPT_PAGE);
		bad += w[0] != i || w[ZPT_PAGE / 8 - 1] != ~(uint64_t)i;
	}
	assert_int_equal(bad, 0);
	assert_true(zpt_resident(p, MAP_SIZE) <= FRAMES);

	struct k_mem_paging_stats_t s;
	k_mem_paging_stats_get(&s);
	/* Every page faulted when written; at least the evicted ones again
	 * when read. */
	assert_true(s.pagefaults.cnt >= touched + (touched - FRAMES));
	assert_true(s.eviction.dirty >= touched - FRAMES);

	k_mem_unmap(p, MAP_SIZE);
	assert_int_equal(k_mem_free_get(), FRAMES * ZPT_PAGE);
}

int main(void)
{
	struct zpage_config c = { .frames = FRAMES, .vm_size = 72 * GIB };
	zpt_start(&c);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(map_64g_over_1g),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
