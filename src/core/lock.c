/*
 * zp_lock: a sleeping lock on one 32-bit word (0 free, 1 held, 2 held with
 * sleepers), so the core needs nothing from the host but wait/wake on a word.
 */
#include "internal.h"

void zp_lock(zp_lock_t *l)
{
	uint32_t c = 0;

	if (atomic_compare_exchange_strong_explicit(&l->word, &c, 1,
						    memory_order_acquire,
						    memory_order_relaxed))
		return;
	if (c != 2)
		c = atomic_exchange_explicit(&l->word, 2, memory_order_acquire);
	while (c != 0) {
		zp_port_wait((uint32_t *)&l->word, 2);
		c = atomic_exchange_explicit(&l->word, 2, memory_order_acquire);
	}
}

void zp_unlock(zp_lock_t *l)
{
	if (atomic_exchange_explicit(&l->word, 0, memory_order_release) == 2)
		zp_port_wake_all((uint32_t *)&l->word);
}
