/* Trace files: reading, writing and converting (see trace.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

struct oracle_record {
	uint32_t clock_time;
	uint64_t obj_id;
	uint32_t obj_size;
	int64_t next_access;
} __attribute__((packed));

_Static_assert(sizeof(struct zpt_record) == 16, "record layout");
_Static_assert(sizeof(struct zpt_header) == 24, "header layout");
_Static_assert(sizeof(struct oracle_record) == 24, "oracleGeneral layout");

int trace_format_parse(const char *s, enum trace_format *f)
{
	static const char *const names[] = { "auto", "zpage", "oracle", "lackey" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*f = (enum trace_format)i;
			return 0;
		}
	}
	fprintf(stderr, "zpage: trace format '%s' is unknown (auto, zpage, "
			"oracle, lackey)\n", s);
	return -1;
}

int trace_writer_open(struct trace_writer *w, FILE *f, bool collapse)
{
	struct zpt_header h = { .record_size = sizeof(struct zpt_record),
				.page_shift = 12 };

	memcpy(h.magic, ZPT_MAGIC, 8);
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->collapse = collapse;
	return fwrite(&h, sizeof(h), 1, f) == 1 ? 0 : -1;
}

static int flush_last(struct trace_writer *w)
{
	if (!w->have)
		return 0;
	w->have = false;
	w->records++;
	return fwrite(&w->last, sizeof(w->last), 1, w->f) == 1 ? 0 : -1;
}

int trace_write(struct trace_writer *w, uint64_t page, bool write,
		uint32_t thread, uint32_t usec)
{
	if (w->collapse && w->have && (w->last.page & ~ZPT_WRITE) == page &&
	    w->last.thread == thread) {
		if (write)
			w->last.page |= ZPT_WRITE;
		return 0;
	}
	if (flush_last(w) != 0)
		return -1;
	w->last = (struct zpt_record){ page | (write ? ZPT_WRITE : 0), thread,
				       usec };
	w->have = true;
	return 0;
}

int trace_writer_close(struct trace_writer *w)
{
	int r = flush_last(w);

	return fflush(w->f) == 0 ? r : -1;
}

/* One lackey line: " L 04222cac,4", " S ...", " M ..." (load and store),
 * "I  0401e1b0,3" (instruction fetch, a read). Other lines are ignored. */
static bool lackey_line(const char *s, uint64_t *page, bool *write)
{
	while (*s == ' ')
		s++;
	char op = *s;
	if (op != 'I' && op != 'L' && op != 'S' && op != 'M')
		return false;
	s++;
	if (*s != ' ')
		return false;
	while (*s == ' ')
		s++;
	char *end;
	errno = 0;
	unsigned long long addr = strtoull(s, &end, 16);
	if (end == s || *end != ',' || errno != 0)
		return false;
	*page = addr >> 12;
	*write = op == 'S' || op == 'M';
	return true;
}

static long long convert_lackey(FILE *in, struct trace_writer *w,
				 const struct convert_opts *o)
{
	char line[256];

	while (fgets(line, sizeof(line), in) != NULL) {
		uint64_t page;
		bool write;
		if (o->max && w->records >= o->max)
			return 0;
		const char *op = line + strspn(line, " ");
		if (lackey_line(line, &page, &write) && (o->code || *op != 'I') &&
		    trace_write(w, page, write, 0, 0) != 0)
			return -1;
		/* A line longer than the buffer: skip the rest of it. */
		size_t len = strlen(line);
		while (len > 0 && line[len - 1] != '\n' &&
		       fgets(line, sizeof(line), in) != NULL)
			len = strlen(line);
	}
	return 0;
}

static long long convert_oracle(FILE *in, struct trace_writer *w)
{
	struct oracle_record r;

	while (fread(&r, sizeof(r), 1, in) == 1)
		if (trace_write(w, r.obj_id & ~ZPT_WRITE, false, 0,
				r.clock_time * 1000000U) != 0)
			return -1;
	return 0;
}

static long long convert_zpage(FILE *in, struct trace_writer *w)
{
	struct zpt_record r;

	while (fread(&r, sizeof(r), 1, in) == 1)
		if (trace_write(w, r.page & ~ZPT_WRITE, (r.page & ZPT_WRITE) != 0,
				r.thread, r.usec) != 0)
			return -1;
	return 0;
}

/* Reads the zpage header if the stream has one; the format it implies. */
static enum trace_format sniff(FILE *in, enum trace_format f, bool *bad)
{
	struct zpt_header h;
	*bad = false;
	if (f != TF_AUTO && f != TF_ZPAGE)
		return f;
	if (fread(&h, sizeof(h), 1, in) == 1 && memcmp(h.magic, ZPT_MAGIC, 8) == 0) {
		if (h.record_size != sizeof(struct zpt_record) || h.page_shift != 12)
			*bad = true;
		return TF_ZPAGE;
	}
	if (f == TF_ZPAGE)
		*bad = true;
	/* Without a header: text is lackey's, anything else oracleGeneral
	 * (the caller rewinds: only a file can be sniffed this way). */
	const unsigned char *b = (const unsigned char *)&h;
	for (size_t i = 0; i < sizeof(h); i++)
		if (!isprint(b[i]) && !isspace(b[i]))
			return TF_ORACLE;
	return TF_LACKEY;
}

