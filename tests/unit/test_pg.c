/* tests/unit/test_pg.c: the pure parts of pg/: array literals (a round trip through a real
 * server is in tests/integration/pg_test.c, where verify compares every column with its
 * line). */
#include <string.h>

#include "common/buf.h"
#include "pg/pg.h"
#include "tests/unit/t.h"

/* The literal of values[0..n), NULL entries as SQL NULL. */
static void literal(const char *const *values, int n, char *out, size_t size)
{
    struct buf b;
    struct err err = {0};
    buf_init(&b, 0);
    buf_append_str(&b, "{", &err);
    for (int i = 0; i < n; i++)
        CHECK_INT(pgconn_array_add(&b, i == 0, values[i], &err), 0);
    buf_append_str(&b, "}", &err);
    snprintf(out, size, "%s", b.data);
    buf_cleanup(&b);
}

static void test_array_quoting(void)
{
    char got[256];
    const char *plain[] = {"a", "", NULL, "NULL"};
    literal(plain, 4, got, sizeof(got));
    /* "NULL" quoted is the text, unquoted the null: only a NULL entry is unquoted. */
    CHECK_STR(got, "{\"a\",\"\",NULL,\"NULL\"}");
    const char *special[] = {"say \"hi\"", "back\\slash", "{,}", "caf\xc3\xa9"};
    literal(special, 4, got, sizeof(got));
    CHECK_STR(got, "{\"say \\\"hi\\\"\",\"back\\\\slash\",\"{,}\",\"caf\xc3\xa9\"}");
    const char *one[] = {"\\\""};
    literal(one, 1, got, sizeof(got));
    CHECK_STR(got, "{\"\\\\\\\"\"}");
}

static void test_array_ceiling(void)
{
    struct buf b;
    struct err err = {0};
    buf_init(&b, 8);
    CHECK_INT(pgconn_array_add(&b, true, "0123456789", &err), -1);
    CHECK(err.code != ERR_OK);
    buf_cleanup(&b);
}

int main(void)
{
    RUN(test_array_quoting);
    RUN(test_array_ceiling);
    return t_report();
}
