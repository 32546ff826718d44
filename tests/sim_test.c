/*
 * The eviction simulator (tools/sim, library zpsim): FIFO, LRU and OPT give
 * the exact counts, checked
 *   - on the textbook reference string and on Belady's anomaly, whose
 *     counts are known by heart;
 *   - on random traces, against reference models written here from the
 *     definitions (FIFO queue, LRU by last use, OPT by next use with the
 *     documented tie rule);
 * every algorithm takes at least OPT's faults and its cold misses, and
 * only those when everything fits; traces survive being saved in zpage
 * and oracleGeneral format and loaded back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sim/sim.h"

static struct sim_trace make(const uint64_t *pages, size_t n)
{
	struct sim_trace t;
	bool *writes = calloc(n, sizeof(*writes));

	assert_non_null(writes);
	for (size_t i = 0; i < n; i++)
		writes[i] = pages[i] % 3 == 0;
	assert_int_equal(trace_from_pages(&t, pages, writes, n, "test"), 0);
	free(writes);
	return t;
}

static uint64_t faults(const struct sim_trace *t, const char *alg, size_t frames)
{
	struct sim_result r;

	if (strcmp(alg, "opt") == 0)
		assert_int_equal(sim_opt(t, frames, &r), 0);
	else
		assert_int_equal(sim_run(t, alg, frames, SIM_FULL, NULL, &r), 0);
	assert_int_equal(r.refs, t->n);
	return r.faults;
}

static void textbook_string(void **state)
{
	(void)state;
	const uint64_t s[] = { 7, 0, 1, 2, 0, 3, 0, 4, 2, 3,
			       0, 3, 2, 1, 2, 0, 1, 7, 0, 1 };
	struct sim_trace t = make(s, 20);
	assert_int_equal(t.npages, 6);
	assert_int_equal(faults(&t, "fifo", 3), 15);
	assert_int_equal(faults(&t, "lru", 3), 12);
	assert_int_equal(faults(&t, "opt", 3), 9);
	trace_free(&t);
}

static void beladys_anomaly(void **state)
{
	(void)state;
	const uint64_t s[] = { 1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5 };
	struct sim_trace t = make(s, 12);
	/* FIFO faults more with more frames; LRU and OPT never do. */
	assert_int_equal(faults(&t, "fifo", 3), 9);
	assert_int_equal(faults(&t, "fifo", 4), 10);
	assert_int_equal(faults(&t, "lru", 3), 10);
	assert_int_equal(faults(&t, "lru", 4), 8);
	assert_int_equal(faults(&t, "opt", 3), 7);
	assert_int_equal(faults(&t, "opt", 4), 6);
	trace_free(&t);
}

/* ---- Reference models, from the definitions ---------------------------- */

#define MAXF 64

/* Where page p is among the n resident ones, or n. */
static size_t slot_of(const uint32_t *page, size_t n, uint32_t p)
{
	size_t k = 0;

	while (k < n && page[k] != p)
		k++;
	return k;
}

static uint64_t model_fifo(const struct sim_trace *t, size_t frames)
{
	uint32_t q[MAXF];
	size_t n = 0, head = 0;
	uint64_t f = 0;

	for (size_t i = 0; i < t->n; i++) {
		uint32_t p = t->ref[i] >> 1;
		bool hit = false;
		for (size_t k = 0; k < n && !hit; k++)
			hit = q[(head + k) % frames] == p;
		if (hit)
			continue;
		f++;
		if (n < frames) {
			q[(head + n++) % frames] = p;
		} else {
			q[head] = p; /* the oldest goes, the new one is newest */
			head = (head + 1) % frames;
		}
	}
	return f;
}

static uint64_t model_lru(const struct sim_trace *t, size_t frames)
{
	uint32_t page[MAXF];
	size_t last[MAXF], n = 0;
	uint64_t f = 0;

	for (size_t i = 0; i < t->n; i++) {
		uint32_t p = t->ref[i] >> 1;
		size_t k = slot_of(page, n, p);
		if (k == n) {
			f++;
			if (n < frames) {
				n++;
			} else {
				k = 0;
				for (size_t j = 1; j < n; j++)
					if (last[j] < last[k])
						k = j;
			}
			page[k] = p;
		}
		last[k] = i;
	}
	return f;
}

/* OPT: evict the page used again furthest away; pages never used again
 * first, the highest page number among them (the simulator's rule). */
