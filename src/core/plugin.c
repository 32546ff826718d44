/*
 * Plug-in dispatch. The seed's plug-in functions are defined here as weak
 * symbols that forward to the built-in algorithm and store chosen at start-up
 * (ZPAGE_EVICTION, ZPAGE_BACKING_STORE). A program that defines the same
 * functions replaces them at link time, as a Zephyr build would; the core
 * always calls them by their seed names.
 */
#include <stdio.h>

#include "internal.h"

static const struct zp_eviction_ops *const evictions[] = {
	&zp_eviction_nru,
};

static const struct zp_store_ops *const stores[] = {
	&zp_store_ram,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct zp_eviction_ops *eviction;
static const struct zp_store_ops *store;

void zp_eviction_names(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < COUNT(evictions) && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 i ? ", " : "", evictions[i]->name);
}

void zp_store_names(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < COUNT(stores) && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 i ? ", " : "", stores[i]->name);
}

int zp_plugins_select(const struct zp_conf *c)
{
	char names[256];

	eviction = NULL;
	for (size_t i = 0; i < COUNT(evictions); i++)
		if (strcmp(c->eviction, evictions[i]->name) == 0)
			eviction = evictions[i];
	if (eviction == NULL) {
		zp_eviction_names(names, sizeof(names));
		zp_error("eviction algorithm '%s' is unknown (ZPAGE_EVICTION); "
			 "built-in: %s", c->eviction, names);
		return -EINVAL;
	}

	const char *colon = strchr(c->store, ':');
	size_t len = colon != NULL ? (size_t)(colon - c->store) : strlen(c->store);
	store = NULL;
	for (size_t i = 0; i < COUNT(stores); i++)
		if (strlen(stores[i]->name) == len &&
		    strncmp(c->store, stores[i]->name, len) == 0)
			store = stores[i];
	if (store == NULL) {
		zp_store_names(names, sizeof(names));
		zp_error("backing store '%s' is unknown (ZPAGE_BACKING_STORE); "
			 "built-in: %s", c->store, names);
		return -EINVAL;
	}
	return store->configure(colon != NULL ? colon + 1 : NULL,
				c->store_limit / ZP_PAGE_SIZE);
}

void zp_plugins_fini(void)
{
	if (eviction != NULL && eviction->fini != NULL)
		eviction->fini();
	if (store != NULL && store->fini != NULL)
		store->fini();
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

WEAK void k_mem_paging_backing_store_init(void)
{
	store->init();
}

WEAK int k_mem_paging_backing_store_location_get(struct z_page_frame *pf,
						 uintptr_t *location,
						 bool page_fault)
{
	return store->location_get(pf, location, page_fault);
}

WEAK void k_mem_paging_backing_store_location_free(uintptr_t location)
{
	store->location_free(location);
}

WEAK void k_mem_paging_backing_store_page_out(uintptr_t location)
{
	store->page_out(location);
}

WEAK void k_mem_paging_backing_store_page_in(uintptr_t location)
{
	store->page_in(location);
}

WEAK void k_mem_paging_backing_store_page_finalize(struct z_page_frame *pf,
						   uintptr_t location)
{
	store->page_finalize(pf, location);
}