long long trace_convert(FILE *in, enum trace_format from, FILE *out,
			const struct convert_opts *o)
{
	struct trace_writer w;
	bool bad;

	if (from == TF_AUTO) {
		fprintf(stderr, "zpage: convert needs --from lackey|oracle|zpage\n");
		return -1;
	}
	if (from == TF_ZPAGE && (sniff(in, from, &bad), bad)) {
		fprintf(stderr, "zpage: not a zpage trace (bad header)\n");
		return -1;
	}
	if (trace_writer_open(&w, out, true) != 0)
		return -1;
	long long r = from == TF_LACKEY	  ? convert_lackey(in, &w, o)
		      : from == TF_ORACLE ? convert_oracle(in, &w)
					  : convert_zpage(in, &w);
	if (trace_writer_close(&w) != 0 || r != 0 || ferror(in)) {
		fprintf(stderr, "zpage: convert: %s\n",
			ferror(in) ? "read error" : "write error");
		return -1;
	}
	return (long long)w.records;
}

uint32_t *trace_next_uses(const struct sim_trace *t)
{
	uint32_t *next = t->n < UINT32_MAX ? malloc(t->n * sizeof(*next)) : NULL;
	uint32_t *last = malloc(t->npages * sizeof(*last));

	if (next == NULL || last == NULL) {
		free(next);
		free(last);
		return NULL;
	}
	for (size_t p = 0; p < t->npages; p++)
		last[p] = UINT32_MAX;
	for (size_t i = t->n; i-- > 0;) {
		uint32_t p = t->ref[i] >> 1;
		next[i] = last[p];
		last[p] = (uint32_t)i;
	}
	free(last);
	return next;
}

int trace_save(const struct sim_trace *t, FILE *out)
{
	struct trace_writer w;
	int r = trace_writer_open(&w, out, false);

	for (size_t i = 0; r == 0 && i < t->n; i++)
		r = trace_write(&w, t->ref[i] >> 1, t->ref[i] & 1, 0, 0);
	return r == 0 ? trace_writer_close(&w) : r;
}

int trace_write_oracle(const struct sim_trace *t, FILE *out)
{
	uint32_t *next = trace_next_uses(t);

	if (next == NULL)
		return -1;
	int r = 0;
	for (size_t i = 0; i < t->n && r == 0; i++) {
		int64_t nx = next[i] == UINT32_MAX ? -1 : (int64_t)next[i];
		struct oracle_record o = { 0, t->ref[i] >> 1, 4096, nx };
		if (fwrite(&o, sizeof(o), 1, out) != 1)
			r = -1;
	}
	free(next);
	return r;
}

/* ---- Loading: dense renumbering in address order ---------------------- */

struct page_map {
	uint64_t *key;
	uint32_t *val;
	size_t cap, count;
};

static int map_grow(struct page_map *m)
{
	struct page_map n = { 0 };
	n.cap = m->cap ? 2 * m->cap : 1024;
	n.key = malloc(n.cap * sizeof(*n.key));
	n.val = malloc(n.cap * sizeof(*n.val));
	if (n.key == NULL || n.val == NULL) {
		free(n.key);
		free(n.val);
		return -1;
	}
	memset(n.val, 0xff, n.cap * sizeof(*n.val));
	for (size_t i = 0; i < m->cap; i++) {
		if (m->val[i] == UINT32_MAX)
			continue;
		size_t h = (size_t)((m->key[i] * 0x9E3779B97F4A7C15ULL) >> 20) &
			   (n.cap - 1);
		while (n.val[h] != UINT32_MAX)
			h = (h + 1) & (n.cap - 1);
		n.key[h] = m->key[i];
		n.val[h] = m->val[i];
	}
	n.count = m->count;
	free(m->key);
	free(m->val);
	*m = n;
	return 0;
}

/* The dense number of key (new ones numbered in arrival order), or
 * UINT32_MAX when out of memory. */
static uint32_t map_get(struct page_map *m, uint64_t key, bool *fresh)
{
	if (2 * (m->count + 1) > m->cap && map_grow(m) != 0)
		return UINT32_MAX;
	size_t h = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 20) & (m->cap - 1);
	while (m->val[h] != UINT32_MAX) {
		if (m->key[h] == key) {
			*fresh = false;
			return m->val[h];
		}
		h = (h + 1) & (m->cap - 1);
	}
	*fresh = true;
	m->key[h] = key;
	m->val[h] = (uint32_t)m->count++;
	return m->val[h];
}

