/* tests/unit/test_common.c: err, buf and util. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "tests/unit/t.h"

static void test_err_first_wins(void)
{
    struct err e = {0};
    CHECK_INT(err_set(&e, ERR_NOT_FOUND, "state %s", "a"), -1);
    err_set(&e, ERR_INTERNAL, "later");
    CHECK_INT(e.code, ERR_NOT_FOUND);
    CHECK_STR(e.msg, "state a");
    CHECK_INT(err_http_status(ERR_LOCKED), 423);
    CHECK_STR(err_infra_code(ERR_TOO_LARGE), "INFRA_002");
}

static void test_buf_ceiling(void)
{
    struct buf b;
    struct err e = {0};
    buf_init(&b, 8);
    CHECK_INT(buf_append(&b, "12345", 5, &e), 0);
    CHECK_INT(buf_append(&b, "6789", 4, &e), -1);
    CHECK_INT(e.code, ERR_TOO_LARGE);
    CHECK(b.data == NULL); /* a failed append leaves the buffer freed */
    buf_cleanup(&b);
}

static void test_buf_printf(void)
{
    struct buf b;
    struct err e = {0};
    buf_init(&b, 0);
    for (int i = 0; i < 100; i++)
        buf_printf(&b, &e, "%d,", i);
    CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
    CHECK_INT(b.len, 290);
    buf_cleanup(&b);
}

static void test_hashes(void)
{
    char hex[65], md5[25];
    sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    md5_base64("", 0, md5);
    CHECK_STR(md5, "1B2M2Y8AsgTpgAmY7PhCfg==");
}

static void test_base64_roundtrip(void)
{
    unsigned char out[64];
    size_t n = sizeof(out);
    char *enc = base64_encode("hello world", 11);
    CHECK_STR(enc, "aGVsbG8gd29ybGQ=");
    CHECK_INT(base64_decode(enc, strlen(enc), out, &n), 0);
    CHECK_MEM(out, n, "hello world", 11);
    n = sizeof(out);
    CHECK_INT(base64_decode("a$==", 4, out, &n), -1);
    free(enc);
}

static void test_ct_equal(void)
{
    CHECK(ct_equal("abc", 3, "abc", 3));
    CHECK(!ct_equal("abc", 3, "abd", 3));
    CHECK(!ct_equal("abc", 3, "abcd", 4));
}

static void test_time_roundtrip(void)
{
    char s[32];
    int64_t us;
    time_format_rfc3339(1700000000123456LL, s);
    CHECK_STR(s, "2023-11-14T22:13:20.123456Z");
    CHECK_INT(time_parse_rfc3339(s, &us), 0);
    CHECK_INT(us, 1700000000123456LL);
    CHECK_INT(time_parse_rfc3339("2023-11-14T23:13:20+01:00", &us), 0);
    CHECK_INT(us, 1700000000000000LL);
    CHECK_INT(time_parse_rfc3339("2023-11-14", &us), 0);
    CHECK_INT(time_parse_rfc3339("2023-11-14T25:00:00Z", &us), -1);
    CHECK_INT(time_parse_rfc3339("yesterday", &us), -1);
}

static void test_state_names(void)
{
    struct err e = {0};
    static const char *good[] = {"a", "prod/network", "A.b_c-d/e", "1/2/3/4/5/6/7/8", "x/lock/y"};
    static const char *bad[] = {"",       "a//b", "/a",  "a/",    "..",
                                "a/../b", "a/.",  "a b", "a%2Fb", "1/2/3/4/5/6/7/8/9",
                                "a/lock", "lock", "é"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        err_clear(&e);
        if (!CHECK_INT(state_name_check(good[i], strlen(good[i]), &e), 0))
            printf("  name: %s (%s)\n", good[i], e.msg);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_clear(&e);
        if (!CHECK_INT(state_name_check(bad[i], strlen(bad[i]), &e), -1))
            printf("  name: %s\n", bad[i]);
        else
            CHECK_INT(e.code, ERR_INVALID);
    }
    char longseg[200];
    memset(longseg, 'a', 129);
    longseg[129] = '\0';
    CHECK_INT(state_name_check(longseg, 129, &e), -1);
}

static void test_pattern_match(void)
{
    CHECK(pattern_match("**", "a/b/c"));
    CHECK(pattern_match("prod/*", "prod/net"));
    CHECK(!pattern_match("prod/*", "prod/net/x"));
    CHECK(pattern_match("prod/**", "prod/net/x"));
    CHECK(!pattern_match("prod/**", "staging/net"));
    CHECK(pattern_match("team-*/app", "team-a/app"));
    CHECK(pattern_match("exact", "exact"));
    CHECK(!pattern_match("exact", "exactly"));
    CHECK(pattern_match("*", "top"));
    CHECK(!pattern_match("*", "a/b"));
}

static void test_parse_units(void)
{
    uint64_t sz;
    int64_t ms;
    CHECK_INT(parse_size("256M", &sz), 0);
    CHECK_INT(sz, 256LL * 1024 * 1024);
    CHECK_INT(parse_size("100", &sz), 0);
    CHECK_INT(sz, 100);
    CHECK_INT(parse_size("x", &sz), -1);
    CHECK_INT(parse_duration_ms("1h", &ms), 0);
    CHECK_INT(ms, 3600000);
    CHECK_INT(parse_duration_ms("2", &ms), 0);
    CHECK_INT(ms, 2000);
    CHECK_INT(parse_duration_ms("500ms", &ms), 0);
    CHECK_INT(ms, 500);
    CHECK_INT(parse_duration_ms("5d", &ms), -1);
}

int main(void)
{
    RUN(test_err_first_wins);
    RUN(test_buf_ceiling);
    RUN(test_buf_printf);
    RUN(test_hashes);
    RUN(test_base64_roundtrip);
    RUN(test_ct_equal);
    RUN(test_time_roundtrip);
    RUN(test_state_names);
    RUN(test_pattern_match);
    RUN(test_parse_units);
    return t_report();
}
