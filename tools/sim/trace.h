/*
 * Page-reference traces: zpage's own binary format, and the converters
 * from other tools' formats.
 *
 * zpage's own format is in <zpage_trace.h>.
 *
 * libCacheSim's oracleGeneral: 24-byte packed records with no header:
 *   u32 clock time (s) | u64 object id | u32 object size | i64 index of
 *   the object's next request, -1 if none.
 * Object ids are taken as page numbers and every request as a read.
 */
#ifndef ZPAGE_SIM_TRACE_H
#define ZPAGE_SIM_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <zpage_trace.h>

/* A trace in memory for simulation: pages renumbered densely in address
 * order (0 .. npages-1), each reference (index << 1 | write). */
struct sim_trace {
	char name[64];
	uint32_t *ref;
	size_t n, npages;
};

enum trace_format { TF_AUTO, TF_ZPAGE, TF_ORACLE, TF_LACKEY };

/* Format names for options: "zpage", "oracle", "lackey". */
int trace_format_parse(const char *s, enum trace_format *f);

/* Buffered writer of zpage-format records (collapses a reference to the
 * page just written, or-ing its write bit, when collapse is set). */
struct trace_writer {
	FILE *f;
	bool collapse, have;
	struct zpt_record last;
	uint64_t records;
};
int trace_writer_open(struct trace_writer *w, FILE *f, bool collapse);
int trace_write(struct trace_writer *w, uint64_t page, bool write,
		uint32_t thread, uint32_t usec);
int trace_writer_close(struct trace_writer *w);

/* Convert a stream (lackey text, oracleGeneral, zpage) into zpage format,
 * stopping after max records (0: no limit). Lackey's instruction fetches
 * are kept only with code set. Returns records written or -1 with a
 * message on stderr. */
struct convert_opts {
	unsigned long long max;
	bool code;
};
long long trace_convert(FILE *in, enum trace_format from, FILE *out,
			const struct convert_opts *o);

/* For each reference of t, the index of the next one to the same page, or
 * UINT32_MAX (none); malloc'ed, NULL when out of memory or too long. */
uint32_t *trace_next_uses(const struct sim_trace *t);

/* Write t in zpage format (its dense page numbers, thread 0). */
int trace_save(const struct sim_trace *t, FILE *out);

/* Write t as oracleGeneral (next-request indices computed). */
int trace_write_oracle(const struct sim_trace *t, FILE *out);

/* Load a trace file ("-": standard input) for simulation; 0 or -1 with a
 * message. */
int trace_load(const char *path, enum trace_format f, struct sim_trace *t);
void trace_free(struct sim_trace *t);

/* Build a trace from page numbers as generated (synth.c). */
int trace_from_pages(struct sim_trace *t, const uint64_t *pages,
		     const bool *writes, size_t n, const char *name);

#endif /* ZPAGE_SIM_TRACE_H */
