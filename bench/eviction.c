/*
 * bench/eviction: the eviction algorithms on a suite of traces, through
 * the simulator (the library's own plug-in code, see tools/sim).
 *
 *   bench/eviction [--quick] [--traces DIR] [--markdown FILE] [--live]
 *
 * Suite: synthetic traces made here (uniform, zipf at three skews, a loop,
 * a zipf hot set with scans, phase shifts, a mix of zipf and sequential
 * runs) and every *.zpt file in DIR (scripts/make-traces.sh records real
 * programs there; default build/traces). Frames: 1, 2, 5, 10, 20, 40 and
 * 80% of each trace's footprint, and for loops 1/1.1, 1/1.5 and 1/2 of it.
 *
 * Printed per trace: faults per algorithm and frame count (cold misses
 * apart), then per algorithm across all cells: % above OPT, reduction of
 * faults against FIFO and against exact LRU (mean, P10, P50, P90), win rate
 * against LRU, the worst cell against the best classic algorithm (exact LRU
 * or CLOCK), write-backs, and the observation faults the library pays to
 * see accessed bits. FIFO, exact LRU (lru with full information) and OPT
 * are exact and deterministic. Then per trace (faults summed over its frame
 * counts): mean faults against FIFO, the worst trace against the best
 * classic algorithm, and which algorithms meet issue 4's target.
 *
 * --live replays two traces under the library itself (bench/trace_replay,
 * no background evictor) with every algorithm and compares the page faults
 * it counts with the simulator's.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim.h"
#include "sim/synth.h"
#include "sim/trace.h"

#define MAX_TRACES 32
#define MAX_POINTS 10
#define MAX_ALGS 16

struct cell {
	size_t frames;
	uint64_t opt, fifo, lru, clock;
	uint64_t faults[MAX_ALGS], writebacks[MAX_ALGS], observed[MAX_ALGS];
};

struct run {
	struct sim_trace t;
	size_t npoints;
	uint64_t cold;
	struct cell c[MAX_POINTS];
};

static const char *algs[MAX_ALGS];
static size_t nalgs;
static double sim_refs, sim_secs;

static size_t alg_index(const char *name)
{
	for (size_t a = 0; a < nalgs; a++)
		if (strcmp(algs[a], name) == 0)
			return a;
	return SIZE_MAX;
}

static int simulate(struct run *r, bool is_loop)
{
	static const double shares[] = { 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8 };
	static const double loops[] = { 1 / 1.1, 1 / 1.5, 1 / 2.0 };
	struct sim_result res;

	r->npoints = 0;
	for (size_t i = 0; i < 7 + (is_loop ? 3 : 0); i++) {
		double share = i < 7 ? shares[i] : loops[i - 7];
		size_t frames = (size_t)(share * (double)r->t.npages + 0.5);
		if (frames < 4)
			continue;
		struct cell *c = &r->c[r->npoints++];
		c->frames = frames;
		if (sim_opt(&r->t, frames, &res) != 0)
			return -1;
		c->opt = res.faults;
		r->cold = res.cold;
		if (sim_run(&r->t, "lru", frames, SIM_FULL, NULL, &res) != 0)
			return -1;
		c->lru = res.faults;
		for (size_t a = 0; a < nalgs; a++) {
			if (sim_run(&r->t, algs[a], frames, SIM_SAMPLED, NULL, &res))
				return -1;
			c->faults[a] = res.faults;
			c->writebacks[a] = res.writebacks;
			c->observed[a] = res.observed;
			sim_refs += (double)res.refs;
			sim_secs += res.seconds;
		}
		c->fifo = c->faults[alg_index("fifo")];
		c->clock = c->faults[alg_index("clock")];
		fprintf(stderr, ".");
	}
	fprintf(stderr, " %s\n", r->t.name);
	return 0;
}

static void print_trace(FILE *f, const struct run *r)
{
	fprintf(f, "\n### %s: %zu references, %zu pages, %llu cold misses\n\n",
		r->t.name, r->t.n, r->t.npages, (unsigned long long)r->cold);
	fprintf(f, "| frames |");
	for (size_t i = 0; i < r->npoints; i++)
		fprintf(f, " %zu |", r->c[i].frames);
	fprintf(f, "\n|---|");
	for (size_t i = 0; i < r->npoints; i++)
		fprintf(f, "---|");
	fprintf(f, "\n");
	for (size_t a = 0; a <= nalgs + 1; a++) {
		fprintf(f, "| %s |", a < nalgs ? algs[a] : a == nalgs ? "LRU (exact)"
								      : "OPT");
		for (size_t i = 0; i < r->npoints; i++) {
			const struct cell *c = &r->c[i];
			fprintf(f, " %llu |", (unsigned long long)(a < nalgs ? c->faults[a]
							: a == nalgs ? c->lru : c->opt));
		}
		fprintf(f, "\n");
	}
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), by_double);
	return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

/* Faults above what no algorithm avoids: the part an algorithm can change. */
static double avoidable(uint64_t faults, uint64_t cold)
{
	return faults > cold ? (double)(faults - cold) : 0.0;
}

