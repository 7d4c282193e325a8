/* s3/sigv4.c: AWS Signature Version 4, as S3 (and Scaleway, and Ceph RGW) verify it.
 *
 * Pure: no I/O, no clock. The caller gives the request as it will be sent and the x-amz-date
 * value; everything here is a function of those, which is what lets the published vectors
 * (tests/unit/test_sigv4.c) pin it down.
 *
 * The four steps, with the GET example of the S3 documentation (GET /test.txt, Range
 * bytes=0-9, 2013-05-24):
 *
 *   1. canonical request, one field per line:
 *        GET
 *        /test.txt                      path, each byte outside A-Za-z0-9-._~/ as %XX
 *                                       (uppercase); S3 encodes once: "a b" -> "a%20b"
 *                                       and a literal '%' becomes "%25", never twice
 *        <empty>                        query: encoded key=value pairs sorted by key then
 *                                       value; "?versions" is signed as "versions="
 *        host:examplebucket.s3.amazonaws.com
 *        range:bytes=0-9                headers: lowercase names, sorted, values trimmed
 *        x-amz-content-sha256:e3b0c4…   and inner runs of spaces folded to one
 *        x-amz-date:20130524T000000Z
 *        <empty>
 *        host;range;x-amz-content-sha256;x-amz-date     the signed header names
 *        e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  payload hash
 *   2. string to sign: "AWS4-HMAC-SHA256", the date, the scope
 *      "20130524/us-east-1/s3/aws4_request" and the hex SHA-256 of the canonical request;
 *   3. signing key: HMAC-SHA256 chained over "AWS4"+secret, date, region, service,
 *      "aws4_request";
 *   4. signature = hex HMAC-SHA256(signing key, string to sign), sent as
 *      "AWS4-HMAC-SHA256 Credential=KEY/SCOPE, SignedHeaders=…, Signature=…".
 *
 * The client (s3/client.c) builds the URL from the same encoder, so what is signed and what
 * is sent cannot drift apart. */
#include "s3/s3_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/log.h"
#include "common/util.h"

/* Appends that cannot fail: the buffers here have no ceiling, and xmalloc aborts on OOM. */
static void put(struct buf *b, const char *s, size_t n)
{
    struct err e = {0};
    if (buf_append(b, s, n, &e) != 0)
        die_bug("sigv4: append failed: %s", e.msg);
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

void sigv4_uri_encode(const char *in, size_t len, bool keep_slash, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            put(out, (const char *)&in[i], 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            put(out, e, 3);
        }
    }
}

struct enc_pair {
    char *k, *v;
};

static int cmp_pair(const void *a, const void *b)
{
    const struct enc_pair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c != 0 ? c : strcmp(x->v, y->v);
}

static char *encode_str(const char *s, bool keep_slash)
{
    struct buf b;
    buf_init(&b, 0);
    sigv4_uri_encode(s != NULL ? s : "", s != NULL ? strlen(s) : 0, keep_slash, &b);
    return buf_take(&b, NULL);
}

char *sigv4_canonical_query(const struct sigv4_param *q, size_t n)
{
    struct buf b;
    buf_init(&b, 0);
    if (n == 0)
        return buf_take(&b, NULL);
    /* Sorting is on the encoded forms (byte order), which is what the servers compute. */
    struct enc_pair *p = xcalloc(n, sizeof(*p));
    for (size_t i = 0; i < n; i++) {
        p[i].k = encode_str(q[i].key, false);
        p[i].v = encode_str(q[i].value, false);
    }
    qsort(p, n, sizeof(*p), cmp_pair);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            put(&b, "&", 1);
        puts_(&b, p[i].k);
        put(&b, "=", 1);
        puts_(&b, p[i].v);
        free(p[i].k);
        free(p[i].v);
    }
    free(p);
    return buf_take(&b, NULL);
}

struct canon_header {
    char *name;  /* lowercase */
    char *value; /* trimmed, inner space runs folded */
};

