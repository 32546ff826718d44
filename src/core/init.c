/*
 * Start-up and shutdown. The first API call starts the library from the
 * environment (zp_ensure); zpage_init() does the same with options from code.
 *
 * Start-up order: configuration, plug-in choice, the port (virtual region
 * and fault delivery), page table, frame table, store and eviction plug-in
 * init, then the fault-handler threads.
 */
#include <stdio.h>

#include "internal.h"

struct zp_state zp;

static zp_lock_t start_lock;
static bool reported; /* start-up failure already printed */
static bool atfork_set;


static void after_fork_in_child(void)
{
	/* The child has no handler threads and no copy of the region
	 * (MADV_DONTFORK); forget the parent's state without releasing it. */
	if (zp_running())
		zp_port_forget();
	/* The parent's address-space bookkeeping (free extents, region
	 * records) and its copies of registered phys descriptors: a fresh
	 * start in the child must not allocate from the parent's layout. */
	zp_vm_fini();
	zp_timers_forget();
	zp_prefetch_forget();
	memset(&zp, 0, sizeof(zp));
	atomic_store(&start_lock.word, 0);
	zp_threads_reset();
	z_page_frames = NULL;
	z_num_page_frames = 0;
}

static void undo(int stage)
{
	if (stage >= 3)
		zp_plugins_fini();
	if (stage >= 2)
		zp_frames_fini();
	if (stage >= 1) {
		zp_port_table_free(zp.pte, zp.npages * sizeof(zp_pte_t));
		zp.pte = NULL;
		zp_port_shutdown();
	}
}

static int start(const struct zpage_config *user)
{
	struct zp_conf c;
	int r = zp_conf_load(&c, user);
	if (r == 0)
		r = zp_plugins_select(&c);
	if (r != 0)
		return r;
	if (!atfork_set) {
		zp_port_atfork(after_fork_in_child);
		atfork_set = true;
	}

	zp.conf = c;
	struct zp_port_params params = {
		.vm_size = c.vm_size,
		.ram_size = c.frames * ZP_PAGE_SIZE,
		.handlers = c.handlers,
		.delivery = c.delivery,
		.access = c.access,
	};
	/* Where the host maps zapped pages back itself, each eviction run
	 * pays a write-protection and each look at a zapped page a read of
	 * the host's tables: cheap for algorithms that evict in batches and
	 * look in address order, dearer than the minor faults it saves for
	 * one page at a time (measured: clock 0.86x the time, nru 1.17x). */
	if (params.access == ZP_ACCESS_AUTO && zp_eviction_native() == NULL)
		params.access = ZP_ACCESS_FAULT;
	r = zp_port_init(&params, &zp.port);
	if (r != 0)
		return r;
	zp.base = zp.port.base;
	zp.vm_size = c.vm_size;
	zp.ram_size = params.ram_size;
	zp.npages = c.vm_size >> ZP_PAGE_SHIFT;
	zp.pte = zp_port_table_alloc(zp.npages * sizeof(zp_pte_t));
	if (zp.pte == NULL) {
		zp_port_shutdown();
		return -ENOMEM;
	}
	r = zp_frames_init(c.frames);
	if (r != 0) {
		undo(1);
		return r;
	}
	zp_stats_reset();
	zp.start_ns = zp_port_now_ns();
	/* Batches of up to 64 pages, never more than an eighth of the pool;
	 * the background evictor keeps free frames between the watermarks. */
	zp.batch = c.frames / 8 < ZP_BATCH_MAX ? (c.frames / 8 ? c.frames / 8 : 1)
					       : ZP_BATCH_MAX;
	zp.low_water = c.frames / 64 > zp.batch ? c.frames / 64 : zp.batch;
	zp.high_water = zp.low_water + 2 * zp.batch;
	if (zp.high_water > c.frames)
		zp.high_water = c.frames;
	atomic_store(&zp.vm_high, zp.ram_size >> ZP_PAGE_SHIFT);
	zp.group_pages = c.group_pages;
	zp.readahead_max = c.readahead_max;

	/* Plug-ins may use the library (timers, statistics) while starting. */
	atomic_store_explicit(&zp.started, 1, memory_order_release);
	k_mem_paging_backing_store_init();
	k_mem_paging_eviction_init();
	r = zp_store_open_error();
	if (r == 0 && c.trace[0] != '\0')
		r = zp_trace_start(c.trace);
	if (r == 0)
		r = zp_port_start();
	if (r == 0 && c.evictor)
		r = zp_evictor_start();
	if (r != 0) {
		zp_evictor_stop();
		atomic_store(&zp.started, 0);
		zp_timers_stop_all();
		zp_trace_stop();
		undo(3);
		return r;
	}
	zp_debug("started: %zu frames (%zu KiB), region %p + %zu MiB, "
		 "eviction %s, store %s, %s faults served by %s, write "
		 "tracking %s, access tracking %s", zp.nframes,
		 zp.ram_size >> 10, (void *)zp.base, zp.vm_size >> 20,
		 zp_eviction_name(), c.store,
		 zp.port.mode == ZP_PORT_FULL ? "all" : "user-mode",
		 zp.port.delivery == ZP_DELIVERY_SIGNAL ? "the faulting thread"
							: "handler threads",
		 zp.port.write_protect ? "on" : "off",
		 zp.port.mapped ? "on (pages mapped again)"
		 : zp.port.minor ? "on (minor faults)" : "off");
	return 0;
}

