/*
 * redis://[HOST][:PORT][/PREFIX]: pages as keys in a Redis server (hiredis),
 * or in a Redis Cluster reached through any of its nodes: a MOVED reply
 * teaches which node holds a hash slot (connections to further nodes are
 * made as they are named), ASK is followed once. Requests are pipelined
 * per node; a broken connection fails the requests in flight (the library
 * retries reads, keeps pages whose writes failed) and is made again.
 * Keys are PREFIX + slot number (default prefix "zpage:HOST:PID:"); the
 * keys are deleted when their slots are freed and at shutdown.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>

#include "remote.h"

#define MAX_NODES 16
#define CLUSTER_SLOTS 16384

struct node {
	char host[64];
	int port;
	redisContext *c;
};

static char seed_host[64], prefix[128];
static int seed_port;
static struct node nodes[MAX_NODES];
static int nnodes;
static uint8_t slot_node[CLUSTER_SLOTS]; /* cluster slot -> node index */

static const struct timeval connect_timeout = { 1, 0 };
static const struct timeval io_timeout = { 2, 0 };

/* CRC16-CCITT (XMODEM), Redis Cluster's key hash. */
static uint16_t crc16(const char *s, size_t n)
{
	uint16_t crc = 0;

	for (size_t i = 0; i < n; i++) {
		crc ^= (uint16_t)((uint8_t)s[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (uint16_t)(crc << 1 ^ 0x1021)
					   : (uint16_t)(crc << 1);
	}
	return crc;
}

/* The cluster slot of a key (a {tag} hashes alone, as Redis does). */
static unsigned key_slot(const char *key, size_t n)
{
	const char *open = memchr(key, '{', n);

	if (open != NULL) {
		const char *close = memchr(open + 1, '}', n - (size_t)(open + 1 - key));
		if (close != NULL && close > open + 1)
			return crc16(open + 1, (size_t)(close - open - 1)) % CLUSTER_SLOTS;
	}
	return crc16(key, n) % CLUSTER_SLOTS;
}

static size_t make_key(char *buf, size_t cap, uint64_t slot)
{
	int n = snprintf(buf, cap, "%s%llu", prefix, (unsigned long long)slot);

	return n > 0 && (size_t)n < cap ? (size_t)n : cap - 1;
}

static int node_connect(struct node *nd)
{
	if (nd->c != NULL)
		return 0;
	nd->c = redisConnectWithTimeout(nd->host, nd->port, connect_timeout);
	if (nd->c == NULL || nd->c->err) {
		int e = nd->c != NULL && nd->c->err == REDIS_ERR_IO && errno != 0
				? -errno : -ECONNREFUSED;
		zp_debug("redis store: cannot connect to %s:%d: %s", nd->host,
			 nd->port, nd->c != NULL ? nd->c->errstr : "no memory");
		redisFree(nd->c);
		nd->c = NULL;
		return e;
	}
	redisSetTimeout(nd->c, io_timeout);
	return 0;
}

static void redis_disconnect(void)
{
	for (int i = 0; i < nnodes; i++) {
		redisFree(nodes[i].c);
		nodes[i].c = NULL;
	}
}

static int redis_connect(void)
{
	if (nnodes == 0) {
		snprintf(nodes[0].host, sizeof(nodes[0].host), "%s", seed_host);
		nodes[0].port = seed_port;
		nnodes = 1;
	}
	return node_connect(&nodes[0]);
}

/* The node named "host:port" (added if new), or -1. */
static int node_named(const char *hp)
{
	const char *colon = strrchr(hp, ':');

	if (colon == NULL || colon - hp >= 64)
		return -1;
	int port = atoi(colon + 1);
	for (int i = 0; i < nnodes; i++)
		if (nodes[i].port == port &&
		    strncmp(nodes[i].host, hp, (size_t)(colon - hp)) == 0 &&
		    nodes[i].host[colon - hp] == '\0')
			return i;
	if (nnodes == MAX_NODES)
		return -1;
	struct node *nd = &nodes[nnodes];
	memcpy(nd->host, hp, (size_t)(colon - hp));
	nd->host[colon - hp] = '\0';
	nd->port = port;
	nd->c = NULL;
	return nnodes++;
}

static void append(redisContext *c, const struct zp_remote_req *r,
		   const char *key, size_t klen)
{
	if (r->op == ZP_RQ_SET)
		redisAppendCommand(c, "SET %b %b", key, klen, r->value,
				   (size_t)ZP_REMOTE_VALUE);
	else
		redisAppendCommand(c, "GET %b", key, klen);
}

/* Result of a reply to r; 2 = redirected (node and ask set). */
static int judge(struct zp_remote_req *r, redisReply *rep, int *to, bool *ask)
{
	if (rep->type == REDIS_REPLY_ERROR &&
	    (strncmp(rep->str, "MOVED ", 6) == 0 ||
	     strncmp(rep->str, "ASK ", 4) == 0)) {
		*ask = rep->str[0] == 'A';
		/* "MOVED slot host:port" or "ASK slot host:port" */
		const char *at = rep->str + (*ask ? 4 : 6);
		const char *sp = strchr(at, ' ');
		int slot = atoi(at);
		*to = sp != NULL ? node_named(sp + 1) : -1;
		if (*to < 0)
			return -EHOSTUNREACH;
		if (!*ask && slot >= 0 && slot < CLUSTER_SLOTS)
			slot_node[slot] = (uint8_t)*to;
		return 2;
	}
	if (r->op == ZP_RQ_SET)
		return rep->type == REDIS_REPLY_STATUS ? 0 : -EIO;
	if (rep->type == REDIS_REPLY_NIL)
		return -ENODATA; /* the server lost it (flushed, evicted) */
	if (rep->type != REDIS_REPLY_STRING || rep->len != ZP_REMOTE_VALUE)
		return -EBADMSG;
	memcpy(r->value, rep->str, ZP_REMOTE_VALUE);
	return 0;
}

/* One request on node i, following up to 3 redirections. */
static int run_one(struct zp_remote_req *r, int i, bool ask)
{
	char key[160];
	size_t klen = make_key(key, sizeof(key), r->slot);

	for (int hops = 0; hops < 3; hops++) {
		if (node_connect(&nodes[i]) != 0)
			return -ECONNREFUSED;
		redisContext *c = nodes[i].c;
		if (ask)
			redisAppendCommand(c, "ASKING");
		append(c, r, key, klen);
		redisReply *rep = NULL;
		if (ask && redisGetReply(c, (void **)&rep) == REDIS_OK)
			freeReplyObject(rep);
		if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
			redisFree(nodes[i].c);
			nodes[i].c = NULL;
			return -ECONNRESET;
		}
		int to = -1;
		int res = judge(r, rep, &to, &ask);
		freeReplyObject(rep);
		if (res != 2)
			return res;
		i = to;
	}
	return -ELOOP;
}

static bool redis_run(struct zp_remote_req **reqs, size_t n)
{
	char key[160];
	int where[64];
	bool ok = true;

	for (int i = 0; i < nnodes && ok; i++) {
		/* This node's requests, pipelined. */
		size_t sent = 0;
		for (size_t k = 0; k < n; k++) {
			size_t klen = make_key(key, sizeof(key), reqs[k]->slot);
			where[k] = slot_node[key_slot(key, klen)];
			if (where[k] >= nnodes)
				where[k] = 0;
			/* Not this node's, or answered already (after a
			 * redirection to this node). */
			if (where[k] != i || reqs[k]->result != 1)
				continue;
			if (node_connect(&nodes[i]) != 0) {
				reqs[k]->result = -ECONNREFUSED;
				continue;
			}
			append(nodes[i].c, reqs[k], key, klen);
			sent++;
		}
		for (size_t k = 0; k < n && sent > 0; k++) {
			if (where[k] != i || reqs[k]->result != 1)
				continue;
			redisReply *rep = NULL;
			if (redisGetReply(nodes[i].c, (void **)&rep) != REDIS_OK) {
				zp_debug("redis store: %s:%d: %s", nodes[i].host,
					 nodes[i].port, nodes[i].c->errstr);
				ok = false;
				break;
			}
			sent--;
			int to = -1;
			bool ask = false;
			int res = judge(reqs[k], rep, &to, &ask);
			freeReplyObject(rep);
			reqs[k]->result = res == 2 ? run_one(reqs[k], to, ask) : res;
		}
	}
	return ok;
}

static void redis_forget(const uint64_t *slots, size_t n)
{
	char key[160];
	int where[256];

	for (size_t k = 0; k < n && k < 256; k++) {
		size_t klen = make_key(key, sizeof(key), slots[k]);
		where[k] = slot_node[key_slot(key, klen)];
		if (where[k] >= nnodes || node_connect(&nodes[where[k]]) != 0)
			where[k] = -1;
		else
			redisAppendCommand(nodes[where[k]].c, "UNLINK %b", key,
					   klen);
	}
	for (size_t k = 0; k < n && k < 256; k++) {
		redisReply *rep = NULL;
		if (where[k] >= 0 && nodes[where[k]].c != NULL &&
		    redisGetReply(nodes[where[k]].c, (void **)&rep) == REDIS_OK)
			freeReplyObject(rep);
	}
}

static const struct zp_remote_ops remote = {
	.name = "redis",
	.connect = redis_connect,
	.disconnect = redis_disconnect,
	.run = redis_run,
	.forget = redis_forget,
};

static int redis_configure(const char *arg)
{
	return zp_remote_parse("redis", arg, seed_host, sizeof(seed_host),
			       &seed_port, 6379, prefix, sizeof(prefix));
}

static int redis_open(size_t slots)
{
	(void)slots; /* nothing to reserve on the server's side */
	nnodes = 0;
	memset(slot_node, 0, sizeof(slot_node));
	return zp_remote_open(&remote);
}

const struct zp_store_ops zp_store_redis =
	ZP_REMOTE_STORE("redis", redis_configure, redis_open);
