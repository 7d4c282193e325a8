/* tests/unit/test_audit.c: canonical event text and hash rule, parsing, CSV quoting, and the
 * JSON Lines driver (append, recovery of a torn tail, export filters, verify against a
 * changed byte, a removed line and two swapped lines), and offline verification of exported
 * JSON Lines and CSV files (CSV rows read back, tampered, deleted and reordered records). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit/audit.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "tests/unit/t.h"

#define ZERO64 "0000000000000000000000000000000000000000000000000000000000000000"
#define T0     1795314013123456LL /* 2026-11-22T02:20:13.123456Z */

static void sample(struct audit_event *ev, int i)
{
    audit_event_init(ev);
    ev->time_us = T0 + (int64_t)i * 1000000;
    snprintf(ev->request_id, sizeof(ev->request_id), "r-%d", i);
    snprintf(ev->actor, sizeof(ev->actor), "ci");
    snprintf(ev->remote, sizeof(ev->remote), "127.0.0.1");
    snprintf(ev->action, sizeof(ev->action), "%s", i % 2 ? "write" : "lock");
    snprintf(ev->state, sizeof(ev->state), "%s", i % 3 == 0 ? "prod/net" : "dev/app");
    ev->status = 200;
    if (i % 2) {
        ev->serial = (uint64_t)i;
        ev->has_serial = true;
        ev->size = 100 + i;
        snprintf(ev->lineage, sizeof(ev->lineage), "lin");
        sha256_hex("x", 1, ev->sha256);
    }
}

