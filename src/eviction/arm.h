/*
 * Arming pages: clearing the accessed bit of pages an algorithm wants to
 * hear of again (just loaded, or just seen touched), so that the next touch
 * shows. Clearings are gathered and applied a batch at a time, in address
 * order, so that the library unmaps neighbours together.
 *
 * The delay is wanted: touches of a page within the batch window (up to
 * ARM_BATCH further arms, a thirty-second of the frames) count as the one that loaded it or was seen, as LRU-K's
 * "correlated reference period" would have it. A page that faults, then is
 * touched twice more in the same loop, is not "used three times".
 */
#ifndef ZPAGE_EVICTION_ARM_H
#define ZPAGE_EVICTION_ARM_H

#include <stddef.h>

#include "../core/internal.h"

#define ARM_BATCH 32

/* Forget any pending arms; size the batch for the frames (at start). */
void zp_arm_reset(void) ZP_HIDDEN;
/* Clear addr's accessed bit with the next batch. The batch is applied
 * before addr joins it when full, so the page whose hook called this (its
 * lock held by the library at that moment) waits for the next one. */
void zp_arm(void *addr) ZP_HIDDEN;

/* qsort() order of addresses (uintptr_t), for clearings in address order;
 * also sorts records whose first member is one. */
int zp_by_address(const void *a, const void *b) ZP_HIDDEN;

#endif /* ZPAGE_EVICTION_ARM_H */
