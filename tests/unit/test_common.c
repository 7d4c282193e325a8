/* tests/unit/test_common.c: err, buf and util. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>
#include <time.h>

#include "common/blobcache.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "common/net.h"
#include "common/utf8.h"
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
    CHECK_INT(parse_duration_ms("30d", &ms), 0);
    CHECK_INT(ms, 30LL * 24 * 3600 * 1000);
    CHECK_INT(parse_duration_ms("5w", &ms), -1);
    CHECK_INT(parse_duration_ms("-1s", &ms), -1);
}

static void test_cidrs_and_forwarded_for(void)
{
    struct net_cidrs c;
    struct err e = {0};
    CHECK_INT(net_cidrs_parse("10.0.0.0/8, 192.168.1.7 fd00::/8,::1", &c, &e), 0);
    CHECK_INT(c.n, 4);
    CHECK(net_cidrs_contain(&c, "10.200.3.4"));
    CHECK(!net_cidrs_contain(&c, "11.0.0.1"));
    CHECK(net_cidrs_contain(&c, "192.168.1.7"));
    CHECK(!net_cidrs_contain(&c, "192.168.1.8"));
    CHECK(net_cidrs_contain(&c, "fd12::9"));
    CHECK(net_cidrs_contain(&c, "::ffff:10.1.1.1")); /* IPv4-mapped is the IPv4 address */
    CHECK(!net_cidrs_contain(&c, "not-an-ip"));
    char out[64];
    /* An untrusted peer: X-Forwarded-For is ignored. */
    CHECK(!net_forwarded_client(&c, "203.0.113.5", "1.2.3.4", out));
    CHECK_STR(out, "203.0.113.5");
    /* A trusted proxy: the right-most entry that is not a trusted proxy, whatever the client
     * wrote to the left of it. */
    CHECK(net_forwarded_client(&c, "10.0.0.2", "6.6.6.6, 198.51.100.9, 10.0.0.3", out));
    CHECK_STR(out, "198.51.100.9");
    CHECK(net_forwarded_client(&c, "10.0.0.2", " 198.51.100.9 ", out));
    CHECK_STR(out, "198.51.100.9");
    /* Garbage ends the walk at the last address seen. */
    CHECK(net_forwarded_client(&c, "10.0.0.2", "evil\r\n, 198.51.100.9", out));
    CHECK_STR(out, "198.51.100.9");
    CHECK(!net_forwarded_client(&c, "10.0.0.2", "<script>", out));
    CHECK_STR(out, "10.0.0.2");
    CHECK(!net_forwarded_client(&c, "10.0.0.2", NULL, out));
    net_cidrs_cleanup(&c);
    CHECK_INT(net_cidrs_parse("10.0.0.0/33", &c, &e), -1);
    CHECK(strstr(e.msg, "prefix") != NULL);
    err_clear(&e);
    CHECK_INT(net_cidrs_parse("10.0.0.300", &c, &e), -1);
    err_clear(&e);
    CHECK_INT(net_cidrs_parse("", &c, &e), 0);
    CHECK_INT(c.n, 0);
}

static void test_utf8_table(void)
{
    /* RFC 3629's boundaries: the smallest and largest of each length, and one past them. */
    static const struct {
        const char *bytes;
        size_t want;
    } cases[] = {
        {"A", 1},
        {"\x7f", 1},
        {"\xc2\x80", 2},         /* U+0080 */
        {"\xdf\xbf", 2},         /* U+07FF */
        {"\xc1\xbf", 0},         /* overlong */
        {"\xe0\xa0\x80", 3},     /* U+0800 */
        {"\xe0\x9f\xbf", 0},     /* overlong */
        {"\xed\x9f\xbf", 3},     /* U+D7FF */
        {"\xed\xa0\x80", 0},     /* U+D800, a surrogate */
        {"\xef\xbf\xbf", 3},     /* U+FFFF */
        {"\xf0\x90\x80\x80", 4}, /* U+10000 */
        {"\xf0\x8f\xbf\xbf", 0}, /* overlong */
        {"\xf4\x8f\xbf\xbf", 4}, /* U+10FFFF */
        {"\xf4\x90\x80\x80", 0}, /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 0},
        {"\x80", 0},     /* a lone continuation byte */
        {"\xe2\x82", 0}, /* truncated */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const unsigned char *b = (const unsigned char *)cases[i].bytes;
        if (utf8_seq_len(b, strlen(cases[i].bytes)) != cases[i].want)
            CHECK_INT(i, -1); /* names the failing case */
    }
    CHECK(utf8_valid("h\xc3\xa9llo \xe2\x82\xac", 10));
    CHECK(!utf8_valid("h\xc3llo", 5));
    unsigned char out[4];
    CHECK_INT(utf8_encode(0x20AC, out), 3);
    CHECK_MEM(out, 3, "\xe2\x82\xac", 3);
    CHECK_INT(utf8_encode(0x10FFFF, out), 4);
    CHECK_INT(utf8_encode(0xD800, out), 0);
    CHECK_INT(utf8_encode(0x110000, out), 0);
}