static void test_canonical_text_and_hash(void)
{
    struct audit_event ev;
    audit_event_init(&ev);
    CHECK(!ev.has_serial);
    CHECK_INT(ev.size, -1);
    ev.time_us = T0;
    snprintf(ev.request_id, sizeof(ev.request_id), "r1");
    snprintf(ev.actor, sizeof(ev.actor), "ci");
    snprintf(ev.username, sizeof(ev.username), "bob \"the\" \\ builder\n\x01");
    snprintf(ev.remote, sizeof(ev.remote), "::1");
    snprintf(ev.action, sizeof(ev.action), "get");
    snprintf(ev.state, sizeof(ev.state), "prod/net");
    ev.status = 404;
    struct buf b;
    buf_init(&b, 0);
    struct err e = {0};
    char hash[65];
    CHECK_INT(audit_event_canonical(&ev, 1, ZERO64, &b, hash, &e), 0);
    const char *want_prefix =
        "{\"seq\":1,\"time\":\"2026-11-22T02:20:13.123456Z\",\"request_id\":\"r1\","
        "\"actor\":\"ci\",\"username\":\"bob \\\"the\\\" \\\\ builder\\n\\u0001\","
        "\"remote\":\"::1\",\"action\":\"get\",\"state\":\"prod/net\",\"lock_id\":\"\","
        "\"serial\":null,\"lineage\":\"\",\"sha256\":\"\",\"size\":null,\"status\":404,"
        "\"detail\":\"\",\"prev\":\"" ZERO64 "\"";
    size_t pl = strlen(want_prefix);
    CHECK(b.len > pl);
    CHECK_MEM(b.data, pl, want_prefix, pl);
    /* hash = SHA-256(text up to prev + "}") */
    char *hashed = xasprintf("%s}", want_prefix);
    char want_hash[65];
    sha256_hex(hashed, strlen(hashed), want_hash);
    free(hashed);
    CHECK_STR(hash, want_hash);
    char *tail = xasprintf(",\"hash\":\"%s\"}", want_hash);
    CHECK_STR(b.data + pl, tail);
    free(tail);

    /* Parse gives back every field. */
    struct audit_event back;
    uint64_t seq;
    char prev[65], h2[65];
    CHECK_INT(audit_event_parse(b.data, b.len, &back, &seq, prev, h2, &e), 0);
    CHECK_INT(seq, 1);
    CHECK_STR(prev, ZERO64);
    CHECK_STR(h2, hash);
    CHECK_STR(back.username, ev.username);
    CHECK_INT(back.time_us, T0);
    CHECK(!back.has_serial);
    CHECK_INT(back.status, 404);

    /* One changed byte: refused. */
    char *bad = xstrdup(b.data);
    bad[strstr(bad, "404") - bad + 2] = '5';
    CHECK_INT(audit_event_parse(bad, strlen(bad), &back, &seq, prev, h2, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    free(bad);
    /* Same JSON, not canonical (a space): refused. */
    bad = xasprintf("{ %s", b.data + 1);
    CHECK_INT(audit_event_parse(bad, strlen(bad), &back, &seq, prev, h2, &e), -1);
    err_clear(&e);
    free(bad);
    buf_cleanup(&b);
}

static void test_canonical_invalid_utf8(void)
{
    struct audit_event ev;
    audit_event_init(&ev);
    /* A Basic username is arbitrary bytes: stored as valid JSON, still within its array. */
    memset(ev.username, 0xff, sizeof(ev.username) - 1);
    snprintf(ev.detail, sizeof(ev.detail), "caf\xc3\xa9 \xe2\x82");
    struct buf b;
    buf_init(&b, 0);
    struct err e = {0};
    char hash[65];
    CHECK_INT(audit_event_canonical(&ev, 7, ZERO64, &b, hash, &e), 0);
    struct audit_event back;
    uint64_t seq;
    CHECK_INT(audit_event_parse(b.data, b.len, &back, &seq, NULL, NULL, &e), 0);
    CHECK_STR(back.detail, "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd");
    CHECK(strlen(back.username) < sizeof(back.username));
    buf_cleanup(&b);
}

static void test_csv(void)
{
    struct audit_event ev;
    audit_event_init(&ev);
    ev.time_us = T0;
    snprintf(ev.actor, sizeof(ev.actor), "a,b");
    snprintf(ev.username, sizeof(ev.username), "say \"hi\"");
    snprintf(ev.remote, sizeof(ev.remote), "=cmd()");
    snprintf(ev.action, sizeof(ev.action), "write");
    snprintf(ev.state, sizeof(ev.state), "x");
    snprintf(ev.detail, sizeof(ev.detail), "line1\nline2");
    ev.serial = 3;
    ev.has_serial = true;
    ev.status = 200;
    struct buf b;
    buf_init(&b, 0);
    struct err e = {0};
    CHECK_INT(audit_event_csv(&ev, 9, ZERO64, ZERO64, &b, &e), 0);
    CHECK_STR(b.data, "9,2026-11-22T02:20:13.123456Z,,\"a,b\",\"say \"\"hi\"\"\",\"'=cmd()\","
                      "write,x,,3,,,,200,\"line1\nline2\",,,,,,,,," ZERO64 "," ZERO64 "\r\n");
    CHECK(strncmp(audit_csv_header, "seq,time,", 9) == 0);
    /* The serial is exact in CSV too. */
    ev.serial = UINT64_MAX;
    buf_reset(&b);
    CHECK_INT(audit_event_csv(&ev, 9, ZERO64, ZERO64, &b, &e), 0);
    CHECK(strstr(b.data, ",x,,18446744073709551615,,,,200,") != NULL);
    /* The identity and lock fields, in the header's order. */
    snprintf(ev.issuer, sizeof(ev.issuer), "https://gitlab.example");
    snprintf(ev.lock_owner, sizeof(ev.lock_owner), "-ci");
    buf_reset(&b);
    CHECK_INT(audit_event_csv(&ev, 9, ZERO64, ZERO64, &b, &e), 0);
    CHECK(strstr(b.data, "\",,https://gitlab.example,,,,,,\"'-ci\"," ZERO64 "," ZERO64 "\r\n") !=
          NULL);
    CHECK(strstr(audit_csv_header, ",detail,peer,issuer,subject,jti,lock_who,lock_operation,"
                                   "lock_info,lock_owner,prev,hash\r\n") != NULL);
    buf_cleanup(&b);
}

/* The optional fields: absent from the text when empty (so older lines read unchanged), in a
 * fixed order when set, read back exactly, and never accepted present-but-empty or unknown. */
static void test_optional_fields(void)
{
    struct audit_event ev, back;
    sample(&ev, 1);
    struct buf b;
    buf_init(&b, 0);
    struct err e = {0};
    char hash[65], h2[65];
    CHECK_INT(audit_event_canonical(&ev, 1, ZERO64, &b, hash, &e), 0);
    CHECK(strstr(b.data, "\"peer\"") == NULL && strstr(b.data, "\"lock_owner\"") == NULL);
    snprintf(ev.peer, sizeof(ev.peer), "10.0.0.9");
    snprintf(ev.issuer, sizeof(ev.issuer), "https://token.actions.githubusercontent.com");
    snprintf(ev.subject, sizeof(ev.subject), "repo:org/infra:ref:refs/heads/main");
    snprintf(ev.jti, sizeof(ev.jti), "j-42");
    snprintf(ev.lock_who, sizeof(ev.lock_who), "runner@ci");
    snprintf(ev.lock_operation, sizeof(ev.lock_operation), "OperationTypeApply");
    snprintf(ev.lock_info, sizeof(ev.lock_info), "\"quoted\"");
    snprintf(ev.lock_owner, sizeof(ev.lock_owner), "gh:org/infra sub=repo:org/infra");
    buf_reset(&b);
    CHECK_INT(audit_event_canonical(&ev, 1, ZERO64, &b, hash, &e), 0);
    const char *order = strstr(b.data, "\"detail\":\"\",\"peer\":\"10.0.0.9\",\"issuer\":");
    CHECK(order != NULL);
    CHECK(strstr(b.data, "\"lock_owner\":\"gh:org/infra sub=repo:org/infra\",\"prev\":") != NULL);
    uint64_t seq;
    CHECK_INT(audit_event_parse(b.data, b.len, &back, &seq, NULL, h2, &e), 0);
    CHECK_STR(h2, hash);
    CHECK_STR(back.peer, ev.peer);
    CHECK_STR(back.subject, ev.subject);
    CHECK_STR(back.jti, ev.jti);
    CHECK_STR(back.lock_info, ev.lock_info);
    CHECK_STR(back.lock_owner, ev.lock_owner);
    /* Present but empty, or a key nobody writes: not an event. */
    char *p = strstr(b.data, "\"jti\":\"j-42\"");
    char *bad = xasprintf("%.*s\"jti\":\"\"%s", (int)(p - b.data), b.data, p + 12);
    CHECK_INT(audit_event_parse(bad, strlen(bad), &back, NULL, NULL, NULL, &e), -1);
    err_clear(&e);
    free(bad);
    bad = xasprintf("%.*s\"extra\":\"x\",%s", (int)(p - b.data), b.data, p);
    CHECK_INT(audit_event_parse(bad, strlen(bad), &back, NULL, NULL, NULL, &e), -1);
    err_clear(&e);
    free(bad);
    buf_cleanup(&b);
}

/* Serials are unsigned 64-bit: a number up to 2^63-1, a decimal string above (jansson and
 * JavaScript cannot read a larger number), read back exactly; any other spelling of the same
 * value is not canonical and refused. */
static void test_canonical_u64_serial(void)
{
    static const struct {
        uint64_t v;
        const char *text;
    } cases[] = {
        {0, "\"serial\":0,"},
        {9223372036854775807ULL, "\"serial\":9223372036854775807,"},
        {9223372036854775808ULL, "\"serial\":\"9223372036854775808\","},
        {UINT64_MAX, "\"serial\":\"18446744073709551615\","},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct audit_event ev, back;
        sample(&ev, 1);
        ev.serial = cases[i].v;
        struct buf b;
        buf_init(&b, 0);
        struct err e = {0};
        char hash[65], h2[65];
        uint64_t seq;
        CHECK_INT(audit_event_canonical(&ev, 1, ZERO64, &b, hash, &e), 0);
        CHECK(strstr(b.data, cases[i].text) != NULL);
        CHECK_INT(audit_event_parse(b.data, b.len, &back, &seq, NULL, h2, &e), 0);
        CHECK(back.has_serial);
        CHECK(back.serial == cases[i].v);
        CHECK_STR(h2, hash);
        buf_cleanup(&b);
    }
    /* A small serial written as a string is not the canonical text. */
    struct audit_event ev, back;
    sample(&ev, 1);
    struct buf b;
    buf_init(&b, 0);
    struct err e = {0};
    CHECK_INT(audit_event_canonical(&ev, 1, ZERO64, &b, NULL, &e), 0);
    char *p = strstr(b.data, "\"serial\":1,");
    CHECK(p != NULL);
    char *bad = xasprintf("%.*s\"serial\":\"1\",%s", (int)(p - b.data), b.data, p + 11);
    CHECK_INT(audit_event_parse(bad, strlen(bad), &back, NULL, NULL, NULL, &e), -1);
    err_clear(&e);
    free(bad);
    /* Beyond 2^64-1, negative or fractional: not a serial. */
    static const char *const wrong[] = {"\"18446744073709551616\"", "-1", "1.5", "\"01\"", "\"\""};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        bad = xasprintf("%.*s\"serial\":%s,%s", (int)(p - b.data), b.data, wrong[i], p + 11);
        CHECK_INT(audit_event_parse(bad, strlen(bad), &back, NULL, NULL, NULL, &e), -1);
        CHECK_INT(e.code, ERR_INVALID);
        err_clear(&e);
        free(bad);
    }
    buf_cleanup(&b);
}

/* ------------------------------------------------------------------ JSON Lines driver */

static char *log_path(const char *dir)
{
    return xasprintf("%s/audit.jsonl", dir);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = xmalloc((size_t)n + 1);
    *len = fread(d, 1, (size_t)n, f);
    d[*len] = '\0';
    fclose(f);
    return d;
}

static void spit(const char *path, const char *d, size_t len)
{
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, len, f);
    fclose(f);
}

