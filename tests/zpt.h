/*
 * Helpers shared by the tests: starting the library with a given
 * configuration, page patterns, residency counts, and death tests (a child
 * process that must die by a given signal and print a given message).
 */
#ifndef ZPT_H
#define ZPT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include <mmu.h>
#include <sys/mem_manage.h>
#include <zpage.h>

#define ZPT_PAGE CONFIG_MMU_PAGE_SIZE

/* Which sanitizer the test runs under (1 or 0). */
#if defined(__SANITIZE_THREAD__)
#define ZPT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ZPT_TSAN 1
#endif
#endif
#ifndef ZPT_TSAN
#define ZPT_TSAN 0
#endif

/* In a forked child: a failed precondition exits with status 2 (and says
 * why), so that it cannot be mistaken for the death being tested. */
#define ZPT_CHILD_REQUIRE(cond)                                               \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "child: %s:%d: %s is false\n",        \
				__FILE__, __LINE__, #cond);                   \
			_exit(2);                                             \
		}                                                             \
	} while (0)

/* Start the library with these options (others from the environment);
 * exits with 77 (skip) if demand paging is impossible here. */
void zpt_start(const struct zpage_config *cfg);

/* Shorthand: frames, eviction (NULL = default), store (NULL = default), and
 * no background evictor: frames are freed by the faults that need them, one
 * at a time, as in Zephyr (for tests that count frames and evictions). */
void zpt_start_simple(size_t frames, const char *eviction, const char *store);

/* Deterministic page contents: word i of page p of stream seed. */
uint64_t zpt_word(uint64_t seed, size_t page, size_t i);
void zpt_fill(void *page, uint64_t seed, size_t page_no);
/* Whether the page holds zpt_fill(seed, page_no). */
int zpt_check(const void *page, uint64_t seed, size_t page_no);

/* Sleep ms milliseconds. */
void zpt_sleep_ms(long ms);

/* Pages of [addr, addr + len) that are resident (mincore). */
size_t zpt_resident(const void *addr, size_t len);

/* Run fn(arg) in a child with stderr captured. Returns the child's status
 * (as from waitpid) and copies up to cap-1 bytes of its stderr to out. */
int zpt_run_child(void (*fn)(void *), void *arg, char *out, size_t cap);

/* Assert that fn(arg) in a child dies by signal sig and prints a message
 * containing msg (NULL: any message). */
void zpt_expect_death(void (*fn)(void *), void *arg, int sig, const char *msg);

/* In a child that must die by a signal: default actions for SIGSEGV,
 * SIGBUS and SIGABRT (sanitizers turn them into exit codes otherwise) and
 * no core file. */
void zpt_child_prepare(void);

/* Assert that fn(arg) in a child exits with status 0. */
void zpt_expect_child_ok(void (*fn)(void *), void *arg);

/* Snapshots of the statistics and counters. */
struct k_mem_paging_stats_t zpt_stats(void);
struct k_mem_paging_stats_t zpt_thread_stats(void);
struct zpage_counters zpt_counters(void);
unsigned long zpt_pinned_frames(void);
/* Events in all bins of the histogram that get (a k_mem_paging_histogram_*
 * getter) fills. */
unsigned long zpt_hist_total(void (*get)(struct k_mem_paging_histogram_t *));

/* cmocka teardown: zpage_shutdown(). */
int zpt_teardown(void **state);

/* Run a program (argv[0] is a path) with extra environment entries
 * ("NAME=value", NULL-terminated); returns its exit status (or 128+signal)
 * and its stderr in out. */
int zpt_run_program(char *const argv[], char *const env_add[], char *out,
		    size_t cap);

/* Path of the running test executable (for re-running itself). */
const char *zpt_self(void);

#endif
