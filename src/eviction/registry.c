/*
 * The built-in eviction algorithms, in the order messages list them. The
 * library and the simulator (tools/sim) share this table and the
 * algorithms' code.
 */
#include "../core/internal.h"

const struct zp_eviction_ops *const zp_evictions[] = {
	&zp_eviction_clock, &zp_eviction_nru,   &zp_eviction_sweep,
	&zp_eviction_fifo,  &zp_eviction_lru,   &zp_eviction_aging,
	&zp_eviction_sieve, &zp_eviction_s3fifo, &zp_eviction_car,
};

const size_t zp_num_evictions = sizeof(zp_evictions) / sizeof(zp_evictions[0]);

const struct zp_eviction_ops *zp_eviction_find(const char *name)
{
	for (size_t i = 0; i < zp_num_evictions; i++)
		if (strcmp(name, zp_evictions[i]->name) == 0)
			return zp_evictions[i];
	return NULL;
}
