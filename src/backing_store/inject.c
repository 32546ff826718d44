/*
 * Fault injection for the stores' I/O (ZPAGE_STORE_FAULTS, or
 * zpage_store_faults_set()). A rule is OP:KIND[@P][+SKIP][*COUNT]:
 *
 *   OP    read, write, connect, or any
 *   KIND  eio, enospc, econnrefused, etimedout: the I/O fails so;
 *         short: it moves half the bytes asked for (the store must go on);
 *         corrupt: a read's data gets one bit flipped (the checksum must
 *         catch it)
 *   @P    probability of each matching I/O, 0..1 (default 1)
 *   +SKIP matching I/Os let through first (default 0)
 *   *COUNT most faults this rule makes (default unlimited)
 *
 * Rules are tried in order; the first that fires decides. Draws come from
 * a counter through a mixer: the same single-threaded run fails the same
 * I/Os (ZPAGE_STORE_FAULTS_SEED changes which).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "store.h"

enum kind { K_ERROR, K_SHORT, K_CORRUPT };

#define MAX_RULES 16

/* Atomic fields: rules may be replaced while other threads do I/O. */
struct rule {
	_Atomic int op;      /* enum zp_io_op, or -1 for any */
	_Atomic int kind;
	_Atomic int error;   /* negative errno for K_ERROR */
	_Atomic uint64_t threshold; /* fires when a draw is below it */
	_Atomic unsigned long skip, left; /* left: ULONG_MAX = no limit */
};

_Atomic bool zp_inject_on;
static struct rule rules[MAX_RULES];
static _Atomic int nrules;
static _Atomic uint64_t draws;
static uint64_t seed = 0x5eed;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Whether rule r fires for this I/O; counts it. */
static bool fires(struct rule *r)
{
	unsigned long skip = atomic_load_explicit(&r->skip, memory_order_relaxed);

	while (skip > 0) {
		if (atomic_compare_exchange_weak(&r->skip, &skip, skip - 1))
			return false;
	}
	uint64_t d = mix(seed + atomic_fetch_add(&draws, 1));
	if (d >= atomic_load_explicit(&r->threshold, memory_order_relaxed) &&
	    atomic_load_explicit(&r->threshold, memory_order_relaxed) != UINT64_MAX)
		return false;
	unsigned long left = atomic_load_explicit(&r->left, memory_order_relaxed);
	while (left != ULONG_MAX) {
		if (left == 0)
			return false;
		if (atomic_compare_exchange_weak(&r->left, &left, left - 1))
			break;
	}
	return true;
}

static struct rule *find(enum zp_io_op op, int kind_mask)
{
	int n = atomic_load_explicit(&nrules, memory_order_acquire);

	for (int i = 0; i < n; i++) {
		struct rule *r = &rules[i];
		int rop = atomic_load_explicit(&r->op, memory_order_relaxed);
		int kind = atomic_load_explicit(&r->kind, memory_order_relaxed);
		if ((rop == -1 || rop == (int)op) && (kind_mask & (1 << kind)) &&
		    fires(r))
			return r;
	}
	return NULL;
}

int zp_inject_io(enum zp_io_op op, size_t *len)
{
	struct rule *r = find(op, 1 << K_ERROR | 1 << K_SHORT);

	if (r == NULL)
		return 0;
	if (atomic_load_explicit(&r->kind, memory_order_relaxed) == K_SHORT) {
		if (*len > 1)
			*len /= 2;
		return 0;
	}
	return atomic_load_explicit(&r->error, memory_order_relaxed);
}

bool zp_inject_corrupt(void *buf, size_t len)
{
	if (len == 0 || find(ZP_IO_READ, 1 << K_CORRUPT) == NULL)
		return false;
	uint64_t d = mix(seed ^ atomic_fetch_add(&draws, 1));
	((uint8_t *)buf)[d % len] ^= (uint8_t)(1u << (d >> 61));
	return true;
}

