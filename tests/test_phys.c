/*
 * Physical memory: zpage_ram_alloc()/zpage_ram_free(), the permanent mapping
 * and the phys/virt helpers, z_phys_map()/z_phys_unmap() of RAM and of
 * ranges registered with zpage_phys_register(), and the debug-build
 * assertions of z_mem_phys_addr()/z_mem_virt_addr().
 *
 * The assertions in <sys/mem_manage.h> exist only without NDEBUG, which the
 * release build type defines on the command line: this file undoes that.
 */
#undef NDEBUG
#define _GNU_SOURCE
#include "zpt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef NDEBUG
#error "this test needs the debug-build assertions"
#endif



#define FRAMES 64
#define PG ZPT_PAGE

/* Physical addresses for registered ranges: far above RAM. Each test uses
 * its own (ranges cannot be unregistered). */
#define DEV_BASE ((uintptr_t)CONFIG_SRAM_BASE_ADDRESS + ((uintptr_t)1 << 32))
#define DEV(n) (DEV_BASE + (uintptr_t)(n) * ((uintptr_t)1 << 24))





static struct zpage_info info_now(void)
{
	struct zpage_info info;

	assert_int_equal(zpage_info_get(&info), 0);
	return info;
}

static uintptr_t ram_end(void)
{
	return CONFIG_SRAM_BASE_ADDRESS + info_now().frames * PG;
}

static void fill_pages(uint8_t *p, size_t pages, uint64_t seed)
{
	for (size_t i = 0; i < pages; i++)
		zpt_fill(p + i * PG, seed, i);
}

static void check_pages(const uint8_t *p, size_t pages, uint64_t seed)
{
	for (size_t i = 0; i < pages; i++)
		if (!zpt_check(p + i * PG, seed, i))
			fail_msg("page %zu of %p does not hold its data", i,
				 (const void *)p);
}

/* A memfd of the given pages, page i filled with zpt_fill(seed, i). */
static int make_file(size_t pages, uint64_t seed)
{
	int fd = memfd_create("zpt-phys", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(pages * PG)), 0);
	uint8_t *buf = malloc(PG);
	assert_non_null(buf);
	for (size_t i = 0; i < pages; i++) {
		zpt_fill(buf, seed, i);
		assert_int_equal(pwrite(fd, buf, PG, (off_t)(i * PG)), PG);
	}
	free(buf);
	return fd;
}

/* Nothing allocated, mapped or pinned between tests. */
static int check_clean(void **state)
{
	(void)state;
	assert_int_equal(k_mem_free_get(), info_now().frames * PG);
	assert_int_equal(zpt_pinned_frames(), 0);
	return 0;
}

/* ---- The permanent mapping and the helpers ---------------------------- */

static void ram_alloc_in_permanent_mapping(void **state)
{
	(void)state;
	struct zpage_info info = info_now();
	size_t pages = 3;
	uint8_t *buf = zpage_ram_alloc(pages * PG);

	assert_non_null(buf);
	assert_int_equal((uintptr_t)buf % PG, 0);
	assert_true(buf >= (uint8_t *)info.vm_base &&
		    buf + pages * PG <= (uint8_t *)info.vm_base + info.frames * PG);
	assert_true(z_mem_is_permanent_virt((uintptr_t)buf));
	assert_true(z_mem_is_permanent_virt((uintptr_t)buf + pages * PG - 1));

	uintptr_t phys = z_mem_phys_addr(buf);
	assert_int_equal(phys % PG, 0);
	assert_true(phys >= CONFIG_SRAM_BASE_ADDRESS);
	assert_true(phys + pages * PG <=
		    CONFIG_SRAM_BASE_ADDRESS + info.frames * PG);
	assert_true(z_mem_is_ram_phys(phys));
	assert_ptr_equal(z_mem_virt_addr(phys), buf);

	/* Byte by byte inside the allocation. */
	for (size_t off = 0; off < pages * PG; off += 1021) {
		assert_int_equal(z_mem_phys_addr(buf + off), phys + off);
		assert_ptr_equal(z_mem_virt_addr(phys + off), buf + off);
	}

	/* The macros agree with the functions and the documented offset. */
	uintptr_t offset = (uintptr_t)info.vm_base - CONFIG_SRAM_BASE_ADDRESS;
	assert_int_equal(Z_MEM_VM_OFFSET, offset);
	assert_int_equal(z_mem_vm_offset(), offset);
	assert_int_equal(Z_MEM_PHYS_ADDR((uintptr_t)buf), phys);
	assert_int_equal(Z_MEM_VIRT_ADDR(phys), (uintptr_t)buf);
	assert_int_equal(Z_MEM_PHYS_ADDR((uintptr_t)buf + 77), phys + 77);

	/* The memory is usable. */
	fill_pages(buf, pages, 1);
	check_pages(buf, pages, 1);
	zpage_ram_free(buf, pages * PG);
}

