/*
 * zpage: the command-line tool.
 *
 *   zpage sim [options] TRACE        replay a trace through every built-in
 *                                    eviction algorithm and OPT
 *   zpage convert --from FMT [--to zpage|oracle] [IN [OUT]]
 *                                    convert a trace (streams: "-")
 *   zpage synth KIND [options] OUT   write a synthetic trace
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim.h"
#include "sim/svg.h"
#include "sim/synth.h"
#include "sim/trace.h"

static void usage(FILE *f)
{
	fputs("usage:\n"
	      "  zpage sim [--frames LIST] [--algorithms LIST] [--mode sampled|full|both]\n"
	      "            [--format auto|zpage|oracle|lackey] [--svg FILE] TRACE\n"
	      "      LIST of frames: counts or shares of the footprint\n"
	      "      (default 1%,2%,5%,10%,20%,40%,80%); algorithms: the built-in\n"
	      "      names and opt (default all)\n"
	      "  zpage convert --from lackey|oracle|zpage [--to zpage|oracle] [--max N]\n"
	      "                [--code] [IN [OUT]]   (--code: keep lackey's instruction fetches)\n"
	      "      valgrind --tool=lackey --trace-mem=yes PROG 2>&1 | zpage convert --from lackey - out.zpt\n"
	      "  zpage synth KIND [--pages N] [--refs N] [--seed N] OUT\n",
	      f);
	fprintf(f, "      KIND: %s\n", synth_kinds);
}

/* ---- sim ---------------------------------------------------------------- */

struct frames_spec {
	size_t n;
	double share[64]; /* > 0: share of the footprint */
	size_t count[64]; /* else: a frame count */
};

static int parse_frames(const char *s, struct frames_spec *fs)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", s);
	fs->n = 0;
	for (char *tok = strtok(buf, ","); tok != NULL; tok = strtok(NULL, ",")) {
		char *end;
		double v = strtod(tok, &end);
		if (fs->n == 64 || end == tok || v <= 0 ||
		    (*end != '\0' && strcmp(end, "%") != 0)) {
			fprintf(stderr, "zpage sim: bad frame count '%s'\n", tok);
			return -1;
		}
		fs->share[fs->n] = *end == '%' ? v / 100 : 0;
		fs->count[fs->n] = *end == '%' ? 0 : (size_t)v;
		fs->n++;
	}
	return fs->n > 0 ? 0 : -1;
}

static size_t frames_for(const struct frames_spec *fs, size_t i, size_t npages)
{
	size_t f = fs->share[i] > 0 ? (size_t)(fs->share[i] * (double)npages + 0.5)
				    : fs->count[i];
	return f < 1 ? 1 : f;
}

static const char *progress_what;

static void show_progress(double done)
{
	fprintf(stderr, "\r  %s %3.0f%%", progress_what, done * 100);
}