/* Start offsets of each line in d (at most 64). */
static int line_starts(const char *d, size_t len, size_t *starts)
{
    int n = 0;
    size_t s = 0;
    for (size_t i = 0; i < len; i++)
        if (d[i] == '\n') {
            starts[n++] = s;
            s = i + 1;
        }
    starts[n] = len;
    return n;
}

static struct auditlog *fill(const char *dir, int n)
{
    struct err e = {0};
    struct auditlog *al = auditlog_jsonl_new(dir, &e);
    CHECK(al != NULL);
    if (!al)
        return NULL;
    for (int i = 1; i <= n; i++) {
        struct audit_event ev;
        sample(&ev, i);
        CHECK_INT(al->ops->append(al, &ev, &e), 0);
    }
    return al;
}

static struct audit_verify_result verify(const char *dir)
{
    struct err e = {0};
    struct audit_verify_result res = {0};
    memset(&res, 0, sizeof(res));
    struct auditlog *al = auditlog_jsonl_new(dir, &e);
    if (!al) {
        /* A damaged last line is refused at open; verify reads the file regardless. */
        res.first_broken = (uint64_t)-1;
        snprintf(res.reason, sizeof(res.reason), "open: %.150s", e.msg);
        return res;
    }
    CHECK_INT(al->ops->verify(al, &res, &e), 0);
    al->ops->free(al);
    return res;
}

