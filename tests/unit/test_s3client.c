/* tests/unit/test_s3client.c: the pure parts of the S3 client, without a server: listing
 * XML parsing (ListObjectsV2 and ListObjectVersions, entities, odd layouts), metadata
 * encoding, time parsing, retry decisions and backoff bounds, endpoint validation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "common/util.h"
#include "s3/s3_int.h"
#include "tests/unit/t.h"

struct got {
    int n;
    char keys[8][OBJ_KEY_MAX];
    uint64_t sizes[8];
    int64_t mtimes[8];
    char versions[8][128];
    bool latest[8], dm[8];
};

static int on_item(void *ctx, const struct s3__list_item *it)
{
    struct got *g = ctx;
    if (g->n < 8) {
        snprintf(g->keys[g->n], sizeof(g->keys[0]), "%s", it->key);
        g->sizes[g->n] = it->size;
        g->mtimes[g->n] = it->mtime_us;
        snprintf(g->versions[g->n], sizeof(g->versions[0]), "%s", it->version_id);
        g->latest[g->n] = it->is_latest;
        g->dm[g->n] = it->is_delete_marker;
    }
    g->n++;
    return 0;
}

static const char list_v2[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>stated-test</Name><Prefix>p/</Prefix><MaxKeys>2</MaxKeys>"
    "<IsTruncated>true</IsTruncated>"
    "<Contents><Key>p/a &amp; b&lt;c&gt;&quot;&apos;</Key>"
    "<LastModified>2013-05-24T00:00:00.000Z</LastModified>"
    "<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>434234</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents>\n"
    "  <Contents>\n    <Key>p/env:/caf&#233;&#x2603;</Key>\n    <Size>0</Size>\n"
    "    <LastModified>2026-11-22T02:20:13Z</LastModified>\n  </Contents>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "<KeyCount>2</KeyCount></ListBucketResult>";

static void test_parse_list_v2(void)
{
    struct got g = {0};
    struct s3__list_page page;
    struct err e = {0};
    CHECK_INT(s3__parse_list(list_v2, strlen(list_v2), &page, on_item, &g, &e), 0);
    CHECK_INT(g.n, 2);
    CHECK_STR(g.keys[0], "p/a & b<c>\"'");
    CHECK_INT(g.sizes[0], 434234);
    CHECK_INT(g.mtimes[0], 1369353600LL * 1000000);
    CHECK_STR(g.keys[1], "p/env:/caf\xc3\xa9\xe2\x98\x83");
    CHECK_INT(g.sizes[1], 0);
    CHECK(page.is_truncated);
    CHECK_STR(page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

static void test_parse_list_empty_and_bad(void)
{
    struct got g = {0};
    struct s3__list_page page;
    struct err e = {0};
    const char *empty = "<ListBucketResult><Name>b</Name><Prefix/><KeyCount>0</KeyCount>"
                        "<IsTruncated>false</IsTruncated></ListBucketResult>";
    CHECK_INT(s3__parse_list(empty, strlen(empty), &page, on_item, &g, &e), 0);
    CHECK_INT(g.n, 0);
    CHECK(!page.is_truncated);
    CHECK_STR(page.next_token, "");
    /* An error document or a cut-off answer is not an empty listing. */
    const char *errdoc = "<Error><Code>InternalError</Code></Error>";
    CHECK_INT(s3__parse_list(errdoc, strlen(errdoc), &page, on_item, &g, &e), -1);
    CHECK_INT(e.code, ERR_UNAVAILABLE);
    err_clear(&e);
    CHECK_INT(s3__parse_list(list_v2, 200, &page, on_item, &g, &e), -1);
    err_clear(&e);
    const char *nokey = "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>";
    CHECK_INT(s3__parse_list(nokey, strlen(nokey), &page, on_item, &g, &e), -1);
    CHECK_INT(e.code, ERR_UNAVAILABLE);
}

static int stop_first(void *ctx, const struct s3__list_item *it)
{
    (void)it;
    ++*(int *)ctx;
    return 7;
}

static void test_parse_list_stop(void)
{
    int n = 0;
    struct s3__list_page page;
    struct err e = {0};
    CHECK_INT(s3__parse_list(list_v2, strlen(list_v2), &page, stop_first, &n, &e), 7);
    CHECK_INT(n, 1);
}

