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
 * Location tokens are slot * page size. One free slot is kept for page
 * faults: a request that is not for a fault gets -ENOMEM when only that one
 * is left.
 */
#include "../core/internal.h"

#define CHUNK_PAGES 512 /* 2 MiB: a huge page where the system has them */

/* Everything is taken from the port's page allocator (address space
 * reserved up front, memory committed when touched) because the store runs
 * inside fault handling, which with signal delivery is a signal handler:
 * no malloc there. */
#define MAX_SLOTS ((size_t)1 << 32)          /* 16 TiB of pages */
#define MAX_CHUNKS (MAX_SLOTS / CHUNK_PAGES)

static uint8_t **chunks;     /* MAX_CHUNKS pointers */
static size_t nchunks;
static uint32_t *free_slots; /* stack of free slot numbers, MAX_SLOTS */
static size_t nfree;
static size_t nslots;        /* slots that exist (in chunks) */
static size_t used;          /* slots holding a location */
static size_t limit;         /* most slots, 0 = unlimited */
static bool keep_clean;
static uintptr_t *frame_slot_location; /* location of BACKED frames */
static size_t frame_slot_bytes;        /* its size, as allocated */

#define CHUNK_BYTES ((size_t)CHUNK_PAGES * ZP_PAGE_SIZE)

static int ram_configure(const char *arg, size_t limit_pages)
{
	if (arg != NULL && strcmp(arg, "backed") != 0) {
		zp_error("ram store option '%s' is unknown: the only one is "
			 "'backed'", arg);
		return -EINVAL;
	}
	keep_clean = arg != NULL;
	limit = limit_pages;
	return 0;
}

static void ram_fini(void)
{
	for (size_t i = 0; i < nchunks; i++)
		zp_port_table_free(chunks[i], CHUNK_BYTES);
	zp_port_table_free(chunks, MAX_CHUNKS * sizeof(*chunks));
	zp_port_table_free(free_slots, MAX_SLOTS * sizeof(*free_slots));
	zp_port_table_free(frame_slot_location, frame_slot_bytes);
	chunks = NULL;
	free_slots = NULL;
	frame_slot_location = NULL;
	nchunks = nfree = nslots = used = 0;
}

static void ram_init(void)
{
	ram_fini();
	chunks = zp_port_table_alloc(MAX_CHUNKS * sizeof(*chunks));
	free_slots = zp_port_table_alloc(MAX_SLOTS * sizeof(*free_slots));
	frame_slot_bytes = Z_NUM_PAGE_FRAMES * sizeof(uintptr_t);
	frame_slot_location = zp_port_table_alloc(frame_slot_bytes);
	if (chunks == NULL || free_slots == NULL || frame_slot_location == NULL)
		zp_fatal("ram store: cannot reserve its tables");
}

static uint8_t *slot_addr(uintptr_t location)
{
	size_t slot = location / ZP_PAGE_SIZE;

	return chunks[slot / CHUNK_PAGES] + (slot % CHUNK_PAGES) * ZP_PAGE_SIZE;
}

/* Add a chunk of slots to the free stack; false if memory is short. */
static bool grow(void)
{
	if (nchunks == MAX_CHUNKS)
		return false;
	/* Its slots are filled soon: commit it now rather than take a page
	 * fault per slot inside the faults that fill them. */
	uint8_t *chunk = zp_port_table_alloc_committed(CHUNK_BYTES);
	if (chunk == NULL)
		return false;
	chunks[nchunks++] = chunk;
	for (size_t i = CHUNK_PAGES; i-- > 0;)
		free_slots[nfree++] = (uint32_t)(nslots + i);
	nslots += CHUNK_PAGES;
	return true;
}

/* Locations that may still be handed out. */
static size_t available(void)
{
	return limit == 0 ? SIZE_MAX : limit - used;
}

static int ram_location_get(struct z_page_frame *pf, uintptr_t *location,
			    bool page_fault)
{
	if (z_page_frame_is_backed(pf)) {
		*location = frame_slot_location[z_page_frame_index(pf)];
		return 0;
	}
	size_t avail = available();
	if (avail == 0 || (!page_fault && avail == 1))
		return -ENOMEM;
	if (nfree == 0 && !grow())
		return -ENOMEM;
	used++;
	*location = (uintptr_t)free_slots[--nfree] * ZP_PAGE_SIZE;
	return 0;
}

static void ram_location_free(uintptr_t location)
{
	used--;
	free_slots[nfree++] = (uint32_t)(location / ZP_PAGE_SIZE);
}

static void ram_page_out(uintptr_t location)
{
	memcpy(slot_addr(location), Z_SCRATCH_PAGE, ZP_PAGE_SIZE);
}

static void ram_page_in(uintptr_t location)
{
	memcpy(Z_SCRATCH_PAGE, slot_addr(location), ZP_PAGE_SIZE);
}

static void ram_page_finalize(struct z_page_frame *pf, uintptr_t location)
{
	if (keep_clean) {
		frame_slot_location[z_page_frame_index(pf)] = location;
		z_page_frame_set(pf, Z_PAGE_FRAME_BACKED);
	} else {
		ram_location_free(location);
	}
}

/* The native path: slots are plain memory, so a page is read in place
 * (with clean copies kept, the library copies it once, straight into its
 * frame) and written with one copy, both outside the store lock. */
static const void *ram_read_page(uintptr_t location, void *scratch)
{
	(void)scratch;
	return slot_addr(location);
}

static void ram_write_page(uintptr_t location, const void *data)
{
	memcpy(slot_addr(location), data, ZP_PAGE_SIZE);
}

static bool ram_keeps_copies(void)
{
	return keep_clean;
}

const struct zp_store_ops zp_store_ram = {
	.name = "ram",
	.configure = ram_configure,
	.init = ram_init,
	.location_get = ram_location_get,
	.location_free = ram_location_free,
	.page_out = ram_page_out,
	.page_in = ram_page_in,
	.page_finalize = ram_page_finalize,
	.fini = ram_fini,
	.read_page = ram_read_page,
	.write_page = ram_write_page,
	.keeps_copies = ram_keeps_copies,
};
