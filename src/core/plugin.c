/*
 * Plug-in dispatch. The seed's plug-in functions are defined here as weak
 * symbols that forward to the built-in algorithm and store chosen at start-up
 * (ZPAGE_EVICTION, ZPAGE_BACKING_STORE). A program that defines the same
 * functions replaces them at link time, as a Zephyr build would; the core
 * always calls them by their seed names.
 */
#include <stdio.h>

#include "internal.h"

static const struct zp_store_ops *const stores[] = {
	&zp_store_ram,
	&zp_store_file,
#ifdef ZPAGE_HAVE_LZ4
	&zp_store_lz4,
#endif
#ifdef ZPAGE_HAVE_ZSTD
	&zp_store_zstd,
#endif
#ifdef ZPAGE_HAVE_HIREDIS
	&zp_store_redis,
#endif
#ifdef ZPAGE_HAVE_MEMCACHED
	&zp_store_memcached,
#endif
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct zp_eviction_ops *eviction;
static const struct zp_store_ops *store;
static size_t store_limit;  /* bytes, 0 = unlimited */
static int store_open_error; /* from k_mem_paging_backing_store_init() */
/* The same when their native interfaces may be used (see select_native). */
static const struct zp_eviction_ops *native_eviction;
static const struct zp_store_ops *native_store;

static void select_native(void);

void zp_eviction_names(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < zp_num_evictions && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 i ? ", " : "", zp_evictions[i]->name);
}

void zp_store_names(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < COUNT(stores) && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 i ? ", " : "", stores[i]->name);
}

static const struct zp_eviction_ops *find_eviction(const char *name,
						   const char *from)
{
	char names[256];

	const struct zp_eviction_ops *e = zp_eviction_find(name);

	if (e != NULL)
		return e;
	zp_eviction_names(names, sizeof(names));
	zp_error("eviction algorithm '%s' is unknown (%s); built-in: %s", name,
		 from, names);
	return NULL;
}

/* The store named by "name[:options]", configured; NULL after a message. */
static const struct zp_store_ops *find_store(const char *spec, const char *from)
{
	char names[256];
	const char *colon = strchr(spec, ':');
	size_t len = colon != NULL ? (size_t)(colon - spec) : strlen(spec);

	for (size_t i = 0; i < COUNT(stores); i++) {
		if (strlen(stores[i]->name) != len ||
		    strncmp(spec, stores[i]->name, len) != 0)
			continue;
		if (stores[i]->configure(colon != NULL ? colon + 1 : NULL) != 0) {
			zp_error("backing store '%s' is invalid (%s)", spec, from);
			return NULL;
		}
		return stores[i];
	}
	zp_store_names(names, sizeof(names));
	zp_error("backing store '%s' is unknown (%s); built-in: %s", spec, from,
		 names);
	return NULL;
}

int zp_plugins_check(const char *eviction_name, const char *eviction_from,
		     const char *store_spec, const char *store_from)
{
	if (eviction_name != NULL && find_eviction(eviction_name,
						   eviction_from) == NULL)
		return -EINVAL;
	if (store_spec != NULL && find_store(store_spec, store_from) == NULL)
		return -EINVAL;
	return 0;
}

int zp_plugins_select(const struct zp_conf *c)
{
	eviction = find_eviction(c->eviction, c->eviction_from);
	store = eviction != NULL ? find_store(c->store, c->store_from) : NULL;
	store_limit = c->store_limit;
	select_native();
	return store != NULL ? 0 : -EINVAL;
}

void zp_plugins_fini(void)
{
	if (eviction != NULL && eviction->fini != NULL)
		eviction->fini();
	if (store != NULL)
		zp_loc_close();
}

int zp_store_open_error(void)
{
	return store_open_error;
}

const char *zp_eviction_name(void)
{
	return eviction != NULL ? eviction->name : "none";
}

const char *zp_store_name(void)
{
	return store != NULL ? store->name : "none";
}

#define WEAK __attribute__((weak))

WEAK void k_mem_paging_eviction_init(void)
{
	eviction->init();
}

WEAK struct z_page_frame *k_mem_paging_eviction_select(bool *dirty)
{
	return eviction->select(dirty);
}

WEAK void k_mem_paging_eviction_add(struct z_page_frame *pf)
{
	if (eviction->add != NULL)
		eviction->add(pf);
}