static void test_utf8_sanitize(void)
{
    char dst[16];
    utf8_sanitize(dst, sizeof(dst),
                  "a\xff"
                  "b\xc3\xa9");
    CHECK_STR(dst, "a?b\xc3\xa9");
    /* never cuts a character: "\xc3\xa9" does not fit in the last byte */
    utf8_sanitize(dst, 4, "ab\xc3\xa9");
    CHECK_STR(dst, "ab");
    char in_place[] = "x\x80y\xe2\x82\xacz";
    utf8_sanitize(in_place, sizeof(in_place), in_place);
    CHECK_STR(in_place, "x?y\xe2\x82\xacz");
}

static int count_files(const char *dir)
{
    char *cmd = xasprintf("ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p != NULL && fscanf(p, "%d", &n) != 1)
        n = -1;
    if (p != NULL)
        pclose(p);
    free(cmd);
    return n;
}

static void test_file_write_atomic(void)
{
    struct err e = {0};
    const char *dir = t_tempdir();
    char *sub = xasprintf("%s/a/b", dir), *path = xasprintf("%s/a/b/f", dir);
    CHECK_INT(file_mkdir_p(sub, 0750, ERR_WRITE, &e), 0);
    struct stat st;
    struct file_write_opts how = {.mode = 0600, .durable = true, .code = ERR_WRITE, .st = &st};
    CHECK_INT(file_write_atomic(path, "hello ", 6, "world", 5, &how, &e), 0);
    CHECK_INT(st.st_size, 11);
    CHECK_INT(st.st_mode & 0777, 0600);
    FILE *f = fopen(path, "r");
    char got[32] = "";
    CHECK(f != NULL && fgets(got, sizeof(got), f) != NULL);
    if (f != NULL)
        fclose(f);
    CHECK_STR(got, "hello world");
    CHECK_INT(count_files(sub), 1); /* no temp file left behind */

    /* a crash before the rename leaves a temp file: the owner removes it at start */
    char *stale = xasprintf("%s/" FILE_TEMP_PREFIX "0123456789abcdef", sub);
    f = fopen(stale, "w");
    if (f != NULL)
        fclose(f);
    CHECK_INT(file_remove_stale_temps(dir, false), 0); /* not recursive: not seen */
    CHECK_INT(file_remove_stale_temps(dir, true), 1);
    CHECK_INT(access(stale, F_OK), -1);
    CHECK_INT(access(path, F_OK), 0);

    /* a file in the way of a directory is the caller's input, not an outage */
    char *blocked = xasprintf("%s/f/x", sub);
    CHECK_INT(file_mkdir_p(blocked, 0750, ERR_WRITE, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    how.code = ERR_UNAVAILABLE;
    char *nodir = xasprintf("%s/missing/f", dir);
    CHECK_INT(file_write_atomic(nodir, "x", 1, NULL, 0, &how, &e), -1);
    CHECK_INT(e.code, ERR_UNAVAILABLE);
    free(nodir);
    free(blocked);
    free(stale);
    free(path);
    free(sub);
}

/* Unsigned 64-bit values in JSON: a number while int64 holds them, a decimal string above;
 * both read back, nothing else does. */
static void test_u64_json(void)
{
    static const struct {
        uint64_t v;
        const char *text;
    } cases[] = {
        {0, "0"},
        {42, "42"},
        {9223372036854775807ULL, "9223372036854775807"},
        {9223372036854775808ULL, "\"9223372036854775808\""},
        {UINT64_MAX, "\"18446744073709551615\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char t[U64_JSON_MAX];
        CHECK_STR(u64_json_text(cases[i].v, t), cases[i].text);
        json_t *j = u64_to_json(cases[i].v);
        char *dumped = json_dumps(j, JSON_ENCODE_ANY);
        CHECK_STR(dumped, cases[i].text);
        uint64_t back = 1;
        CHECK(u64_from_json(j, &back));
        CHECK(back == cases[i].v);
        /* and read from text by jansson, as a client of stated would */
        json_t *parsed = json_loads(dumped, JSON_DECODE_ANY, NULL);
        back = 1;
        CHECK(u64_from_json(parsed, &back));
        CHECK(back == cases[i].v);
        json_decref(parsed);
        free(dumped);
        json_decref(j);
    }
    static const char *const wrong[] = {"-1",     "1.5",  "\"-1\"", "\"18446744073709551616\"",
                                        "\"01\"", "\"\"", "\"1 \"", "null",
                                        "true",   "[1]"};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        json_t *j = json_loads(wrong[i], JSON_DECODE_ANY, NULL);
        uint64_t v = 7;
        CHECK(j != NULL);
        CHECK(!u64_from_json(j, &v));
        CHECK(v == 7);
        json_decref(j);
    }
    uint64_t v;
    CHECK(!u64_from_json(NULL, &v));
    CHECK(u64_parse_decimal("0", 1, &v) && v == 0);
    CHECK(!u64_parse_decimal("", 0, &v));
    CHECK(!u64_parse_decimal("00", 2, &v));
    CHECK(u64_parse_decimal("18446744073709551615x", 20, &v) && v == UINT64_MAX);
}

static struct blob *blob_of(const char *s, size_t len)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, s, len, NULL);
    return blob_from_buf(&b);
}

static void test_blobcache_validators_and_budget(void)
{
    struct blobcache *bc = blobcache_new(4, 100, 50);
    char meta[32], v[32];
    struct blob *a = blob_of("aaaaaaaaaa", 10);
    blob_unref(blobcache_put(bc, "k", "v1", a, "m1"));
    struct blob *got = blobcache_get(bc, "k", "v1", meta, sizeof(meta));
    CHECK(got == a);
    CHECK_STR(meta, "m1");
    blob_unref(got);
    CHECK(blobcache_get(bc, "k", "v2", meta, sizeof(meta)) == NULL); /* changed object */
    CHECK(blobcache_validator(bc, "k", v, sizeof(v)));
    CHECK_STR(v, "v1");
    /* a second reader's copy of the same object: the cached one is handed out */
    struct blob *a2 = blob_of("aaaaaaaaaa", 10);
    got = blobcache_put(bc, "k", "v1", a2, NULL);
    CHECK(got == a);
    blob_unref(got);
    blob_unref(a2);
    /* the byte budget: 45 + 45 + 45 > 100, the least recently used goes */
    char big[45];
    memset(big, 'x', sizeof(big));
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof(key), "b%d", i);
        struct blob *b = blob_of(big, sizeof(big));
        blob_unref(blobcache_put(bc, key, "v", b, NULL));
        blob_unref(b);
    }
    CHECK(!blobcache_validator(bc, "b0", v, sizeof(v)));
    CHECK(blobcache_validator(bc, "b2", v, sizeof(v)));
    blob_unref(a);
    blobcache_free(bc);
}

