/*
 * System calls on paged memory where the kernel's own accesses to it cannot
 * be served: with signal delivery (SIGBUS-mode userfaultfd) and with a
 * user-mode-only descriptor, a fault the kernel takes while copying to or
 * from a buffer makes the call fail with EFAULT (or end short).
 *
 * So the C library's I/O functions are interposed here: when a buffer lies in
 * the paging area, its pages are brought in and pinned for the call
 * (zp_kpin(), the core's kernel-access pins) and let go after it. A buffer
 * outside the paging area costs one comparison. Transfers longer than one
 * pin may cover are split: reads of regular files and block devices, and
 * writes, go on until done (as the kernel's would); reads of pipes, sockets
 * and terminals return after the first part, a short read they may return
 * anyway. Vector and socket calls are made once, with the buffers pinned
 * that fit (the rest of the list is left for the caller's next call).
 *
 * Covered: read, pread(64), readv, preadv(64), preadv2, write, pwrite(64),
 * writev, pwritev(64), pwritev2, recv, recvfrom, recvmsg, send, sendto,
 * sendmsg, fread, fwrite and their _unlocked and fortified (_chk) forms.
 * Other ways into the kernel (syscall(2), io_uring, futexes, another
 * process's accesses) still get EFAULT: thread delivery serves those.
 */
#undef _FORTIFY_SOURCE /* we define the functions the headers would wrap */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "linux.h"

/* Optimised builds get these as macros; we define the functions. */
#undef fread_unlocked
#undef fwrite_unlocked

/* The paging area while the fallback is on; hi == 0: off. */
static _Atomic uintptr_t guard_lo, guard_hi;

void lx_guard_set(uint8_t *lo, uint8_t *hi)
{
	atomic_store_explicit(&guard_hi, 0, memory_order_release);
	atomic_store_explicit(&guard_lo, (uintptr_t)lo, memory_order_release);
	atomic_store_explicit(&guard_hi, (uintptr_t)hi, memory_order_release);
}

/* Interposers run also inside sanitizer runtimes' own start-up. */
#define NOT_INSTRUMENTED __attribute__((no_sanitize("address", "thread", "undefined")))

/* Whether [p, p + n) touches the paging area while the fallback is on. */
NOT_INSTRUMENTED
static inline bool guarded_at(uintptr_t a, size_t n)
{
	uintptr_t hi = atomic_load_explicit(&guard_hi, memory_order_acquire);

	if (__builtin_expect(hi == 0 || n == 0, 1))
		return false;
	uintptr_t lo = atomic_load_explicit(&guard_lo, memory_order_relaxed);
	return a < hi && (a >= lo || n > lo - a);
}

/* By address only: the compiler must not take it for a read of the buffer
 * (read()'s is declared write-only). */
#define guarded(p, n) guarded_at((uintptr_t)(p), (n))

/* The function of the next object in lookup order (the C library, or a
 * sanitizer's interceptor in front of it), found once. */
NOT_INSTRUMENTED
static void *next_fn(void *_Atomic *slot, const char *name)
{
	void *fn = atomic_load_explicit(slot, memory_order_acquire);

	if (fn == NULL) {
		fn = dlsym(RTLD_NEXT, name);
		if (fn == NULL) {
			lx_error("%s not found in the C library", name);
			_exit(127);
		}
		atomic_store_explicit(slot, fn, memory_order_release);
	}
	return fn;
}

