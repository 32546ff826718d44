/*
 * The zpage trace format: what ZPAGE_TRACE writes and `zpage sim` reads.
 * Little-endian, a 24-byte header then 16-byte records:
 *
 *   header:  "ZPTRACE1" | u32 record size (16) | u32 page shift (12) |
 *            u64 reserved (0)
 *   record:  u64 page number (address >> page shift; ZPAGE_TRACE numbers
 *            the pages of the library's region), ZPT_WRITE set for a write |
 *            u32 thread id | u32 microseconds since the trace began (wraps
 *            after 71 minutes)
 */
#ifndef ZPAGE_TRACE_H
#define ZPAGE_TRACE_H

#include <stdint.h>

#define ZPT_MAGIC "ZPTRACE1"
#define ZPT_WRITE (UINT64_C(1) << 63)

struct zpt_header {
	char magic[8];
	uint32_t record_size;
	uint32_t page_shift;
	uint64_t reserved;
};

struct zpt_record {
	uint64_t page; /* | ZPT_WRITE */
	uint32_t thread;
	uint32_t usec;
};

#endif /* ZPAGE_TRACE_H */