WEAK void k_mem_paging_eviction_remove(struct z_page_frame *pf)
{
	if (eviction->remove != NULL)
		eviction->remove(pf);
}

WEAK void k_mem_paging_eviction_accessed(uintptr_t phys)
{
	if (eviction->accessed != NULL)
		eviction->accessed(phys);
}

WEAK void k_mem_paging_backing_store_init(void)
{
	store_open_error = zp_loc_open(store, store_limit);
}

WEAK int k_mem_paging_backing_store_location_get(struct z_page_frame *pf,
						 uintptr_t *location,
						 bool page_fault)
{
	return zp_loc_get(pf, location, page_fault);
}

WEAK void k_mem_paging_backing_store_location_free(uintptr_t location)
{
	zp_loc_free(location);
}

/* Zephyr's page_out and page_in cannot fail: these are used only when a
 * program replaced some of the store functions, and end it on an error. */
WEAK void k_mem_paging_backing_store_page_out(uintptr_t location)
{
	int r = store->write_page(location, Z_SCRATCH_PAGE);

	if (r != 0)
		zp_fatal("backing store %s cannot write location %#lx (error "
			 "%d)", store->name, (unsigned long)location, r);
}

WEAK void k_mem_paging_backing_store_page_in(uintptr_t location)
{
	const void *page;
	int r = zp_store_read(store, location, Z_SCRATCH_PAGE, &page);

	if (r != 0)
		zp_fatal("backing store %s cannot read location %#lx (error "
			 "%d)", store->name, (unsigned long)location, r);
	if (page != Z_SCRATCH_PAGE)
		memcpy(Z_SCRATCH_PAGE, page, ZP_PAGE_SIZE);
}

WEAK void k_mem_paging_backing_store_page_finalize(struct z_page_frame *pf,
						   uintptr_t location)
{
	zp_loc_finalize(pf, location);
}

/* Our own definition of the seed function, to see whether the program
 * replaced it (then its address differs). */
extern struct z_page_frame *zp_weak_eviction_select(bool *dirty)
	__attribute__((alias("k_mem_paging_eviction_select"),
		       visibility("hidden")));
extern void zp_weak_eviction_add(struct z_page_frame *pf)
	__attribute__((alias("k_mem_paging_eviction_add"),
		       visibility("hidden")));

#define OWN(name, ret, ...)                                                   \
	extern ret zp_weak_##name(__VA_ARGS__)                                \
		__attribute__((alias("k_mem_paging_" #name),                  \
			       visibility("hidden")))
OWN(backing_store_init, void, void);
OWN(backing_store_location_get, int, struct z_page_frame *, uintptr_t *, bool);
OWN(backing_store_location_free, void, uintptr_t);
OWN(backing_store_page_out, void, uintptr_t);
OWN(backing_store_page_in, void, uintptr_t);
OWN(backing_store_page_finalize, void, struct z_page_frame *, uintptr_t);

/* Whether the program left the seed functions to us: a link-time fact,
 * checked once when the plug-ins are selected. A program that replaces one
 * store function replaces the store. */
static bool seed_store_is_ours(void)
{
	return k_mem_paging_backing_store_init == zp_weak_backing_store_init &&
	       k_mem_paging_backing_store_location_get ==
		       zp_weak_backing_store_location_get &&
	       k_mem_paging_backing_store_location_free ==
		       zp_weak_backing_store_location_free &&
	       k_mem_paging_backing_store_page_out ==
		       zp_weak_backing_store_page_out &&
	       k_mem_paging_backing_store_page_in == zp_weak_backing_store_page_in &&
	       k_mem_paging_backing_store_page_finalize ==
		       zp_weak_backing_store_page_finalize;
}

static void select_native(void)
{
	native_store = NULL;
	if (store != NULL && seed_store_is_ours())
		native_store = store;
	native_eviction = NULL;
	if (eviction != NULL && eviction->select_pages != NULL &&
	    k_mem_paging_eviction_select == zp_weak_eviction_select)
		native_eviction = eviction;
	zp.tracking = k_mem_paging_eviction_add != zp_weak_eviction_add ||
		      (eviction != NULL && eviction->add != NULL &&
		       native_eviction == NULL);
}


const struct zp_store_ops *zp_store_native(void)
{
	return native_store;
}

const struct zp_eviction_ops *zp_eviction_native(void)
{
	return native_eviction;
}