#define REAL(name)                                                        \
	({                                                                \
		static void *_Atomic slot_;                               \
		(__typeof__(&name))next_fn(&slot_, #name);                \
	})

/* ---- Pins for one call --------------------------------------------------- */

#define SEGS 16 /* buffers of one call pinned separately */

struct pins {
	size_t n;
	struct zp_kpin k[SEGS];
};

static void unpin_all(void *arg)
{
	struct pins *s = arg;
	int e = errno;

	for (size_t i = 0; i < s->n; i++)
		zp_kunpin(&s->k[i]);
	s->n = 0;
	errno = e;
}

/* Pin [p, p + len) if it is paged memory; how much of it is covered (len if
 * it needs nothing; less if the pins ran out). */
static size_t pin(struct pins *s, const void *p, size_t len, bool kernel_writes)
{
	if (!guarded(p, len))
		return len;
	if (s->n == SEGS)
		return 0;
	size_t got = zp_kpin(&s->k[s->n], (uint8_t *)p, len, kernel_writes);
	if (got != 0)
		s->n++;
	return got;
}

static bool is_file(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

/* ---- One buffer, in parts -------------------------------------------------- */

/* Transfer len bytes at buf through part(ctx, p, n, done) (a read or a write
 * of n bytes at p, done bytes into the whole), pinning each part first.
 * After a full part it goes on if the kernel writes the buffer of a file
 * (fd >= 0 and is_file) or of a stream (fd < 0), or if it reads it. */
typedef ssize_t (*part_fn)(void *ctx, void *p, size_t n, size_t done);

static ssize_t in_parts(int fd, bool kernel_writes, void *buf, size_t len,
			part_fn part, void *ctx)
{
	size_t done = 0;
	int more = -1; /* go on after a full part: not known yet */

	while (done < len) {
		struct pins s = { 0 };
		uint8_t *p = (uint8_t *)buf + done;
		size_t n = pin(&s, p, len - done, kernel_writes);
		if (n == 0)
			n = len - done; /* nothing pinned: the kernel decides */
		ssize_t r;
		pthread_cleanup_push(unpin_all, &s);
		r = part(ctx, p, n, done);
		pthread_cleanup_pop(1);
		if (r < 0)
			return done > 0 ? (ssize_t)done : r;
		done += (size_t)r;
		if ((size_t)r < n)
			break;
		if (more < 0)
			more = !kernel_writes || fd < 0 || is_file(fd);
		if (!more)
			break;
	}
	return (ssize_t)done;
}

struct fd_io {
	int fd;
	off_t off;
	int flags;
};

static ssize_t part_read(void *c, void *p, size_t n, size_t done)
{
	(void)done;
	return REAL(read)(((struct fd_io *)c)->fd, p, n);
}

static ssize_t part_write(void *c, void *p, size_t n, size_t done)
{
	(void)done;
	return REAL(write)(((struct fd_io *)c)->fd, p, n);
}

static ssize_t part_pread(void *c, void *p, size_t n, size_t done)
{
	struct fd_io *io = c;
	return REAL(pread64)(io->fd, p, n, io->off + (off_t)done);
}

static ssize_t part_pwrite(void *c, void *p, size_t n, size_t done)
{
	struct fd_io *io = c;
	return REAL(pwrite64)(io->fd, p, n, io->off + (off_t)done);
}

NOT_INSTRUMENTED
ssize_t read(int fd, void *buf, size_t n)
{
	if (!guarded(buf, n))
		return REAL(read)(fd, buf, n);
	struct fd_io io = { .fd = fd };
	return in_parts(fd, true, buf, n, part_read, &io);
}

NOT_INSTRUMENTED
ssize_t write(int fd, const void *buf, size_t n)
{
	if (!guarded(buf, n))
		return REAL(write)(fd, buf, n);
	struct fd_io io = { .fd = fd };
	return in_parts(fd, false, (void *)buf, n, part_write, &io);
}

NOT_INSTRUMENTED
ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	if (!guarded(buf, n))
		return REAL(pread64)(fd, buf, n, off);
	struct fd_io io = { .fd = fd, .off = off };
	return in_parts(fd, true, buf, n, part_pread, &io);
}

NOT_INSTRUMENTED
ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	return pread64(fd, buf, n, off);
}

NOT_INSTRUMENTED
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	if (!guarded(buf, n))
		return REAL(pwrite64)(fd, buf, n, off);
	struct fd_io io = { .fd = fd, .off = off };
	return in_parts(fd, false, (void *)buf, n, part_pwrite, &io);
}

NOT_INSTRUMENTED
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite64(fd, buf, n, off);
}

/* ---- Buffer lists ------------------------------------------------------------ */

#define LIST_MAX 64 /* entries of a shortened list */

/* Pin the buffers of iov[0..cnt) and the list itself. Returns the list to
 * use: iov itself if all is covered, else a shortened copy in local (*cnt
 * updated), ending where the pins ran out. */