static void ram_alloc_distinct_runs(void **state)
{
	(void)state;
	/* Several allocations: disjoint, each physically contiguous. */
	uint8_t *a = zpage_ram_alloc(PG);
	uint8_t *b = zpage_ram_alloc(5 * PG);
	uint8_t *c = zpage_ram_alloc(2 * PG + 1); /* rounded up: 3 pages */

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal(zpt_pinned_frames(), 9);
	assert_int_equal(k_mem_free_get(), (info_now().frames - 9) * PG);
	uint8_t *v[3] = { a, b, c };
	size_t n[3] = { 1, 5, 3 };
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			if (i != j)
				assert_true(v[i] + n[i] * PG <= v[j] ||
					    v[j] + n[j] * PG <= v[i]);
	for (int i = 0; i < 3; i++) {
		fill_pages(v[i], n[i], 10 + (uint64_t)i);
		assert_int_equal(z_mem_phys_addr(v[i] + n[i] * PG - 1),
				 z_mem_phys_addr(v[i]) + n[i] * PG - 1);
	}
	for (int i = 0; i < 3; i++)
		check_pages(v[i], n[i], 10 + (uint64_t)i);
	zpage_ram_free(a, PG);
	zpage_ram_free(b, 5 * PG);
	zpage_ram_free(c, 2 * PG + 1);
}

/* ---- z_phys_map of RAM ---------------------------------------------- */

static void phys_map_aliases_ram(void **state)
{
	(void)state;
	size_t pages = 4;
	uint8_t *buf = zpage_ram_alloc(pages * PG);
	uint8_t *v = (uint8_t *)1;

	assert_non_null(buf);
	uintptr_t phys = z_mem_phys_addr(buf);
	z_phys_map(&v, phys, pages * PG, K_MEM_PERM_RW);
	assert_non_null(v);
	assert_ptr_not_equal(v, buf);
	assert_int_equal((uintptr_t)v % PG, 0);
	assert_false(z_mem_is_permanent_virt((uintptr_t)v));

	/* Permanent mapping -> new mapping, every page. */
	fill_pages(buf, pages, 21);
	check_pages(v, pages, 21);
	/* New mapping -> permanent mapping. */
	fill_pages(v, pages, 22);
	check_pages(buf, pages, 22);
	/* Single bytes, alternating. */
	for (size_t i = 0; i < pages; i++) {
		buf[i * PG + 9] = (uint8_t)(i + 1);
		assert_int_equal(v[i * PG + 9], i + 1);
		v[i * PG + PG - 1] = (uint8_t)(0x80 + i);
		assert_int_equal(buf[i * PG + PG - 1], 0x80 + i);
	}

	/* A second window on the same RAM shows the same bytes too. */
	uint8_t *w = NULL;
	z_phys_map(&w, phys, pages * PG, K_MEM_PERM_RW);
	assert_non_null(w);
	assert_ptr_not_equal(w, v);
	assert_memory_equal(w, buf, pages * PG);

	z_phys_unmap(w, pages * PG);
	z_phys_unmap(v, pages * PG);
	/* The RAM itself is unaffected. */
	assert_int_equal(buf[9], 1);
	zpage_ram_free(buf, pages * PG);
}

static void phys_map_unaligned(void **state)
{
	(void)state;
	uint8_t *buf = zpage_ram_alloc(3 * PG);

	assert_non_null(buf);
	fill_pages(buf, 3, 31);
	uintptr_t phys = z_mem_phys_addr(buf);

	/* Inside one page. */
	uint8_t *v = NULL;
	z_phys_map(&v, phys + 100, 200, K_MEM_PERM_RW);
	assert_non_null(v);
	assert_int_equal((uintptr_t)v % PG, 100);
	assert_memory_equal(v, buf + 100, 200);
	v[0] = 0xAB;
	assert_int_equal(buf[100], 0xAB);

	/* Across a page boundary: two pages mapped. */
	uint8_t *w = NULL;
	z_phys_map(&w, phys + PG + 4000, 200, K_MEM_PERM_RW);
	assert_non_null(w);
	assert_int_equal((uintptr_t)w % PG, 4000);
	assert_memory_equal(w, buf + PG + 4000, 200);
	w[150] = 0xCD; /* in the second page */
	assert_int_equal(buf[PG + 4150], 0xCD);

	z_phys_unmap(v, 200);
	z_phys_unmap(w, 200);
	zpage_ram_free(buf, 3 * PG);
}