static void test_blobcache_large_only_while_held(void)
{
    struct blobcache *bc = blobcache_new(4, 100, 50);
    char big[80];
    memset(big, 'y', sizeof(big));
    struct blob *b = blob_of(big, sizeof(big));
    struct blob *held = blobcache_put(bc, "large", "v", b, NULL);
    blob_unref(b);
    struct blob *again = blobcache_get(bc, "large", "v", NULL, 0);
    CHECK(again == held); /* shared while someone holds it */
    blob_unref(again);
    blob_unref(held);
    char v[8];
    CHECK(!blobcache_validator(bc, "large", v, sizeof(v))); /* nobody does: gone */
    blobcache_free(bc);
}

struct claim_run {
    struct blobcache *bc;
    int loads;
    pthread_mutex_t mu;
};

static void *claimer(void *arg)
{
    struct claim_run *cr = arg;
    for (;;) {
        struct blob *b = blobcache_get(cr->bc, "k", "v", NULL, 0);
        if (b != NULL) {
            blob_unref(b);
            return NULL;
        }
        if (!blobcache_claim(cr->bc, "k"))
            continue;
        pthread_mutex_lock(&cr->mu);
        cr->loads++;
        pthread_mutex_unlock(&cr->mu);
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL); /* a slow read */
        struct blob *mine = blob_of("data", 4);
        blob_unref(blobcache_put(cr->bc, "k", "v", mine, NULL));
        blob_unref(mine);
        return NULL;
    }
}