static void test_parse_versions(void)
{
    const char *xml =
        "<ListVersionsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><Prefix>v/</Prefix><KeyMarker></KeyMarker>"
        "<NextKeyMarker>v/x</NextKeyMarker><NextVersionIdMarker>v3</NextVersionIdMarker>"
        "<IsTruncated>true</IsTruncated>"
        "<DeleteMarker><Key>v/x</Key><VersionId>v3</VersionId><IsLatest>true</IsLatest>"
        "<LastModified>2026-01-01T00:00:00.000Z</LastModified></DeleteMarker>"
        "<Version><Key>v/x</Key><VersionId>v2</VersionId><IsLatest>false</IsLatest>"
        "<LastModified>2025-12-31T00:00:00.000Z</LastModified><Size>3</Size></Version>"
        "<Version><Key>v/x</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest>"
        "<Size>5</Size></Version></ListVersionsResult>";
    struct got g = {0};
    struct s3__list_page page;
    struct err e = {0};
    CHECK_INT(s3__parse_list(xml, strlen(xml), &page, on_item, &g, &e), 0);
    CHECK_INT(g.n, 3);
    CHECK(g.dm[0] && g.latest[0]);
    CHECK_STR(g.versions[0], "v3");
    CHECK(!g.dm[1] && !g.latest[1]);
    CHECK_STR(g.versions[1], "v2");
    CHECK_INT(g.sizes[1], 3);
    CHECK_STR(g.versions[2], "v1");
    CHECK_INT(g.sizes[2], 5);
    CHECK(page.is_truncated);
    CHECK_STR(page.next_key_marker, "v/x");
    CHECK_STR(page.next_version_marker, "v3");
}

static void test_xml_text_and_unescape(void)
{
    char out[64];
    const char *doc = "<Error><Code>SignatureDoesNotMatch</Code><Message>The request "
                      "signature we calculated does not match</Message></Error>";
    CHECK_INT(s3__xml_text(doc, strlen(doc), "Code", out, sizeof(out)), 0);
    CHECK_STR(out, "SignatureDoesNotMatch");
    CHECK_INT(s3__xml_text(doc, strlen(doc), "Missing", out, sizeof(out)), -1);
    CHECK_INT(s3__xml_text(doc, strlen(doc), "Message", out, 8), -1); /* too long */
    /* <VersionId> is not <Version> */
    const char *v = "<R><VersionId>1</VersionId><Version>2</Version></R>";
    CHECK_INT(s3__xml_text(v, strlen(v), "Version", out, sizeof(out)), 0);
    CHECK_STR(out, "2");
    char s[] = "a&amp;b &unknown; &#65;&#x42; &#; &";
    size_t n = s3__xml_unescape(s, strlen(s));
    CHECK_MEM(s, n, "a&b &unknown; AB &#; &", strlen("a&b &unknown; AB &#; &"));
}