static void child_access_after_phys_unmap(void *arg)
{
	(void)arg;
	zpt_child_prepare();
	uint8_t *buf = zpage_ram_alloc(2 * PG);
	ZPT_CHILD_REQUIRE(buf != NULL);
	volatile uint8_t *v = NULL;
	z_phys_map((uint8_t **)&v, z_mem_phys_addr(buf), 2 * PG, K_MEM_PERM_RW);
	ZPT_CHILD_REQUIRE(v != NULL);
	v[PG + 1] = 5;
	ZPT_CHILD_REQUIRE(buf[PG + 1] == 5);
	z_phys_unmap((uint8_t *)v, 2 * PG);
	ZPT_CHILD_REQUIRE(buf[PG + 1] == 5);
	uint8_t x = v[PG + 1];
	fprintf(stderr, "access after z_phys_unmap worked (%u)\n", x);
	_exit(3);
}

static void phys_unmap_then_access_dies(void **state)
{
	(void)state;
	zpt_expect_death(child_access_after_phys_unmap, NULL, SIGSEGV, NULL);
}

static void child_write_readonly_phys(void *arg)
{
	(void)arg;
	zpt_child_prepare();
	uint8_t *buf = zpage_ram_alloc(PG);
	ZPT_CHILD_REQUIRE(buf != NULL);
	buf[8] = 8;
	volatile uint8_t *v = NULL;
	z_phys_map((uint8_t **)&v, z_mem_phys_addr(buf), PG, 0);
	ZPT_CHILD_REQUIRE(v != NULL);
	ZPT_CHILD_REQUIRE(v[8] == 8);
	v[8] = 9;
	fprintf(stderr, "write through a read-only z_phys_map worked\n");
	_exit(3);
}

static void phys_map_readonly_write_dies(void **state)
{
	(void)state;
	zpt_expect_death(child_write_readonly_phys, NULL, SIGSEGV, NULL);
}

static void phys_unmap_bogus_ignored(void **state)
{
	(void)state;
	uint8_t *buf = zpage_ram_alloc(2 * PG);
	uint8_t *v = NULL;
	int local;

	assert_non_null(buf);
	z_phys_map(&v, z_mem_phys_addr(buf), 2 * PG, K_MEM_PERM_RW);
	assert_non_null(v);
	z_phys_unmap(v, PG);              /* wrong size */
	z_phys_unmap(v, 3 * PG);          /* wrong size */
	z_phys_unmap(v + PG, PG);         /* inside */
	z_phys_unmap(buf, 2 * PG);        /* the permanent mapping */
	z_phys_unmap((uint8_t *)&local, PG);
	z_phys_unmap(NULL, PG);
	/* Still mapped both ways. */
	v[PG + 3] = 33;
	assert_int_equal(buf[PG + 3], 33);
	/* A k_mem_map() region is not a z_phys_map() mapping. */
	uint8_t *m = k_mem_map(2 * PG, K_MEM_PERM_RW);
	assert_non_null(m);
	m[0] = 1;
	z_phys_unmap(m, 2 * PG);
	assert_int_equal(m[0], 1);
	k_mem_unmap(m, 2 * PG);
	/* And the reverse: k_mem_unmap ignores a z_phys_map() window. */
	k_mem_unmap(v, 2 * PG);
	assert_int_equal(v[PG + 3], 33);
	z_phys_unmap(v, 2 * PG);
	zpage_ram_free(buf, 2 * PG);
}

/* ---- Frames taken by zpage_ram_alloc -------------------------------- */

