/* Arming pages a batch at a time: see arm.h. */
#include <stdlib.h>

#include "../core/internal.h"
#include "arm.h"

static uintptr_t pending[ARM_BATCH];
static size_t npending, batch = ARM_BATCH;

void zp_arm_reset(void)
{
	npending = 0;
	/* The window must stay short of the frames' turnover, or a page is
	 * evicted before its bit is cleared: a thirty-second of them. */
	batch = Z_NUM_PAGE_FRAMES / 32;
	batch = batch < 1 ? 1 : batch > ARM_BATCH ? ARM_BATCH : batch;
}

int zp_by_address(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return (x > y) - (x < y);
}

void zp_arm(void *addr)
{
	if (npending >= batch) {
		qsort(pending, npending, sizeof(pending[0]), zp_by_address);
		for (size_t i = 0; i < npending; i++)
			(void)arch_page_info_get((void *)pending[i], NULL, true);
		npending = 0;
	}
	pending[npending++] = (uintptr_t)addr;
}
