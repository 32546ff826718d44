/*
 * Batches of page writes kept in flight together with io_uring, for the
 * file store and file mappings. Rings are made on first use (mmap and
 * system calls only: safe in fault handling) and lent to one thread at a
 * time; where io_uring is refused or fails the caller writes itself.
 */
#ifndef ZP_LINUX_URING_H
#define ZP_LINUX_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Write n (at most 64) buffers of len[i] bytes to fd at off[i]. result[i]
 * becomes 0, or stays 1 where the ring did not finish the write (an error,
 * short, interrupted, or io_uring unusable): the caller writes those
 * itself, and its write reports any error. Entries with result[i] != 1 on
 * entry are left alone. */
void zp_uring_write(int fd, const void *const *data, const uint64_t *off,
		    const size_t *len, size_t n, int *result);
/* Close the rings (library shutdown) / forget them (a forked child). */
void zp_uring_close(void);
void zp_uring_forget(void);

#endif /* ZP_LINUX_URING_H */
