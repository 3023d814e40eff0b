/* Minimal C test harness: CHECK-style macros that count instead of aborting, and a
 * summary line that tests/run parses ("# c: N passed, M failed").
 *
 *   #include "check.h"
 *   static void test_something(void) { CHECK(1 + 1 == 2); CHECK_NEAR(x, 1.0, 1e-6); }
 *   int main(void) { RUN(test_something); return check_summary("test_name"); }
 *
 * Each CHECK is one counted assertion. A test that needs ../shared calls
 * check_skip("reason") and returns; skips are reported, not counted as passes. */
#ifndef FOKUS_CHECK_H
#define FOKUS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int check_passed, check_failed, check_skipped;
static const char *check_current = "";

#define CHECK_MSG(cond, ...)                                                          \
    do {                                                                              \
        if (cond) {                                                                   \
            check_passed++;                                                           \
        } else {                                                                      \
            check_failed++;                                                           \
            fprintf(stderr, "FAIL %s (%s:%d): ", check_current, __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
        }                                                                             \
    } while (0)

#define CHECK(cond) CHECK_MSG((cond), "%s", #cond)
#define CHECK_EQ_INT(a, b)                                                            \
    CHECK_MSG((long long)(a) == (long long)(b), "%s == %s: %lld vs %lld", #a, #b,     \
              (long long)(a), (long long)(b))
#define CHECK_NEAR(a, b, tol)                                                         \
    CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%s ~ %s: %.9g vs %.9g (tol %g)", \
              #a, #b, (double)(a), (double)(b), (double)(tol))
#define CHECK_STR(a, b)                                                               \
    CHECK_MSG(strcmp((a), (b)) == 0, "%s == %s: \"%s\" vs \"%s\"", #a, #b, (a), (b))

#define RUN(fn)                      \
    do {                             \
        check_current = #fn;         \
        fn();                        \
    } while (0)

static inline void check_skip(const char *why)
{
    check_skipped++;
    fprintf(stderr, "SKIP %s: %s\n", check_current, why);
}

/* Directory of the shared oracles, or NULL (with a message) when absent. */
static inline const char *check_shared_dir(void)
{
    const char *d = getenv("FOKUS_SHARED");
    static char buf[4096];
    struct stat st;
    if (!d || !*d) d = "../shared";
    if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
    snprintf(buf, sizeof buf, "%s", d);
    return buf;
}

static inline int check_summary(const char *name)
{
    printf("# c %s: %d passed, %d failed, %d skipped\n", name, check_passed, check_failed,
           check_skipped);
    return check_failed ? 1 : 0;
}

#endif
