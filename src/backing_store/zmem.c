/*
 * Compressed-memory store (lz4, zstd): pages kept compressed in this
 * process's memory, as zram or zswap do for the kernel.
 *
 *   - a page that is one 64-bit word repeated (zeros most often) is held
 *     as that word alone;
 *   - a page that does not shrink below 7/8 of its size is held raw (no
 *     decompression later for no gain);
 *   - others are held compressed, in 64-byte size classes (slab.c).
 *
 * ZPAGE_STORE_LIMIT caps the memory the payloads take: each location
 * counts a page against it until written, then what its payload takes;
 * when it is reached, the store reports full (the library's fault reserve
 * rule holds). Each page's checksum is checked after decompression.
 *
 * Compression contexts are made at start-up (malloc is not allowed in
 * fault handling) and lent to the threads that page, one at a time.
 */
#include <sched.h>

#include "codec.h"
#include "slab.h"
#include "store.h"

#define RAW_ABOVE (ZP_PAGE_SIZE - ZP_PAGE_SIZE / 8)
#define NCTX 32

enum { E_NONE, E_FILL, E_RAW, E_PACKED };

struct entry {
	uint64_t ref;  /* payload address, or the fill word */
	uint32_t sum;  /* checksum of the page */
	uint16_t len;  /* payload bytes */
	uint8_t kind;
};

struct ctx {
	_Atomic bool busy;
	void *codec_ctx;
	uint8_t buf[ZP_PAGE_SIZE]; /* compression output */
};

static const struct zp_codec *codec;
static struct entry *entries;
static size_t entries_bytes;
static struct ctx *ctxs[NCTX];
static struct {
	_Atomic unsigned long fill, raw, packed;
	_Atomic size_t payload;
	_Atomic unsigned long compressions, decompressions;
	_Atomic uint64_t compress_ns, decompress_ns;
} st;

int zp_zmem_configure(const struct zp_codec *c, const char *arg)
{
	codec = c;
	return c->configure(arg);
}

void zp_zmem_close(void)
{
	for (int i = 0; i < NCTX; i++) {
		if (ctxs[i] != NULL && ctxs[i]->codec_ctx != NULL)
			codec->ctx_free(ctxs[i]->codec_ctx);
		zp_port_table_free(ctxs[i], sizeof(struct ctx));
		ctxs[i] = NULL;
	}
	zp_port_table_free(entries, entries_bytes);
	entries = NULL;
	zp_slab_release_all();
	memset(&st, 0, sizeof(st));
}

int zp_zmem_open(size_t slots)
{
	zp_zmem_close();
	entries_bytes = slots * sizeof(*entries);
	entries = zp_port_table_alloc(entries_bytes);
	for (int i = 0; entries != NULL && i < NCTX; i++) {
		ctxs[i] = zp_port_table_alloc(sizeof(struct ctx));
		if (ctxs[i] == NULL ||
		    (ctxs[i]->codec_ctx = codec->ctx_new()) == NULL) {
			zp_zmem_close();
			break;
		}
	}
	if (entries == NULL) {
		zp_error("%s store: no memory for its tables and contexts",
			 codec->name);
		return -ENOMEM;
	}
	return 0;
}

static struct ctx *ctx_get(void)
{
	unsigned i = (unsigned)zp_port_tid();

	for (;; i++) {
		struct ctx *c = ctxs[i % NCTX];
		if (!atomic_load_explicit(&c->busy, memory_order_relaxed) &&
		    !atomic_exchange_explicit(&c->busy, true, memory_order_acquire))
			return c;
		if (i % NCTX == NCTX - 1)
			sched_yield();
	}
}

static void ctx_put(struct ctx *c)
{
	atomic_store_explicit(&c->busy, false, memory_order_release);
}

/* The word the page repeats, if it does. */
static bool same_filled(const void *page, uint64_t *word)
{
	const uint64_t *w = page;

	for (size_t i = 1; i < ZP_PAGE_SIZE / 8; i++)
		if (w[i] != w[0])
			return false;
	*word = w[0];
	return true;
}

static void count(_Atomic unsigned long *c, long d)
{
	atomic_fetch_add_explicit(c, (unsigned long)d, memory_order_relaxed);
}

/* Hold [src, src + len) as e's payload; false if memory is short. */
static bool hold(struct entry *e, const void *src, size_t len, uint8_t kind)
{
	void *p = zp_slab_alloc(len);

	if (p == NULL)
		return false;
	memcpy(p, src, len);
	e->ref = (uint64_t)(uintptr_t)p;
	e->len = (uint16_t)len;
	e->kind = kind;
	atomic_fetch_add_explicit(&st.payload, zp_slab_size(len),
				  memory_order_relaxed);
	return true;
}

