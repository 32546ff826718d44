/* Arming pages a batch at a time: see arm.h. */
#include <stdlib.h>

#include "../core/internal.h"
#include "arm.h"

static uintptr_t pending[ARM_BATCH];
static size_t npending;

void zp_arm_reset(void)
{
	npending = 0;
}

static int by_address(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return (x > y) - (x < y);
}

void zp_arm(void *addr)
{
	if (npending == ARM_BATCH) {
		qsort(pending, npending, sizeof(pending[0]), by_address);
		for (size_t i = 0; i < npending; i++)
			(void)arch_page_info_get((void *)pending[i], NULL, true);
		npending = 0;
	}
	pending[npending++] = (uintptr_t)addr;
}