static void ram_alloc_takes_frames(void **state)
{
	(void)state;
	size_t free0 = k_mem_free_get();
	unsigned long pinned0 = zpt_pinned_frames();

	uint8_t *buf = zpage_ram_alloc(5 * PG);
	assert_non_null(buf);
	assert_int_equal(k_mem_free_get(), free0 - 5 * PG);
	assert_int_equal(zpt_pinned_frames(), pinned0 + 5);
	zpage_ram_free(buf, 5 * PG);
	assert_int_equal(k_mem_free_get(), free0);
	assert_int_equal(zpt_pinned_frames(), pinned0);

	/* Partial sizes take whole pages. */
	buf = zpage_ram_alloc(1);
	assert_non_null(buf);
	assert_int_equal(k_mem_free_get(), free0 - PG);
	zpage_ram_free(buf, 1);
	assert_int_equal(k_mem_free_get(), free0);

	/* The whole pool at once, repeatedly. */
	size_t frames = info_now().frames;
	for (int round = 0; round < 3; round++) {
		buf = zpage_ram_alloc(frames * PG);
		assert_non_null(buf);
		assert_ptr_equal(buf, info_now().vm_base);
		assert_int_equal(k_mem_free_get(), 0);
		assert_int_equal(zpt_pinned_frames(), frames);
		fill_pages(buf, frames, 40 + (uint64_t)round);
		check_pages(buf, frames, 40 + (uint64_t)round);
		zpage_ram_free(buf, frames * PG);
		assert_int_equal(k_mem_free_get(), free0);
		assert_int_equal(zpt_pinned_frames(), 0);
	}
}

static void ram_free_bogus_ignored(void **state)
{
	(void)state;
	uint8_t *buf = zpage_ram_alloc(2 * PG);
	int local;

	assert_non_null(buf);
	size_t free1 = k_mem_free_get();
	buf[5] = 5;
	zpage_ram_free(buf + 1, 2 * PG);        /* unaligned */
	zpage_ram_free(buf, 0);                 /* empty */
	zpage_ram_free(buf, 3 * PG);            /* beyond the allocation */
	zpage_ram_free(&local, PG);             /* not library memory */
	zpage_ram_free(NULL, PG);
	uint8_t *m = k_mem_map(PG, K_MEM_PERM_RW);
	assert_non_null(m);
	zpage_ram_free(m, PG);                  /* a k_mem_map() region */
	k_mem_unmap(m, PG);
	assert_int_equal(k_mem_free_get(), free1);
	assert_int_equal(zpt_pinned_frames(), 2);
	assert_int_equal(buf[5], 5);
	zpage_ram_free(buf, 2 * PG);
	assert_int_equal(zpt_pinned_frames(), 0);
	zpage_ram_free(buf, 2 * PG);            /* twice */
	assert_int_equal(zpt_pinned_frames(), 0);
	assert_int_equal(k_mem_free_get(), free1 + 2 * PG);
}

static void ram_alloc_evicts_paged_data(void **state)
{
	(void)state;
	size_t frames = info_now().frames, pages = 2 * frames;
	struct k_mem_paging_stats_t s0, s1;

	uint8_t *p = k_mem_map(pages * PG, K_MEM_PERM_RW);
	assert_non_null(p);
	fill_pages(p, pages, 51);
	assert_int_equal(k_mem_free_get(), 0);

	k_mem_paging_stats_get(&s0);
	uint8_t *buf = zpage_ram_alloc(8 * PG);
	assert_non_null(buf);
	k_mem_paging_stats_get(&s1);
	/* Exactly the eight pages in those frames were evicted. */
	assert_int_equal(s1.eviction.clean + s1.eviction.dirty,
			 s0.eviction.clean + s0.eviction.dirty + 8);
	assert_int_equal(zpt_pinned_frames(), 8);
	assert_int_equal(k_mem_free_get(), 0);
	fill_pages(buf, 8, 52);

	/* The paged data survives, with eight frames fewer to page in. */
	check_pages(p, pages, 51);
	check_pages(p, pages, 51);
	assert_true(zpt_resident(p, pages * PG) <= frames - 8);
	/* And the allocation is never touched by the paging. */
	check_pages(buf, 8, 52);

	zpage_ram_free(buf, 8 * PG);
	assert_int_equal(zpt_pinned_frames(), 0);
	assert_int_equal(k_mem_free_get(), 8 * PG);
	check_pages(p, pages, 51);
	k_mem_unmap(p, pages * PG);
}

