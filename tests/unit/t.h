/* tests/unit/t.h: the in-repo unit test harness.
 *
 * One binary per part (tests/unit/test_<part>.c); main() runs each test with RUN(fn) and ends
 * with `return t_report();`, which prints "N passed, N failed". A failed check prints both
 * expressions and their values and marks the current test failed; the test goes on, so one
 * run shows every broken check. Each test prints "PASS name" or "FAIL name" for the runner. */
#ifndef STATED_TESTS_T_H
#define STATED_TESTS_T_H

#include <stddef.h>

void t_begin(const char *name);
void t_end(void);
int t_check(int ok, const char *expr, const char *file, int line);
int t_check_int(long long a, long long b, const char *ea, const char *eb, const char *file,
                int line);
int t_check_str(const char *a, const char *b, const char *ea, const char *eb, const char *file,
                int line);
int t_check_mem(const void *a, size_t alen, const void *b, size_t blen, const char *ea,
                const char *eb, const char *file, int line);
int t_report(void);
/* The value of one series of the metrics exposition ("name{labels}" exactly as written), 0
 * when absent: tests compare it before and after. */
double t_metric(const char *series);
/* A fresh empty directory under $TMPDIR for this test; removed by t_report(). */
const char *t_tempdir(void);

#define CHECK(c)        t_check((c) != 0, #c, __FILE__, __LINE__)
#define CHECK_INT(a, b) t_check_int((long long)(a), (long long)(b), #a, #b, __FILE__, __LINE__)
#define CHECK_STR(a, b) t_check_str((a), (b), #a, #b, __FILE__, __LINE__)
#define CHECK_MEM(a, alen, b, blen)                                                                \
    t_check_mem((a), (alen), (b), (blen), #a, #b, __FILE__, __LINE__)
#define RUN(fn) (t_begin(#fn), fn(), t_end())

#endif
