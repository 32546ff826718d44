/* Synthetic traces: see synth.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

const char synth_kinds[] = "uniform, zipf-A, loop, scan-zipf, phases, mix";

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

struct zipf {
	double *cdf;
	uint32_t *perm; /* rank -> page, so hot pages are spread out */
	size_t n;
};

static int zipf_init(struct zipf *z, size_t n, double a, uint64_t *s)
{
	z->n = n;
	z->cdf = malloc(n * sizeof(*z->cdf));
	z->perm = malloc(n * sizeof(*z->perm));
	if (z->cdf == NULL || z->perm == NULL)
		return -1;
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		z->cdf[i] = sum += 1.0 / pow((double)(i + 1), a);
	for (size_t i = 0; i < n; i++) {
		z->cdf[i] /= sum;
		z->perm[i] = (uint32_t)i;
	}
	for (size_t i = n; i > 1; i--) {
		size_t j = rng_next(s) % i;
		uint32_t x = z->perm[i - 1];
		z->perm[i - 1] = z->perm[j];
		z->perm[j] = x;
	}
	return 0;
}

static size_t zipf_draw(const struct zipf *z, uint64_t *s)
{
	double u = rng_unit(s);
	size_t lo = 0, hi = z->n - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (z->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return z->perm[lo];
}

static void zipf_fini(struct zipf *z)
{
	free(z->cdf);
	free(z->perm);
}

int synth_make(const char *kind, size_t pages, size_t refs, uint64_t seed,
	       struct sim_trace *t)
{
	uint64_t *p = malloc(refs * sizeof(*p));
	bool *w = malloc(refs * sizeof(*w));
	uint64_t s = seed;
	struct zipf z = { 0 };
	int r = 0;

	if (p == NULL || w == NULL || pages < 16) {
		free(p);
		free(w);
		fprintf(stderr, "zpage synth: cannot make %zu references over "
				"%zu pages\n", refs, pages);
		return -1;
	}
	if (strcmp(kind, "uniform") == 0) {
		for (size_t i = 0; i < refs; i++)
			p[i] = rng_next(&s) % pages;
	} else if (strncmp(kind, "zipf-", 5) == 0) {
		char *end;
		double a = strtod(kind + 5, &end);
		if (*end != '\0' || a <= 0 || zipf_init(&z, pages, a, &s) != 0)
			r = -1;
		for (size_t i = 0; r == 0 && i < refs; i++)
			p[i] = zipf_draw(&z, &s);
	} else if (strcmp(kind, "loop") == 0) {
		for (size_t i = 0; i < refs; i++)
			p[i] = i % pages;
	} else if (strcmp(kind, "scan-zipf") == 0) {
		size_t hot = pages / 10, cold = pages - hot;
		r = zipf_init(&z, hot, 0.99, &s);
		/* A scan of the cold part after every 4 x cold hot touches. */
		for (size_t i = 0; r == 0 && i < refs;) {
			for (size_t k = 0; k < 4 * cold && i < refs; k++)
				p[i++] = zipf_draw(&z, &s);
			for (size_t k = 0; k < cold && i < refs; k++)
				p[i++] = hot + k;
		}
	} else if (strcmp(kind, "phases") == 0) {
		size_t quarter = pages / 4;
		r = zipf_init(&z, quarter, 0.9, &s);
		for (size_t i = 0; r == 0 && i < refs; i++)
			p[i] = (i * 4 / refs) * quarter + zipf_draw(&z, &s);
	} else if (strcmp(kind, "mix") == 0) {
		r = zipf_init(&z, pages, 0.99, &s);
		for (size_t i = 0; r == 0 && i < refs;) {
			if (rng_next(&s) & 1) {
				p[i++] = zipf_draw(&z, &s);
				continue;
			}
			size_t start = rng_next(&s) % pages;
			for (size_t k = 0; k < 64 && i < refs; k++)
				p[i++] = (start + k) % pages;
		}
	} else {
		r = -1;
	}
	zipf_fini(&z);
	if (r != 0) {
		fprintf(stderr, "zpage synth: kind '%s' is unknown or invalid (%s)\n",
			kind, synth_kinds);
	} else {
		for (size_t i = 0; i < refs; i++)
			w[i] = rng_next(&s) % 3 == 0;
		r = trace_from_pages(t, p, w, refs, kind);
	}
	free(p);
	free(w);
	return r;
}