static int cmp_header(const void *a, const void *b)
{
    const struct canon_header *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static char *lower_dup(const char *s)
{
    char *d = xstrdup(s);
    for (char *p = d; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

/* Trims leading/trailing whitespace and folds each inner run of spaces/tabs to one space
 * (the get-header-value-trim vector: "\"a   b   c\"" is signed as "\"a b c\""). */
static char *trim_fold(const char *s)
{
    size_t n = strlen(s);
    char *d = xmalloc(n + 1);
    size_t o = 0;
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = o > 0;
            continue;
        }
        if (space)
            d[o++] = ' ';
        space = false;
        d[o++] = c;
    }
    d[o] = '\0';
    return d;
}

char *sigv4_canonical_request(const struct sigv4_request *r, char **signed_headers)
{
    struct buf b, sh;
    buf_init(&b, 0);
    buf_init(&sh, 0);
    puts_(&b, r->method);
    put(&b, "\n", 1);
    const char *path = r->path != NULL && r->path[0] != '\0' ? r->path : "/";
    sigv4_uri_encode(path, strlen(path), true, &b);
    put(&b, "\n", 1);
    char *cq = sigv4_canonical_query(r->query, r->nquery);
    puts_(&b, cq);
    free(cq);
    put(&b, "\n", 1);

    struct canon_header *h = xcalloc(r->nheaders > 0 ? r->nheaders : 1, sizeof(*h));
    for (size_t i = 0; i < r->nheaders; i++) {
        h[i].name = lower_dup(r->headers[i].name);
        h[i].value = trim_fold(r->headers[i].value != NULL ? r->headers[i].value : "");
    }
    qsort(h, r->nheaders, sizeof(*h), cmp_header);
    for (size_t i = 0; i < r->nheaders; i++) {
        puts_(&b, h[i].name);
        put(&b, ":", 1);
        puts_(&b, h[i].value);
        put(&b, "\n", 1);
        if (i > 0)
            put(&sh, ";", 1);
        puts_(&sh, h[i].name);
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
    put(&b, "\n", 1);
    put(&sh, "", 0);
    puts_(&b, sh.data != NULL ? sh.data : "");
    put(&b, "\n", 1);
    puts_(&b, r->payload_hash != NULL ? r->payload_hash : SIGV4_EMPTY_SHA256);
    if (signed_headers != NULL)
        *signed_headers = buf_take(&sh, NULL);
    else
        buf_cleanup(&sh);
    return buf_take(&b, NULL);
}

char *sigv4_string_to_sign(const char *amz_date, const char *scope, const char *creq)
{
    char h[65];
    sha256_hex(creq, strlen(creq), h);
    return xasprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, h);
}

static void hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int outlen = 32;
    if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out,
             &outlen) == NULL ||
        outlen != 32)
        die_bug("sigv4: HMAC-SHA256 failed");
}

void sigv4_signing_key(const char *secret, const char *date8, const char *region,
                       const char *service, unsigned char out[32])
{
    char *k0 = xasprintf("AWS4%s", secret);
    unsigned char a[32], b[32];
    hmac(k0, strlen(k0), date8, a);
    OPENSSL_cleanse(k0, strlen(k0));
    free(k0);
    hmac(a, 32, region, b);
    hmac(b, 32, service, a);
    hmac(a, 32, "aws4_request", out);
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(b, sizeof(b));
}

char *sigv4_authorization(const struct sigv4_creds *c, const struct sigv4_request *r,
                          const char *amz_date, char sig_hex[65])
{
    char date8[9];
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    char *scope = xasprintf("%s/%s/%s/aws4_request", date8, c->region, c->service);
    char *signed_headers = NULL;
    char *creq = sigv4_canonical_request(r, &signed_headers);
    char *sts = sigv4_string_to_sign(amz_date, scope, creq);
    unsigned char key[32], sig[32];
    sigv4_signing_key(c->secret_key, date8, c->region, c->service, key);
    hmac(key, sizeof(key), sts, sig);
    OPENSSL_cleanse(key, sizeof(key));
    char hex[65];
    hex_encode(sig, sizeof(sig), hex);
    if (sig_hex != NULL)
        memcpy(sig_hex, hex, 65);
    char *auth = xasprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                           c->access_key, scope, signed_headers, hex);
    free(scope);
    free(signed_headers);
    free(creq);
    free(sts);
    return auth;
}

void sigv4_amz_date(int64_t unix_seconds, char out[17])
{
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}