static void test_jsonl_append_verify_restart(void)
{
    const char *dir = t_tempdir();
    struct auditlog *al = fill(dir, 10);
    CHECK_STR(al->ops->kind, "jsonl");
    struct err e = {0};
    CHECK_INT(al->ops->ping(al, &e), 0);
    struct audit_verify_result res = {0};
    CHECK_INT(al->ops->verify(al, &res, &e), 0);
    CHECK_INT(res.events, 10);
    CHECK_INT(res.first_broken, 0);
    al->ops->free(al);
    /* Restart continues the chain. */
    al = fill(dir, 5);
    CHECK_INT(al->ops->verify(al, &res, &e), 0);
    CHECK_INT(res.events, 15);
    CHECK_INT(res.first_broken, 0);
    al->ops->free(al);
    char *path = log_path(dir);
    size_t len;
    char *d = slurp(path, &len);
    size_t st[70];
    CHECK_INT(line_starts(d, len, st), 15);
    CHECK(strncmp(d + st[14], "{\"seq\":15,", 10) == 0);
    free(d);
    free(path);
}

static void test_jsonl_torn_tail(void)
{
    const char *dir = t_tempdir();
    struct auditlog *al = fill(dir, 3);
    al->ops->free(al);
    char *path = log_path(dir);
    size_t len;
    char *d = slurp(path, &len);
    /* A crash mid-write leaves half a line. */
    char *torn = xmalloc(len + 40);
    memcpy(torn, d, len);
    memcpy(torn + len, "{\"seq\":4,\"time\":\"2026-", 23);
    spit(path, torn, len + 23);
    al = fill(dir, 1);
    al->ops->free(al);
    struct audit_verify_result res = verify(dir);
    CHECK_INT(res.first_broken, 0);
    CHECK_INT(res.events, 4);
    free(torn);
    free(d);
    free(path);
}

static void test_jsonl_tamper_detection(void)
{
    const char *dir = t_tempdir();
    struct auditlog *al = fill(dir, 8);
    al->ops->free(al);
    char *path = log_path(dir);
    size_t len;
    char *orig = slurp(path, &len);
    size_t st[70];
    CHECK_INT(line_starts(orig, len, st), 8);
    struct audit_verify_result res = {0};

    /* One byte changed in event 4 (its status 200 -> 201). */
    char *d = xstrdup(orig);
    char *p = strstr(d + st[3], "\"status\":200");
    CHECK(p && p < d + st[4]);
    p[11] = '1';
    spit(path, d, len);
    res = verify(dir);
    CHECK_INT(res.first_broken, 4);
    CHECK(strstr(res.reason, "altered") != NULL);
    free(d);

    /* Event 5 removed. */
    d = xmalloc(len + 1);
    size_t n = st[4];
    memcpy(d, orig, n);
    memcpy(d + n, orig + st[5], len - st[5]);
    n += len - st[5];
    spit(path, d, n);
    res = verify(dir);
    CHECK_INT(res.first_broken, 5);
    CHECK(strstr(res.reason, "removed") != NULL);
    free(d);

    /* Events 2 and 3 swapped. */
    d = xmalloc(len + 1);
    memcpy(d, orig, st[1]);
    n = st[1];
    memcpy(d + n, orig + st[2], st[3] - st[2]);
    n += st[3] - st[2];
    memcpy(d + n, orig + st[1], st[2] - st[1]);
    n += st[2] - st[1];
    memcpy(d + n, orig + st[3], len - st[3]);
    n += len - st[3];
    CHECK_INT(n, len);
    spit(path, d, n);
    res = verify(dir);
    CHECK_INT(res.first_broken, 2);
    free(d);

    /* The last event removed is undetectable by the chain alone; a line edited to keep valid
     * JSON but with a recomputed own hash breaks the next event's prev. */
    d = xstrdup(orig);
    spit(path, d, len);
    res = verify(dir);
    CHECK_INT(res.first_broken, 0);
    free(d);
    free(orig);
    free(path);
}

struct sinkbuf {
    struct buf b;
    int calls;
};

static int sink(void *ctx, const char *data, size_t len)
{
    struct sinkbuf *s = ctx;
    struct err e = {0};
    s->calls++;
    return buf_append(&s->b, data, len, &e);
}

static int stop_sink(void *ctx, const char *data, size_t len)
{
    return 7;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_jsonl_export(void)
{
    const char *dir = t_tempdir();
    struct auditlog *al = fill(dir, 12);
    struct err e = {0};
    struct sinkbuf s;
    buf_init(&s.b, 0);
    s.calls = 0;
    /* Everything, as stored. */
    CHECK_INT(al->ops->export(al, NULL, AUDIT_JSONL, sink, &s, &e), 0);
    char *path = log_path(dir);
    size_t len;
    char *d = slurp(path, &len);
    CHECK_MEM(s.b.data, s.b.len, d, len);
    free(d);
    free(path);
    /* Time window: since inclusive, until exclusive (events are 1 s apart from T0+1s). */
    buf_reset(&s.b);
    struct audit_filter f = {.has_since = true,
                             .since_us = T0 + 3 * 1000000,
                             .has_until = true,
                             .until_us = T0 + 7 * 1000000};
    CHECK_INT(al->ops->export(al, &f, AUDIT_JSONL, sink, &s, &e), 0);
    CHECK_INT(count_lines(s.b.data), 4);
    CHECK(strncmp(s.b.data, "{\"seq\":3,", 9) == 0);
    /* State pattern: events 3, 6, 9, 12 are prod/net. */
    buf_reset(&s.b);
    struct audit_filter g = {.state_pattern = "prod/*"};
    CHECK_INT(al->ops->export(al, &g, AUDIT_CSV, sink, &s, &e), 0);
    CHECK_INT(count_lines(s.b.data), 5);
    CHECK(strncmp(s.b.data, audit_csv_header, strlen(audit_csv_header)) == 0);
    CHECK(strstr(s.b.data, "\r\n3,2026-11-22T02:20:16.123456Z,r-3,ci,,127.0.0.1,write,prod/net,,3,"
                           "lin,") != NULL);
    /* A sink that stops the export: its return comes back. */
    CHECK_INT(al->ops->export(al, NULL, AUDIT_JSONL, stop_sink, &s, &e), 7);
    buf_cleanup(&s.b);
    al->ops->free(al);
}

struct appender {
    struct auditlog *al;
    int failures;
};

static void *append_many(void *p)
{
    struct appender *a = p;
    for (int i = 0; i < 40; i++) {
        struct audit_event ev;
        sample(&ev, i);
        struct err e = {0};
        if (a->al->ops->append(a->al, &ev, &e) != 0)
            a->failures++;
    }
    return NULL;
}

/* Appends from several worker threads form one unbroken chain. */
static void test_jsonl_concurrent_append(void)
{
    const char *dir = t_tempdir();
    struct err e = {0};
    struct auditlog *al = auditlog_jsonl_new(dir, &e);
    pthread_t th[4];
    struct appender a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct appender){.al = al};
        pthread_create(&th[i], NULL, append_many, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(a[i].failures, 0);
    }
    struct audit_verify_result res = {0};
    CHECK_INT(al->ops->verify(al, &res, &e), 0);
    CHECK_INT(res.events, 160);
    CHECK_INT(res.first_broken, 0);
    al->ops->free(al);
}

