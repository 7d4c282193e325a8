/* tests/unit/test_statejson.c: the state body validator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/statejson.h"
#include "tests/unit/t.h"

static int scan(const char *s, struct state_summary *out, struct err *e)
{
    err_clear(e);
    return statejson_scan(s, strlen(s), out, e);
}

static void expect_bad(const char *s, const char *fragment)
{
    struct state_summary sum;
    struct err e = {0};
    CHECK_INT(scan(s, &sum, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    if (strstr(e.msg, fragment) == NULL)
        CHECK_STR(e.msg, fragment);
}

static void test_valid_v4(void)
{
    const char *s = "{\n  \"version\": 4,\n  \"terraform_version\": \"1.10.6\",\n  \"serial\": 7,\n"
                    "  \"lineage\": \"666f9301-7e65-4b19-ae23-71184bb19b03\",\n"
                    "  \"outputs\": {\"x\": {\"value\": [1, 2.5e3, -0.1, true, false, null]}},\n"
                    "  \"resources\": [], \"check_results\": null\n}\n";
    struct state_summary sum;
    struct err e = {0};
    CHECK_INT(scan(s, &sum, &e), 0);
    CHECK_INT(sum.serial, 7);
    CHECK_STR(sum.lineage, "666f9301-7e65-4b19-ae23-71184bb19b03");
    CHECK_INT(sum.is_encrypted, 0);
}

static void test_encrypted_envelope(void)
{
    const char *s = "{\"serial\": 3, \"lineage\": \"abc\", \"meta\": {\"key_provider.pbkdf2.k\": "
                    "\"eyJ9\"}, \"encrypted_data\": \"AAAA==\", \"encryption_version\": \"v0\"}";
    struct state_summary sum;
    struct err e = {0};
    CHECK_INT(scan(s, &sum, &e), 0);
    CHECK_INT(sum.serial, 3);
    CHECK_STR(sum.lineage, "abc");
    CHECK_INT(sum.is_encrypted, 1);
}

static void test_nested_serial_ignored(void)
{
    struct state_summary sum;
    struct err e = {0};
    /* only the root's keys count; an escaped key name still matches */
    CHECK_INT(scan("{\"x\":{\"serial\":\"no\"},\"seri\\u0061l\":18446744073709551615,"
                   "\"lineage\":\"l\\u00e9\\ud83d\\ude00\"}",
                   &sum, &e),
              0);
    CHECK(sum.serial == UINT64_MAX);
    CHECK_STR(sum.lineage, "l\xc3\xa9\xf0\x9f\x98\x80");
}

static void test_not_states(void)
{
    expect_bad("{\"lineage\":\"x\"}", "no top-level \"serial\"");
    expect_bad("{\"serial\":1}", "no top-level \"lineage\"");
    expect_bad("{\"serial\":\"1\",\"lineage\":\"x\"}", "must be a number");
    expect_bad("{\"serial\":-1,\"lineage\":\"x\"}", "non-negative integer");
    expect_bad("{\"serial\":1.5,\"lineage\":\"x\"}", "non-negative integer");
    expect_bad("{\"serial\":1e3,\"lineage\":\"x\"}", "non-negative integer");
    expect_bad("{\"serial\":18446744073709551616,\"lineage\":\"x\"}", "too large");
    expect_bad("{\"serial\":1,\"lineage\":5}", "must be a string");
    expect_bad("{\"serial\":1,\"serial\":2,\"lineage\":\"x\"}", "duplicate");
    expect_bad("{\"serial\":1,\"lineage\":\"a\\u0000b\"}", "NUL");
    expect_bad("[1,2]", "must be a JSON object");
    expect_bad("\"x\"", "must be a JSON object");
    expect_bad("", "empty");
    expect_bad("   ", "must be a JSON object");
}

