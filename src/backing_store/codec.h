/*
 * A page compressor for the compressed-memory store (zmem.c). Contexts are
 * made at start-up, where malloc is allowed; compress and decompress then
 * run in fault handling (a signal handler) and must not allocate.
 */
#ifndef ZP_CODEC_H
#define ZP_CODEC_H

#include "../core/internal.h"

struct zp_codec {
	const char *name;
	/* The option after "name:" (NULL if none), e.g. a level; -EINVAL
	 * with a message. */
	int (*configure)(const char *arg);
	void *(*ctx_new)(void); /* NULL if memory is short */
	void (*ctx_free)(void *ctx);
	/* Compress one page into dst (cap bytes); its length, or 0 if it
	 * does not fit. */
	size_t (*compress)(void *ctx, const void *page, void *dst, size_t cap);
	/* Decompress len bytes into a page; 0, or -EBADMSG if they do not
	 * make exactly one page. */
	int (*decompress)(void *ctx, const void *src, size_t len, void *page);
};

/* The compressed-memory store's functions, for a codec's store ops. */
int zp_zmem_configure(const struct zp_codec *codec, const char *arg) ZP_HIDDEN;
int zp_zmem_open(size_t slots) ZP_HIDDEN;
void zp_zmem_close(void) ZP_HIDDEN;
int zp_zmem_read_page(uintptr_t loc, void *scratch, const void **page) ZP_HIDDEN;
int zp_zmem_write_page(uintptr_t loc, const void *data) ZP_HIDDEN;
void zp_zmem_discard(uintptr_t loc) ZP_HIDDEN;
void zp_zmem_stats(struct zpage_store_stats *s) ZP_HIDDEN;

/* A compressed-memory store named name whose configure function (which
 * passes its codec to zp_zmem_configure) is configure_fn. */
#define ZP_ZMEM_STORE(store_name, configure_fn)                               \
	{                                                                     \
		.name = store_name, .configure = configure_fn,                \
		.open = zp_zmem_open, .close = zp_zmem_close,                 \
		.read_page = zp_zmem_read_page,                               \
		.write_page = zp_zmem_write_page,                             \
		.discard = zp_zmem_discard, .stats = zp_zmem_stats,           \
	}

#endif /* ZP_CODEC_H */
