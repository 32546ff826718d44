/*
 * zstd[:LEVEL]: the compressed-memory store with Zstandard (libzstd), the
 * dense choice: level 1 (default) to 19, or negative levels for speed.
 */
#include <stdlib.h>
#include <zstd.h>

#include "codec.h"

static int level = 1;

struct zstd_ctx {
	ZSTD_CCtx *c;
	ZSTD_DCtx *d;
};

static int zstd_configure(const char *arg)
{
	char *end;

	level = 1;
	if (arg == NULL)
		return 0;
	long v = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || v < ZSTD_minCLevel() ||
	    v > ZSTD_maxCLevel() || v == 0) {
		zp_error("zstd store: level '%s' is not a number from %d to %d "
			 "(not 0)", arg, ZSTD_minCLevel(), ZSTD_maxCLevel());
		return -EINVAL;
	}
	level = (int)v;
	return 0;
}

static void zstd_ctx_free(void *p)
{
	struct zstd_ctx *z = p;

	ZSTD_freeCCtx(z->c);
	ZSTD_freeDCtx(z->d);
	free(z);
}

/* A context sizes its tables on first use: it is used once here, so that
 * compressing a page later never allocates (the same level and size are
 * used every time). */
static void *zstd_ctx_new(void)
{
	struct zstd_ctx *z = calloc(1, sizeof(*z));
	static uint8_t page[ZP_PAGE_SIZE], out[ZP_PAGE_SIZE * 2];

	if (z == NULL)
		return NULL;
	z->c = ZSTD_createCCtx();
	z->d = ZSTD_createDCtx();
	if (z->c == NULL || z->d == NULL ||
	    ZSTD_isError(ZSTD_compressCCtx(z->c, out, sizeof(out), page,
					   sizeof(page), level))) {
		zstd_ctx_free(z);
		return NULL;
	}
	return z;
}

static size_t zstd_compress(void *ctx, const void *page, void *dst, size_t cap)
{
	struct zstd_ctx *z = ctx;
	size_t n = ZSTD_compressCCtx(z->c, dst, cap, page, ZP_PAGE_SIZE, level);

	return ZSTD_isError(n) ? 0 : n;
}

static int zstd_decompress(void *ctx, const void *src, size_t len, void *page)
{
	struct zstd_ctx *z = ctx;
	size_t n = ZSTD_decompressDCtx(z->d, page, ZP_PAGE_SIZE, src, len);

	return !ZSTD_isError(n) && n == ZP_PAGE_SIZE ? 0 : -EBADMSG;
}

static const struct zp_codec codec = {
	.name = "zstd",
	.configure = zstd_configure,
	.ctx_new = zstd_ctx_new,
	.ctx_free = zstd_ctx_free,
	.compress = zstd_compress,
	.decompress = zstd_decompress,
};

static int configure(const char *arg)
{
	return zp_zmem_configure(&codec, arg);
}

const struct zp_store_ops zp_store_zstd = ZP_ZMEM_STORE("zstd", configure);