static void test_meta_roundtrip(void)
{
    const char *meta = "{\"serial\":12,\"lineage\":\"caf\xc3\xa9\",\"x\":\"a b/c+d=\"}";
    char *enc = s3__meta_encode(meta);
    for (const char *p = enc; *p != '\0'; p++)
        CHECK((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_');
    char dec[OBJ_META_MAX];
    CHECK_INT(s3__meta_decode(enc, dec, sizeof(dec)), 0);
    CHECK_STR(dec, meta);
    free(enc);
    CHECK_INT(s3__meta_decode("not base64!", dec, sizeof(dec)), -1);
    CHECK_INT(s3__meta_decode("a+b/", dec, sizeof(dec)), -1); /* not our alphabet */
    CHECK_INT(s3__meta_decode("A", dec, sizeof(dec)), -1);
    CHECK_INT(s3__meta_decode("", dec, sizeof(dec)), 0);
    CHECK_STR(dec, "");
    /* the largest meta fits S3's 2 KB user-metadata limit once encoded */
    char big[OBJ_META_MAX];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    enc = s3__meta_encode(big);
    CHECK(strlen(enc) < 1400);
    CHECK_INT(s3__meta_decode(enc, dec, sizeof(dec)), 0);
    CHECK_STR(dec, big);
    CHECK_INT(s3__meta_decode(enc, dec, 100), -1); /* does not fit the output */
    free(enc);
}

static void test_parse_time(void)
{
    int64_t us;
    CHECK_INT(s3__parse_time("Fri, 24 May 2013 00:00:00 GMT", &us), 0);
    CHECK_INT(us, 1369353600LL * 1000000);
    CHECK_INT(s3__parse_time("Sun, 22 Nov 2026 02:20:13 GMT", &us), 0);
    CHECK_INT(us, 1795314013LL * 1000000);
    CHECK_INT(s3__parse_time("2013-05-24T00:00:00.000Z", &us), 0);
    CHECK_INT(us, 1369353600LL * 1000000);
    CHECK_INT(s3__parse_time("Fri, 24 Foo 2013 00:00:00 GMT", &us), -1);
    CHECK_INT(s3__parse_time("", &us), -1);
}

static void test_object_lock_config(void)
{
    const char on[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                      "<ObjectLockEnabled>Enabled</ObjectLockEnabled>"
                      "<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days>"
                      "</DefaultRetention></Rule></ObjectLockConfiguration>";
    const char off[] = "<ObjectLockConfiguration><ObjectLockEnabled>Disabled"
                       "</ObjectLockEnabled></ObjectLockConfiguration>";
    const char other[] = "<ObjectLockConfiguration><ObjectLockEnabledX>Enabled"
                         "</ObjectLockEnabledX></ObjectLockConfiguration>";
    CHECK(s3__parse_object_lock(on, strlen(on)));
    CHECK(!s3__parse_object_lock(off, strlen(off)));
    CHECK(!s3__parse_object_lock(other, strlen(other)));
    CHECK(!s3__parse_object_lock("", 0));
    CHECK(!s3__parse_object_lock(on, 40)); /* truncated answer */
}

static void test_retain_until(void)
{
    char out[32];
    s3__retain_until(1795314013LL * 1000000, out); /* whole second: kept */
    CHECK_STR(out, "2026-11-22T02:20:13Z");
    s3__retain_until(1795314013LL * 1000000 + 1, out); /* any fraction: the next second */
    CHECK_STR(out, "2026-11-22T02:20:14Z");
    s3__retain_until(1829874013LL * 1000000 + 999999, out); /* 400 days later */
    CHECK_STR(out, "2027-12-27T02:20:14Z");
    int64_t back;
    CHECK_INT(s3__parse_time(out, &back), 0);
    CHECK_INT(back, 1829874014LL * 1000000);
}

static void test_retry_decisions(void)
{
    CHECK(s3__should_retry(CURLE_COULDNT_CONNECT, 0, ""));
    CHECK(s3__should_retry(CURLE_OPERATION_TIMEDOUT, 0, ""));
    CHECK(s3__should_retry(CURLE_GOT_NOTHING, 0, ""));
    CHECK(s3__should_retry(0, 500, "InternalError"));
    CHECK(s3__should_retry(0, 503, "SlowDown"));
    CHECK(s3__should_retry(0, 503, ""));
    CHECK(s3__should_retry(0, 429, ""));
    CHECK(s3__should_retry(0, 400, "SlowDown"));
    CHECK(!s3__should_retry(0, 200, ""));
    CHECK(!s3__should_retry(0, 404, "NoSuchKey"));
    CHECK(!s3__should_retry(0, 403, "SignatureDoesNotMatch"));
    CHECK(!s3__should_retry(0, 400, "BadDigest"));
    CHECK(!s3__should_retry(0, 412, ""));
}

static void test_backoff(void)
{
    /* full jitter: always below min(cap, base*2^attempt) */
    for (int a = 0; a < 10; a++) {
        long ceiling = 100L << a;
        if (ceiling > 2000)
            ceiling = 2000;
        for (uint32_t r = 0; r < 5000; r += 997) {
            long d = s3__backoff_ms(a, 100, 2000, -1, r * 7919u);
            CHECK(d >= 0 && d < ceiling);
        }
    }
    CHECK_INT(s3__backoff_ms(0, 100, 2000, -1, 0), 0);
    CHECK_INT(s3__backoff_ms(30, 100, 2000, -1, 1999), 1999); /* no overflow at high attempts */
    /* Retry-After wins, capped */
    CHECK_INT(s3__backoff_ms(0, 100, 2000, 1000, 12345), 1000);
    CHECK_INT(s3__backoff_ms(0, 100, 2000, 30000, 12345), 2000);
    CHECK_INT(s3__backoff_ms(3, 100, 2000, 0, 12345), 0);
}

static void test_endpoint_validation(void)
{
    struct s3_config cfg = {.endpoint = "http://127.0.0.1:7480",
                            .region = "us-east-1",
                            .bucket = "stated-test",
                            .access_key = "AK",
                            .secret_key = "SK"};
    struct err e = {0};
    struct s3_client *c = s3__client_new(&cfg, &e);
    CHECK(c != NULL);
    s3__client_free(c);
    cfg.endpoint = "https://s3.fr-par.scw.cloud/";
    cfg.virtual_host = true;
    c = s3__client_new(&cfg, &e);
    CHECK(c != NULL);
    s3__client_free(c);
    const char *bad[] = {"s3.fr-par.scw.cloud", "ftp://x", "http://", "http://h/path",
                         "http://user@h"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct err be = {0};
        cfg.endpoint = bad[i];
        CHECK(s3__client_new(&cfg, &be) == NULL);
        CHECK_INT(be.code, ERR_INVALID);
    }
    cfg.endpoint = "http://127.0.0.1:7480";
    cfg.bucket = "Bad/Bucket";
    struct err be = {0};
    CHECK(s3__client_new(&cfg, &be) == NULL);
    cfg.bucket = "b";
    cfg.secret_key = "";
    err_clear(&be);
    CHECK(s3__client_new(&cfg, &be) == NULL);
    CHECK(strstr(be.msg, "secret") != NULL);
}

int main(void)
{
    RUN(test_parse_list_v2);
    RUN(test_parse_list_empty_and_bad);
    RUN(test_parse_list_stop);
    RUN(test_parse_versions);
    RUN(test_xml_text_and_unescape);
    RUN(test_meta_roundtrip);
    RUN(test_parse_time);
    RUN(test_object_lock_config);
    RUN(test_retain_until);
    RUN(test_retry_decisions);
    RUN(test_backoff);
    RUN(test_endpoint_validation);
    return t_report();
}