static const struct iovec *pin_list(struct pins *s, const struct iovec *iov,
				    int *cnt, bool kernel_writes,
				    struct iovec *local)
{
	if (*cnt <= 0)
		return iov;
	if (pin(s, iov, (size_t)*cnt * sizeof(*iov), false) <
	    (size_t)*cnt * sizeof(*iov))
		return iov; /* cannot even read the list: the kernel decides */
	for (int i = 0; i < *cnt; i++) {
		size_t got = pin(s, iov[i].iov_base, iov[i].iov_len, kernel_writes);
		if (got == iov[i].iov_len)
			continue;
		if (got == 0 && i == 0)
			return iov; /* nothing pinned: the kernel decides */
		int n = i + (got != 0);
		if (n > LIST_MAX)
			n = LIST_MAX, got = iov[n - 1].iov_len;
		memcpy(local, iov, (size_t)n * sizeof(*iov));
		if (got != 0)
			local[n - 1].iov_len = got;
		*cnt = n;
		return local;
	}
	return iov;
}

static bool list_guarded(const struct iovec *iov, int cnt)
{
	if (cnt <= 0)
		return false;
	if (guarded(iov, (size_t)cnt * sizeof(*iov)))
		return true;
	for (int i = 0; i < cnt; i++)
		if (guarded(iov[i].iov_base, iov[i].iov_len))
			return true;
	return false;
}

enum vec_op { V_READ, V_WRITE, V_PREAD, V_PWRITE, V_PREAD2, V_PWRITE2 };

static ssize_t vec_call(enum vec_op op, int fd, const struct iovec *iov,
			int cnt, off_t off, int flags)
{
	switch (op) {
	case V_READ: return REAL(readv)(fd, iov, cnt);
	case V_WRITE: return REAL(writev)(fd, iov, cnt);
	case V_PREAD: return REAL(preadv64)(fd, iov, cnt, off);
	case V_PWRITE: return REAL(pwritev64)(fd, iov, cnt, off);
	case V_PREAD2: return REAL(preadv2)(fd, iov, cnt, off, flags);
	default: return REAL(pwritev2)(fd, iov, cnt, off, flags);
	}
}

static ssize_t vec_guarded(enum vec_op op, int fd, const struct iovec *iov,
			   int cnt, off_t off, int flags)
{
	bool kernel_writes = op == V_READ || op == V_PREAD || op == V_PREAD2;
	struct pins s = { 0 };
	struct iovec local[LIST_MAX];
	ssize_t r;

	pthread_cleanup_push(unpin_all, &s);
	iov = pin_list(&s, iov, &cnt, kernel_writes, local);
	r = vec_call(op, fd, iov, cnt, off, flags);
	pthread_cleanup_pop(1);
	return r;
}

#define VEC(op, fd, iov, cnt, off, flags)                                 \
	(list_guarded(iov, cnt) ? vec_guarded(op, fd, iov, cnt, off, flags) \
				: vec_call(op, fd, iov, cnt, off, flags))

NOT_INSTRUMENTED
ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	return VEC(V_READ, fd, iov, cnt, 0, 0);
}

NOT_INSTRUMENTED
ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	return VEC(V_WRITE, fd, iov, cnt, 0, 0);
}

NOT_INSTRUMENTED
ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return VEC(V_PREAD, fd, iov, cnt, off, 0);
}

NOT_INSTRUMENTED
ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return VEC(V_PREAD, fd, iov, cnt, off, 0);
}

NOT_INSTRUMENTED
ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return VEC(V_PWRITE, fd, iov, cnt, off, 0);
}

NOT_INSTRUMENTED
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return VEC(V_PWRITE, fd, iov, cnt, off, 0);
}

NOT_INSTRUMENTED
ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return VEC(V_PREAD2, fd, iov, cnt, off, flags);
}

NOT_INSTRUMENTED
ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return VEC(V_PWRITE2, fd, iov, cnt, off, flags);
}

/* ---- Sockets: one call each ---------------------------------------------- */

NOT_INSTRUMENTED
ssize_t recvfrom(int fd, void *buf, size_t n, int flags, __SOCKADDR_ARG addr,
		 socklen_t *alen)
{
	struct sockaddr *sa = addr.__sockaddr__;
	bool addr_guarded = sa != NULL && alen != NULL &&
			    (guarded(alen, sizeof(*alen)) || guarded(sa, *alen));

	if (!guarded(buf, n) && !addr_guarded)
		return REAL(recvfrom)(fd, buf, n, flags, addr, alen);
	struct pins s = { 0 };
	ssize_t r;
	pthread_cleanup_push(unpin_all, &s);
	if (addr_guarded) {
		pin(&s, alen, sizeof(*alen), true);
		pin(&s, sa, *alen, true);
	}
	size_t got = pin(&s, buf, n, true);
	r = REAL(recvfrom)(fd, buf, got != 0 ? got : n, flags, addr, alen);
	pthread_cleanup_pop(1);
	return r;
}