static void ram_alloc_too_big_changes_nothing(void **state)
{
	(void)state;
	size_t frames = info_now().frames;
	uint8_t *p = k_mem_map(frames * PG, K_MEM_PERM_RW);

	assert_non_null(p);
	fill_pages(p, frames / 2, 61);
	size_t free0 = k_mem_free_get();
	assert_int_equal(free0, (frames - frames / 2) * PG);
	struct k_mem_paging_stats_t s0, s1;
	k_mem_paging_stats_get(&s0);

	assert_null(zpage_ram_alloc((frames + 1) * PG));
	assert_null(zpage_ram_alloc(frames * PG + 1));
	assert_null(zpage_ram_alloc(0));
	assert_null(zpage_ram_alloc(SIZE_MAX - PG));
	assert_int_equal(k_mem_free_get(), free0);
	assert_int_equal(zpt_pinned_frames(), 0);

	/* With some frames pinned, more than the rest cannot be had either
	 * (and a failed search evicts nothing). */
	uint8_t *l = k_mem_map(4 * PG, K_MEM_PERM_RW | K_MEM_MAP_LOCK);
	assert_non_null(l);
	size_t free1 = k_mem_free_get();
	assert_int_equal(free1, free0 - 4 * PG);
	assert_null(zpage_ram_alloc((frames - 4 + 1) * PG));
	assert_int_equal(k_mem_free_get(), free1);
	assert_int_equal(zpt_pinned_frames(), 4);
	k_mem_paging_stats_get(&s1);
	assert_int_equal(s1.eviction.clean + s1.eviction.dirty,
			 s0.eviction.clean + s0.eviction.dirty);
	check_pages(p, frames / 2, 61);
	k_mem_unmap(l, 4 * PG);

	/* The whole pool can still be taken (evicting p's pages). */
	uint8_t *all = zpage_ram_alloc(frames * PG);
	assert_non_null(all);
	assert_int_equal(zpt_pinned_frames(), frames);
	zpage_ram_free(all, frames * PG);
	check_pages(p, frames / 2, 61);
	k_mem_unmap(p, frames * PG);
}

/* Background work (nru samples accessed bits every period, which briefly
 * marks frames busy; the background evictor frees frames ahead) must not
 * make an allocation that can be satisfied fail. */
static void child_ram_alloc_while_sampling(void *arg)
{
	(void)arg;
	struct zpage_config cfg = { .frames = 32, .nru_period_ms = 1,
				    .eviction = "nru", .evictor = 1 };
	ZPT_CHILD_REQUIRE(zpage_init(&cfg) == 0);
	uint8_t *p = k_mem_map(64 * PG, K_MEM_PERM_RW);
	ZPT_CHILD_REQUIRE(p != NULL);
	for (size_t i = 0; i < 64; i++)
		zpt_fill(p + i * PG, 111, i);
	for (int round = 0; round < 300; round++) {
		/* Load some pages (evicting others), so that every period
		 * has evictions and the sampling runs. */
		for (size_t i = 0; i < 24; i++) {
			size_t k = ((size_t)round * 7 + i) % 64;
			ZPT_CHILD_REQUIRE(zpt_check(p + k * PG, 111, k));
		}
		uint8_t *all = zpage_ram_alloc(32 * PG);
		if (all == NULL) {
			fprintf(stderr, "round %d: zpage_ram_alloc of the whole "
				"pool failed\n", round);
			_exit(3);
		}
		zpage_ram_free(all, 32 * PG);
	}
	for (size_t i = 0; i < 64; i++)
		ZPT_CHILD_REQUIRE(zpt_check(p + i * PG, 111, i));
	_exit(0);
}

static void ram_alloc_not_disturbed_by_sampling(void **state)
{
	(void)state;
	zpt_expect_child_ok(child_ram_alloc_while_sampling, NULL);
}

/* ---- Registered physical ranges --------------------------------------- */

static void phys_register_memfd(void **state)
{
	(void)state;
	size_t pages = 4;
	int fd = make_file(pages, 71);
	uintptr_t phys = DEV(0);
	uint8_t *v = NULL;

	assert_true(phys > ram_end());
	assert_int_equal(zpage_phys_register(phys, pages * PG, fd, 0), 0);
	z_phys_map(&v, phys, pages * PG, K_MEM_PERM_RW);
	assert_non_null(v);
	assert_int_equal((uintptr_t)v % PG, 0);
	/* The file's contents. */
	check_pages(v, pages, 71);

	/* Writes reach the file. */
	fill_pages(v, pages, 72);
	uint8_t *buf = malloc(PG);
	assert_non_null(buf);
	for (size_t i = 0; i < pages; i++) {
		assert_int_equal(pread(fd, buf, PG, (off_t)(i * PG)), PG);
		assert_true(zpt_check(buf, 72, i));
	}
	/* And writes to the file show in the mapping. */
	zpt_fill(buf, 73, 0);
	assert_int_equal(pwrite(fd, buf, PG, 2 * PG), PG);
	assert_true(zpt_check(v + 2 * PG, 73, 0));

	/* An unaligned part of the range. */
	uint8_t *w = NULL;
	z_phys_map(&w, phys + 3 * PG + 123, 50, K_MEM_PERM_RW);
	assert_non_null(w);
	assert_int_equal((uintptr_t)w % PG, 123);
	assert_memory_equal(w, v + 3 * PG + 123, 50);
	w[0] = 0x77;
	assert_int_equal(pread(fd, buf, 1, 3 * PG + 123), 1);
	assert_int_equal(buf[0], 0x77);
	z_phys_unmap(w, 50);

	z_phys_unmap(v, pages * PG);
	free(buf);
	close(fd);
}

