/*
 * Races that need the library's internals to be set up on purpose (linked
 * with the static library, which exports them): a page lock held by a look
 * at free space while k_mem_map() claims that space.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "zpt.h"
#include "../src/core/internal.h"

#define PG ZPT_PAGE

struct mapper {
	void *addr;
	_Atomic bool done;
};

static void *map_one(void *arg)
{
	struct mapper *m = arg;

	m->addr = k_mem_map(PG, K_MEM_PERM_RW);
	atomic_store(&m->done, true);
	return NULL;
}

/* An eviction run or a hand trylocks pages of free space to look at them
 * and unlocks them with the word it read. k_mem_map() of that space must
 * wait for the lock: a plain store of its new word would be undone by the
 * unlock, and the page would fall out of its mapping (CI found
 * k_mem_page_out() answering -EINVAL for pages of a live region). */
static void map_waits_for_lookers(void **state)
{
	(void)state;
	zpt_start_simple(8, NULL, NULL);

	/* First fit: the next one-page mapping gets the same place. */
	uint8_t *p = k_mem_map(PG, K_MEM_PERM_RW);
	assert_non_null(p);
	k_mem_unmap(p, PG);
	size_t idx = zp_page_index(p);
	zp_pte_t looked;
	assert_true(zp_page_trylock(idx, &looked));
	assert_int_equal(pte_state(looked), PS_NONE);

	struct mapper m = { 0 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, map_one, &m), 0);
	zpt_sleep_ms(100);
	bool finished_under_lock = atomic_load(&m.done);
	zp_page_unlock(idx, looked);
	assert_int_equal(pthread_join(th, NULL), 0);

	assert_false(finished_under_lock);
	assert_ptr_equal(m.addr, p);
	assert_int_equal(pte_state(atomic_load(&zp.pte[idx])), PS_ZERO);
	assert_int_equal(k_mem_page_out(p, PG), 0);
	p[5] = 42;
	assert_int_equal(k_mem_page_out(p, PG), 0);
	assert_int_equal(p[5], 42);
	k_mem_unmap(p, PG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(map_waits_for_lookers, zpt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