NOT_INSTRUMENTED
ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	return recvfrom(fd, buf, n, flags, (struct sockaddr *)NULL, NULL);
}

NOT_INSTRUMENTED
ssize_t sendto(int fd, const void *buf, size_t n, int flags,
	       __CONST_SOCKADDR_ARG addr, socklen_t alen)
{
	const struct sockaddr *sa = addr.__sockaddr__;
	bool addr_guarded = sa != NULL && guarded(sa, alen);

	if (!guarded(buf, n) && !addr_guarded)
		return REAL(sendto)(fd, buf, n, flags, addr, alen);
	struct pins s = { 0 };
	ssize_t r;
	pthread_cleanup_push(unpin_all, &s);
	if (addr_guarded)
		pin(&s, sa, alen, false);
	size_t got = pin(&s, buf, n, false);
	r = REAL(sendto)(fd, buf, got != 0 ? got : n, flags, addr, alen);
	pthread_cleanup_pop(1);
	return r;
}

NOT_INSTRUMENTED
ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	return sendto(fd, buf, n, flags, (const struct sockaddr *)NULL, 0);
}

static bool msg_guarded(const struct msghdr *m)
{
	return guarded(m, sizeof(*m)) ||
	       guarded(m->msg_name, m->msg_namelen) ||
	       guarded(m->msg_control, m->msg_controllen) ||
	       list_guarded(m->msg_iov, (int)m->msg_iovlen);
}

static ssize_t msg_call(int fd, struct msghdr *m, int flags, bool kernel_writes)
{
	struct pins s = { 0 };
	struct iovec local[LIST_MAX];
	ssize_t r;

	pthread_cleanup_push(unpin_all, &s);
	pin(&s, m, sizeof(*m), kernel_writes); /* lengths are written back */
	pin(&s, m->msg_name, m->msg_namelen, kernel_writes);
	pin(&s, m->msg_control, m->msg_controllen, kernel_writes);
	int cnt = (int)m->msg_iovlen;
	const struct iovec *iov = pin_list(&s, m->msg_iov, &cnt, kernel_writes,
					   local);
	if (iov == m->msg_iov) {
		r = kernel_writes ? REAL(recvmsg)(fd, m, flags)
				  : REAL(sendmsg)(fd, m, flags);
	} else {
		/* A shortened list: the header is ours, its results copied
		 * back. */
		struct msghdr h = *m;
		h.msg_iov = (struct iovec *)iov;
		h.msg_iovlen = (size_t)cnt;
		r = kernel_writes ? REAL(recvmsg)(fd, &h, flags)
				  : REAL(sendmsg)(fd, &h, flags);
		m->msg_namelen = h.msg_namelen;
		m->msg_controllen = h.msg_controllen;
		m->msg_flags = h.msg_flags;
	}
	pthread_cleanup_pop(1);
	return r;
}

NOT_INSTRUMENTED
ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	if (m == NULL || !msg_guarded(m))
		return REAL(recvmsg)(fd, m, flags);
	return msg_call(fd, m, flags, true);
}

NOT_INSTRUMENTED
ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	if (m == NULL || !msg_guarded(m))
		return REAL(sendmsg)(fd, m, flags);
	return msg_call(fd, (struct msghdr *)m, flags, false);
}

/* ---- stdio: large transfers go between the buffer and the kernel ------- */

static ssize_t part_fread(void *f, void *p, size_t n, size_t done)
{
	(void)done;
	return (ssize_t)REAL(fread_unlocked)(p, 1, n, f);
}

static ssize_t part_fwrite(void *f, void *p, size_t n, size_t done)
{
	(void)done;
	return (ssize_t)REAL(fwrite_unlocked)(p, 1, n, f);
}

/* fread/fwrite of nmemb elements of size bytes through the parts above,
 * byte by byte as stdio itself counts them; the stream stays locked for
 * the whole transfer, as one call would keep it. */
