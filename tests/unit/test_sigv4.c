/* tests/unit/test_sigv4.c: SigV4 against published vectors.
 *
 * Two sets of facts, carried here as data:
 *  - the AWS Signature Version 4 test suite (credentials AKIDEXAMPLE, region us-east-1,
 *    service "service", 2015-08-30T12:36:00Z, host example.amazonaws.com): request parts and
 *    the expected signature of each case;
 *  - the worked examples of the S3 SigV4 header authentication documentation (access key
 *    AKIAIOSFODNN7EXAMPLE, bucket examplebucket, 2013-05-24T00:00:00Z): GET object with Range,
 *    PUT object, GET bucket lifecycle, list objects.
 * A signature only matches when the canonical request is byte-exact, so each case checks
 * encoding, query sorting, header canonicalisation and the key derivation at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "s3/s3_int.h"
#include "tests/unit/t.h"

#define SUITE_DATE "20150830T123600Z"
#define SUITE_HOST "example.amazonaws.com"
#define UNRES      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

static const struct sigv4_creds suite_creds = {
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "service"};

struct vec {
    const char *name;
    const char *method;
    const char *path;
    struct sigv4_param query[2];
    size_t nquery;
    struct sigv4_header extra[2]; /* besides host and x-amz-date */
    size_t nextra;
    const char *body;
    const char *signed_headers;
    const char *signature;
};

