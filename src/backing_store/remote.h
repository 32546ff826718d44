/*
 * Stores on other machines (redis, memcached). Their client libraries
 * allocate and are not safe in a signal handler, so they run on a worker
 * thread of their own: fault handling hands it a request and sleeps on a
 * futex until it is answered. The worker takes every request waiting at
 * once and sends them together (pipelined), reconnecting when a connection
 * breaks. Each stored value is the page and its checksum.
 */
#ifndef ZP_REMOTE_H
#define ZP_REMOTE_H

#include "store.h"

#define ZP_REMOTE_VALUE (ZP_PAGE_SIZE + 4) /* page, then its checksum */

enum zp_remote_op { ZP_RQ_GET, ZP_RQ_SET };

struct zp_remote_req {
	enum zp_remote_op op;
	uint64_t slot;
	void *page;         /* the page to send, or where to put it */
	uint32_t sum;       /* its checksum: sent, or received */
	/* The worker's own buffer for the store (ZP_REMOTE_VALUE bytes:
	 * page, then checksum): what to send, or what was received. */
	uint8_t *value;
	int result;         /* 0 or -errno */
	uint32_t done;      /* futex word: 1 when answered */
	struct zp_remote_req *next;
};

/* What a remote store provides; all called on the worker thread. */
struct zp_remote_ops {
	const char *name;
	/* Connect (again); 0 or -errno. Called before a batch whenever the
	 * last one broke the connection. */
	int (*connect)(void);
	void (*disconnect)(void);
	/* Answer the n requests (set result, fill value for GET). Return
	 * false if the connection broke (the unanswered ones then get
	 * -ECONNRESET and the worker reconnects). */
	bool (*run)(struct zp_remote_req **reqs, size_t n);
	/* Delete n slots' values (best effort). */
	void (*forget)(const uint64_t *slots, size_t n);
};

/* Start / stop the worker for ops; open checks one connection first. */
int zp_remote_open(const struct zp_remote_ops *ops) ZP_HIDDEN;
void zp_remote_close(void) ZP_HIDDEN;
/* The store functions, for a remote store's zp_store_ops. */
int zp_remote_read_page(uintptr_t loc, void *scratch, const void **page) ZP_HIDDEN;
int zp_remote_write_page(uintptr_t loc, const void *data) ZP_HIDDEN;
void zp_remote_write_pages(const uintptr_t *loc, const void *const *data,
			   size_t n, int *result) ZP_HIDDEN;
void zp_remote_discard(uintptr_t loc) ZP_HIDDEN;

/* A remote store's ops: its own configure and open, the rest shared. */
#define ZP_REMOTE_STORE(store_name, configure_fn, open_fn)                    \
	{                                                                     \
		.name = store_name, .configure = configure_fn,                \
		.open = open_fn, .close = zp_remote_close,                    \
		.read_page = zp_remote_read_page,                             \
		.write_page = zp_remote_write_page,                           \
		.write_pages = zp_remote_write_pages,                         \
		.discard = zp_remote_discard,                                 \
	}

/* host:port[/prefix] after the scheme; defaults for what is left out.
 * The prefix names this process's keys (default "zpage:HOST:PID:"). */
int zp_remote_parse(const char *store, const char *arg, char *host,
		    size_t host_len, int *port, int default_port, char *prefix,
		    size_t prefix_len) ZP_HIDDEN;

#endif /* ZP_REMOTE_H */
