/*
 * Tracking hooks: telling an eviction algorithm that keeps its own lists
 * (Zephyr 3.x's k_mem_paging_eviction_add/_remove/_accessed) which frames
 * hold evictable pages and which pages were touched.
 *
 * The core calls zp_track_add() when a page is loaded or unpinned,
 * zp_track_remove() when a frame is freed or pinned, and zp_track_accessed()
 * when it takes the minor fault that shows a touch. A per-frame byte keeps
 * the hooks paired (a pinned page that is unmapped gets no second remove).
 * The hooks run under zp.track_lock, a leaf lock: an algorithm's lists are
 * global by nature. Algorithms without hooks never take it.
 */
#include "internal.h"

void zp_track_lock(void)
{
	if (zp.tracking)
		zp_lock(&zp.track_lock);
}

void zp_track_unlock(void)
{
	if (zp.tracking)
		zp_unlock(&zp.track_lock);
}

void zp_track_add(size_t f)
{
	if (zp_likely(!zp.tracking))
		return;
	struct z_page_frame *pf = &z_page_frames[f];
	zp_lock(&zp.track_lock);
	/* Pinned and reserved frames are not evictable: added when unpinned. */
	if (!zp.frame_tracked[f] && z_page_frame_is_mapped(pf) &&
	    !z_page_frame_is_pinned(pf) && !z_page_frame_is_reserved(pf)) {
		zp.frame_tracked[f] = 1;
		k_mem_paging_eviction_add(pf);
	}
	zp_unlock(&zp.track_lock);
	/* Clearings the hook asked for (its frame's own page is locked by
	 * the caller and keeps its bit). */
	zp_accessed_flush();
}

void zp_track_remove(size_t f)
{
	if (zp_likely(!zp.tracking))
		return;
	zp_lock(&zp.track_lock);
	if (zp.frame_tracked[f]) {
		zp.frame_tracked[f] = 0;
		k_mem_paging_eviction_remove(&z_page_frames[f]);
	}
	zp_unlock(&zp.track_lock);
	zp_accessed_flush();
}

void zp_track_accessed(size_t f)
{
	if (zp_likely(!zp.tracking))
		return;
	zp_lock(&zp.track_lock);
	if (zp.frame_tracked[f])
		k_mem_paging_eviction_accessed(Z_PHYS_RAM_START +
					       f * ZP_PAGE_SIZE);
	zp_unlock(&zp.track_lock);
	zp_accessed_flush();
}