static const struct vec suite[] = {
    {"get-header-key-duplicate",
     "GET",
     "/",
     {{0}},
     0,
     {{"My-Header1", "value2,value2,value1"}},
     1,
     "",
     "host;my-header1;x-amz-date",
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
    {"get-header-value-multiline",
     "GET",
     "/",
     {{0}},
     0,
     {{"My-Header1", "value1,value2,value3"}},
     1,
     "",
     "host;my-header1;x-amz-date",
     "ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790"},
    {"get-header-value-order",
     "GET",
     "/",
     {{0}},
     0,
     {{"My-Header1", "value4,value1,value3,value2"}},
     1,
     "",
     "host;my-header1;x-amz-date",
     "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
    {"get-header-value-trim",
     "GET",
     "/",
     {{0}},
     0,
     {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}},
     2,
     "",
     "host;my-header1;my-header2;x-amz-date",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
    {"get-unreserved",
     "GET",
     "/" UNRES,
     {{0}},
     0,
     {{0}},
     0,
     "",
     "host;x-amz-date",
     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
    {"get-utf8",
     "GET",
     "/\xe1\x88\xb4",
     {{0}},
     0,
     {{0}},
     0,
     "",
     "host;x-amz-date",
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
    {"get-space",
     "GET",
     "/example space/",
     {{0}},
     0,
     {{0}},
     0,
     "",
     "host;x-amz-date",
     "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
    {"get-vanilla",
     "GET",
     "/",
     {{0}},
     0,
     {{0}},
     0,
     "",
     "host;x-amz-date",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-vanilla-empty-query-key",
     "GET",
     "/",
     {{"Param1", "value1"}},
     1,
     {{0}},
     0,
     "",
     "host;x-amz-date",
     "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
    {"get-vanilla-query-order-key-case",
     "GET",
     "/",
     {{"Param2", "value2"}, {"Param1", "value1"}},
     2,
     {{0}},
     0,
     "",
     "host;x-amz-date",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"get-vanilla-query-unreserved",
     "GET",
     "/",
     {{UNRES, UNRES}},
     1,
     {{0}},
     0,
     "",
     "host;x-amz-date",
     "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
    {"get-vanilla-utf8-query",
     "GET",
     "/",
     {{"\xe1\x88\xb4", "bar"}},
     1,
     {{0}},
     0,
     "",
     "host;x-amz-date",
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {"post-header-key-case",
     "POST",
     "/",
     {{0}},
     0,
     {{0}},
     0,
     "",
     "host;x-amz-date",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
    {"post-header-key-sort",
     "POST",
     "/",
     {{0}},
     0,
     {{"My-Header1", "value1"}},
     1,
     "",
     "host;my-header1;x-amz-date",
     "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
    {"post-header-value-case",
     "POST",
     "/",
     {{0}},
     0,
     {{"My-Header1", "VALUE1"}},
     1,
     "",
     "host;my-header1;x-amz-date",
     "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
    {"post-vanilla",
     "POST",
     "/",
     {{0}},
     0,
     {{0}},
     0,
     "",
     "host;x-amz-date",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
    {"post-vanilla-query",
     "POST",
     "/",
     {{"Param1", "value1"}},
     1,
     {{0}},
     0,
     "",
     "host;x-amz-date",
     "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
    {"post-vanilla-query-nonunreserved",
     "POST",
     "/",
     {{"@#$%^", ""}, {"+", "/,?><`\";:\\|][{}"}},
     2,
     {{0}},
     0,
     "",
     "host;x-amz-date",
     "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e"},
    {"post-vanilla-query-space",
     "POST",
     "/",
     {{"p", ""}},
     1,
     {{0}},
     0,
     "",
     "host;x-amz-date",
     "e71688addb58a26418614085fb730ba3faa623b461c17f48f2fbdb9361b94a9b"},
    {"post-x-www-form-urlencoded",
     "POST",
     "/",
     {{0}},
     0,
     {{"Content-Type", "application/x-www-form-urlencoded"}},
     1,
     "Param1=value1",
     "content-type;host;x-amz-date",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
    {"post-x-www-form-urlencoded-parameters",
     "POST",
     "/",
     {{0}},
     0,
     {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}},
     1,
     "Param1=value1",
     "content-type;host;x-amz-date",
     "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
};

static void sign_suite_case(const struct vec *v)
{
    struct sigv4_header h[4];
    size_t nh = 0;
    h[nh++] = (struct sigv4_header){"Host", SUITE_HOST};
    for (size_t i = 0; i < v->nextra; i++)
        h[nh++] = v->extra[i];
    h[nh++] = (struct sigv4_header){"X-Amz-Date", SUITE_DATE};
    char payload[65];
    sha256_hex(v->body, strlen(v->body), payload);
    struct sigv4_request r = {v->method, v->path, v->query, v->nquery, h, nh, payload};
    char sig[65];
    char *auth = sigv4_authorization(&suite_creds, &r, SUITE_DATE, sig);
    if (strcmp(sig, v->signature) != 0)
        printf("  vector %s\n", v->name);
    CHECK_STR(sig, v->signature);
    char *want = xasprintf("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                           "aws4_request, SignedHeaders=%s, Signature=%s",
                           v->signed_headers, v->signature);
    CHECK_STR(auth, want);
    free(want);
    free(auth);
}

static void test_aws_suite(void)
{
    for (size_t i = 0; i < sizeof(suite) / sizeof(suite[0]); i++)
        sign_suite_case(&suite[i]);
}

/* The intermediate products of two suite cases, published with them. */
static void test_suite_canonical_forms(void)
{
    struct sigv4_header h[] = {{"Host", SUITE_HOST}, {"X-Amz-Date", SUITE_DATE}};
    struct sigv4_request r = {"GET", "/", NULL, 0, h, 2, SIGV4_EMPTY_SHA256};
    char *sh = NULL;
    char *creq = sigv4_canonical_request(&r, &sh);
    CHECK_STR(creq, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                    "host;x-amz-date\n" SIGV4_EMPTY_SHA256);
    CHECK_STR(sh, "host;x-amz-date");
    char *sts = sigv4_string_to_sign(SUITE_DATE, "20150830/us-east-1/service/aws4_request", creq);
    CHECK_STR(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                   "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    free(creq);
    free(sh);
    free(sts);

    r.path = "/example space/";
    creq = sigv4_canonical_request(&r, NULL);
    CHECK_STR(creq, "GET\n/example%20space/\n\nhost:example.amazonaws.com\n"
                    "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" SIGV4_EMPTY_SHA256);
    sts = sigv4_string_to_sign(SUITE_DATE, "20150830/us-east-1/service/aws4_request", creq);
    CHECK_STR(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                   "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86");
    free(creq);
    free(sts);
}

/* The signing-key derivation example of the SigV4 documentation (service iam, 2012-02-15). */
static void test_signing_key(void)
{
    unsigned char k[32];
    char hex[65];
    sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam",
                      k);
    hex_encode(k, 32, hex);
    CHECK_STR(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

#define S3_DATE "20130524T000000Z"
#define S3_HOST "examplebucket.s3.amazonaws.com"
static const struct sigv4_creds s3_creds = {
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3"};

static void test_s3_get_object_range(void)
{
    struct sigv4_header h[] = {{"Host", S3_HOST},
                               {"Range", "bytes=0-9"},
                               {"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
                               {"x-amz-date", S3_DATE}};
    struct sigv4_request r = {"GET", "/test.txt", NULL, 0, h, 4, SIGV4_EMPTY_SHA256};
    char sig[65];
    char *auth = sigv4_authorization(&s3_creds, &r, S3_DATE, sig);
    CHECK_STR(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    CHECK_STR(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                    "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    free(auth);
}

static void test_s3_put_object(void)
{
    const char *body = "Welcome to Amazon S3.";
    char payload[65];
    sha256_hex(body, strlen(body), payload);
    CHECK_STR(payload, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    struct sigv4_header h[] = {{"Host", S3_HOST},
                               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                               {"x-amz-date", S3_DATE},
                               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                               {"x-amz-content-sha256", payload}};
    /* '$' in the key is signed (and sent) as %24. */
    struct sigv4_request r = {"PUT", "/test$file.text", NULL, 0, h, 5, payload};
    char *sh = NULL;
    char *creq = sigv4_canonical_request(&r, &sh);
    CHECK(strncmp(creq, "PUT\n/test%24file.text\n\n", 23) == 0);
    CHECK_STR(sh, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
    free(creq);
    free(sh);
    char sig[65];
    free(sigv4_authorization(&s3_creds, &r, S3_DATE, sig));
    CHECK_STR(sig, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

static void test_s3_bucket_lifecycle(void)
{
    struct sigv4_header h[] = {
        {"Host", S3_HOST}, {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}, {"x-amz-date", S3_DATE}};
    struct sigv4_param q[] = {{"lifecycle", NULL}};
    struct sigv4_request r = {"GET", "/", q, 1, h, 3, SIGV4_EMPTY_SHA256};
    char sig[65];
    free(sigv4_authorization(&s3_creds, &r, S3_DATE, sig));
    CHECK_STR(sig, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

static void test_s3_list_objects(void)
{
    struct sigv4_header h[] = {
        {"Host", S3_HOST}, {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}, {"x-amz-date", S3_DATE}};
    /* Given out of order on purpose: the canonical query sorts them. */
    struct sigv4_param q[] = {{"prefix", "J"}, {"max-keys", "2"}};
    char *cq = sigv4_canonical_query(q, 2);
    CHECK_STR(cq, "max-keys=2&prefix=J");
    free(cq);
    struct sigv4_request r = {"GET", "/", q, 2, h, 3, SIGV4_EMPTY_SHA256};
    char sig[65];
    free(sigv4_authorization(&s3_creds, &r, S3_DATE, sig));
    CHECK_STR(sig, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

static void test_encoding(void)
{
    struct buf b;
    buf_init(&b, 0);
    const char *key = "states/env:/a b/x+y%z~._-/\xc3\xa9";
    sigv4_uri_encode(key, strlen(key), true, &b);
    CHECK_STR(b.data, "states/env%3A/a%20b/x%2By%25z~._-/%C3%A9");
    buf_reset(&b);
    sigv4_uri_encode("a/b", 3, false, &b);
    CHECK_STR(b.data, "a%2Fb");
    buf_cleanup(&b);
    /* Value-less parameters sign as "k="; equal keys sort by value. */
    struct sigv4_param q[] = {{"versions", NULL}, {"b", "2"}, {"b", "1"}, {"a b", "c/d"}};
    char *cq = sigv4_canonical_query(q, 4);
    CHECK_STR(cq, "a%20b=c%2Fd&b=1&b=2&versions=");
    free(cq);
    char d[17];
    sigv4_amz_date(1369353600, d);
    CHECK_STR(d, "20130524T000000Z");
}

int main(void)
{
    RUN(test_aws_suite);
    RUN(test_suite_canonical_forms);
    RUN(test_signing_key);
    RUN(test_s3_get_object_range);
    RUN(test_s3_put_object);
    RUN(test_s3_bucket_lifecycle);
    RUN(test_s3_list_objects);
    RUN(test_encoding);
    return t_report();
}
