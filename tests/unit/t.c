/* tests/unit/t.c: see t.h. */
#include "tests/unit/t.h"

#include "common/buf.h"
#include "common/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *current;
static int current_failed, passed, failed;
static char *tempdirs[256];
static int ntempdirs;

void t_begin(const char *name)
{
    current = name;
    current_failed = 0;
}

void t_end(void)
{
    if (current_failed) {
        failed++;
        printf("FAIL %s\n", current);
    } else {
        passed++;
        printf("PASS %s\n", current);
    }
    fflush(stdout);
}

static int fail_here(const char *file, int line)
{
    current_failed = 1;
    fprintf(stdout, "  %s:%d: in %s\n", file, line, current ? current : "?");
    return 0;
}

int t_check(int ok, const char *expr, const char *file, int line)
{
    if (ok)
        return 1;
    printf("  check failed: %s\n", expr);
    return fail_here(file, line);
}

int t_check_int(long long a, long long b, const char *ea, const char *eb, const char *file,
                int line)
{
    if (a == b)
        return 1;
    printf("  %s == %s failed: %lld != %lld\n", ea, eb, a, b);
    return fail_here(file, line);
}

int t_check_str(const char *a, const char *b, const char *ea, const char *eb, const char *file,
                int line)
{
    if (a != NULL && b != NULL && strcmp(a, b) == 0)
        return 1;
    printf("  %s == %s failed:\n    \"%s\"\n    \"%s\"\n", ea, eb, a ? a : "(null)",
           b ? b : "(null)");
    return fail_here(file, line);
}

int t_check_mem(const void *a, size_t alen, const void *b, size_t blen, const char *ea,
                const char *eb, const char *file, int line)
{
    if (alen == blen && (alen == 0 || memcmp(a, b, alen) == 0))
        return 1;
    printf("  %s == %s failed (lengths %zu and %zu)\n", ea, eb, alen, blen);
    return fail_here(file, line);
}

const char *t_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/stated-unit-XXXXXX", base ? base : "/tmp");
    if (mkdtemp(path) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    if (ntempdirs < 256)
        tempdirs[ntempdirs++] = path;
    return path;
}

int t_report(void)
{
    for (int i = 0; i < ntempdirs; i++) {
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tempdirs[i]);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tempdirs[i]);
        free(tempdirs[i]);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

double t_metric(const char *series)
{
    struct buf b;
    buf_init(&b, 0);
    metrics_write(&b);
    buf_append(&b, "", 1, NULL);
    double v = 0;
    size_t n = strlen(series);
    for (const char *p = b.data; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            v = strtod(p + n + 1, NULL);
    buf_cleanup(&b);
    return v;
}