/* Three events as the code before unsigned serials wrote them (serial 0, none, 2^63-1): they
 * still parse, re-serialise to the same bytes and verify as a chain, which goes on with a
 * serial of 2^64-1. */
static const char old_chain[] =
    "{\"seq\":1,\"time\":\"2026-11-22T02:20:14.123456Z\",\"request_id\":\"r-1\",\"actor\":\"ci\","
    "\"username\":\"\",\"remote\":\"127.0.0.1\",\"action\":\"write\",\"state\":\"prod/net\","
    "\"lock_id\":\"\",\"serial\":0,\"lineage\":\"lin\",\"sha256\":"
    "\"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881\",\"size\":120,"
    "\"status\":200,\"detail\":\"\",\"prev\":\"" ZERO64 "\",\"hash\":"
    "\"3836751044039fff0db02f5b3805d919831cc4098ea5d6c0de055c5dc0e9ba93\"}\n"
    "{\"seq\":2,\"time\":\"2026-11-22T02:20:15.123456Z\",\"request_id\":\"r-2\",\"actor\":\"ci\","
    "\"username\":\"\",\"remote\":\"127.0.0.1\",\"action\":\"lock\",\"state\":\"prod/net\","
    "\"lock_id\":\"\",\"serial\":null,\"lineage\":\"\",\"sha256\":\"\",\"size\":null,"
    "\"status\":200,\"detail\":\"\",\"prev\":"
    "\"3836751044039fff0db02f5b3805d919831cc4098ea5d6c0de055c5dc0e9ba93\",\"hash\":"
    "\"2150bdca5e77e7abe7ca40cc5fbd2ea6d7efb9800ac497e03924440e90f76aae\"}\n"
    "{\"seq\":3,\"time\":\"2026-11-22T02:20:16.123456Z\",\"request_id\":\"r-3\",\"actor\":\"ci\","
    "\"username\":\"\",\"remote\":\"127.0.0.1\",\"action\":\"write\",\"state\":\"prod/net\","
    "\"lock_id\":\"\",\"serial\":9223372036854775807,\"lineage\":\"lin\",\"sha256\":"
    "\"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881\",\"size\":120,"
    "\"status\":200,\"detail\":\"\",\"prev\":"
    "\"2150bdca5e77e7abe7ca40cc5fbd2ea6d7efb9800ac497e03924440e90f76aae\",\"hash\":"
    "\"1a62c1f1860fda3c25249a05d70786119140c0e3b869b993e633d2d8fd4f3503\"}\n";

static void test_old_chain_verifies(void)
{
    const char *at = old_chain;
    const uint64_t serials[] = {0, 0, 9223372036854775807ULL};
    for (int i = 0; i < 3; i++) {
        const char *nl = strchr(at, '\n');
        struct audit_event ev;
        uint64_t seq;
        char prev[65], hash[65], again[65];
        struct err e = {0};
        CHECK_INT(audit_event_parse(at, (size_t)(nl - at), &ev, &seq, prev, hash, &e), 0);
        CHECK_INT(seq, i + 1);
        CHECK(ev.has_serial == (i != 1));
        CHECK(ev.serial == serials[i]);
        struct buf b;
        buf_init(&b, 0);
        CHECK_INT(audit_event_canonical(&ev, seq, prev, &b, again, &e), 0);
        CHECK_MEM(b.data, b.len, at, (size_t)(nl - at));
        CHECK_STR(again, hash);
        buf_cleanup(&b);
        at = nl + 1;
    }
    const char *dir = t_tempdir();
    char *path = xasprintf("%s/audit.jsonl", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs(old_chain, f);
        fclose(f);
    }
    struct audit_verify_result res = verify(dir);
    CHECK_INT(res.events, 3);
    CHECK_INT(res.first_broken, 0);
    /* The chain goes on with a serial of 2^64-1 and still verifies, old lines and new. */
    struct err e = {0};
    struct auditlog *al = auditlog_jsonl_new(dir, &e);
    CHECK(al != NULL);
    if (al) {
        struct audit_event ev;
        sample(&ev, 1);
        ev.serial = UINT64_MAX;
        CHECK_INT(al->ops->append(al, &ev, &e), 0);
        al->ops->free(al);
    }
    res = verify(dir);
    CHECK_INT(res.events, 4);
    CHECK_INT(res.first_broken, 0);
    size_t len;
    char *d = slurp(path, &len);
    CHECK(d && strstr(d, "{\"seq\":4,") && strstr(d, "\"serial\":\"18446744073709551615\""));
    free(d);
    free(path);
}

