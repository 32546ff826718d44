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
#include <cmocka.h>

#include <mmu.h>
#include <sys/mem_manage.h>
#include <zpage.h>

#define ZPT_PAGE CONFIG_MMU_PAGE_SIZE

/* Start the library with these options (others from the environment);
 * exits with 77 (skip) if demand paging is impossible here. */
void zpt_start(const struct zpage_config *cfg);

/* Shorthand: frames, eviction (NULL = default), store (NULL = default). */
void zpt_start_simple(size_t frames, const char *eviction, const char *store);

/* Deterministic page contents: word i of page p of stream seed. */
uint64_t zpt_word(uint64_t seed, size_t page, size_t i);
void zpt_fill(void *page, uint64_t seed, size_t page_no);
/* Whether the page holds zpt_fill(seed, page_no). */
int zpt_check(const void *page, uint64_t seed, size_t page_no);

/* Pages of [addr, addr + len) that are resident (mincore). */
size_t zpt_resident(const void *addr, size_t len);

/* Run fn(arg) in a child with stderr captured. Returns the child's status
 * (as from waitpid) and copies up to cap-1 bytes of its stderr to out. */
int zpt_run_child(void (*fn)(void *), void *arg, char *out, size_t cap);

/* Assert that fn(arg) in a child dies by signal sig and prints a message
 * containing msg (NULL: any message). */
void zpt_expect_death(void (*fn)(void *), void *arg, int sig, const char *msg);

/* Run a program (argv[0] is a path) with extra environment entries
 * ("NAME=value", NULL-terminated); returns its exit status (or 128+signal)
 * and its stderr in out. */
int zpt_run_program(char *const argv[], char *const env_add[], char *out,
		    size_t cap);

/* Path of the running test executable (for re-running itself). */
const char *zpt_self(void);

#endif