static void summary(FILE *f, const struct run *runs, size_t nruns)
{
	size_t ncells = 0;
	for (size_t k = 0; k < nruns; k++)
		ncells += runs[k].npoints;
	double *vf = malloc(ncells * sizeof(double)), *vl = malloc(ncells * sizeof(double));

	fprintf(f, "\n### All traces: %zu cells (trace x frames)\n\n", ncells);
	fprintf(f, "| algorithm | faults (sum) | above OPT | vs FIFO mean | P10 | P50 | P90 "
		   "| vs LRU mean | P10 | P50 | P90 | beats LRU | worst vs best classic "
		   "| write-backs | observed |\n");
	fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (size_t a = 0; a < nalgs; a++) {
		double sum = 0, opt = 0, mf = 0, ml = 0, worst = -1e9;
		double wb = 0, obs = 0;
		size_t n = 0, wins = 0;
		for (size_t k = 0; k < nruns; k++) {
			for (size_t i = 0; i < runs[k].npoints; i++) {
				const struct cell *c = &runs[k].c[i];
				uint64_t cold = runs[k].cold;
				sum += (double)c->faults[a];
				opt += (double)c->opt;
				wb += (double)c->writebacks[a];
				obs += (double)c->observed[a];
				/* Reductions of the avoidable faults (cold
				 * misses apart); cells where FIFO/LRU have
				 * none count as 0. */
				double x = avoidable(c->faults[a], cold);
				double ff = avoidable(c->fifo, cold);
				double ll = avoidable(c->lru, cold);
				vf[n] = ff > 0 ? 100 * (ff - x) / ff : 0;
				vl[n] = ll > 0 ? 100 * (ll - x) / ll : 0;
				mf += vf[n];
				ml += vl[n];
				wins += c->faults[a] < c->lru;
				uint64_t best = c->lru < c->clock ? c->lru : c->clock;
				double w = 100.0 * ((double)c->faults[a] - (double)best) /
					   (double)best;
				worst = w > worst ? w : worst;
				n++;
			}
		}
		fprintf(f, "| %s | %.0f | %+.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% "
			   "| %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.0f%% | %+.1f%% | %.0f | %.0f |\n",
			algs[a], sum, 100 * (sum - opt) / opt, mf / (double)n,
			pct(vf, n, 0.1), pct(vf, n, 0.5), pct(vf, n, 0.9),
			ml / (double)n, pct(vl, n, 0.1), pct(vl, n, 0.5),
			pct(vl, n, 0.9), 100.0 * (double)wins / (double)n, worst, wb, obs);
	}
	free(vf);
	free(vl);
}

enum sum_of { OF_ALG, OF_FIFO, OF_LRU, OF_CLOCK };

/* Faults of algorithm a (what OF_ALG), or of FIFO, exact LRU or CLOCK,
 * summed over a trace's frame counts. */
static double trace_sum(const struct run *r, enum sum_of what, size_t a)
{
	double s = 0;

	for (size_t i = 0; i < r->npoints; i++) {
		const struct cell *c = &r->c[i];
		s += (double)(what == OF_ALG ? c->faults[a] : what == OF_FIFO ? c->fifo
			      : what == OF_LRU ? c->lru : c->clock);
	}
	return s;
}

/* The target of issue 4, per trace (faults summed over its frame counts):
 * the lowest mean faults against FIFO, never more than 5% above the best
 * classic algorithm (exact LRU or CLOCK) on any trace, and a cut against
 * FIFO at least that of the modern ones (sieve, s3fifo, car). */
static void per_trace(FILE *f, const struct run *runs, size_t nruns)
{
	double mean[MAX_ALGS], worst[MAX_ALGS], best_mean = 1e9, best_modern = 1e9;
	size_t worst_at[MAX_ALGS];

	fprintf(f, "\n### Per trace (faults summed over its frame counts)\n\n");
	fprintf(f, "| algorithm | mean faults / FIFO | worst trace vs best classic "
		   "| meets the target |\n|---|---|---|---|\n");
	for (size_t a = 0; a < nalgs; a++) {
		mean[a] = 0;
		worst[a] = -1e9;
		worst_at[a] = 0;
		for (size_t k = 0; k < nruns; k++) {
			double x = trace_sum(&runs[k], OF_ALG, a);
			double lru = trace_sum(&runs[k], OF_LRU, 0);
			double clk = trace_sum(&runs[k], OF_CLOCK, 0);
			double w = 100 * (x / (lru < clk ? lru : clk) - 1);
			mean[a] += x / trace_sum(&runs[k], OF_FIFO, 0) / (double)nruns;
			if (w > worst[a]) {
				worst[a] = w;
				worst_at[a] = k;
			}
		}
		best_mean = mean[a] < best_mean ? mean[a] : best_mean;
		if (!strcmp(algs[a], "sieve") || !strcmp(algs[a], "s3fifo") ||
		    !strcmp(algs[a], "car"))
			best_modern = mean[a] < best_modern ? mean[a] : best_modern;
	}
	for (size_t a = 0; a < nalgs; a++) {
		bool meets = mean[a] <= best_mean && worst[a] <= 5.0 &&
			     mean[a] <= best_modern;
		fprintf(f, "| %s | %.3f | %+.1f%% (%s) | %s |\n", algs[a], mean[a],
			worst[a], runs[worst_at[a]].t.name, meets ? "yes" : "no");
	}
}