/* A serial is any unsigned 64-bit integer, exactly; nothing else is. */
static void test_serial_boundaries(void)
{
    static const struct {
        const char *text;
        uint64_t want;
    } good[] = {
        {"0", 0},
        {"9223372036854775807", 9223372036854775807ULL},
        {"9223372036854775808", 9223372036854775808ULL},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char s[128];
        snprintf(s, sizeof(s), "{\"serial\":%s,\"lineage\":\"x\"}", good[i].text);
        struct state_summary sum;
        struct err e = {0};
        CHECK_INT(scan(s, &sum, &e), 0);
        CHECK(sum.serial == good[i].want);
    }
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"18446744073709551616", "too large"},
        {"99999999999999999999999", "too large"},
        {"1e3", "no fraction or exponent"},
        {"1E+3", "no fraction or exponent"},
        {"1.0", "no fraction or exponent"},
        {"-0", "non-negative integer"},
        {"-1", "non-negative integer"},
        {"-18446744073709551615", "non-negative integer"},
        {"01", "not valid JSON"}, /* a leading zero: not JSON at all */
        {"+1", "must be a number"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char s[128];
        snprintf(s, sizeof(s), "{\"serial\":%s,\"lineage\":\"x\"}", bad[i].text);
        expect_bad(s, bad[i].why);
    }
}

static void test_lineage_limit(void)
{
    char s[400];
    char l[140];
    memset(l, 'a', 129);
    l[129] = '\0';
    snprintf(s, sizeof(s), "{\"serial\":1,\"lineage\":\"%s\"}", l);
    expect_bad(s, "longer than 128");
    l[128] = '\0';
    snprintf(s, sizeof(s), "{\"serial\":1,\"lineage\":\"%s\"}", l);
    struct state_summary sum;
    struct err e = {0};
    CHECK_INT(scan(s, &sum, &e), 0);
    CHECK_INT(strlen(sum.lineage), 128);
}

static void test_malformed_json(void)
{
    expect_bad("{\"serial\":1,\"lineage\":\"x\"} x", "trailing data");
    expect_bad("{\"serial\":1,\"lineage\":\"x\"}{}", "trailing data");
    expect_bad("{\"serial\":1,\"lineage\":\"x\",}", "object key expected");
    expect_bad("{\"serial\":1 \"lineage\":\"x\"}", "',' or '}' expected");
    expect_bad("{\"serial\":01,\"lineage\":\"x\"}", "',' or '}' expected");
    expect_bad("{\"serial\":1,\"lineage\":\"x\",\"a\":[1,]}", "unexpected character");
    expect_bad("{\"serial\":1,\"lineage\":\"x\",\"a\":tru}", "invalid literal");
    expect_bad("{\"serial\":1,\"lineage\":\"x\",\"a\":\"\\x\"}", "invalid escape");
    expect_bad("{\"serial\":1,\"lineage\":\"x\",\"a\":\"\\u12g4\"}", "bad hex");
    expect_bad("{\"serial\":1,\"lineage\":\"x\",\"a\":\"tab\there\"}", "control character");
    expect_bad("{\"serial\":1,\"lineage\":\"x\",\"a\":\"open", "unterminated string");
    expect_bad("{\"serial\":1,\"lineage\":\"x\"", "unexpected end");
    expect_bad("{\"serial\":1,\"lineage\":\"x\",\"a\":-}", "invalid number");
    expect_bad("{\"serial\":1,\"lineage\":\"x\",\"a\":1.}", "digit expected after");
    expect_bad("{\"serial\":1,\"lineage\":\"x\",\"a\":1e}", "exponent");
    expect_bad("\xef\xbb\xbf{\"serial\":1,\"lineage\":\"x\"}", "must be a JSON object");
}

static void test_bad_utf8(void)
{
    expect_bad("{\"serial\":1,\"lineage\":\"\xff\"}", "invalid UTF-8");
    expect_bad("{\"serial\":1,\"lineage\":\"x\",\"a\":\"\xc0\xaf\"}",
               "invalid UTF-8"); /* overlong */
    expect_bad("{\"serial\":1,\"lineage\":\"x\",\"a\":\"\xed\xa0\x80\"}",
               "invalid UTF-8"); /* surrogate */
    expect_bad("{\"serial\":1,\"lineage\":\"x\",\"a\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8");
    expect_bad("{\"serial\":1,\"lineage\":\"x\",\"a\":\"\xe2\x82\"}", "invalid UTF-8");
}