static const struct {
	const char *name;
	int kind, error;
} kinds[] = {
	{ "eio", K_ERROR, -EIO },
	{ "enospc", K_ERROR, -ENOSPC },
	{ "econnrefused", K_ERROR, -ECONNREFUSED },
	{ "etimedout", K_ERROR, -ETIMEDOUT },
	{ "short", K_SHORT, 0 },
	{ "corrupt", K_CORRUPT, 0 },
};

static const char *const ops[] = { "read", "write", "connect" };

/* Parse one rule [s, end) into r; false if it is malformed. */
static bool parse_rule(const char *s, const char *end, struct rule *r)
{
	char buf[64];
	size_t n = (size_t)(end - s);

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *kind = strchr(buf, ':');
	if (kind == NULL)
		return false;
	*kind++ = '\0';
	int op = strcmp(buf, "any") == 0 ? -1 : -2;
	for (int i = 0; i < 3; i++)
		if (strcmp(buf, ops[i]) == 0)
			op = i;
	if (op == -2)
		return false;
	double p = 1;
	unsigned long skip = 0, count = ULONG_MAX;
	char *mod = kind + strcspn(kind, "@+*");
	char tag = *mod;
	*mod = '\0';
	while (tag != '\0') {
		char *v = mod + 1, *after;
		if (tag == '@')
			p = strtod(v, &after);
		else if (tag == '+')
			skip = strtoul(v, &after, 10);
		else
			count = strtoul(v, &after, 10);
		if (after == v || p < 0 || p > 1)
			return false;
		tag = *after;
		if (tag != '\0' && strchr("@+*", tag) == NULL)
			return false;
		mod = after;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kind, kinds[i].name) != 0)
			continue;
		if (kinds[i].kind == K_CORRUPT && op != ZP_IO_READ)
			return false;
		atomic_store(&r->op, op);
		atomic_store(&r->kind, kinds[i].kind);
		atomic_store(&r->error, kinds[i].error);
		atomic_store(&r->threshold, p >= 1 ? UINT64_MAX
					    : (uint64_t)(p * 18446744073709551616.0));
		atomic_store(&r->skip, skip);
		atomic_store(&r->left, count);
		return true;
	}
	return false;
}

int zp_inject_configure(const char *spec, const char *from)
{
	struct rule parsed[MAX_RULES];
	int n = 0;

	atomic_store(&zp_inject_on, false);
	atomic_store(&nrules, 0);
	if (spec == NULL || *spec == '\0')
		return 0;
	for (const char *s = spec; *s != '\0';) {
		const char *end = s + strcspn(s, ",");
		if (n == MAX_RULES || !parse_rule(s, end, &parsed[n])) {
			zp_error("%s: fault rule '%.*s' is invalid: write OP:KIND"
				 "[@P][+SKIP][*COUNT], OP read, write, connect or "
				 "any, KIND eio, enospc, econnrefused, etimedout, "
				 "short or corrupt (reads only), at most %d rules",
				 from, (int)(end - s), s, MAX_RULES);
			return -EINVAL;
		}
		n++;
		s = *end == ',' ? end + 1 : end;
	}
	for (int i = 0; i < n; i++) {
		struct rule *r = &rules[i], *p = &parsed[i];
		atomic_store(&r->op, atomic_load(&p->op));
		atomic_store(&r->kind, atomic_load(&p->kind));
		atomic_store(&r->error, atomic_load(&p->error));
		atomic_store(&r->threshold, atomic_load(&p->threshold));
		atomic_store(&r->skip, atomic_load(&p->skip));
		atomic_store(&r->left, atomic_load(&p->left));
	}
	const char *s = getenv("ZPAGE_STORE_FAULTS_SEED");
	if (s != NULL)
		seed = strtoull(s, NULL, 0);
	atomic_store(&draws, 0);
	atomic_store_explicit(&nrules, n, memory_order_release);
	atomic_store(&zp_inject_on, true);
	return 0;
}

int zpage_store_faults_set(const char *spec)
{
	return zp_inject_configure(spec, "zpage_store_faults_set");
}