/* ---- Live check ------------------------------------------------------- */

static int live(const char *self, struct run *r, size_t point)
{
	char tool[4096], path[] = "/tmp/zpage-live-XXXXXX";
	const char *slash = strrchr(self, '/');
	int fd = mkstemp(path);

	snprintf(tool, sizeof(tool), "%.*strace_replay",
		 slash ? (int)(slash - self + 1) : 0, self);
	FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
	if (out == NULL)
		return -1;
	int saved = trace_save(&r->t, out);
	if (fclose(out) != 0 || saved != 0) {
		unlink(path);
		return -1;
	}

	const struct cell *c = &r->c[point];
	int bad = 0;
	printf("\nlive check: %s, %zu frames (library run vs simulator, page faults)\n",
	       r->t.name, c->frames);
	for (size_t a = 0; a < nalgs; a++) {
		char cmd[8192], line[512];
		snprintf(cmd, sizeof(cmd), "ZPAGE_EVICTION=%s ZPAGE_FRAMES=%zu "
			 "ZPAGE_EVICTOR=0 ZPAGE_READAHEAD=0 ZPAGE_PAGE_SIZE=4K %s %s",
			 algs[a], c->frames, tool, path);
		FILE *p = popen(cmd, "r");
		unsigned long faults = 0;
		size_t mism = 1;
		while (p != NULL && fgets(line, sizeof(line), p) != NULL)
			sscanf(line, "faults=%lu %*s %*s %*s mismatches=%zu", &faults,
			       &mism);
		int st = p != NULL ? pclose(p) : -1;
		double ratio = (double)faults / (double)c->faults[a];
		bool ok = st == 0 && mism == 0 && ratio > 0.9 && ratio < 1.1;
		bad += !ok;
		printf("  %-8s library %9lu  simulator %9llu  ratio %.3f  %s\n",
		       algs[a], faults, (unsigned long long)c->faults[a], ratio,
		       ok ? "ok" : st != 0 || mism ? "FAILED (run or data)" : "OFF BY >10%");
	}
	unlink(path);
	return bad;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "traces", required_argument, NULL, 't' },
		{ "markdown", required_argument, NULL, 'm' },
		{ "live", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const kinds[] = { "uniform", "zipf-0.6", "zipf-0.99",
					     "zipf-1.2", "loop", "scan-zipf",
					     "phases", "mix" };
	const char *dir = "build/traces", *md = NULL;
	bool quick = false, do_live = false;
	int c;

	while ((c = getopt_long(argc, argv, "qt:m:l", opts, NULL)) != -1) {
		switch (c) {
		case 'q': quick = true; break;
		case 't': dir = optarg; break;
		case 'm': md = optarg; break;
		case 'l': do_live = true; break;
		default:
			fprintf(stderr, "usage: eviction [--quick] [--traces DIR] "
					"[--markdown FILE] [--live]\n");
			return 2;
		}
	}
	for (const char *const *a = sim_algorithms(); *a && nalgs < MAX_ALGS; a++)
		algs[nalgs++] = *a;

	static struct run runs[MAX_TRACES];
	size_t nruns = 0;
	size_t pages = quick ? 2048 : 8192, refs = quick ? 200000 : 1000000;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		if (synth_make(kinds[k], pages, refs, 42 + k, &runs[nruns].t) != 0)
			return 1;
		if (simulate(&runs[nruns], strcmp(kinds[k], "loop") == 0) != 0)
			return 1;
		nruns++;
	}
	DIR *d = quick ? NULL : opendir(dir);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL && nruns < MAX_TRACES) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".zpt") != 0)
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (trace_load(path, TF_ZPAGE, &runs[nruns].t) != 0)
			continue;
		if (simulate(&runs[nruns], false) != 0)
			return 1;
		nruns++;
	}
	if (d != NULL)
		closedir(d);

	FILE *f = md != NULL ? fopen(md, "w") : NULL;
	for (int pass = 0; pass < (f != NULL ? 2 : 1); pass++) {
		FILE *o = pass == 0 ? stdout : f;
		for (size_t k = 0; k < nruns; k++)
			print_trace(o, &runs[k]);
		summary(o, runs, nruns);
		per_trace(o, runs, nruns);
	}
	if (f != NULL)
		fclose(f);
	printf("\nsimulated %.0f references in %.1f s: %.1f million per second\n",
	       sim_refs, sim_secs, sim_refs / sim_secs / 1e6);

	int bad = 0;
	if (do_live) {
		/* zipf-0.99 and scan-zipf at 10% of the footprint. */
		bad += live(argv[0], &runs[2], 3);
		bad += live(argv[0], &runs[5], 3);
	}
	for (size_t k = 0; k < nruns; k++)
		trace_free(&runs[k].t);
	return bad == 0 ? 0 : 1;
}