static void test_blobcache_claims(void)
{
    struct claim_run cr = {.bc = blobcache_new(4, 100, 50)};
    pthread_mutex_init(&cr.mu, NULL);
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, claimer, &cr);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    CHECK_INT(cr.loads, 1); /* eight readers missed together, one read */
    /* a failed load releases its claim: the next reader loads */
    blobcache_drop(cr.bc, "k");
    CHECK(blobcache_claim(cr.bc, "k"));
    blobcache_release(cr.bc, "k");
    CHECK(blobcache_claim(cr.bc, "k"));
    blobcache_release(cr.bc, "k");
    pthread_mutex_destroy(&cr.mu);
    blobcache_free(cr.bc);
}

/* What one log call writes to stderr, captured through a temporary file. */
static char *capture_log(enum log_format fmt, const struct log_field *f, size_t n, const char *msg)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/log", t_tempdir());
    int saved = dup(STDERR_FILENO);
    FILE *fp = fopen(path, "w+");
    dup2(fileno(fp), STDERR_FILENO);
    log_setup(LOG_INFO, fmt);
    log_fields(LOG_INFO, f, n, "%s", msg);
    log_setup(LOG_INFO, LOG_TEXT);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char *out = xcalloc(1, 16384);
    rewind(fp);
    size_t got = fread(out, 1, 16383, fp);
    out[got] = '\0';
    fclose(fp);
    return out;
}

/* A JSON record is one line, one object, with the fields that apply, whatever bytes a client
 * put in them; the text format shows only the message, as before. */
static void test_log_json_line(void)
{
    const struct log_field f[] = {
        LOG_STR("req_id", "00ab"),      LOG_STR("method", "GET"),
        LOG_STR("state", "a\"b\\c\nd"), LOG_STR("user", "\xff\xfe bad utf-8"),
        LOG_STR("actor", ""),           LOG_STR("lock_id", NULL),
        LOG_INT("status", 423),         LOG_INT("ms", 0),
        LOG_INT("bytes_out", -1),
    };
    char *line = capture_log(LOG_JSON, f, sizeof(f) / sizeof(f[0]), "req=00ab GET a\nforged");
    size_t len = strlen(line);
    CHECK(len > 0 && line[len - 1] == '\n');
    CHECK(strchr(line, '\n') == line + len - 1); /* one line */
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    CHECK(o != NULL && json_is_object(o));
    if (o != NULL) {
        CHECK_STR(json_string_value(json_object_get(o, "level")), "info");
        CHECK(json_string_value(json_object_get(o, "ts")) != NULL);
        CHECK_STR(json_string_value(json_object_get(o, "msg")), "req=00ab GET a\\x0aforged");
        CHECK_STR(json_string_value(json_object_get(o, "req_id")), "00ab");
        CHECK_STR(json_string_value(json_object_get(o, "method")), "GET");
        CHECK_STR(json_string_value(json_object_get(o, "state")), "a\"b\\c\nd"); /* escaped */
        CHECK_STR(json_string_value(json_object_get(o, "user")), "?? bad utf-8");
        CHECK(json_object_get(o, "actor") == NULL);   /* "" does not apply */
        CHECK(json_object_get(o, "lock_id") == NULL); /* NULL neither */
        CHECK(json_object_get(o, "bytes_out") == NULL);
        CHECK_INT(json_integer_value(json_object_get(o, "status")), 423);
        CHECK_INT(json_integer_value(json_object_get(o, "ms")), 0);
        CHECK(json_is_integer(json_object_get(o, "ms")));
        /* ts, level and msg come first */
        CHECK(strncmp(line, "{\"ts\":", 6) == 0);
        CHECK(strstr(line, "\"level\":\"info\",\"msg\":") != NULL);
    }
    json_decref(o);
    free(line);
    line = capture_log(LOG_TEXT, f, sizeof(f) / sizeof(f[0]), "req=00ab GET x status=423 ms=0");
    CHECK(strstr(line, " info  req=00ab GET x status=423 ms=0\n") != NULL);
    CHECK(strstr(line, "423 ms=0\n") == line + strlen(line) - 9); /* nothing after */
    free(line);
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
    RUN(test_cidrs_and_forwarded_for);
    RUN(test_utf8_table);
    RUN(test_utf8_sanitize);
    RUN(test_file_write_atomic);
    RUN(test_blobcache_validators_and_budget);
    RUN(test_blobcache_large_only_while_held);
    RUN(test_blobcache_claims);
    RUN(test_u64_json);
    RUN(test_log_json_line);
    return t_report();
}