static void test_deep_nesting(void)
{
    size_t depth = 100000;
    char *s = malloc(2 * depth + 64);
    size_t n = (size_t)sprintf(s, "{\"serial\":1,\"lineage\":\"x\",\"a\":");
    memset(s + n, '[', depth);
    memset(s + n + depth, ']', depth);
    strcpy(s + n + 2 * depth, "}");
    expect_bad(s, "nesting deeper");
    /* 500 levels is fine */
    n = (size_t)sprintf(s, "{\"serial\":1,\"lineage\":\"x\",\"a\":");
    memset(s + n, '[', 500);
    memset(s + n + 500, ']', 500);
    strcpy(s + n + 1000, "}");
    struct state_summary sum;
    struct err e = {0};
    CHECK_INT(scan(s, &sum, &e), 0);
    free(s);
}

static void test_embedded_nul_byte(void)
{
    const char s[] = "{\"serial\":1,\"lineage\":\"x\"}\0";
    struct state_summary sum;
    struct err e = {0};
    CHECK_INT(statejson_scan(s, sizeof(s) - 1, &sum, &e), -1);
    CHECK(strstr(e.msg, "trailing data") != NULL);
}

static void expect_view(const char *state, const char *want)
{
    struct buf b;
    buf_init(&b, 0);
    struct err e = {0};
    CHECK_INT(statejson_outputs_view(state, strlen(state), &b, &e), 0);
    CHECK_STR(b.data, want);
    buf_cleanup(&b);
}

/* The outputs view keeps the five root members verbatim, wherever and however they are written,
 * and nothing else: not nested look-alikes, not escaped spellings. */
static void test_outputs_view(void)
{
    expect_view("{\n  \"version\": 4,\n  \"serial\" : 2 ,\"lineage\":\"l\",\n"
                "  \"resources\": [{\"outputs\": {\"leak\": 1}}],\n"
                "  \"outputs\": {\"a\": {\"value\": [1, \"}\", {\"b\": \"]\"}]}}\n}\n",
                "{\"version\": 4,\"serial\" : 2,\"lineage\":\"l\",\"outputs\": {\"a\": "
                "{\"value\": [1, \"}\", {\"b\": \"]\"}]}},\"resources\":[]}\n");
    /* An escaped key is the same key (every JSON reader decodes it); a near miss is not. */
    expect_view("{\"seri\\u0061l\":1,\"lineage\":\"l\",\"outp\\u0075ts\":{\"x\":1},"
                "\"outputs2\":{},\"\\u006futputs\\u0000\":{},\"z\":\"\\\"\"}",
                "{\"seri\\u0061l\":1,\"lineage\":\"l\",\"outp\\u0075ts\":{\"x\":1},"
                "\"resources\":[]}\n");
    struct buf b;
    buf_init(&b, 0);
    struct err e = {0};
    CHECK_INT(statejson_outputs_view("{\"serial\":1}", 12, &b, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    const char *enc = "{\"serial\":1,\"lineage\":\"l\",\"encryption_version\":\"v0\"}";
    CHECK_INT(statejson_outputs_view(enc, strlen(enc), &b, &e), -1);
    CHECK_INT(e.code, ERR_FORBIDDEN);
    buf_cleanup(&b);
}

int main(void)
{
    RUN(test_valid_v4);
    RUN(test_encrypted_envelope);
    RUN(test_nested_serial_ignored);
    RUN(test_not_states);
    RUN(test_serial_boundaries);
    RUN(test_lineage_limit);
    RUN(test_malformed_json);
    RUN(test_bad_utf8);
    RUN(test_deep_nesting);
    RUN(test_embedded_nul_byte);
    RUN(test_outputs_view);
    return t_report();
}