static size_t file_io(void *buf, size_t size, size_t nmemb, FILE *f,
		      bool kernel_writes, bool unlocked)
{
	size_t len = size * nmemb;

	if (!unlocked)
		flockfile(f);
	ssize_t r = in_parts(-1, kernel_writes, buf, len,
			     kernel_writes ? part_fread : part_fwrite, f);
	if (!unlocked)
		funlockfile(f);
	return r > 0 ? (size_t)r / size : 0;
}

static bool file_guarded(const void *buf, size_t size, size_t nmemb)
{
	size_t len;

	return !__builtin_mul_overflow(size, nmemb, &len) && guarded(buf, len);
}

NOT_INSTRUMENTED
size_t fread(void *buf, size_t size, size_t nmemb, FILE *f)
{
	if (!file_guarded(buf, size, nmemb))
		return REAL(fread)(buf, size, nmemb, f);
	return file_io(buf, size, nmemb, f, true, false);
}

NOT_INSTRUMENTED
size_t fread_unlocked(void *buf, size_t size, size_t nmemb, FILE *f)
{
	if (!file_guarded(buf, size, nmemb))
		return REAL(fread_unlocked)(buf, size, nmemb, f);
	return file_io(buf, size, nmemb, f, true, true);
}

NOT_INSTRUMENTED
size_t fwrite(const void *buf, size_t size, size_t nmemb, FILE *f)
{
	if (!file_guarded(buf, size, nmemb))
		return REAL(fwrite)(buf, size, nmemb, f);
	return file_io((void *)buf, size, nmemb, f, false, false);
}

NOT_INSTRUMENTED
size_t fwrite_unlocked(const void *buf, size_t size, size_t nmemb, FILE *f)
{
	if (!file_guarded(buf, size, nmemb))
		return REAL(fwrite_unlocked)(buf, size, nmemb, f);
	return file_io((void *)buf, size, nmemb, f, false, true);
}

/* ---- Fortified forms (-D_FORTIFY_SOURCE): the size check, then the above */

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       __SOCKADDR_ARG addr, socklen_t *alen);
size_t __fread_chk(void *buf, size_t buflen, size_t size, size_t nmemb, FILE *f);
size_t __fread_unlocked_chk(void *buf, size_t buflen, size_t size,
			    size_t nmemb, FILE *f);

/* Past the buffer's end: the C library's own check reports it and stops. */
#define OVERFLOWS(n, buflen) __builtin_expect((n) > (buflen), 0)

NOT_INSTRUMENTED
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (OVERFLOWS(n, buflen))
		return REAL(__read_chk)(fd, buf, n, buflen);
	return read(fd, buf, n);
}

NOT_INSTRUMENTED
ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	if (OVERFLOWS(n, buflen))
		return REAL(__pread64_chk)(fd, buf, n, off, buflen);
	return pread64(fd, buf, n, off);
}

NOT_INSTRUMENTED
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	if (OVERFLOWS(n, buflen))
		return REAL(__pread_chk)(fd, buf, n, off, buflen);
	return pread64(fd, buf, n, off);
}

NOT_INSTRUMENTED
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (OVERFLOWS(n, buflen))
		return REAL(__recv_chk)(fd, buf, n, buflen, flags);
	return recvfrom(fd, buf, n, flags, (struct sockaddr *)NULL, NULL);
}

NOT_INSTRUMENTED
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       __SOCKADDR_ARG addr, socklen_t *alen)
{
	if (OVERFLOWS(n, buflen))
		return REAL(__recvfrom_chk)(fd, buf, n, buflen, flags, addr, alen);
	return recvfrom(fd, buf, n, flags, addr, alen);
}

static bool fread_overflows(size_t buflen, size_t size, size_t nmemb)
{
	size_t len;

	return __builtin_mul_overflow(size, nmemb, &len) || len > buflen;
}

NOT_INSTRUMENTED
size_t __fread_chk(void *buf, size_t buflen, size_t size, size_t nmemb, FILE *f)
{
	if (fread_overflows(buflen, size, nmemb))
		return REAL(__fread_chk)(buf, buflen, size, nmemb, f);
	return fread(buf, size, nmemb, f);
}

NOT_INSTRUMENTED
size_t __fread_unlocked_chk(void *buf, size_t buflen, size_t size,
			    size_t nmemb, FILE *f)
{
	if (fread_overflows(buflen, size, nmemb))
		return REAL(__fread_unlocked_chk)(buf, buflen, size, nmemb, f);
	return fread_unlocked(buf, size, nmemb, f);
}