int zp_zmem_write_page(uintptr_t loc, const void *data)
{
	struct entry *e = &entries[loc / ZP_PAGE_SIZE];
	size_t io = ZP_PAGE_SIZE;
	int r = zp_io_fault(ZP_IO_WRITE, &io);

	if (r != 0)
		return r;
	if (e->kind != E_NONE)
		zp_zmem_discard(loc);
	e->sum = zp_page_checksum(data);
	uint64_t word;
	if (same_filled(data, &word)) {
		e->ref = word;
		e->len = 0;
		e->kind = E_FILL;
		count(&st.fill, 1);
		zp_store_charge(-(long)ZP_PAGE_SIZE);
		return 0;
	}
	struct ctx *c = ctx_get();
	uint64_t t0 = zp_port_now_ns();
	size_t len = codec->compress(c->codec_ctx, data, c->buf, RAW_ABOVE);
	atomic_fetch_add_explicit(&st.compress_ns, zp_port_now_ns() - t0,
				  memory_order_relaxed);
	count(&st.compressions, 1);
	bool ok = len > 0 ? hold(e, c->buf, len, E_PACKED)
			  : hold(e, data, ZP_PAGE_SIZE, E_RAW);
	ctx_put(c);
	if (!ok) {
		e->kind = E_NONE;
		return -ENOMEM;
	}
	count(e->kind == E_RAW ? &st.raw : &st.packed, 1);
	zp_store_charge((long)zp_slab_size(e->len) - (long)ZP_PAGE_SIZE);
	return 0;
}

int zp_zmem_read_page(uintptr_t loc, void *scratch, const void **page)
{
	const struct entry *e = &entries[loc / ZP_PAGE_SIZE];
	size_t io = ZP_PAGE_SIZE;
	int r = zp_io_fault(ZP_IO_READ, &io);

	if (r != 0)
		return r;
	const void *src = (const void *)(uintptr_t)e->ref;
	struct ctx *c = NULL;
	if (e->kind == E_PACKED || e->kind == E_RAW) {
		c = ctx_get();
		/* What an injected fault corrupts is a copy, never the
		 * store's own payload. */
		if (zp_unlikely(atomic_load_explicit(&zp_inject_on,
						     memory_order_relaxed))) {
			memcpy(c->buf, src, e->len);
			zp_io_received(c->buf, e->len);
			src = c->buf;
		}
	}
	switch (e->kind) {
	case E_FILL:
		for (size_t i = 0; i < ZP_PAGE_SIZE / 8; i++)
			((uint64_t *)scratch)[i] = e->ref;
		zp_io_received(scratch, ZP_PAGE_SIZE);
		break;
	case E_RAW:
		memcpy(scratch, src, ZP_PAGE_SIZE);
		break;
	case E_PACKED: {
		uint64_t t0 = zp_port_now_ns();
		r = codec->decompress(c->codec_ctx, src, e->len, scratch);
		atomic_fetch_add_explicit(&st.decompress_ns,
					  zp_port_now_ns() - t0,
					  memory_order_relaxed);
		count(&st.decompressions, 1);
		break;
	}
	default:
		r = -EIO; /* a location never written */
	}
	if (c != NULL)
		ctx_put(c);
	if (r == 0 && zp_page_checksum(scratch) != e->sum)
		r = -EBADMSG;
	if (r != 0)
		zp_debug("%s store: slot %lu cannot be read back (error %d)",
			 codec->name, (unsigned long)(loc / ZP_PAGE_SIZE), r);
	*page = scratch;
	return r;
}

void zp_zmem_discard(uintptr_t loc)
{
	struct entry *e = &entries[loc / ZP_PAGE_SIZE];

	switch (e->kind) {
	case E_FILL:
		count(&st.fill, -1);
		zp_store_charge((long)ZP_PAGE_SIZE);
		break;
	case E_RAW:
	case E_PACKED:
		count(e->kind == E_RAW ? &st.raw : &st.packed, -1);
		zp_slab_free((void *)(uintptr_t)e->ref, e->len);
		atomic_fetch_sub_explicit(&st.payload, zp_slab_size(e->len),
					  memory_order_relaxed);
		zp_store_charge((long)ZP_PAGE_SIZE - (long)zp_slab_size(e->len));
		break;
	default:
		break;
	}
	e->kind = E_NONE;
}

void zp_zmem_stats(struct zpage_store_stats *s)
{
	s->same_filled = atomic_load(&st.fill);
	s->raw = atomic_load(&st.raw);
	s->compressed = atomic_load(&st.packed);
	s->payload_bytes = atomic_load(&st.payload);
	s->compressions = atomic_load(&st.compressions);
	s->decompressions = atomic_load(&st.decompressions);
	s->compress_ns = atomic_load(&st.compress_ns);
	s->decompress_ns = atomic_load(&st.decompress_ns);
}
