/*
 * Configuration: defaults, then ZPAGE_* environment variables, then the
 * fields a program sets in struct zpage_config. Every variable that is set is
 * checked, and a bad value is refused with a message that names it.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

#define DEFAULT_FRAMES 1024
#define DEFAULT_VM_SIZE ((size_t)256 << 30)
#define DEFAULT_HANDLERS 2
#define DEFAULT_NRU_PERIOD_MS 100
#define MAX_FRAMES ((size_t)UINT32_MAX - 1)

/* Decimal number without sign or suffix. */
static int parse_count(const char *s, unsigned long long *out)
{
	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

/* Bytes, with an optional binary suffix K, M, G or T. */
static int parse_size(const char *s, unsigned long long *out)
{
	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0)
		return -EINVAL;
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	default: return -EINVAL;
	}
	if (shift != 0 && end[1] != '\0')
		return -EINVAL;
	if (shift != 0 && v > (ULLONG_MAX >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

/* Read a numeric variable; 0 if unset, -EINVAL (with message) if bad. */
static int env_number(const char *name, bool size, unsigned long long min,
		      unsigned long long max, unsigned long long *out,
		      const char *what)
{
	const char *v = getenv(name);

	if (v == NULL)
		return 0;
	unsigned long long n;
	int r = size ? parse_size(v, &n) : parse_count(v, &n);
	if (r != 0 || n < min || n > max) {
		zp_error("%s='%s' is invalid: expected %s (%llu..%llu)", name, v,
			 what, min, max);
		return -EINVAL;
	}
	*out = n;
	return 1;
}

/* One of n names; its index in *out. */
static int parse_choice(const char *v, const char *var,
			const char *const *names, int n, int *out)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	char list[96] = "";
	for (int i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
	zp_error("%s='%s' is invalid: expected %s", var, v, list);
	return -EINVAL;
}

static int parse_delivery(const char *v, const char *var, enum zp_delivery *out)
{
	static const char *const names[] = { "auto", "thread", "signal" };
	int i = 0;
	int r = parse_choice(v, var, names, 3, &i);

	*out = (enum zp_delivery)i;
	return r;
}

static int parse_access(const char *v, const char *var, enum zp_access *out)
{
	static const char *const names[] = { "auto", "mapped", "fault" };
	int i = 0;
	int r = parse_choice(v, var, names, 3, &i);

	*out = (enum zp_access)i;
	return r;
}

static int copy_name(char *dst, size_t cap, const char *src, const char *var)
{
	if (strlen(src) >= cap || src[0] == '\0') {
		zp_error("%s='%s' is invalid: empty or longer than %zu bytes", var,
			 src, cap - 1);
		return -EINVAL;
	}
	strcpy(dst, src);
	return 0;
}

int zp_conf_load(struct zp_conf *c, const struct zpage_config *user)
{
	unsigned long long v;
	int r, bad = 0;

	memset(c, 0, sizeof(*c));
	c->frames = DEFAULT_FRAMES;
	/* clock: fewer faults than nru on the reference workload (604k
	 * against 640k on zipf, the same on uniform touches) at less cost per
	 * fault (it evicts in batches and samples only where its hand passes:
	 * 1.3x nru's touches per second). */
	strcpy(c->eviction, "clock");
	strcpy(c->store, "ram");
	c->vm_size = DEFAULT_VM_SIZE;
	c->handlers = DEFAULT_HANDLERS;
	c->nru_period_ms = DEFAULT_NRU_PERIOD_MS;
	/* Evicting on another processor while this one faults, as the
	 * kernel's kswapd does: 1.4x the touches per second of one thread
	 * with clock here. With one processor it would only compete. */
	c->evictor = zp_port_cpus() > 1;

	const char *dbg = getenv("ZPAGE_DEBUG");
	c->debug = dbg != NULL && dbg[0] != '\0' && strcmp(dbg, "0") != 0;

	r = env_number("ZPAGE_FRAMES", false, 1, MAX_FRAMES, &v,
		       "a number of page frames");
	if (r > 0)
		c->frames = (size_t)v;
	bad |= r < 0;
	r = env_number("ZPAGE_STORE_LIMIT", true, 0, ULLONG_MAX, &v,
		       "bytes, optionally with K/M/G/T, 0 for no limit");
	if (r > 0)
		c->store_limit = (size_t)v;
	bad |= r < 0;
	r = env_number("ZPAGE_VM_SIZE", true, (unsigned long long)1 << 20,
		       (unsigned long long)1 << 46, &v,
		       "bytes, optionally with K/M/G/T");
	if (r > 0)
		c->vm_size = (size_t)v;
	bad |= r < 0;
	r = env_number("ZPAGE_HANDLERS", false, 1, 64, &v,
		       "a number of fault-handler threads");
	if (r > 0)
		c->handlers = (unsigned)v;
	bad |= r < 0;
	r = env_number("ZPAGE_NRU_PERIOD_MS", false, 1, 3600000, &v,
		       "milliseconds");
	if (r > 0)
		c->nru_period_ms = (unsigned)v;
	bad |= r < 0;

	c->eviction_from = "default";
	c->store_from = "default";
	r = env_number("ZPAGE_READAHEAD", false, 0, 1024, &v,
		       "the most pages read ahead of sequential faults, 0 = off");
	if (r > 0)
		c->readahead_max = (size_t)v;
	bad |= r < 0;
	c->group_pages = 1;
	r = env_number("ZPAGE_PAGE_SIZE", true, ZP_PAGE_SIZE, (size_t)2 << 20, &v,
		       "bytes, a power of two from 4K to 2M");
	if (r > 0) {
		if (v & (v - 1)) {
			zp_error("ZPAGE_PAGE_SIZE=%s is invalid: expected a power "
				 "of two from 4K to 2M", getenv("ZPAGE_PAGE_SIZE"));
			bad = 1;
		}
		c->group_pages = (size_t)v / ZP_PAGE_SIZE;
	}
	bad |= r < 0;
	r = env_number("ZPAGE_EVICTOR", false, 0, 1, &v,
		       "0 (no background evictor) or 1");
	if (r > 0)
		c->evictor = v != 0;
	bad |= r < 0;
	const char *fm = getenv("ZPAGE_FAULT_MODE");
	if (fm != NULL)
		bad |= parse_delivery(fm, "ZPAGE_FAULT_MODE", &c->delivery) != 0;
	const char *at = getenv("ZPAGE_ACCESS_TRACKING");
	if (at != NULL)
		bad |= parse_access(at, "ZPAGE_ACCESS_TRACKING", &c->access) != 0;
	const char *tr = getenv("ZPAGE_TRACE");
	if (tr != NULL && tr[0] != '\0')
		bad |= copy_name(c->trace, sizeof(c->trace), tr, "ZPAGE_TRACE") != 0;
	const char *ev = getenv("ZPAGE_EVICTION");
	if (ev != NULL) {
		bad |= copy_name(c->eviction, sizeof(c->eviction), ev,
				 "ZPAGE_EVICTION") != 0;
		c->eviction_from = "ZPAGE_EVICTION";
	}
	const char *st = getenv("ZPAGE_BACKING_STORE");
	if (st != NULL) {
		bad |= copy_name(c->store, sizeof(c->store), st,
				 "ZPAGE_BACKING_STORE") != 0;
		c->store_from = "ZPAGE_BACKING_STORE";
	}
	/* Checked even if the program overrides them: a bad variable is
	 * never silently ignored. */
	if (!bad && (ev != NULL || st != NULL))
		bad |= zp_plugins_check(ev != NULL ? c->eviction : NULL,
					"ZPAGE_EVICTION",
					st != NULL ? c->store : NULL,
					"ZPAGE_BACKING_STORE") != 0;

	if (user != NULL) {
		if (user->frames != 0) {
			if (user->frames > MAX_FRAMES) {
				zp_error("zpage_init: frames=%zu is too large "
					 "(at most %zu)", user->frames, MAX_FRAMES);
				bad = 1;
			}
			c->frames = user->frames;
		}
		if (user->eviction != NULL) {
			bad |= copy_name(c->eviction, sizeof(c->eviction),
					 user->eviction, "eviction") != 0;
			c->eviction_from = "zpage_config.eviction";
		}
		if (user->backing_store != NULL) {
			bad |= copy_name(c->store, sizeof(c->store),
					 user->backing_store, "backing_store") != 0;
			c->store_from = "zpage_config.backing_store";
		}
		if (user->store_limit != 0)
			c->store_limit = user->store_limit;
		if (user->vm_size != 0)
			c->vm_size = user->vm_size;
		if (user->handlers != 0) {
			if (user->handlers > 64) {
				zp_error("zpage_init: handlers=%u is too many "
					 "(at most 64)", user->handlers);
				bad = 1;
			}
			c->handlers = user->handlers;
		}
		if (user->nru_period_ms != 0)
			c->nru_period_ms = user->nru_period_ms;
		if (user->readahead != 0)
			c->readahead_max = user->readahead > 0 ? (size_t)user->readahead : 0;
		if (user->page_size != 0) {
			if (user->page_size < ZP_PAGE_SIZE ||
			    user->page_size > ((size_t)2 << 20) ||
			    (user->page_size & (user->page_size - 1))) {
				zp_error("zpage_init: page_size=%zu is invalid: "
					 "expected a power of two from 4K to 2M",
					 user->page_size);
				bad = 1;
			}
			c->group_pages = user->page_size / ZP_PAGE_SIZE;
		}
		if (user->evictor != 0)
			c->evictor = user->evictor > 0;
		if (user->fault_mode != NULL)
			bad |= parse_delivery(user->fault_mode,
					      "zpage_config.fault_mode",
					      &c->delivery) != 0;
		if (user->access_tracking != NULL)
			bad |= parse_access(user->access_tracking,
					    "zpage_config.access_tracking",
					    &c->access) != 0;
	}
	if (bad)
		return -EINVAL;

	c->vm_size &= ~(size_t)(ZP_PAGE_SIZE - 1);
	if (c->frames > (c->vm_size >> ZP_PAGE_SHIFT) / 2) {
		zp_error("%zu frames do not fit in a virtual region of %zu bytes "
			 "(ZPAGE_VM_SIZE must be at least twice the frame pool)",
			 c->frames, c->vm_size);
		return -EINVAL;
	}
	if (c->store_limit != 0 && c->store_limit < ZP_PAGE_SIZE) {
		zp_error("ZPAGE_STORE_LIMIT=%zu is below one page", c->store_limit);
		return -EINVAL;
	}
	return 0;
}