static int cmd_sim(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, 'f' },
		{ "algorithms", required_argument, NULL, 'a' },
		{ "mode", required_argument, NULL, 'm' },
		{ "format", required_argument, NULL, 't' },
		{ "svg", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct frames_spec fs;
	enum trace_format fmt = TF_AUTO;
	const char *algs = NULL, *svg = NULL, *mode = "sampled";
	int c;

	parse_frames("1%,2%,5%,10%,20%,40%,80%", &fs);
	while ((c = getopt_long(argc, argv, "f:a:m:t:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': if (parse_frames(optarg, &fs) != 0) return 2; break;
		case 'a': algs = optarg; break;
		case 'm': mode = optarg; break;
		case 't': if (trace_format_parse(optarg, &fmt) != 0) return 2; break;
		case 's': svg = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	bool sampled = strcmp(mode, "sampled") == 0 || strcmp(mode, "both") == 0;
	bool full = strcmp(mode, "full") == 0 || strcmp(mode, "both") == 0;
	if (!sampled && !full) {
		fprintf(stderr, "zpage sim: --mode is sampled, full or both\n");
		return 2;
	}

	/* The algorithms to run: names, each once per mode; opt apart. */
	const char *names[64];
	size_t nn = 0;
	bool opt = algs == NULL;
	char abuf[512];
	if (algs == NULL) {
		for (const char *const *a = sim_algorithms(); *a && nn < 64; a++)
			names[nn++] = *a;
	} else {
		snprintf(abuf, sizeof(abuf), "%s", algs);
		for (char *tok = strtok(abuf, ","); tok && nn < 64;
		     tok = strtok(NULL, ","))
			if (strcmp(tok, "opt") == 0)
				opt = true;
			else
				names[nn++] = tok;
	}

	struct sim_trace t;
	if (trace_load(argv[optind], fmt, &t) != 0)
		return 1;
	printf("trace %s: %zu references, %zu pages (footprint %.1f MiB)\n\n",
	       t.name, t.n, t.npages, (double)t.npages * 4096 / (1 << 20));

	size_t nseries = nn * (size_t)(sampled + full) + opt;
	const char *series[130];
	char labels[130][48];
	double *mr = calloc(nseries * fs.n, sizeof(*mr));
	double xs[64];
	size_t ns = 0;
	for (size_t a = 0; a < nn; a++)
		for (int m = 0; m < 2; m++)
			if ((m == 0 && sampled) || (m == 1 && full)) {
				snprintf(labels[ns], sizeof(labels[ns]), "%s%s",
					 names[a], m == 1 && sampled ? " (full)" : "");
				series[ns] = labels[ns];
				ns++;
			}
	if (opt)
		series[ns++] = "opt";

	bool tty = isatty(2);
	double refs_total = 0, secs_total = 0;
	int rc = 0;
	for (size_t i = 0; i < fs.n && rc == 0; i++) {
		size_t frames = frames_for(&fs, i, t.npages);
		xs[i] = (double)frames / (double)t.npages;
		struct sim_result o = { 0 };
		if (sim_opt(&t, frames, &o) != 0)
			return 1;
		printf("%zu frames (%.1f%% of the footprint): %llu cold misses\n",
		       frames, 100 * xs[i], (unsigned long long)o.cold);
		printf("  %-16s %12s %8s %10s %11s %11s %8s\n", "algorithm",
		       "faults", "miss", "vs OPT", "writebacks", "observed",
		       "Mref/s");
		size_t s = 0;
		for (size_t a = 0; a < nn && rc == 0; a++) {
			for (int m = 0; m < 2 && rc == 0; m++) {
				if (!((m == 0 && sampled) || (m == 1 && full)))
					continue;
				struct sim_result r;
				char what[96];
				snprintf(what, sizeof(what), "%s, %zu frames",
					 series[s], frames);
				progress_what = what;
				rc = sim_run(&t, names[a], frames,
					     m == 0 ? SIM_SAMPLED : SIM_FULL,
					     tty ? show_progress : NULL, &r);
				if (tty)
					fputs("\r\033[K", stderr);
				if (rc != 0)
					break;
				refs_total += (double)r.refs;
				secs_total += r.seconds;
				mr[s * fs.n + i] = (double)r.faults / (double)r.refs;
				printf("  %-16s %12llu %7.2f%% %+9.1f%% %11llu %11llu %8.1f\n",
				       series[s], (unsigned long long)r.faults,
				       100.0 * (double)r.faults / (double)r.refs,
				       100.0 * ((double)r.faults - (double)o.faults) /
					       (double)o.faults,
				       (unsigned long long)r.writebacks,
				       (unsigned long long)r.observed,
				       (double)r.refs / r.seconds / 1e6);
				s++;
			}
		}
		if (opt) {
			mr[s * fs.n + i] = (double)o.faults / (double)o.refs;
			printf("  %-16s %12llu %7.2f%% %+9.1f%% %11llu %11s %8.1f\n",
			       "opt", (unsigned long long)o.faults,
			       100.0 * (double)o.faults / (double)o.refs, 0.0,
			       (unsigned long long)o.writebacks, "-",
			       (double)o.refs / o.seconds / 1e6);
		}
		printf("\n");
	}
	if (rc == 0 && secs_total > 0)
		printf("simulated %.0f references in %.2f s: %.1f million per "
		       "second\n", refs_total, secs_total,
		       refs_total / secs_total / 1e6);
	if (rc == 0 && svg != NULL) {
		FILE *f = fopen(svg, "w");
		if (f == NULL) {
			fprintf(stderr, "zpage sim: cannot write %s: %s\n", svg,
				strerror(errno));
			rc = 1;
		} else {
			char title[128];
			snprintf(title, sizeof(title), "miss-ratio curves: %s", t.name);
			svg_mrc(f, title, xs, fs.n, series, ns, mr);
			fclose(f);
		}
	}
	free(mr);
	trace_free(&t);
	return rc == 0 ? 0 : 1;
}

/* ---- convert, synth ----------------------------------------------------- */

static FILE *open_or_std(const char *path, const char *mode, FILE *std)
{
	if (path == NULL || strcmp(path, "-") == 0)
		return std;
	FILE *f = fopen(path, mode);
	if (f == NULL)
		fprintf(stderr, "zpage: cannot open %s: %s\n", path, strerror(errno));
	return f;
}

static int cmd_convert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "max", required_argument, NULL, 'n' },
		{ "code", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	enum trace_format from = TF_AUTO, to = TF_ZPAGE;
	struct convert_opts co = { 0, false };
	int c;

	while ((c = getopt_long(argc, argv, "f:t:n:c", opts, NULL)) != -1) {
		if (c == 'n') {
			co.max = strtoull(optarg, NULL, 0);
			continue;
		}
		if (c == 'c') {
			co.code = true;
			continue;
		}
		if (c == 'f' && trace_format_parse(optarg, &from) == 0)
			continue;
		if (c == 't' && trace_format_parse(optarg, &to) == 0 &&
		    (to == TF_ZPAGE || to == TF_ORACLE))
			continue;
		usage(stderr);
		return 2;
	}
	const char *in_path = optind < argc ? argv[optind] : "-";
	const char *out_path = optind + 1 < argc ? argv[optind + 1] : "-";
	if (to == TF_ORACLE) {
		/* Next-request indices need the whole trace. */
		struct sim_trace t;
		if (trace_load(in_path, from, &t) != 0)
			return 1;
		FILE *out = open_or_std(out_path, "wb", stdout);
		int r = out != NULL ? trace_write_oracle(&t, out) : -1;
		if (out != NULL && out != stdout && fclose(out) != 0)
			r = -1;
		trace_free(&t);
		if (r != 0)
			fprintf(stderr, "zpage convert: write error\n");
		return r == 0 ? 0 : 1;
	}
	FILE *in = open_or_std(in_path, "rb", stdin);
	FILE *out = in != NULL ? open_or_std(out_path, "wb", stdout) : NULL;
	if (in == NULL || out == NULL)
		return 1;
	long long n = trace_convert(in, from, out, &co);
	if (in != stdin)
		fclose(in);
	if (out != stdout && fclose(out) != 0)
		n = -1;
	if (n < 0)
		return 1;
	fprintf(stderr, "zpage convert: %lld records\n", n);
	return 0;
}

static int cmd_synth(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pages", required_argument, NULL, 'p' },
		{ "refs", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	size_t pages = 16384, refs = 2000000;
	uint64_t seed = 1;
	int c;

	while ((c = getopt_long(argc, argv, "p:r:s:", opts, NULL)) != -1) {
		switch (c) {
		case 'p': pages = strtoull(optarg, NULL, 0); break;
		case 'r': refs = strtoull(optarg, NULL, 0); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 2 != argc) {
		usage(stderr);
		return 2;
	}
	struct sim_trace t;
	if (synth_make(argv[optind], pages, refs, seed, &t) != 0)
		return 1;
	FILE *out = open_or_std(argv[optind + 1], "wb", stdout);
	int r = out != NULL ? trace_save(&t, out) : -1;
	if (out != NULL && out != stdout && fclose(out) != 0)
		r = -1;
	trace_free(&t);
	if (r != 0)
		fprintf(stderr, "zpage synth: write error\n");
	return r == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	argv[1] = argv[0];
	if (strcmp(cmd, "sim") == 0)
		return cmd_sim(argc - 1, argv + 1);
	if (strcmp(cmd, "convert") == 0)
		return cmd_convert(argc - 1, argv + 1);
	if (strcmp(cmd, "synth") == 0)
		return cmd_synth(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "zpage: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