static void phys_register_offset_and_own_fd(void **state)
{
	(void)state;
	int fd = make_file(6, 81);
	uintptr_t phys = DEV(1);

	/* Pages 2..5 of the file at phys. */
	assert_int_equal(zpage_phys_register(phys, 4 * PG, fd, 2 * PG), 0);
	/* The library keeps its own descriptor. */
	close(fd);
	uint8_t *v = NULL;
	z_phys_map(&v, phys, 4 * PG, K_MEM_PERM_RW);
	assert_non_null(v);
	for (size_t i = 0; i < 4; i++)
		assert_true(zpt_check(v + i * PG, 81, i + 2));
	/* A part of it maps the right file pages too. */
	uint8_t *w = NULL;
	z_phys_map(&w, phys + PG, 2 * PG, 0);
	assert_non_null(w);
	assert_true(zpt_check(w, 81, 3));
	assert_true(zpt_check(w + PG, 81, 4));
	/* Shared: a write through v shows through w. */
	v[PG + 1] ^= 0xFF;
	assert_int_equal(w[1], v[PG + 1]);
	z_phys_unmap(w, 2 * PG);
	z_phys_unmap(v, 4 * PG);
}

static void phys_register_invalid(void **state)
{
	(void)state;
	int fd = make_file(8, 91);
	uintptr_t ram = CONFIG_SRAM_BASE_ADDRESS, end = ram_end();
	uintptr_t x = DEV(2);

	/* Overlapping RAM. */
	assert_int_equal(zpage_phys_register(ram, PG, fd, 0), -EINVAL);
	assert_int_equal(zpage_phys_register(ram - PG, 2 * PG, fd, 0), -EINVAL);
	assert_int_equal(zpage_phys_register(end - PG, 2 * PG, fd, 0), -EINVAL);
	assert_int_equal(zpage_phys_register(ram - PG, end - ram + 2 * PG, fd, 0),
			 -EINVAL);
	assert_int_equal(zpage_phys_register(ram + 4 * PG, PG, fd, 0), -EINVAL);
	/* Unaligned or empty. */
	assert_int_equal(zpage_phys_register(x + 1, PG, fd, 0), -EINVAL);
	assert_int_equal(zpage_phys_register(x, PG + 1, fd, 0), -EINVAL);
	assert_int_equal(zpage_phys_register(x, 100, fd, 0), -EINVAL);
	assert_int_equal(zpage_phys_register(x, PG, fd, 1), -EINVAL);
	assert_int_equal(zpage_phys_register(x, PG, fd, PG + 512), -EINVAL);
	assert_int_equal(zpage_phys_register(x, 0, fd, 0), -EINVAL);
	/* Wrapping around the address space. */
	assert_int_equal(zpage_phys_register(UINTPTR_MAX & ~(uintptr_t)(PG - 1),
					     2 * PG, fd, 0), -EINVAL);
	/* Bad descriptors. */
	assert_int_equal(zpage_phys_register(x, PG, -1, 0), -EBADF);
	int closed = dup(fd);
	assert_true(closed >= 0);
	close(closed);
	assert_int_equal(zpage_phys_register(x, PG, closed, 0), -EBADF);

	/* A valid range, then overlaps with it. */
	assert_int_equal(zpage_phys_register(x, 4 * PG, fd, 0), 0);
	assert_int_equal(zpage_phys_register(x, 4 * PG, fd, 0), -EINVAL);
	assert_int_equal(zpage_phys_register(x + PG, PG, fd, 0), -EINVAL);
	assert_int_equal(zpage_phys_register(x + 3 * PG, 2 * PG, fd, 0), -EINVAL);
	assert_int_equal(zpage_phys_register(x - PG, 2 * PG, fd, 0), -EINVAL);
	assert_int_equal(zpage_phys_register(x - 4 * PG, 16 * PG, fd, 0),
			 -EINVAL);
	/* Neighbours that only touch it are fine. */
	assert_int_equal(zpage_phys_register(x + 4 * PG, 2 * PG, fd, 4 * PG), 0);
	assert_int_equal(zpage_phys_register(x - PG, PG, fd, 7 * PG), 0);

	/* None of the refused ones was registered: the first range maps its
	 * own pages. */
	uint8_t *v = NULL;
	z_phys_map(&v, x, 4 * PG, 0);
	assert_non_null(v);
	for (size_t i = 0; i < 4; i++)
		assert_true(zpt_check(v + i * PG, 91, i));
	z_phys_unmap(v, 4 * PG);
	z_phys_map(&v, x - PG, PG, 0);
	assert_non_null(v);
	assert_true(zpt_check(v, 91, 7));
	z_phys_unmap(v, PG);
	close(fd);
}