static uint64_t model_opt(const struct sim_trace *t, size_t frames)
{
	uint32_t page[MAXF];
	size_t n = 0;
	uint64_t f = 0;

	for (size_t i = 0; i < t->n; i++) {
		uint32_t p = t->ref[i] >> 1;
		size_t k = slot_of(page, n, p);
		if (k < n)
			continue;
		f++;
		if (n < frames) {
			page[n++] = p;
			continue;
		}
		size_t victim = 0, far = 0;
		bool never_v = false;
		for (size_t j = 0; j < n; j++) {
			size_t next = i + 1;
			while (next < t->n && (t->ref[next] >> 1) != page[j])
				next++;
			bool never = next == t->n;
			bool better = never ? !never_v || page[j] > page[victim]
					    : !never_v && next > far;
			if (j == 0 || better) {
				victim = j;
				far = next;
				never_v = never;
			}
		}
		page[victim] = p;
	}
	return f;
}

static struct sim_trace random_trace(uint64_t seed, size_t n, size_t pages)
{
	uint64_t *p = malloc(n * sizeof(*p)), x = seed | 1;

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Some locality: half the references to an eighth of the
		 * pages. */
		p[i] = (x >> 8) % (x % 2 ? pages / 8 + 1 : pages) * 4096;
	}
	struct sim_trace t = make(p, n);
	free(p);
	return t;
}

static void exact_against_models(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 12; seed++) {
		struct sim_trace t = random_trace(seed * 7919, 3000, 40 + seed * 3);
		for (size_t frames = 1; frames <= 32; frames *= 2) {
			assert_int_equal(faults(&t, "fifo", frames),
					 model_fifo(&t, frames));
			assert_int_equal(faults(&t, "lru", frames),
					 model_lru(&t, frames));
			assert_int_equal(faults(&t, "opt", frames),
					 model_opt(&t, frames));
		}
		trace_free(&t);
	}
}

static void nobody_beats_opt(void **state)
{
	(void)state;
	const char *const *algs = sim_algorithms();
	struct sim_trace t = random_trace(4242, 20000, 300);

	for (size_t a = 0; algs[a] != NULL; a++) {
		for (size_t frames = 8; frames <= 256; frames *= 4) {
			uint64_t opt = faults(&t, "opt", frames);
			for (int mode = 0; mode < 2; mode++) {
				struct sim_result r;
				assert_int_equal(sim_run(&t, algs[a], frames,
							 mode ? SIM_FULL : SIM_SAMPLED,
							 NULL, &r), 0);
				assert_true(r.faults >= opt);
				assert_true(r.faults >= r.cold);
				assert_int_equal(r.cold, t.npages);
			}
		}
		/* Everything fits: cold misses only. */
		struct sim_result r;
		assert_int_equal(sim_run(&t, algs[a], t.npages, SIM_SAMPLED, NULL,
					 &r), 0);
		assert_int_equal(r.faults, t.npages);
	}
	trace_free(&t);
}

static void traces_round_trip(void **state)
{
	(void)state;
	struct sim_trace t = random_trace(99, 5000, 200), back;
	char path[] = "/tmp/zpage-sim-test-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);

	for (int oracle = 0; oracle < 2; oracle++) {
		FILE *f = fdopen(dup(fd), "w+");
		assert_non_null(f);
		assert_int_equal(oracle ? trace_write_oracle(&t, f)
					: trace_save(&t, f), 0);
		fclose(f);
		assert_int_equal(trace_load(path, oracle ? TF_ORACLE : TF_ZPAGE,
					    &back), 0);
		assert_int_equal(back.n, t.n);
		assert_int_equal(back.npages, t.npages);
		for (size_t i = 0; i < t.n; i++) {
			/* oracleGeneral has no write bit. */
			uint32_t want = oracle ? t.ref[i] & ~1u : t.ref[i];
			assert_int_equal(back.ref[i], want);
		}
		assert_int_equal(faults(&back, "fifo", 16), faults(&t, "fifo", 16));
		trace_free(&back);
		assert_int_equal(ftruncate(fd, 0), 0);
		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	}
	close(fd);
	unlink(path);
	trace_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(textbook_string),
		cmocka_unit_test(beladys_anomaly),
		cmocka_unit_test(exact_against_models),
		cmocka_unit_test(nobody_beats_opt),
		cmocka_unit_test(traces_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
