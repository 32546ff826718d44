/*
 * memcached://[HOST][:PORT][/PREFIX]: pages as items in a memcached server
 * (libmemcached, binary protocol). Reads of a batch go out as one multi-get.
 * memcached evicts items when its memory is full: run it with -M (refuse
 * instead) and enough -m, or pages are lost; a lost page is an error at
 * page-in (SIGBUS for the fault), never wrong data.
 */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>

#include "remote.h"

static char host[64], prefix[128];
static int port;
static memcached_st *mc;

static size_t make_key(char *buf, size_t cap, uint64_t slot)
{
	int n = snprintf(buf, cap, "%s%llu", prefix, (unsigned long long)slot);

	return n > 0 && (size_t)n < cap ? (size_t)n : cap - 1;
}

static void mc_disconnect(void)
{
	if (mc != NULL)
		memcached_free(mc);
	mc = NULL;
}

static int mc_connect(void)
{
	mc_disconnect();
	mc = memcached_create(NULL);
	if (mc == NULL)
		return -ENOMEM;
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, 1000);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 2000);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
	if (memcached_server_add(mc, host, (in_port_t)port) != MEMCACHED_SUCCESS)
		return -EINVAL;
	/* libmemcached connects when first used: see that the server
	 * answers now, not at the first page-out. */
	char key[160];
	size_t klen = make_key(key, sizeof(key), UINT64_MAX);
	memcached_return_t rc = memcached_set(mc, key, klen, "", 0, 0, 0);
	if (!memcached_success(rc)) {
		zp_debug("memcached store: %s:%d: %s", host, port,
			 memcached_strerror(mc, rc));
		mc_disconnect();
		return -ECONNREFUSED;
	}
	memcached_delete(mc, key, klen, 0);
	return 0;
}

/* Whether rc means the connection is gone (not just this item). */
static bool broken(memcached_return_t rc)
{
	return rc == MEMCACHED_CONNECTION_FAILURE || rc == MEMCACHED_ERRNO ||
	       rc == MEMCACHED_TIMEOUT || rc == MEMCACHED_SERVER_MARKED_DEAD ||
	       rc == MEMCACHED_WRITE_FAILURE || rc == MEMCACHED_READ_FAILURE ||
	       rc == MEMCACHED_UNKNOWN_READ_FAILURE ||
	       rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED ||
	       rc == MEMCACHED_NO_SERVERS;
}

static bool mc_run(struct zp_remote_req **reqs, size_t n)
{
	char keys[64][160];
	const char *kp[64];
	size_t kl[64], ngets = 0;

	for (size_t k = 0; k < n; k++) {
		struct zp_remote_req *r = reqs[k];
		size_t klen = make_key(keys[k], sizeof(keys[k]), r->slot);
		if (r->op == ZP_RQ_GET) {
			kp[ngets] = keys[k];
			kl[ngets++] = klen;
			continue;
		}
		memcached_return_t rc = memcached_set(mc, keys[k], klen,
						      (const char *)r->value,
						      ZP_REMOTE_VALUE, 0, 0);
		if (broken(rc))
			return false;
		r->result = memcached_success(rc) ? 0 : -ENOSPC;
	}
	if (ngets == 0)
		return true;
	memcached_return_t rc = memcached_mget(mc, kp, kl, ngets);
	if (broken(rc))
		return false;
	memcached_result_st *res;
	while ((res = memcached_fetch_result(mc, NULL, &rc)) != NULL) {
		const char *key = memcached_result_key_value(res);
		size_t klen = memcached_result_key_length(res);
		for (size_t k = 0; k < n; k++) {
			if (reqs[k]->op != ZP_RQ_GET || reqs[k]->result != 1 ||
			    strlen(keys[k]) != klen || memcmp(keys[k], key, klen))
				continue;
			size_t vlen = memcached_result_length(res);
			if (vlen == ZP_REMOTE_VALUE) {
				memcpy(reqs[k]->value, memcached_result_value(res),
				       ZP_REMOTE_VALUE);
				reqs[k]->result = 0;
			} else {
				reqs[k]->result = -EBADMSG;
			}
			break;
		}
		memcached_result_free(res);
	}
	if (broken(rc))
		return false;
	/* Not in the answer: the server does not have them. */
	for (size_t k = 0; k < n; k++)
		if (reqs[k]->op == ZP_RQ_GET && reqs[k]->result == 1)
			reqs[k]->result = -ENODATA;
	return true;
}

static void mc_forget(const uint64_t *slots, size_t n)
{
	char key[160];

	for (size_t k = 0; k < n; k++) {
		size_t klen = make_key(key, sizeof(key), slots[k]);
		if (broken(memcached_delete(mc, key, klen, 0)))
			return;
	}
}

static const struct zp_remote_ops remote = {
	.name = "memcached",
	.connect = mc_connect,
	.disconnect = mc_disconnect,
	.run = mc_run,
	.forget = mc_forget,
};

static int mc_configure(const char *arg)
{
	return zp_remote_parse("memcached", arg, host, sizeof(host), &port,
			       11211, prefix, sizeof(prefix));
}

/* Slots need nothing on the server's side. */
static int mc_open(size_t slots)
{
	(void)slots;
	return zp_remote_open(&remote);
}

const struct zp_store_ops zp_store_memcached =
	ZP_REMOTE_STORE("memcached", mc_configure, mc_open);