static void phys_map_unknown_stores_null(void **state)
{
	(void)state;
	int fd = make_file(2, 101);
	uintptr_t x = DEV(3), end = ram_end();
	uint8_t *v;

	assert_int_equal(zpage_phys_register(x, 2 * PG, fd, 0), 0);
	close(fd);

#define EXPECT_NULL(phys, size, flags)                                        \
	do {                                                                  \
		v = (uint8_t *)1;                                             \
		z_phys_map(&v, (phys), (size), (flags));                      \
		if (v != NULL)                                                \
			fail_msg("z_phys_map(%#lx, %zu, %#x) gave %p",        \
				 (unsigned long)(phys), (size_t)(size),       \
				 (unsigned)(flags), (void *)v);               \
	} while (0)

	EXPECT_NULL(0, PG, K_MEM_PERM_RW);
	EXPECT_NULL(PG, PG, K_MEM_PERM_RW);
	EXPECT_NULL(CONFIG_SRAM_BASE_ADDRESS - PG, PG, K_MEM_PERM_RW);
	EXPECT_NULL(end, PG, K_MEM_PERM_RW);            /* just after RAM */
	EXPECT_NULL(end - PG, 2 * PG, K_MEM_PERM_RW);   /* runs past RAM */
	EXPECT_NULL(end - 1, 2, K_MEM_PERM_RW);
	EXPECT_NULL(CONFIG_SRAM_BASE_ADDRESS - 1, 2, K_MEM_PERM_RW);
	EXPECT_NULL(x + 2 * PG, PG, K_MEM_PERM_RW);     /* after the file */
	EXPECT_NULL(x + PG, 2 * PG, K_MEM_PERM_RW);     /* runs past it */
	EXPECT_NULL(x - PG, 2 * PG, K_MEM_PERM_RW);     /* starts before */
	EXPECT_NULL(x + 2 * PG - 1, 2, K_MEM_PERM_RW);
	EXPECT_NULL(x, 0, K_MEM_PERM_RW);               /* empty */
	EXPECT_NULL(CONFIG_SRAM_BASE_ADDRESS, 0, K_MEM_PERM_RW);
	EXPECT_NULL(UINTPTR_MAX - 10, 100, K_MEM_PERM_RW); /* wraps */
	/* Valid memory but invalid flags. */
	EXPECT_NULL(x, PG, K_MEM_PERM_RW | 3);
	EXPECT_NULL(x, PG, K_MEM_PERM_RW | BIT(16));
	EXPECT_NULL(CONFIG_SRAM_BASE_ADDRESS, PG, K_MEM_PERM_RW | 5);
#undef EXPECT_NULL
	/* A NULL result pointer is tolerated. */
	z_phys_map(NULL, x, PG, K_MEM_PERM_RW);

	/* The valid range still maps. */
	v = NULL;
	z_phys_map(&v, x + PG, PG, K_MEM_PERM_RW | K_MEM_CACHE_NONE);
	assert_non_null(v);
	assert_true(zpt_check(v, 101, 1));
	z_phys_unmap(v, PG);
}

