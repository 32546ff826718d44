/*
 * Signal delivery: with UFFD_FEATURE_SIGBUS the kernel does not queue a
 * fault for a handler thread; the faulting thread gets SIGBUS at once and
 * serves the fault itself, here, then returns to retry the access. No thread
 * hand-off, no context switch: about 25 us per fault on the development VM
 * instead of about 40.
 *
 * The price: a fault the kernel takes inside a system call (read(2) into a
 * non-resident page) fails with EFAULT, as with a user-mode-only descriptor.
 *
 * zpage owns SIGBUS while this is active. A SIGBUS that is not a fault of
 * the paging area goes to the handler the program had before, or to the one
 * it installs later: sigaction() and signal() are interposed so that a
 * SIGBUS handler set by the program (or a library such as a test framework)
 * is chained behind zpage's instead of replacing it.
 *
 * SIGBUS is never blocked meanwhile: the kernel kills a process whose thread
 * faults with the signal blocked, so a worker thread that blocks every
 * signal (common, for sigwait() or signalfd()) would die at its first touch
 * of a paged-out page. pthread_sigmask() and sigprocmask() leave SIGBUS out
 * of what they block, and sigaction() out of a handler's mask.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "linux.h"

static struct sigaction previous; /* the program's SIGBUS action */
static _Atomic bool installed;

/* The interposed functions run also inside sanitizer runtimes' own start-up
 * (they install signal handlers), before instrumented code may run. */
#define NOT_INSTRUMENTED __attribute__((no_sanitize("address", "thread", "undefined")))

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

/* The sigaction() that the interposed one stands in front of. */
NOT_INSTRUMENTED
static int real_sigaction(int sig, const struct sigaction *act,
			  struct sigaction *oldact)
{
	static sigaction_fn next;
	sigaction_fn fn = __atomic_load_n(&next, __ATOMIC_ACQUIRE);

	if (fn == NULL) {
		fn = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
		if (fn == NULL) {
			errno = ENOSYS;
			return -1;
		}
		__atomic_store_n(&next, fn, __ATOMIC_RELEASE);
	}
	return fn(sig, act, oldact);
}

static bool in_paging_area(const uint8_t *addr)
{
	return addr >= lx.base + lx.ram && addr < lx.base + lx.size;
}

/* Whether the faulting access was a write, where the CPU tells. */
static bool was_write(const void *ucv)
{
#if defined(__x86_64__)
	const ucontext_t *uc = ucv;
	return (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#else
	(void)ucv;
	return false;
#endif
}

static void pass_on(int sig, siginfo_t *si, void *ucv)
{
	if (previous.sa_flags & SA_SIGINFO) {
		previous.sa_sigaction(sig, si, ucv);
		return;
	}
	if (previous.sa_handler == SIG_IGN)
		return;
	if (previous.sa_handler != SIG_DFL) {
		previous.sa_handler(sig);
		return;
	}
	/* Default action: die of it. A fault re-raises it on return. */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	real_sigaction(SIGBUS, &dfl, NULL);
	if (si->si_code <= 0)
		raise(SIGBUS);
}

static void on_sigbus(int sig, siginfo_t *si, void *ucv)
{
	int saved = errno;
	uint8_t *addr = si->si_addr;

	if (si->si_code == BUS_ADRERR && in_paging_area(addr)) {
		addr = (uint8_t *)((uintptr_t)addr & ~(uintptr_t)(LX_PAGE - 1));
		zp_fault(addr, ZP_FAULT_UNKNOWN, was_write(ucv), ZP_TID_SELF);
	} else {
		pass_on(sig, si, ucv);
	}
	errno = saved;
}

int lx_sigbus_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	/* No other handler may run inside fault handling: it could touch the
	 * page being served and wait for it forever. */
	sigfillset(&sa.sa_mask);
	sigdelset(&sa.sa_mask, SIGSEGV);
	sigdelset(&sa.sa_mask, SIGILL);
	sigdelset(&sa.sa_mask, SIGFPE);
	if (real_sigaction(SIGBUS, &sa, &previous) != 0)
		return -errno;
	installed = true;
	return 0;
}

void lx_sigbus_remove(void)
{
	if (installed)
		real_sigaction(SIGBUS, &previous, NULL);
	installed = false;
}

/* Keep a SIGBUS action the program sets while zpage owns SIGBUS. */
bool lx_sigbus_chain(const struct sigaction *act, struct sigaction *oldact)
	__attribute__((visibility("hidden")));
bool lx_sigbus_chain(const struct sigaction *act, struct sigaction *oldact)
{
	if (!installed)
		return false;
	if (oldact != NULL)
		*oldact = previous;
	if (act != NULL)
		previous = *act;
	return true;
}

NOT_INSTRUMENTED
static bool owning(void)
{
	return __atomic_load_n(&installed, __ATOMIC_ACQUIRE);
}

NOT_INSTRUMENTED
int sigaction(int sig, const struct sigaction *act, struct sigaction *oldact)
{
	if (sig == SIGBUS && owning() && lx_sigbus_chain(act, oldact))
		return 0;
	if (act != NULL && owning() && sigismember(&act->sa_mask, SIGBUS) == 1) {
		struct sigaction open_bus = *act;
		sigdelset(&open_bus.sa_mask, SIGBUS);
		return real_sigaction(sig, &open_bus, oldact);
	}
	return real_sigaction(sig, act, oldact);
}

typedef int (*mask_fn)(int, const sigset_t *, sigset_t *);

/* The mask change without SIGBUS among the signals to block. */
NOT_INSTRUMENTED
static int mask_change(mask_fn *next, const char *name, int how,
		       const sigset_t *set, sigset_t *old)
{
	mask_fn fn = __atomic_load_n(next, __ATOMIC_ACQUIRE);
	sigset_t open_bus;

	if (fn == NULL) {
		fn = (mask_fn)dlsym(RTLD_NEXT, name);
		if (fn == NULL) {
			errno = ENOSYS;
			return name[0] == 'p' ? ENOSYS : -1;
		}
		__atomic_store_n(next, fn, __ATOMIC_RELEASE);
	}
	if (set != NULL && how != SIG_UNBLOCK && owning() &&
	    sigismember(set, SIGBUS) == 1) {
		open_bus = *set;
		sigdelset(&open_bus, SIGBUS);
		set = &open_bus;
	}
	return fn(how, set, old);
}

NOT_INSTRUMENTED
int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	static mask_fn next;
	return mask_change(&next, "pthread_sigmask", how, set, old);
}

NOT_INSTRUMENTED
int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	static mask_fn next;
	return mask_change(&next, "sigprocmask", how, set, old);
}

NOT_INSTRUMENTED
sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction sa = { .sa_handler = handler, .sa_flags = SA_RESTART };
	struct sigaction old;

	if (sigaction(sig, &sa, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}

_Noreturn void lx_sigbus_die(void)
{
	sigset_t bus;
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	lx_sigbus_remove();
	real_sigaction(SIGBUS, &dfl, NULL);
	sigemptyset(&bus);
	sigaddset(&bus, SIGBUS);
	pthread_sigmask(SIG_UNBLOCK, &bus, NULL);
	raise(SIGBUS);
	zp_port_abort();
}
