/*
 * RAM backing store: pages kept in memory allocated in chunks as the store
 * grows, up to ZPAGE_STORE_LIMIT. The trade-off is the one of Zephyr's RAM
 * store: simple and fast, and the pages still use the host's memory, so it
 * exists to develop and measure paging, not to save memory.
 *
 * Two modes:
 *   ram         like Zephyr's: a page's location is freed when it is paged
 *               in, so every eviction writes the page out (no clean copies,
 *               no write tracking, store size = pages that are out).
 *   ram:backed  a paged-in page keeps its location and the frame is marked
 *               Z_PAGE_FRAME_BACKED: evicting a page that was not written
 *               since costs no copy (the library write-protects such pages
 *               to notice the first write).
 *
 * Slots, the limit and its fault reserve are the library's (locations.c).
 * No checksums: the pages never leave this process's memory. Injected
 * faults (ZPAGE_STORE_FAULTS) are errors only: a copy is never short.
 */
#include "store.h"

#define CHUNK_PAGES 512 /* 2 MiB: a huge page where the system has them */
#define CHUNK_BYTES ((size_t)CHUNK_PAGES * ZP_PAGE_SIZE)

/* Chunks come from the port's page allocator (address space reserved up
 * front, memory committed when touched) because the store runs inside
 * fault handling, which with signal delivery is a signal handler: no
 * malloc there. */
static uint8_t **chunks;
static size_t chunks_bytes; /* the pointer table's size, as allocated */
static size_t nchunks;
static bool keep_clean;

static int ram_configure(const char *arg)
{
	if (arg != NULL && strcmp(arg, "backed") != 0) {
		zp_error("ram store option '%s' is unknown: the only one is "
			 "'backed'", arg);
		return -EINVAL;
	}
	keep_clean = arg != NULL;
	return 0;
}

static bool ram_keeps_copies(void)
{
	return keep_clean;
}

static void ram_close(void)
{
	for (size_t i = 0; i < nchunks; i++)
		zp_port_table_free(chunks[i], CHUNK_BYTES);
	zp_port_table_free(chunks, chunks_bytes);
	chunks = NULL;
	nchunks = 0;
}

static int ram_open(size_t slots)
{
	chunks_bytes = (slots / CHUNK_PAGES + 1) * sizeof(*chunks);
	chunks = zp_port_table_alloc(chunks_bytes);
	if (chunks == NULL) {
		zp_error("ram store: cannot reserve its tables");
		return -ENOMEM;
	}
	return 0;
}

/* Slots are handed out in order: a new one may need a new chunk. Its slots
 * are filled soon: it is committed now rather than take a page fault per
 * slot inside the faults that fill them. */
static int ram_prepare(size_t slot)
{
	if (slot < nchunks * CHUNK_PAGES)
		return 0;
	uint8_t *chunk = zp_port_table_alloc_committed(CHUNK_BYTES);
	if (chunk == NULL)
		return -ENOMEM;
	chunks[nchunks++] = chunk;
	return 0;
}

static uint8_t *slot_addr(uintptr_t location)
{
	size_t slot = location / ZP_PAGE_SIZE;

	return chunks[slot / CHUNK_PAGES] + (slot % CHUNK_PAGES) * ZP_PAGE_SIZE;
}

/* Slots are plain memory: a page is read in place (with clean copies
 * kept, the library copies it once, straight into its frame). */
static int ram_read_page(uintptr_t location, void *scratch, const void **page)
{
	size_t len = ZP_PAGE_SIZE;
	int r = zp_io_fault(ZP_IO_READ, &len);

	(void)scratch;
	*page = slot_addr(location);
	return r;
}

static int ram_write_page(uintptr_t location, const void *data)
{
	size_t len = ZP_PAGE_SIZE;
	int r = zp_io_fault(ZP_IO_WRITE, &len);

	if (r == 0)
		memcpy(slot_addr(location), data, ZP_PAGE_SIZE);
	return r;
}

const struct zp_store_ops zp_store_ram = {
	.name = "ram",
	.configure = ram_configure,
	.keeps_copies = ram_keeps_copies,
	.open = ram_open,
	.close = ram_close,
	.prepare = ram_prepare,
	.read_page = ram_read_page,
	.write_page = ram_write_page,
};
