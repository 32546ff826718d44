/*
 * What the built-in stores share: page checksums and the fault-injection
 * layer every store's I/O goes through.
 */
#ifndef ZP_STORE_H
#define ZP_STORE_H

#include "../core/internal.h"

/* A 32-bit checksum of one page, stored with it and checked on page-in:
 * a page that comes back different is an error (-EBADMSG), never data. */
uint32_t zp_page_checksum(const void *page) ZP_HIDDEN;

/* ---- Fault injection (inject.c, ZPAGE_STORE_FAULTS) --------------------- */

enum zp_io_op { ZP_IO_READ, ZP_IO_WRITE, ZP_IO_CONNECT };

extern _Atomic bool zp_inject_on ZP_HIDDEN;
int zp_inject_io(enum zp_io_op op, size_t *len) ZP_HIDDEN;
bool zp_inject_corrupt(void *buf, size_t len) ZP_HIDDEN;

/* Before an I/O of *len bytes: 0 to go on (*len may have been cut short:
 * transfer that much, as a device or socket might), or the negative errno
 * it must fail with. One relaxed load when no faults are set. */
static inline int zp_io_fault(enum zp_io_op op, size_t *len)
{
	if (zp_likely(!atomic_load_explicit(&zp_inject_on,
					    memory_order_relaxed)))
		return 0;
	return zp_inject_io(op, len);
}

/* After a read of len bytes into buf: maybe flip a bit in them. */
static inline void zp_io_received(void *buf, size_t len)
{
	if (zp_unlikely(atomic_load_explicit(&zp_inject_on,
					     memory_order_relaxed)))
		zp_inject_corrupt(buf, len);
}

#endif /* ZP_STORE_H */