static void child_register_many(void *arg)
{
	(void)arg;
	int fd = memfd_create("zpt-many", MFD_CLOEXEC);
	ZPT_CHILD_REQUIRE(fd >= 0);
	ZPT_CHILD_REQUIRE(ftruncate(fd, PG) == 0);
	int ok = 0, r = 0;
	for (int i = 0; i < 100; i++) {
		r = zpage_phys_register(DEV(i), PG, fd, 0);
		if (r != 0)
			break;
		ok++;
	}
	if (ok != 32 || r != -ENOSPC) {
		fprintf(stderr, "registered %d ranges, then %d\n", ok, r);
		_exit(3);
	}
	/* Each of them maps. */
	for (int i = 0; i < 32; i += 7) {
		uint8_t *v = NULL;
		z_phys_map(&v, DEV(i), PG, K_MEM_PERM_RW);
		ZPT_CHILD_REQUIRE(v != NULL);
		v[0] = (uint8_t)i;
		z_phys_unmap(v, PG);
	}
	_exit(0);
}

static void phys_register_limit(void **state)
{
	(void)state;
	zpt_expect_child_ok(child_register_many, NULL);
}

/* ---- Debug-build assertions ------------------------------------------- */

static void child_phys_addr_of_mapping(void *arg)
{
	(void)arg;
	zpt_child_prepare();
	void *p = k_mem_map(PG, K_MEM_PERM_RW);
	ZPT_CHILD_REQUIRE(p != NULL);
	uintptr_t phys = z_mem_phys_addr(p);
	fprintf(stderr, "z_mem_phys_addr(%p) returned %#lx\n", p,
		(unsigned long)phys);
	_exit(3);
}

static void child_phys_addr_of_stack(void *arg)
{
	(void)arg;
	zpt_child_prepare();
	int local = 0;
	uintptr_t phys = z_mem_phys_addr(&local);
	fprintf(stderr, "z_mem_phys_addr(stack) returned %#lx\n",
		(unsigned long)phys);
	_exit(3);
}

static void child_phys_addr_of_window(void *arg)
{
	(void)arg;
	zpt_child_prepare();
	uint8_t *buf = zpage_ram_alloc(PG);
	ZPT_CHILD_REQUIRE(buf != NULL);
	uint8_t *v = NULL;
	z_phys_map(&v, z_mem_phys_addr(buf), PG, K_MEM_PERM_RW);
	ZPT_CHILD_REQUIRE(v != NULL);
	uintptr_t phys = z_mem_phys_addr(v);
	fprintf(stderr, "z_mem_phys_addr(window) returned %#lx\n",
		(unsigned long)phys);
	_exit(3);
}

static void child_virt_addr_outside_ram(void *arg)
{
	(void)arg;
	zpt_child_prepare();
	struct zpage_info info;
	ZPT_CHILD_REQUIRE(zpage_info_get(&info) == 0);
	void *v = z_mem_virt_addr(CONFIG_SRAM_BASE_ADDRESS + info.frames * PG);
	fprintf(stderr, "z_mem_virt_addr(end of RAM) returned %p\n", v);
	_exit(3);
}

static void assert_phys_addr_outside_permanent(void **state)
{
	(void)state;
	zpt_expect_death(child_phys_addr_of_mapping, NULL, SIGABRT,
			 "not in the permanent mapping");
	zpt_expect_death(child_phys_addr_of_stack, NULL, SIGABRT,
			 "not in the permanent mapping");
	zpt_expect_death(child_phys_addr_of_window, NULL, SIGABRT,
			 "not in the permanent mapping");
}

static void assert_virt_addr_outside_ram(void **state)
{
	(void)state;
	zpt_expect_death(child_virt_addr_outside_ram, NULL, SIGABRT,
			 "not in RAM");
}

int main(void)
{
	/* One victim per fault (Zephyr's nru, no background evictor): the
	 * tests count free frames exactly. */
	zpt_start_simple(FRAMES, "nru", NULL);

#define T(f) cmocka_unit_test_teardown(f, check_clean)
	const struct CMUnitTest tests[] = {
		T(ram_alloc_in_permanent_mapping),
		T(ram_alloc_distinct_runs),
		T(phys_map_aliases_ram),
		T(phys_map_unaligned),
		T(phys_unmap_then_access_dies),
		T(phys_map_readonly_write_dies),
		T(phys_unmap_bogus_ignored),
		T(ram_alloc_takes_frames),
		T(ram_free_bogus_ignored),
		T(ram_alloc_evicts_paged_data),
		T(ram_alloc_too_big_changes_nothing),
		T(ram_alloc_not_disturbed_by_sampling),
		T(phys_register_memfd),
		T(phys_register_offset_and_own_fd),
		T(phys_register_invalid),
		T(phys_map_unknown_stores_null),
		T(phys_register_limit),
		T(assert_phys_addr_outside_permanent),
		T(assert_virt_addr_outside_ram),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
