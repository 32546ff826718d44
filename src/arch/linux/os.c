/*
 * Linux port: threads, time, waiting on words (futex), signals and output.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "linux.h"
#include "uring.h"

void lx_error(const char *fmt, ...)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "zpage: error: ");
	va_list ap;

	va_start(ap, fmt);
	int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m > 0 ? (size_t)m : 0);
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	buf[len++] = '\n';
	zp_port_print(buf, len);
}

/* Every asynchronous signal. Synchronous ones stay open: blocking them
 * would turn a bad access, or a fault served from SIGBUS, into a kill. */
static void asynchronous_signals(sigset_t *set)
{
	sigfillset(set);
	sigdelset(set, SIGSEGV);
	sigdelset(set, SIGBUS);
	sigdelset(set, SIGILL);
	sigdelset(set, SIGFPE);
	sigdelset(set, SIGTRAP);
}

int zp_port_thread_start(void **handle, zp_thread_fn fn, void *arg)
{
	pthread_t *t = malloc(sizeof(*t));
	sigset_t all, old;

	if (t == NULL)
		return -ENOMEM;
	/* The new thread inherits this mask: no program signal handler ever
	 * runs on it. */
	asynchronous_signals(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		free(t);
		return -r;
	}
	*handle = t;
	return 0;
}

void zp_port_thread_join(void *handle)
{
	pthread_t *t = handle;

	pthread_join(*t, NULL);
	free(t);
}

long zp_port_tid(void)
{
	return (long)gettid();
}

uint64_t zp_port_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Raw system calls: the library's own writes skip its interposed write(). */
int zp_port_file_create(const char *path)
{
	long fd = syscall(SYS_openat, AT_FDCWD, path,
			  O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);

	return fd >= 0 ? (int)fd : -errno;
}

int zp_port_file_append(int handle, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		long n = syscall(SYS_write, handle, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void zp_port_file_close(int handle)
{
	(void)syscall(SYS_close, handle);
}

/* Raw system calls here too: safe in the signal handler serving a fault,
 * and past the library's own interposed pread/pwrite. */
int zp_port_handle_read(int handle, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	for (size_t done = 0; done < len;) {
		long n = syscall(SYS_pread64, handle, p + done, len - done,
				 (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) { /* end of file */
			memset(p + done, 0, len - done);
			break;
		}
		done += (size_t)n;
	}
	return 0;
}

int zp_port_handle_write(int handle, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	for (size_t done = 0; done < len;) {
		long n = syscall(SYS_pwrite64, handle, p + done, len - done,
				 (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ENOSPC;
		done += (size_t)n;
	}
	return 0;
}

void zp_port_handle_write_pages(int handle, const void *const *buf,
				const uint64_t *off, size_t n, int *result)
{
	size_t len[64];

	for (size_t done = 0; done < n;) {
		size_t m = n - done < 64 ? n - done : 64;
		for (size_t i = 0; i < m; i++) {
			len[i] = LX_PAGE;
			result[done + i] = 1;
		}
		zp_uring_write(handle, buf + done, off + done, len, m,
			       result + done);
		for (size_t i = 0; i < m; i++)
			if (result[done + i] == 1)
				result[done + i] = zp_port_handle_write(
					handle, buf[done + i], LX_PAGE,
					off[done + i]);
		done += m;
	}
}

int zp_port_handle_sync(int handle)
{
	return syscall(SYS_fdatasync, handle) == 0 ? 0 : -errno;
}

static long futex(uint32_t *word, int op, uint32_t val,
		  const struct timespec *timeout)
{
	return syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

void zp_port_wait(uint32_t *word, uint32_t expected)
{
	futex(word, FUTEX_WAIT_PRIVATE, expected, NULL);
}

void zp_port_sleep_on(uint32_t *word, uint32_t expected, int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000,
			       .tv_nsec = ns % 1000000000 };
	futex(word, FUTEX_WAIT_PRIVATE, expected, &ts);
}

void zp_port_wake_all(uint32_t *word)
{
	futex(word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

void zp_port_yield(void)
{
	sched_yield();
}

void zp_port_print(const char *msg, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, msg, len);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return;
		}
		msg += n;
		len -= (size_t)n;
	}
}

_Noreturn void zp_port_abort(void)
{
	abort();
}

unsigned zp_port_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

void zp_port_atfork(void (*child)(void))
{
	pthread_atfork(NULL, NULL, child);
}

/* ---- "IRQ lock": blocking signals --------------------------------------- */

static _Thread_local sigset_t saved_mask;

void zp_port_signals_block(void)
{
	sigset_t all;

	asynchronous_signals(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved_mask);
}

void zp_port_signals_restore(void)
{
	pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
}

/* ---- "ISR" signal handlers ---------------------------------------------- */

static struct sigaction user_actions[_NSIG];

static void trampoline(int sig, siginfo_t *info, void *uc)
{
	const struct sigaction *a = &user_actions[sig];

	zp_isr_enter();
	if (a->sa_flags & SA_SIGINFO)
		a->sa_sigaction(sig, info, uc);
	else
		a->sa_handler(sig);
	zp_isr_exit();
}


static bool is_trampoline(const struct sigaction *a)
{
	return (a->sa_flags & SA_SIGINFO) && a->sa_sigaction == trampoline;
}

int zp_port_sigaction(int signum, const struct sigaction *act,
		      struct sigaction *oldact)
{
	if (signum <= 0 || signum >= _NSIG) {
		errno = EINVAL;
		return -1;
	}
	struct sigaction prev = user_actions[signum];
	struct sigaction kernel_old;
	struct sigaction wrapped;
	const struct sigaction *use = act;

	if (act != NULL && act->sa_handler != SIG_DFL &&
	    act->sa_handler != SIG_IGN) {
		wrapped = *act;
		wrapped.sa_flags |= SA_SIGINFO;
		wrapped.sa_sigaction = trampoline;
		user_actions[signum] = *act;
		use = &wrapped;
	}
	/* The interposed sigaction() (sigbus.c): with signal delivery a
	 * SIGBUS handler is chained behind zpage's. */
	if (sigaction(signum, use, &kernel_old) != 0) {
		user_actions[signum] = prev;
		return -1;
	}
	if (oldact != NULL)
		*oldact = is_trampoline(&kernel_old) ? prev : kernel_old;
	return 0;
}

/* ---- Thread exit --------------------------------------------------------- */

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void exit_key_create(void)
{
	pthread_key_create(&exit_key, zp_thread_exited);
}

void zp_port_thread_exit_notify(void *record)
{
	pthread_once(&exit_once, exit_key_create);
	pthread_setspecific(exit_key, record);
}

/* ---- Per-thread buffers -------------------------------------------------- */

static pthread_key_t buffer_key;
static pthread_once_t buffer_once = PTHREAD_ONCE_INIT;
static _Thread_local void *buffer;

/* A buffer is a page that holds its mapping's size, then the buffer. */
static void buffer_free(void *p)
{
	uint8_t *map = (uint8_t *)p - LX_PAGE;
	munmap(map, *(size_t *)map);
}

static void buffer_key_create(void)
{
	pthread_key_create(&buffer_key, buffer_free);
}

void *zp_port_thread_buffer(size_t bytes)
{
	if (buffer != NULL)
		return buffer;
	pthread_once(&buffer_once, buffer_key_create);
	size_t total = bytes + LX_PAGE;
	uint8_t *map = mmap(NULL, total, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	*(size_t *)map = total;
	buffer = map + LX_PAGE;
	pthread_setspecific(buffer_key, buffer);
	return buffer;
}