int zp_ensure(void)
{
	if (zp_likely(zp_running()))
		return 0;
	zp_lock(&start_lock);
	int r = zp_running() ? 0 : start(NULL);
	if (r != 0 && !reported) {
		reported = true;
		zp_error("cannot start (error %d); calls fail until the problem "
			 "is fixed", r);
	}
	zp_unlock(&start_lock);
	return r;
}

int zpage_init(const struct zpage_config *config)
{
	zp_lock(&start_lock);
	int r = zp_running() ? -EALREADY : start(config);
	zp_unlock(&start_lock);
	return r;
}

void zpage_shutdown(void)
{
	zp_lock(&start_lock);
	if (!zp_running()) {
		zp_unlock(&start_lock);
		return;
	}
	zp_timers_stop_all();
	zp_prefetch_stop();
	zp_evictor_stop();
	zp_filemap_flush_all();
	atomic_store(&zp.started, 0);
	zp_port_shutdown();
	zp_trace_stop();
	zp_plugins_fini();
	zp_vm_fini();
	zp_frames_fini();
	zp_port_table_free(zp.pte, zp.npages * sizeof(zp_pte_t));
	zp.pte = NULL;
	memset(&zp.port, 0, sizeof(zp.port));
	zp.base = NULL;
	zp.vm_size = zp.ram_size = zp.npages = 0;
	reported = false;
	zp_unlock(&start_lock);
}

int zpage_info_get(struct zpage_info *info)
{
	if (info == NULL)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	int r = zp_ensure();
	if (r != 0)
		return r;
	info->mode = zp.port.mode == ZP_PORT_FULL ? ZPAGE_MODE_UFFD
						  : ZPAGE_MODE_UFFD_USER;
	info->delivery = zp.port.delivery == ZP_DELIVERY_SIGNAL
				 ? ZPAGE_DELIVERY_SIGNAL
				 : ZPAGE_DELIVERY_THREAD;
	info->write_tracking = zp.port.write_protect;
	info->access_tracking = zp.port.minor || zp.port.mapped;
	info->access_mapped = zp.port.mapped;
	info->background_evictor = atomic_load(&zp.evictor_on);
	info->evictor_low_water = zp.low_water;
	info->evictor_high_water = zp.high_water;
	info->data_page_size = zp.group_pages * ZP_PAGE_SIZE;
	info->readahead = zp.readahead_max;
	info->frames = zp.nframes;
	info->page_size = ZP_PAGE_SIZE;
	info->vm_base = zp.base;
	info->vm_size = zp.vm_size;
	info->eviction = zp_eviction_name();
	info->backing_store = zp.conf.store;
	return 0;
}
