/*
 * lz4[:ACCEL]: the compressed-memory store with LZ4 (liblz4), the fast
 * choice: acceleration 1 (default) compresses best, higher is faster.
 */
#include <lz4.h>
#include <stdlib.h>

#include "codec.h"

static int acceleration = 1;

static int lz4_configure(const char *arg)
{
	char *end;

	acceleration = 1;
	if (arg == NULL)
		return 0;
	long v = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || v < 1 || v > 65537) {
		zp_error("lz4 store: acceleration '%s' is not a number from 1 "
			 "(best compression) to 65537", arg);
		return -EINVAL;
	}
	acceleration = (int)v;
	return 0;
}

/* The state lives on the heap: LZ4_compress_default() would put 16 KiB on
 * the stack of a signal handler. */
static void *lz4_ctx_new(void)
{
	return calloc(1, (size_t)LZ4_sizeofState());
}

static size_t lz4_compress(void *ctx, const void *page, void *dst, size_t cap)
{
	int n = LZ4_compress_fast_extState(ctx, page, dst, (int)ZP_PAGE_SIZE,
					   (int)cap, acceleration);
	return n > 0 ? (size_t)n : 0;
}

static int lz4_decompress(void *ctx, const void *src, size_t len, void *page)
{
	(void)ctx;
	int n = LZ4_decompress_safe(src, page, (int)len, (int)ZP_PAGE_SIZE);
	return n == (int)ZP_PAGE_SIZE ? 0 : -EBADMSG;
}

static const struct zp_codec codec = {
	.name = "lz4",
	.configure = lz4_configure,
	.ctx_new = lz4_ctx_new,
	.ctx_free = free,
	.compress = lz4_compress,
	.decompress = lz4_decompress,
};

static int configure(const char *arg)
{
	return zp_zmem_configure(&codec, arg);
}

const struct zp_store_ops zp_store_lz4 = ZP_ZMEM_STORE("lz4", configure);