static int by_page(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Renumber the arrival-order numbers in t->ref by the address order of
 * the pages they stand for (first[i]: page number of arrival i). */
static int renumber(struct sim_trace *t, uint64_t *first)
{
	size_t n = t->npages;
	uint64_t *pairs = malloc(n * 2 * sizeof(*pairs));
	uint32_t *rank = malloc(n * sizeof(*rank));

	if (pairs == NULL || rank == NULL) {
		free(pairs);
		free(rank);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		pairs[2 * i] = first[i];
		pairs[2 * i + 1] = i;
	}
	qsort(pairs, n, 2 * sizeof(*pairs), by_page);
	for (size_t r = 0; r < n; r++)
		rank[pairs[2 * r + 1]] = (uint32_t)r;
	for (size_t i = 0; i < t->n; i++)
		t->ref[i] = (rank[t->ref[i] >> 1] << 1) | (t->ref[i] & 1);
	free(pairs);
	free(rank);
	return 0;
}

struct loader {
	struct sim_trace *t;
	struct page_map map;
	uint64_t *first;
	size_t first_cap, ref_cap;
};

static int load_one(struct loader *l, uint64_t page, bool write)
{
	struct sim_trace *t = l->t;
	bool fresh;
	uint32_t d = map_get(&l->map, page, &fresh);

	if (d == UINT32_MAX || d >= (UINT32_MAX >> 1))
		return -1;
	if (fresh) {
		if (t->npages == l->first_cap) {
			l->first_cap = l->first_cap ? 2 * l->first_cap : 1024;
			uint64_t *nf = realloc(l->first, l->first_cap * sizeof(*nf));
			if (nf == NULL)
				return -1;
			l->first = nf;
		}
		l->first[t->npages++] = page;
	}
	if (t->n == l->ref_cap) {
		l->ref_cap = l->ref_cap ? 2 * l->ref_cap : 1 << 16;
		uint32_t *nr = realloc(t->ref, l->ref_cap * sizeof(*nr));
		if (nr == NULL)
			return -1;
		t->ref = nr;
	}
	t->ref[t->n++] = (d << 1) | (write ? 1U : 0U);
	return 0;
}

static int load_finish(struct loader *l, int r)
{
	if (r == 0)
		r = renumber(l->t, l->first);
	free(l->first);
	free(l->map.key);
	free(l->map.val);
	if (r != 0) {
		fprintf(stderr, "zpage: out of memory loading the trace\n");
		trace_free(l->t);
	}
	return r;
}

int trace_load(const char *path, enum trace_format f, struct sim_trace *t)
{
	FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	struct loader l = { .t = t };
	bool bad;
	int r = 0;

	memset(t, 0, sizeof(*t));
	const char *base = strrchr(path, '/');
	snprintf(t->name, sizeof(t->name), "%s", base ? base + 1 : path);
	if (in == NULL) {
		fprintf(stderr, "zpage: cannot open trace %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	enum trace_format got = sniff(in, f, &bad);
	if (bad) {
		fprintf(stderr, "zpage: %s is not a zpage trace\n", path);
		r = -1;
	} else if (got == TF_ZPAGE) {
		struct zpt_record rec;
		while (r == 0 && fread(&rec, sizeof(rec), 1, in) == 1)
			r = load_one(&l, rec.page & ~ZPT_WRITE,
				     (rec.page & ZPT_WRITE) != 0);
	} else if (f == TF_AUTO && (in == stdin || fseek(in, 0, SEEK_SET) != 0)) {
		fprintf(stderr, "zpage: the format of %s cannot be told from a "
				"pipe: give --format oracle or lackey\n", path);
		r = -1;
	} else if (got == TF_ORACLE) {
		struct oracle_record o;
		while (r == 0 && fread(&o, sizeof(o), 1, in) == 1)
			r = load_one(&l, o.obj_id, false);
	} else {
		char line[256];
		uint64_t page;
		bool write;
		while (r == 0 && fgets(line, sizeof(line), in) != NULL)
			if (lackey_line(line, &page, &write))
				r = load_one(&l, page, write);
	}
	if (in != stdin)
		fclose(in);
	if (r == 0 && t->n == 0) {
		fprintf(stderr, "zpage: trace %s has no references\n", path);
		r = -1;
	}
	return load_finish(&l, r);
}

int trace_from_pages(struct sim_trace *t, const uint64_t *pages,
		     const bool *writes, size_t n, const char *name)
{
	struct loader l = { .t = t };
	int r = 0;

	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	for (size_t i = 0; i < n && r == 0; i++)
		r = load_one(&l, pages[i], writes != NULL && writes[i]);
	return load_finish(&l, r);
}

void trace_free(struct sim_trace *t)
{
	free(t->ref);
	t->ref = NULL;
	t->n = t->npages = 0;
}
