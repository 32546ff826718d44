/* Smoke test: a region four times larger than the frame pool keeps its data. */
#include "zpt.h"

static void more_than_ram(void **state)
{
	(void)state;
	size_t pages = 4 * 64;
	uint8_t *p = k_mem_map(pages * ZPT_PAGE, K_MEM_PERM_RW);
	assert_non_null(p);
	for (size_t i = 0; i < pages; i++)
		zpt_fill(p + i * ZPT_PAGE, 1, i);
	assert_true(zpt_resident(p, pages * ZPT_PAGE) <= 64);
	for (size_t i = 0; i < pages; i++)
		assert_true(zpt_check(p + i * ZPT_PAGE, 1, i));
	struct k_mem_paging_stats_t s;
	k_mem_paging_stats_get(&s);
	/* Every page faulted once when first written; at most 64 of them
	 * were still resident when read back. */
	assert_in_range(s.pagefaults.cnt, 2 * pages - 64, 2 * pages);
	k_mem_unmap(p, pages * ZPT_PAGE);
}

int main(void)
{
	struct zpage_config cfg = { .frames = 64 }; /* the default engine */
	zpt_start(&cfg);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(more_than_ram),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