/* ------------------------------------------------------------------ offline verification */

/* A CSV row reads back into the same event: the canonical text rebuilt from it has the same
 * hash, whatever quoting and formula protection the fields needed. */
static void test_csv_parse_roundtrip(void)
{
    struct audit_event ev, back;
    struct buf text, row;
    struct err e = {0};
    char hash[65], prev[65], h2[65], p2[65];
    uint64_t seq = 0;
    audit_event_init(&ev);
    ev.time_us = T0;
    snprintf(ev.actor, sizeof(ev.actor), "a,b");
    snprintf(ev.username, sizeof(ev.username), "say \"hi\"\nthere");
    snprintf(ev.remote, sizeof(ev.remote), "=cmd()");
    snprintf(ev.request_id, sizeof(ev.request_id), "'quoted");
    snprintf(ev.action, sizeof(ev.action), "import");
    snprintf(ev.state, sizeof(ev.state), "net/prod");
    snprintf(ev.detail, sizeof(ev.detail), "from s3://b/k, \"v\"\r\n-1");
    snprintf(ev.lock_owner, sizeof(ev.lock_owner), "@owner");
    ev.serial = UINT64_MAX;
    ev.has_serial = true;
    ev.status = 423;
    memset(prev, 'a', 64);
    prev[64] = '\0';
    buf_init(&text, 0);
    buf_init(&row, 0);
    CHECK_INT(audit_event_canonical(&ev, 5, prev, &text, hash, &e), 0);
    CHECK_INT(audit_event_csv(&ev, 5, prev, hash, &row, &e), 0);
    CHECK_INT(audit_event_csv_parse(row.data, row.len, &back, &seq, p2, h2, &e), 0);
    CHECK_INT(seq, 5);
    CHECK_STR(p2, prev);
    CHECK_STR(h2, hash);
    CHECK_STR(back.username, ev.username);
    CHECK_STR(back.remote, "=cmd()");
    CHECK_STR(back.request_id, "'quoted");
    CHECK_STR(back.detail, ev.detail);
    CHECK_STR(back.lock_owner, "@owner");
    CHECK(back.has_serial && back.serial == UINT64_MAX);
    CHECK_INT(back.size, -1);
    buf_reset(&text);
    CHECK_INT(audit_event_canonical(&back, seq, p2, &text, h2, &e), 0);
    CHECK_STR(h2, hash);
    /* Not rows: a missing column, a stray quote. */
    CHECK_INT(audit_event_csv_parse("1,2,3", 5, &back, &seq, p2, h2, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    CHECK_INT(audit_event_csv_parse("1,a\"b", 5, &back, &seq, p2, h2, &e), -1);
    buf_cleanup(&text);
    buf_cleanup(&row);
}

/* An export of the log in fmt, as statectl audit export writes it. */
static char *export_of(struct auditlog *al, enum audit_format fmt, size_t *len)
{
    struct sinkbuf s = {0};
    struct err e = {0};
    buf_init(&s.b, 0);
    CHECK_INT(al->ops->export(al, NULL, fmt, sink, &s, &e), 0);
    char *d = xmalloc(s.b.len + 1);
    memcpy(d, s.b.data ? s.b.data : "", s.b.len);
    d[s.b.len] = '\0';
    *len = s.b.len;
    buf_cleanup(&s.b);
    return d;
}

static struct audit_verify_result verify_mem(const char *d, size_t len, enum audit_format *fmt,
                                             bool detect, int want_rc)
{
    struct audit_verify_result res = {0};
    struct err e = {0};
    memset(&res, 0, sizeof(res));
    char *copy = xmalloc(len + 1);
    memcpy(copy, d, len);
    FILE *f = fmemopen(copy, len, "rb");
    CHECK(f != NULL);
    if (f != NULL) {
        CHECK_INT(audit_verify_file(f, fmt, detect, &res, &e), want_rc);
        fclose(f);
    }
    free(copy);
    return res;
}

/* Records of d separated by sep (each keeps its separator): at most 64. */
static int records(const char *d, const char *sep, const char *rec[], size_t reclen[])
{
    int n = 0;
    size_t sl = strlen(sep);
    for (const char *p = d; *p && n < 64;) {
        const char *q = strstr(p, sep);
        size_t l = q ? (size_t)(q - p) + sl : strlen(p);
        rec[n] = p;
        reclen[n++] = l;
        p += l;
    }
    return n;
}

/* d with record i left out (drop) or swapped with record j. */
static char *rearranged(const char *d, const char *sep, int drop, int i, int j, size_t *len)
{
    const char *rec[64];
    size_t rl[64];
    int n = records(d, sep, rec, rl);
    char *out = xmalloc(strlen(d) + 1);
    *len = 0;
    for (int k = 0; k < n; k++) {
        int from = k == i ? j : k == j ? i : k;
        if (k == drop)
            continue;
        memcpy(out + *len, rec[from], rl[from]);
        *len += rl[from];
    }
    out[*len] = '\0';
    return out;
}

/* The same breaks the driver's verify finds, found in exported files of both formats: a
 * changed event, a removed one, two swapped, a line that is no event; a removed tail is not
 * found (the file proves its prefix only). */
static void test_offline_verify(void)
{
    const char *dir = t_tempdir();
    struct auditlog *al = fill(dir, 8);
    struct audit_event odd;
    struct err e = {0};
    if (al == NULL)
        return;
    /* A ninth event whose CSV row spans lines and needs quoting and formula protection. */
    sample(&odd, 9);
    snprintf(odd.detail, sizeof(odd.detail), "a,b\n\"c\"");
    snprintf(odd.username, sizeof(odd.username), "=HYPERLINK()");
    CHECK_INT(al->ops->append(al, &odd, &e), 0);
    size_t jl, cl, n;
    char *j = export_of(al, AUDIT_JSONL, &jl), *c = export_of(al, AUDIT_CSV, &cl), *d;
    al->ops->free(al);
    enum audit_format fmt = AUDIT_JSONL;
    struct audit_verify_result res = verify_mem(j, jl, &fmt, true, 0);
    CHECK_INT(fmt, AUDIT_JSONL);
    CHECK_INT(res.first_broken, 0);
    CHECK_INT(res.events, 9);
    CHECK_INT(res.last_seq, 9);
    res = verify_mem(c, cl, &fmt, true, 0);
    CHECK_INT(fmt, AUDIT_CSV);
    CHECK_INT(res.first_broken, 0);
    CHECK_INT(res.last_seq, 9);

    /* JSON Lines: event 4's status changed, event 5 removed, 2 and 3 swapped. */
    d = xstrdup(j);
    char *p = strstr(strstr(strstr(strstr(d, "\n") + 1, "\n") + 1, "\n") + 1, "\"status\":200");
    CHECK(p != NULL);
    if (p)
        p[11] = '1';
    res = verify_mem(d, jl, &fmt, true, 0);
    CHECK_INT(res.first_broken, 4);
    CHECK_INT(res.line, 4);
    CHECK(strstr(res.reason, "hash mismatch") != NULL);
    free(d);
    d = rearranged(j, "\n", 4, -1, -1, &n);
    res = verify_mem(d, n, &fmt, true, 0);
    CHECK_INT(res.first_broken, 5);
    CHECK(strstr(res.reason, "removed") != NULL);
    free(d);
    d = rearranged(j, "\n", -1, 1, 2, &n);
    res = verify_mem(d, n, &fmt, true, 0);
    CHECK_INT(res.first_broken, 2);
    CHECK_INT(res.line, 2);
    free(d);

    /* CSV (record 0 is the header): event 4's state changed, event 5 removed, 2 and 3
     * swapped, event 9 (the multi-line row) cut in its middle; --format csv given. */
    fmt = AUDIT_CSV;
    d = xstrdup(c);
    const char *rec[64];
    size_t rl[64];
    CHECK_INT(records(d, "\r\n", rec, rl), 10);
    p = strstr(d + (rec[4] - d), ",dev/app,");
    CHECK(p != NULL && p < rec[5]);
    if (p)
        p[7] = 'x';
    res = verify_mem(d, cl, &fmt, false, 0);
    CHECK_INT(res.first_broken, 4);
    CHECK_INT(res.line, 5);
    CHECK(strstr(res.reason, "hash mismatch") != NULL);
    free(d);
    d = rearranged(c, "\r\n", 5, -1, -1, &n);
    res = verify_mem(d, n, &fmt, false, 0);
    CHECK_INT(res.first_broken, 5);
    CHECK(strstr(res.reason, "removed") != NULL);
    free(d);
    d = rearranged(c, "\r\n", -1, 2, 3, &n);
    res = verify_mem(d, n, &fmt, false, 0);
    CHECK_INT(res.first_broken, 2);
    free(d);
    d = xstrdup(c);
    p = strstr(d, "a,b\n");
    CHECK(p != NULL);
    if (p)
        p[1] = '"'; /* a stray quote: the row no longer parses */
    res = verify_mem(d, cl, &fmt, false, 0);
    CHECK_INT(res.first_broken, 9);
    CHECK(strstr(res.reason, "unreadable") != NULL);
    free(d);

    /* A line that is no event; a removed tail (not detectable); not an export at all. */
    d = rearranged(j, "\n", -1, -1, -1, &n);
    memcpy(strstr(d, "\n") + 1, "garbage", 7);
    fmt = AUDIT_JSONL;
    res = verify_mem(d, n, &fmt, false, 0);
    CHECK_INT(res.first_broken, 2);
    CHECK(strstr(res.reason, "unreadable") != NULL);
    free(d);
    d = rearranged(j, "\n", 8, -1, -1, &n);
    res = verify_mem(d, n, &fmt, true, 0);
    CHECK_INT(res.first_broken, 0);
    CHECK_INT(res.last_seq, 8);
    free(d);
    verify_mem("hello\n", 6, &fmt, true, -1);
    verify_mem("seq,time,hash\r\n", 15, &fmt, true, -1); /* an export without the chain columns */
    free(j);
    free(c);
}

/* ------------------------------------------------------------------ anchors */

static void *gen_key(void)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    CHECK(c != NULL && EVP_PKEY_keygen_init(c) == 1 && EVP_PKEY_keygen(c, &k) == 1);
    EVP_PKEY_CTX_free(c);
    return k;
}

/* Encoding round trip; the signature verifies, and fails after any change or with another key. */
static void test_anchor_sign_verify(void)
{
    struct err e = {0};
    void *key = gen_key(), *other = gen_key();
    struct audit_anchor a = {.seq = 57, .time_us = 1764600000123456LL}, b;
    memset(a.hash, 'a', 64);
    a.hash[64] = '\0';
    snprintf(a.instance, sizeof(a.instance), "host-1");
    CHECK_INT(audit_anchor_check_signature(&a, key, &e), -1); /* unsigned */
    CHECK_INT(audit_anchor_sign(&a, key, &e), 0);
    struct buf enc;
    buf_init(&enc, 0);
    CHECK_INT(audit_anchor_encode(&a, &enc, &e), 0);
    CHECK_INT(audit_anchor_decode(enc.data, enc.len, &b, &e), 0);
    CHECK_INT(b.seq, 57);
    CHECK_STR(b.hash, a.hash);
    CHECK(b.time_us == a.time_us);
    CHECK_STR(b.signature, a.signature);
    CHECK_INT(audit_anchor_check_signature(&b, key, &e), 0);
    CHECK_INT(audit_anchor_check_signature(&b, other, &e), -1);
    b.seq = 58;
    CHECK_INT(audit_anchor_check_signature(&b, key, &e), -1);
    b.seq = 57;
    b.hash[10] = 'b';
    CHECK_INT(audit_anchor_check_signature(&b, key, &e), -1);
    b.hash[10] = 'a';
    b.signature[5] = b.signature[5] == 'A' ? 'B' : 'A';
    CHECK_INT(audit_anchor_check_signature(&b, key, &e), -1);
    CHECK_INT(audit_anchor_decode("{\"seq\":1}", 9, &b, &e), -1);
    char k[200];
    audit_anchor_key(&a, k, sizeof(k));
    CHECK_STR(k, "audit/anchors/00000000000000000057-host-1.json");
    buf_cleanup(&enc);
    audit_key_free(key);
    audit_key_free(other);
}

/* A verified chain must reach the newest anchor and agree with each anchor's hash. */
static void test_anchor_truncation_and_rewrite(void)
{
    const char *dir = t_tempdir();
    struct err e = {0};
    struct auditlog *al = fill(dir, 10);
    uint64_t seq;
    char hash[65];
    CHECK_INT(al->ops->head(al, &seq, hash, &e), 0);
    CHECK_INT(seq, 10);
    struct audit_anchors s = {0};
    struct audit_anchor a = {.seq = seq};
    memcpy(a.hash, hash, 65);
    audit_anchors_add(&s, &a);
    struct audit_verify_result res = {.anchors = &s};
    CHECK_INT(al->ops->verify(al, &res, &e), 0);
    audit_anchors_final(&res);
    CHECK_INT(res.first_broken, 0);
    CHECK_INT(res.last_seq, 10);
    /* an anchor beyond the trail's end: the tail was removed */
    a.seq = 14;
    audit_anchors_add(&s, &a);
    CHECK(s.v[0].seq == 10 && s.v[1].seq == 14);
    memset(&res, 0, sizeof(res));
    res.anchors = &s;
    CHECK_INT(al->ops->verify(al, &res, &e), 0);
    audit_anchors_final(&res);
    CHECK_INT(res.first_broken, 11);
    CHECK(strstr(res.reason, "the trail ends at seq 10 but anchor") != NULL);
    /* an anchor whose hash the trail does not have: rewritten */
    audit_anchors_cleanup(&s);
    a.seq = 4;
    memset(a.hash, 'c', 64);
    audit_anchors_add(&s, &a);
    memset(&res, 0, sizeof(res));
    res.anchors = &s;
    CHECK_INT(al->ops->verify(al, &res, &e), 0);
    audit_anchors_final(&res);
    CHECK_INT(res.first_broken, 4);
    CHECK(strstr(res.reason, "event 4's hash differs from anchor") != NULL);
    audit_anchors_cleanup(&s);
    al->ops->free(al);
}

int main(void)
{
    RUN(test_canonical_text_and_hash);
    RUN(test_canonical_invalid_utf8);
    RUN(test_csv);
    RUN(test_optional_fields);
    RUN(test_canonical_u64_serial);
    RUN(test_jsonl_append_verify_restart);
    RUN(test_jsonl_torn_tail);
    RUN(test_jsonl_tamper_detection);
    RUN(test_jsonl_export);
    RUN(test_jsonl_concurrent_append);
    RUN(test_old_chain_verifies);
    RUN(test_csv_parse_roundtrip);
    RUN(test_offline_verify);
    RUN(test_anchor_sign_verify);
    RUN(test_anchor_truncation_and_rewrite);
    return t_report();
}
