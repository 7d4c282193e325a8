/* s3/client.c: the S3 HTTP client (libcurl), signed by s3/sigv4.c.
 *
 * Connections: one curl easy handle per thread and client (a pthread key), reset before each
 * request with curl_easy_reset, which keeps the handle's connection cache, so a worker thread
 * talks to the store over one kept-alive connection.
 *
 * Signing: we never let libcurl sign (its CURLOPT_AWS_SIGV4 in curl 7.88 neither sends
 * x-amz-content-sha256 nor sorts or encodes the canonical query and path); every header we
 * sign is one we set ourselves, including Host, so what is signed is exactly what is sent.
 *
 * Retries: connection failures, 5xx, 429 and SlowDown are retried with exponential backoff and
 * full jitter (a uniform delay in [0, min(cap, base*2^n))), or after the server's Retry-After;
 * never other 4xx. One operation, retries included, stays within cfg->timeout_ms, and a
 * transfer that stalls (no byte for twice the connect timeout, e.g. a frozen server) is
 * abandoned and tried once more at most, so a client of stated gets a 503 with Retry-After
 * in bounded time (about 20 s with a 5 s connect timeout) instead of hanging.
 *
 * Bodies: uploads are read from the caller's memory by a read callback (no copy); downloads
 * are appended to the caller's struct buf, whose ceiling bounds memory.
 *
 * Nothing here logs a secret, a signature or an object body. */
#include "s3/s3_int.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/log.h"
#include "common/utf8.h"
#include "common/util.h"

#define DEFAULT_CONNECT_MS 5000
#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_RETRIES    4
#define BACKOFF_BASE_MS    100
#define BACKOFF_CAP_MS     2000
#define ERR_BODY_MAX       65536
#define LIST_BODY_MAX      (16u << 20)
#define META_HDR_MAX       2048

struct slot {
    CURL *h;
    struct s3_client *owner;
    struct slot *next;
    curl_socket_t fd; /* the handle's most recently opened connection, or CURL_SOCKET_BAD */
};

struct s3_client {
    char *base; /* "http://127.0.0.1:7480" or "https://bucket.s3.fr-par.scw.cloud" */
    char *host; /* Host header: "127.0.0.1:7480" or "bucket.s3.fr-par.scw.cloud" */
    char *bucket;
    bool virtual_host;
    char *region, *access_key, *secret_key;
    long connect_ms, timeout_ms, stall_s;
    int max_retries;
    pthread_key_t key;
    pthread_mutex_t mu;
    struct slot *slots; /* every thread's handle, so free can close them all */
    atomic_bool down;   /* the last request found S3 unreachable (logged once per outage) */
};

/* ------------------------------------------------------------------ pure helpers */

bool s3__should_retry(int curl_rc, long status, const char *s3_code)
{
    if (curl_rc != 0)
        return true;
    if (status >= 500 || status == 429)
        return true;
    return s3_code != NULL && strcmp(s3_code, "SlowDown") == 0;
}

long s3__backoff_ms(int attempt, long base_ms, long cap_ms, long retry_after_ms, uint32_t rnd)
{
    if (retry_after_ms >= 0)
        return retry_after_ms < cap_ms ? retry_after_ms : cap_ms;
    long ceiling = base_ms;
    for (int i = 0; i < attempt && ceiling < cap_ms; i++)
        ceiling *= 2;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    if (ceiling <= 0)
        return 0;
    return (long)(rnd % (uint32_t)ceiling);
}

static int month_index(const char *m)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (strncmp(m, names + 3 * i, 3) == 0)
            return i;
    return -1;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int s3__parse_time(const char *s, int64_t *us)
{
    if (s == NULL || *s == '\0')
        return -1;
    if (isdigit((unsigned char)s[0]))
        return time_parse_rfc3339(s, us);
    /* IMF-fixdate: "Fri, 24 May 2013 00:00:00 GMT" */
    char mon[4] = {0};
    int d, y, hh, mm, ss, n = 0;
    if (sscanf(s, "%*3s, %d %3s %d %d:%d:%d GMT%n", &d, mon, &y, &hh, &mm, &ss, &n) != 6 || n == 0)
        return -1;
    int mi = month_index(mon);
    if (mi < 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60)
        return -1;
    int64_t days = days_from_civil(y, mi + 1, d);
    *us = ((days * 86400) + hh * 3600 + mm * 60 + ss) * 1000000;
    return 0;
}

bool s3__parse_object_lock(const char *xml, size_t len)
{
    char v[16];
    return s3__xml_text(xml, len, "ObjectLockEnabled", v, sizeof(v)) == 0 &&
           strcmp(v, "Enabled") == 0;
}

void s3__retain_until(int64_t us, char out[32])
{
    int64_t up = (us + 999999) / 1000000 * 1000000;
    time_format_rfc3339(up, out);
    char *frac = strchr(out, '.');
    if (frac != NULL)
        strcpy(frac, "Z");
}

char *s3__meta_encode(const char *meta)
{
    char *b = base64_encode(meta, strlen(meta));
    size_t o = 0;
    for (size_t i = 0; b[i] != '\0'; i++) {
        char c = b[i];
        if (c == '=')
            break;
        b[o++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    b[o] = '\0';
    return b;
}

int s3__meta_decode(const char *in, char *out, size_t outsz)
{
    size_t n = strlen(in);
    if (n % 4 == 1 || n > 4 * ((outsz + 2) / 3))
        return -1;
    char *t = xmalloc(n + 4);
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '+' || c == '/' || c == '=') { /* only the url alphabet is ours */
            free(t);
            return -1;
        }
        t[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    size_t tn = n;
    while (tn % 4 != 0)
        t[tn++] = '=';
    size_t outlen = outsz - 1;
    int rc = base64_decode(t, tn, (unsigned char *)out, &outlen);
    free(t);
    if (rc != 0 || memchr(out, '\0', outlen) != NULL)
        return -1;
    out[outlen] = '\0';
    return 0;
}

size_t s3__xml_unescape(char *s, size_t len)
{
    static const struct {
        const char *name;
        char c;
    } ents[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] != '&') {
            s[o++] = s[i++];
            continue;
        }
        size_t rest = len - i - 1;
        const char *p = s + i + 1;
        bool done = false;
        for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
            size_t n = strlen(ents[k].name);
            if (rest >= n && memcmp(p, ents[k].name, n) == 0) {
                s[o++] = ents[k].c;
                i += 1 + n;
                done = true;
                break;
            }
        }
        if (!done && rest >= 3 && p[0] == '#') {
            /* &#NNN; or &#xHH; -> UTF-8 (at most 4 bytes, never longer than the reference) */
            bool hexa = p[1] == 'x' || p[1] == 'X';
            size_t j = hexa ? 2 : 1;
            unsigned long cp = 0;
            size_t digits = 0;
            while (j < rest && digits < 8 && isxdigit((unsigned char)p[j]) &&
                   (hexa || isdigit((unsigned char)p[j]))) {
                int v = isdigit((unsigned char)p[j]) ? p[j] - '0'
                                                     : (tolower((unsigned char)p[j]) - 'a' + 10);
                cp = cp * (hexa ? 16 : 10) + (unsigned long)v;
                j++;
                digits++;
            }
            unsigned char u[4];
            size_t k = digits > 0 && j < rest + 1 && p[j] == ';' && cp > 0
                           ? utf8_encode((uint32_t)cp, u)
                           : 0;
            if (k > 0) {
                memcpy(s + o, u, k);
                o += k;
                i += 1 + j + 1;
                done = true;
            }
        }
        if (!done)
            s[o++] = s[i++];
    }
    if (o < len)
        s[o] = '\0';
    return o;
}

/* Finds the next element <tag ...>inner</tag> (or <tag/>) in [p, end). Sets the inner range
 * and returns a pointer just past the element, or NULL when there is none. Element names
 * must match exactly: "<Version>" never matches "<VersionId>". */
static const char *find_elem(const char *p, const char *end, const char *tag, const char **in,
                             size_t *inlen)
{
    size_t tl = strlen(tag);
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (lt == NULL)
            return NULL;
        p = lt + 1;
        if ((size_t)(end - p) < tl + 1 || memcmp(p, tag, tl) != 0)
            continue;
        char after = p[tl];
        if (after != '>' && after != '/' && after != ' ' && after != '\t' && after != '\r' &&
            after != '\n')
            continue;
        const char *gt = memchr(p, '>', (size_t)(end - p));
        if (gt == NULL)
            return NULL;
        if (gt[-1] == '/') { /* <tag/> */
            *in = gt;
            *inlen = 0;
            return gt + 1;
        }
        const char *start = gt + 1;
        /* the closing tag: "</tag>" */
        const char *q = start;
        while (q < end) {
            const char *c = memchr(q, '<', (size_t)(end - q));
            if (c == NULL)
                return NULL;
            if ((size_t)(end - c) >= tl + 3 && c[1] == '/' && memcmp(c + 2, tag, tl) == 0 &&
                c[2 + tl] == '>') {
                *in = start;
                *inlen = (size_t)(c - start);
                return c + 3 + tl;
            }
            q = c + 1;
        }
        return NULL;
    }
    return NULL;
}

int s3__xml_text(const char *xml, size_t len, const char *tag, char *out, size_t outsz)
{
    const char *in;
    size_t n;
    if (outsz == 0 || find_elem(xml, xml + len, tag, &in, &n) == NULL || n >= outsz)
        return -1;
    memcpy(out, in, n);
    out[n] = '\0';
    s3__xml_unescape(out, n);
    return 0;
}

static int parse_item(const char *in, size_t n, bool delete_marker, struct s3__list_item *it)
{
    char num[32], tm[64];
    memset(it, 0, sizeof(*it));
    if (s3__xml_text(in, n, "Key", it->key, sizeof(it->key)) != 0)
        return -1;
    if (s3__xml_text(in, n, "Size", num, sizeof(num)) == 0)
        it->size = strtoull(num, NULL, 10);
    if (s3__xml_text(in, n, "LastModified", tm, sizeof(tm)) == 0 &&
        s3__parse_time(tm, &it->mtime_us) != 0)
        it->mtime_us = 0;
    if (s3__xml_text(in, n, "VersionId", it->version_id, sizeof(it->version_id)) != 0)
        it->version_id[0] = '\0';
    if (s3__xml_text(in, n, "IsLatest", num, sizeof(num)) == 0)
        it->is_latest = strcmp(num, "true") == 0;
    it->is_delete_marker = delete_marker;
    return 0;
}

int s3__parse_list(const char *xml, size_t len, struct s3__list_page *page,
                   int (*cb)(void *ctx, const struct s3__list_item *it), void *ctx, struct err *err)
{
    memset(page, 0, sizeof(*page));
    const char *end = xml + len, *in;
    size_t n;
    bool versions;
    if (find_elem(xml, end, "ListBucketResult", &in, &n) != NULL)
        versions = false;
    else if (find_elem(xml, end, "ListVersionsResult", &in, &n) != NULL)
        versions = true;
    else
        return err_set(err, ERR_UNAVAILABLE, "S3 listing: not a listing document");
    const char *doc = in, *dend = in + n;
    char flag[16];
    page->is_truncated =
        s3__xml_text(doc, n, "IsTruncated", flag, sizeof(flag)) == 0 && strcmp(flag, "true") == 0;
    if (s3__xml_text(doc, n, "NextContinuationToken", page->next_token, sizeof(page->next_token)) !=
        0)
        page->next_token[0] = '\0';
    if (s3__xml_text(doc, n, "NextKeyMarker", page->next_key_marker,
                     sizeof(page->next_key_marker)) != 0)
        page->next_key_marker[0] = '\0';
    if (s3__xml_text(doc, n, "NextVersionIdMarker", page->next_version_marker,
                     sizeof(page->next_version_marker)) != 0)
        page->next_version_marker[0] = '\0';

    /* Items in document order; a versions listing interleaves <Version> and <DeleteMarker>.
     * Each kind's next occurrence is cached and searched again only once passed, so a page
     * is scanned in linear time. */
    static const char *const kinds[3] = {"Contents", "Version", "DeleteMarker"};
    struct cand {
        const char *in, *after; /* after == NULL: no more of this kind */
        size_t n;
        bool searched;
    } cand[3] = {{NULL, NULL, 0, false}, {NULL, NULL, 0, !versions}, {NULL, NULL, 0, !versions}};
    struct s3__list_item *it = xmalloc(sizeof(*it));
    int rc = 0;
    const char *p = doc;
    while (p < dend && rc == 0) {
        int best = -1;
        for (int k = 0; k < 3; k++) {
            struct cand *cd = &cand[k];
            if (!cd->searched || (cd->after != NULL && cd->in < p)) {
                cd->after = find_elem(p, dend, kinds[k], &cd->in, &cd->n);
                cd->searched = true;
            }
            if (cd->after != NULL && (best < 0 || cd->in < cand[best].in))
                best = k;
        }
        if (best < 0)
            break;
        if (parse_item(cand[best].in, cand[best].n, best == 2, it) != 0) {
            rc = err_set(err, ERR_UNAVAILABLE, "S3 listing: an entry without a usable <Key>");
            break;
        }
        rc = cb(ctx, it);
        p = cand[best].after;
    }
    free(it);
    return rc;
}

/* ------------------------------------------------------------------ client */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
}

static void on_thread_exit(void *arg)
{
    struct slot *s = arg;
    struct s3_client *c = s->owner;
    pthread_mutex_lock(&c->mu);
    for (struct slot **pp = &c->slots; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    curl_easy_cleanup(s->h);
    free(s);
}

static CURL *thread_handle(struct s3_client *c)
{
    struct slot *s = pthread_getspecific(c->key);
    if (s != NULL)
        return s->h;
    CURL *h = curl_easy_init();
    if (h == NULL)
        return NULL;
    s = xcalloc(1, sizeof(*s));
    s->h = h;
    s->fd = CURL_SOCKET_BAD;
    s->owner = c;
    pthread_mutex_lock(&c->mu);
    s->next = c->slots;
    c->slots = s;
    pthread_mutex_unlock(&c->mu);
    pthread_setspecific(c->key, s);
    return h;
}

struct s3_client *s3__client_new(const struct s3_config *cfg, struct err *err)
{
    if (cfg->endpoint == NULL || cfg->bucket == NULL || cfg->bucket[0] == '\0') {
        err_set(err, ERR_INVALID, "S3: endpoint and bucket are required");
        return NULL;
    }
    if (cfg->access_key == NULL || cfg->access_key[0] == '\0' || cfg->secret_key == NULL ||
        cfg->secret_key[0] == '\0') {
        err_set(err, ERR_INVALID, "S3: an access key and a secret key are required");
        return NULL;
    }
    const char *ep = cfg->endpoint, *rest;
    bool tls;
    if (strncmp(ep, "https://", 8) == 0)
        tls = true, rest = ep + 8;
    else if (strncmp(ep, "http://", 7) == 0)
        tls = false, rest = ep + 7;
    else {
        err_set(err, ERR_INVALID, "S3 endpoint %s: must start with http:// or https://", ep);
        return NULL;
    }
    size_t hl = strcspn(rest, "/?#");
    if (hl == 0 || (rest[hl] != '\0' && strcmp(rest + hl, "/") != 0) ||
        memchr(rest, '@', hl) != NULL) {
        err_set(err, ERR_INVALID, "S3 endpoint %s: give only scheme://host[:port]", ep);
        return NULL;
    }
    for (const char *b = cfg->bucket; *b != '\0'; b++) {
        if (!(islower((unsigned char)*b) || isdigit((unsigned char)*b) || *b == '-' || *b == '.' ||
              *b == '_')) {
            err_set(err, ERR_INVALID, "S3 bucket name %s: invalid character", cfg->bucket);
            return NULL;
        }
    }
    pthread_once(&curl_once, curl_init_once);
    struct s3_client *c = xcalloc(1, sizeof(*c));
    char *hostport = xstrndup(rest, hl);
    c->virtual_host = cfg->virtual_host;
    if (c->virtual_host) {
        c->host = xasprintf("%s.%s", cfg->bucket, hostport);
        free(hostport);
    } else {
        c->host = hostport;
    }
    c->base = xasprintf("%s://%s", tls ? "https" : "http", c->host);
    c->bucket = xstrdup(cfg->bucket);
    c->region = xstrdup(cfg->region != NULL && cfg->region[0] != '\0' ? cfg->region : "us-east-1");
    c->access_key = xstrdup(cfg->access_key);
    c->secret_key = xstrdup(cfg->secret_key);
    c->connect_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : DEFAULT_CONNECT_MS;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    /* A transfer with no progress for this long is dead (a frozen or partitioned server):
     * twice the connect timeout, at least 2 s. */
    c->stall_s = (2 * c->connect_ms + 999) / 1000;
    if (c->stall_s < 2)
        c->stall_s = 2;
    /* 0 means the default; a negative value turns retries off. */
    c->max_retries = cfg->max_retries > 0    ? cfg->max_retries
                     : cfg->max_retries == 0 ? DEFAULT_RETRIES
                                             : 0;
    pthread_mutex_init(&c->mu, NULL);
    if (pthread_key_create(&c->key, on_thread_exit) != 0)
        die_bug("pthread_key_create failed");
    return c;
}

void s3__client_free(struct s3_client *c)
{
    if (c == NULL)
        return;
    pthread_key_delete(c->key);
    struct slot *s = c->slots;
    while (s != NULL) {
        struct slot *n = s->next;
        curl_easy_cleanup(s->h);
        free(s);
        s = n;
    }
    pthread_mutex_destroy(&c->mu);
    for (char *p = c->secret_key; *p != '\0'; p++)
        *(volatile char *)p = 0;
    free(c->secret_key);
    free(c->access_key);
    free(c->region);
    free(c->bucket);
    free(c->host);
    free(c->base);
    free(c);
}

/* ------------------------------------------------------------------ one request */

struct req {
    const char *method; /* GET HEAD PUT DELETE */
    const char *key;    /* full key in the bucket; NULL for the bucket itself */
    const struct sigv4_param *query;
    size_t nquery;
    const void *body;
    size_t body_len;
    const char *content_type;
    const char *meta_enc;       /* x-amz-meta-stated value, already encoded */
    struct buf *sink;           /* where a 2xx body goes; NULL discards it */
    const char *payload_sha256; /* hex SHA-256 of body known to the caller, or NULL */
    const char *copy_source;    /* CopyObject: x-amz-copy-source value (encoded), or NULL */
    const char *if_none_match;  /* GET: the ETag a 304 would confirm, or NULL */
    const char *retain_until;   /* PUT with Object Lock COMPLIANCE retention until then, or NULL */
};

struct resp {
    long status;
    char code[64]; /* S3 error <Code>, "" when none */
    char meta[META_HDR_MAX];
    char last_modified[64];
    char version_id[128];
    char etag[S3_ETAG_MAX];
    uint64_t content_length;
    bool has_length;
    long retry_after_ms; /* -1 when absent */
    int attempts;
};

struct xfer {
    const struct req *rq;
    struct resp *rs;
    size_t up_off;
    struct buf errbody;
    bool too_large;
    bool sized; /* the sink was pre-sized from Content-Length */
    struct err *err;
    curl_socket_t *fd; /* the slot's connection */
};

static size_t on_read(char *dst, size_t size, size_t nitems, void *arg)
{
    struct xfer *x = arg;
    size_t room = size * nitems, left = x->rq->body_len - x->up_off;
    size_t n = left < room ? left : room;
    if (n > 0)
        memcpy(dst, (const char *)x->rq->body + x->up_off, n);
    x->up_off += n;
    return n;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;
    if (x->rs->status >= 200 && x->rs->status < 300) {
        if (x->rq->sink == NULL)
            return n;
        if (!x->sized) {
            /* One allocation of the announced size instead of doubling (a 10 MB object
             * was copied ~20 MB over by the growth); the ceiling still applies here. */
            x->sized = true;
            if (x->rs->has_length && x->rs->content_length > n &&
                x->rs->content_length - n < SIZE_MAX / 2 &&
                buf_reserve(x->rq->sink, (size_t)x->rs->content_length, x->err) != 0) {
                x->too_large = true;
                return 0;
            }
        }
        if (buf_append(x->rq->sink, data, n, x->err) != 0) {
            x->too_large = true;
            return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
        }
        return n;
    }
    /* Error documents are small; keep the first 64 KiB, drop the rest. */
    size_t room = ERR_BODY_MAX - x->errbody.len;
    struct err ignore = {0};
    if (room > 0 && buf_append(&x->errbody, data, n < room ? n : room, &ignore) != 0)
        buf_init(&x->errbody, ERR_BODY_MAX);
    return n;
}

static void copy_value(char *dst, size_t dstsz, const char *v, size_t n)
{
    if (n >= dstsz)
        n = dstsz - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nitems, void *arg)
{
    struct xfer *x = arg;
    struct resp *rs = x->rs;
    size_t n = size * nitems, len = n;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    if (len >= 12 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new status line (after a 100 Continue, or a redirect): start over. */
        const char *sp = memchr(line, ' ', len);
        long st = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
        int attempts = rs->attempts;
        memset(rs, 0, sizeof(*rs));
        rs->status = st;
        rs->retry_after_ms = -1;
        rs->attempts = attempts;
        return n;
    }
    if (len == 0) {
        /* End of the headers. A body that follows in a later segment (RGW sends a
         * CopyObject result chunked, after its headers) would wait for our delayed ACK of
         * the headers (40 ms) on a server with Nagle on: acknowledge now. */
        int one = 1;
        if (*x->fd != CURL_SOCKET_BAD)
            setsockopt(*x->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
        return n;
    }
    const char *colon = memchr(line, ':', len);
    if (colon == NULL)
        return n;
    size_t nl = (size_t)(colon - line);
    const char *v = colon + 1;
    while (v < line + len && (*v == ' ' || *v == '\t'))
        v++;
    size_t vl = (size_t)(line + len - v);
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
#define IS(name) (nl == sizeof(name) - 1 && strncasecmp(line, name, nl) == 0)
    if (IS("x-amz-meta-stated")) {
        copy_value(rs->meta, sizeof(rs->meta), v, vl);
    } else if (IS("last-modified")) {
        copy_value(rs->last_modified, sizeof(rs->last_modified), v, vl);
    } else if (IS("x-amz-version-id")) {
        copy_value(rs->version_id, sizeof(rs->version_id), v, vl);
    } else if (IS("etag")) {
        copy_value(rs->etag, sizeof(rs->etag), v, vl);
    } else if (IS("content-length")) {
        char tmp[32];
        copy_value(tmp, sizeof(tmp), v, vl);
        char *end;
        unsigned long long cl = strtoull(tmp, &end, 10);
        if (end != tmp) {
            rs->content_length = cl;
            rs->has_length = true;
        }
    } else if (IS("retry-after")) {
        char tmp[32];
        copy_value(tmp, sizeof(tmp), v, vl);
        char *end;
        long secs = strtol(tmp, &end, 10);
        if (end != tmp && secs >= 0 && secs < 3600)
            rs->retry_after_ms = secs * 1000;
    }
#undef IS
    return n;
}

static void sleep_ms(long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int map_failure(struct s3_client *c, const struct req *rq, const struct resp *rs,
                       struct err *err)
{
    const char *what = rq->key != NULL ? rq->key : "(bucket)";
    const char *code = rs->code;
    long st = rs->status;
    if (strcmp(code, "NoSuchBucket") == 0)
        return err_set(err, ERR_UNAVAILABLE, "S3 bucket %s does not exist at %s", c->bucket,
                       c->base);
    if (st == 404)
        return err_set(err, ERR_NOT_FOUND, "S3 object %s not found", what);
    if (strcmp(code, "SignatureDoesNotMatch") == 0 || strcmp(code, "InvalidAccessKeyId") == 0)
        return err_set(err, ERR_INVALID,
                       "S3 rejected the credentials (%s): check the secret key for access "
                       "key %.4s...",
                       code, c->access_key);
    if (strcmp(code, "AuthorizationHeaderMalformed") == 0)
        return err_set(err, ERR_INVALID,
                       "S3 refused the signature scope (%s): check the region (signing for %s)",
                       code, c->region);
    if (strcmp(code, "RequestTimeTooSkewed") == 0)
        return err_set(err, ERR_UNAVAILABLE,
                       "S3 refused the request time (%s): this machine's clock is off", code);
    if (strcmp(code, "EntityTooLarge") == 0 || st == 413)
        return err_set(err, ERR_TOO_LARGE, "S3 %s %s: object too large", rq->method, what);
    if (st == 403)
        return err_set(err, ERR_INTERNAL,
                       "S3 denied %s %s (%s): check the access key's permissions on bucket %s",
                       rq->method, what, code[0] != '\0' ? code : "403", c->bucket);
    if (st >= 500 || st == 429 || strcmp(code, "SlowDown") == 0)
        return err_set(err, ERR_UNAVAILABLE, "S3 %s %s: HTTP %ld %s after %d attempt(s)",
                       rq->method, what, st, code, rs->attempts);
    return err_set(err, ERR_INTERNAL, "S3 %s %s: HTTP %ld %s", rq->method, what, st, code);
}

/* Curl's socket callbacks: remember the connection's descriptor (on_header acknowledges on it),
 * since CURLINFO_ACTIVESOCKET answers only for connect-only transfers. */
static int on_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
    (void)purpose;
    ((struct slot *)arg)->fd = fd;
    return CURL_SOCKOPT_OK;
}

static int on_close_socket(void *arg, curl_socket_t fd)
{
    struct slot *s = arg;
    if (s->fd == fd)
        s->fd = CURL_SOCKET_BAD;
    return close(fd);
}

/* The request's path as signed (path-style: /bucket/key; virtual-hosted: /key on bucket.host)
 * into raw, and the full URL with the canonical query into url. */
static void request_url(const struct s3_client *c, const struct req *rq, struct buf *raw,
                        struct buf *url)
{
    struct err tmp = {0};
    if (!c->virtual_host) {
        buf_append_str(raw, "/", &tmp);
        buf_append_str(raw, c->bucket, &tmp);
    }
    if (rq->key != NULL) {
        buf_append_str(raw, "/", &tmp);
        buf_append_str(raw, rq->key, &tmp);
    }
    if (raw->len == 0)
        buf_append_str(raw, "/", &tmp);
    buf_append_str(url, c->base, &tmp);
    sigv4_uri_encode(raw->data, raw->len, true, url);
    char *cq = sigv4_canonical_query(rq->query, rq->nquery);
    if (cq[0] != '\0') {
        buf_append_str(url, "?", &tmp);
        buf_append_str(url, cq, &tmp);
    }
    free(cq);
}

/* x-amz-content-sha256 and Content-MD5 ("" when not sent). A real x-amz-content-sha256 is
 * verified by S3 against the body, so Content-MD5 adds only a second hash of the same bytes:
 * it is sent only when we hash the body here anyway (callers that pass their own SHA-256 skip
 * both). */
static void payload_hashes(const struct req *rq, char payload[65], char md5[25])
{
    md5[0] = '\0';
    if (rq->payload_sha256 != NULL) {
        memcpy(payload, rq->payload_sha256, 64);
        payload[64] = '\0';
    } else if (rq->body_len > 0) {
        sha256_hex(rq->body, rq->body_len, payload);
        md5_base64(rq->body, rq->body_len, md5);
    } else {
        strcpy(payload, SIGV4_EMPTY_SHA256);
        if (strcmp(rq->method, "PUT") == 0 && rq->copy_source == NULL)
            md5_base64("", 0, md5);
    }
}

/* Every header of one attempt, signed now (x-amz-date is the attempt's time). */
static struct curl_slist *signed_headers(const struct s3_client *c, const struct req *rq,
                                         const char *raw_path, const char *payload, const char *md5)
{
    char amz_date[17];
    sigv4_amz_date(now_us() / 1000000, amz_date);
    struct sigv4_header hs[12];
    size_t nh = 0;
    hs[nh++] = (struct sigv4_header){"Host", c->host};
    hs[nh++] = (struct sigv4_header){"x-amz-date", amz_date};
    hs[nh++] = (struct sigv4_header){"x-amz-content-sha256", payload};
    if (strcmp(rq->method, "PUT") == 0) {
        if (md5[0] != '\0')
            hs[nh++] = (struct sigv4_header){"Content-MD5", md5};
        hs[nh++] = (struct sigv4_header){"Content-Type", rq->content_type != NULL
                                                             ? rq->content_type
                                                             : "application/octet-stream"};
    }
    if (rq->meta_enc != NULL)
        hs[nh++] = (struct sigv4_header){"x-amz-meta-stated", rq->meta_enc};
    if (rq->if_none_match != NULL)
        hs[nh++] = (struct sigv4_header){"If-None-Match", rq->if_none_match};
    if (rq->retain_until != NULL) {
        hs[nh++] = (struct sigv4_header){"x-amz-object-lock-mode", "COMPLIANCE"};
        hs[nh++] = (struct sigv4_header){"x-amz-object-lock-retain-until-date", rq->retain_until};
    }
    if (rq->copy_source != NULL) {
        hs[nh++] = (struct sigv4_header){"x-amz-copy-source", rq->copy_source};
        /* New metadata replaces the source's; without any, the copy keeps the source's. */
        hs[nh++] = (struct sigv4_header){"x-amz-metadata-directive",
                                         rq->meta_enc != NULL ? "REPLACE" : "COPY"};
    }
    struct sigv4_creds creds = {c->access_key, c->secret_key, c->region, "s3"};
    struct sigv4_request sr = {rq->method, raw_path, rq->query, rq->nquery, hs, nh, payload};
    char *auth = sigv4_authorization(&creds, &sr, amz_date, NULL);
    struct curl_slist *hl = NULL;
    for (size_t i = 0; i < nh; i++) {
        char *line = xasprintf("%s: %s", hs[i].name, hs[i].value);
        hl = curl_slist_append(hl, line);
        free(line);
    }
    char *aline = xasprintf("Authorization: %s", auth);
    hl = curl_slist_append(hl, aline);
    free(aline);
    free(auth);
    hl = curl_slist_append(hl, "Expect:"); /* no 100-continue round trip */
    return curl_slist_append(hl, "Accept:");
}

/* The handle for one attempt, with left_ms of the request's time budget. */
static void setup_transfer(CURL *h, const struct s3_client *c, const struct req *rq,
                           struct slot *slot, struct xfer *x, const char *url,
                           struct curl_slist *hl, long left_ms, char *errbuf)
{
    curl_easy_reset(h);
    errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, left_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->stall_s);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    curl_easy_setopt(h, CURLOPT_SOCKOPTDATA, slot);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, slot);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
        /* Fewer read callbacks and send calls for a large state (default 64 KiB). */
        if (rq->body_len > 65536)
            curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    } else if (rq->sink != NULL) {
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
    }
}

/* A fresh attempt's bookkeeping: the response, the transfer, and the sink back to where it
 * was before the first attempt (a failed attempt may have appended to it). */
static void attempt_init(const struct req *rq, struct resp *rs, struct xfer *x, int attempt,
                         size_t sink_start, struct slot *slot, struct err *err)
{
    memset(rs, 0, sizeof(*rs));
    rs->retry_after_ms = -1;
    rs->attempts = attempt + 1;
    memset(x, 0, sizeof(*x));
    x->rq = rq;
    x->fd = &slot->fd;
    x->rs = rs;
    x->err = err;
    buf_init(&x->errbody, ERR_BODY_MAX);
    if (rq->sink != NULL && rq->sink->data != NULL) {
        rq->sink->len = sink_start;
        rq->sink->data[sink_start] = '\0';
    }
}

/* How long to wait before attempt+1, or -1 to stop: not retryable, retries used up, stalled
 * twice (a server that stalls twice in a row is frozen or partitioned, and the client is
 * better served by a prompt 503), or no time left before the deadline. */
static long retry_delay(const struct s3_client *c, const struct req *rq, CURLcode rc,
                        const struct resp *rs, int attempt, int *stalls, int64_t deadline,
                        const char *errbuf)
{
    if (!s3__should_retry((int)rc, rc == CURLE_OK ? rs->status : 0, rs->code) ||
        attempt >= c->max_retries || (rc == CURLE_OPERATION_TIMEDOUT && ++*stalls >= 2))
        return -1;
    uint32_t rnd;
    random_bytes(&rnd, sizeof(rnd));
    long delay = s3__backoff_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS,
                                rc == CURLE_OK ? rs->retry_after_ms : -1, rnd);
    if (mono_ms() + delay >= deadline)
        return -1;
    const char *what = rq->key != NULL ? rq->key : "(bucket)";
    if (rc != CURLE_OK)
        log_debug("S3 %s %s: %s; retry %d in %ld ms", rq->method, what,
                  errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc), attempt + 1, delay);
    else
        log_debug("S3 %s %s: HTTP %ld %s; retry %d in %ld ms", rq->method, what, rs->status,
                  rs->code, attempt + 1, delay);
    return delay;
}

/* Logs the outage's start and end once each: S3 unreachable (no answer, or 5xx after the
 * retries), then answering again. */
static void note_reachable(struct s3_client *c, bool reachable, const char *why)
{
    if (reachable && atomic_exchange(&c->down, false)) {
        const struct log_field f[] = {LOG_STR("component", "s3"), LOG_STR("event", "reconnected")};
        log_fields(LOG_INFO, f, 2, "S3 reachable again at %s", c->base);
    } else if (!reachable && !atomic_exchange(&c->down, true)) {
        const struct log_field f[] = {LOG_STR("component", "s3"), LOG_STR("event", "unreachable")};
        log_fields(LOG_WARN, f, 2, "S3 unreachable at %s: %s", c->base, why);
    }
}

/* One request with its retries: 0 on a 2xx, else -1 with err mapped from the last answer. */
static int perform(struct s3_client *c, const struct req *rq, struct resp *rs, struct err *err)
{
    CURL *h = thread_handle(c);
    if (h == NULL)
        return err_set(err, ERR_INTERNAL, "S3: curl_easy_init failed");
    struct slot *slot = pthread_getspecific(c->key);
    struct buf raw, url;
    buf_init(&raw, 0);
    buf_init(&url, 0);
    request_url(c, rq, &raw, &url);
    char payload[65], md5[25];
    payload_hashes(rq, payload, md5);

    int64_t deadline = mono_ms() + c->timeout_ms;
    size_t sink_start = rq->sink != NULL ? rq->sink->len : 0;
    CURLcode rc = CURLE_OK;
    char errbuf[CURL_ERROR_SIZE];
    struct xfer x;
    int ret = -1, stalls = 0;
    for (int attempt = 0;; attempt++) {
        attempt_init(rq, rs, &x, attempt, sink_start, slot, err);
        struct curl_slist *hl = signed_headers(c, rq, raw.data, payload, md5);
        int64_t left = deadline - mono_ms();
        setup_transfer(h, c, rq, slot, &x, url.data, hl, left < 1000 ? 1000 : (long)left, errbuf);
        rc = curl_easy_perform(h);
        curl_slist_free_all(hl);
        if (x.too_large) {
            buf_cleanup(&x.errbody);
            goto out; /* err already says ERR_TOO_LARGE; the caller's buffer is freed */
        }
        if (rc == CURLE_OK && rs->status >= 300 && x.errbody.len > 0 &&
            s3__xml_text(x.errbody.data, x.errbody.len, "Code", rs->code, sizeof(rs->code)) != 0)
            rs->code[0] = '\0';
        buf_cleanup(&x.errbody);
        long delay = retry_delay(c, rq, rc, rs, attempt, &stalls, deadline, errbuf);
        if (delay < 0)
            break;
        sleep_ms(delay);
    }
    if (rc != CURLE_OK)
        err_set(err, ERR_UNAVAILABLE, "S3 %s %s at %s: %s (%d attempt(s))", rq->method,
                rq->key != NULL ? rq->key : "(bucket)", c->base,
                errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc), rs->attempts);
    else if ((rs->status >= 200 && rs->status < 300) ||
             (rs->status == 304 && rq->if_none_match != NULL))
        ret = 0;
    else
        map_failure(c, rq, rs, err);
    note_reachable(c, rc == CURLE_OK && rs->status < 500, err != NULL ? err->msg : "");
out:
    buf_cleanup(&raw);
    buf_cleanup(&url);
    return ret;
}

/* ------------------------------------------------------------------ operations */

static void fill_head(const struct resp *rs, uint64_t got, struct s3__objhead *head)
{
    if (head == NULL)
        return;
    memset(head, 0, sizeof(*head));
    head->size = rs->has_length ? rs->content_length : got;
    if (s3__parse_time(rs->last_modified, &head->mtime_us) != 0)
        head->mtime_us = 0;
    if (rs->meta[0] == '\0' || s3__meta_decode(rs->meta, head->meta, sizeof(head->meta)) != 0)
        head->meta[0] = '\0';
    copy_value(head->version_id, sizeof(head->version_id), rs->version_id, strlen(rs->version_id));
    copy_value(head->etag, sizeof(head->etag), rs->etag, strlen(rs->etag));
    head->not_modified = rs->status == 304;
}

static int put_object(struct s3_client *c, const char *key, const void *data, size_t len,
                      const char *meta, const char *sha256, const char *retain_until,
                      struct err *err)
{
    char *enc = NULL;
    if (meta != NULL && meta[0] != '\0') {
        if (strlen(meta) >= OBJ_META_MAX)
            return err_set(err, ERR_INTERNAL, "S3 PUT %s: metadata over %d bytes", key,
                           OBJ_META_MAX - 1);
        enc = s3__meta_encode(meta);
    }
    struct req rq = {.method = "PUT",
                     .key = key,
                     .body = data,
                     .body_len = len,
                     .meta_enc = enc,
                     .payload_sha256 = sha256,
                     .retain_until = retain_until};
    struct resp *rs = xmalloc(sizeof(*rs));
    int rc = perform(c, &rq, rs, err);
    free(rs);
    free(enc);
    return rc;
}

int s3__put_object(struct s3_client *c, const char *key, const void *data, size_t len,
                   const char *meta, struct err *err)
{
    return put_object(c, key, data, len, meta, NULL, NULL, err);
}

int s3__put_object_retained(struct s3_client *c, const char *key, const void *data, size_t len,
                            int64_t retain_until_us, struct err *err)
{
    char until[32];
    s3__retain_until(retain_until_us, until);
    /* No caller SHA-256: the body is hashed here, so Content-MD5 goes with it (payload_hashes). */
    return put_object(c, key, data, len, NULL, NULL, until, err);
}

int s3__put_object_sha256(struct s3_client *c, const char *key, const void *data, size_t len,
                          const char *meta, const char sha256[65], struct err *err)
{
    if (strlen(sha256) != 64)
        return err_set(err, ERR_INTERNAL, "S3 PUT %s: payload hash is not 64 hex digits", key);
    return put_object(c, key, data, len, meta, sha256, NULL, err);
}

int s3__copy_object(struct s3_client *c, const char *src, const char *dst, const char *meta,
                    struct err *err)
{
    char *enc = NULL;
    if (meta != NULL && meta[0] != '\0') {
        if (strlen(meta) >= OBJ_META_MAX)
            return err_set(err, ERR_INTERNAL, "S3 copy to %s: metadata over %d bytes", dst,
                           OBJ_META_MAX - 1);
        enc = s3__meta_encode(meta);
    }
    struct buf source, body;
    buf_init(&source, 0);
    buf_init(&body, ERR_BODY_MAX);
    char *raw = xasprintf("/%s/%s", c->bucket, src);
    sigv4_uri_encode(raw, strlen(raw), true, &source);
    free(raw);
    struct req rq = {.method = "PUT",
                     .key = dst,
                     .meta_enc = enc,
                     .sink = &body,
                     .payload_sha256 = SIGV4_EMPTY_SHA256,
                     .copy_source = source.data};
    struct resp *rs = xmalloc(sizeof(*rs));
    int rc = perform(c, &rq, rs, err);
    if (rc != 0 && (rs->status == 501 || strcmp(rs->code, "NotImplemented") == 0))
        err_set(err, ERR_INTERNAL, "S3 copy %s -> %s: not implemented by this storage", src, dst);
    /* S3 may answer a copy with 200 and report the failure in the body. */
    if (rc == 0 && (body.len == 0 || strstr(body.data, "<Error>") != NULL ||
                    strstr(body.data, "CopyObjectResult") == NULL)) {
        char code[64] = "";
        if (body.len > 0 && s3__xml_text(body.data, body.len, "Code", code, sizeof(code)) != 0)
            code[0] = '\0';
        rc = err_set(err, ERR_UNAVAILABLE, "S3 copy %s -> %s failed after 200: %s", src, dst,
                     code[0] != '\0' ? code : "no CopyObjectResult");
    }
    free(rs);
    buf_cleanup(&body);
    buf_cleanup(&source);
    free(enc);
    return rc;
}

int s3__get_object(struct s3_client *c, const char *key, const char *version_id, struct buf *out,
                   struct s3__objhead *head, struct err *err)
{
    return s3__get_object_if(c, key, version_id, NULL, out, head, err);
}

int s3__get_object_if(struct s3_client *c, const char *key, const char *version_id,
                      const char *if_none_match, struct buf *out, struct s3__objhead *head,
                      struct err *err)
{
    struct sigv4_param q[1] = {{"versionId", version_id}};
    size_t start = out->len;
    struct req rq = {.method = "GET",
                     .key = key,
                     .query = q,
                     .nquery = version_id != NULL ? 1 : 0,
                     .sink = out,
                     .if_none_match = if_none_match};
    struct resp *rs = xmalloc(sizeof(*rs));
    int rc = perform(c, &rq, rs, err);
    if (rc == 0)
        fill_head(rs, rq.sink->len - start, head); /* perform appended to the sink */
    free(rs);
    return rc;
}

int s3__head_object(struct s3_client *c, const char *key, struct s3__objhead *head, struct err *err)
{
    struct req rq = {.method = "HEAD", .key = key};
    struct resp *rs = xmalloc(sizeof(*rs));
    int rc = perform(c, &rq, rs, err);
    if (rc == 0)
        fill_head(rs, 0, head);
    free(rs);
    return rc;
}

int s3__delete_object(struct s3_client *c, const char *key, struct err *err)
{
    return s3__delete_version(c, key, NULL, err);
}

int s3__delete_version(struct s3_client *c, const char *key, const char *version_id,
                       struct err *err)
{
    struct sigv4_param q[1] = {{"versionId", version_id}};
    struct req rq = {
        .method = "DELETE", .key = key, .query = q, .nquery = version_id != NULL ? 1 : 0};
    struct resp *rs = xmalloc(sizeof(*rs));
    struct err e = {0};
    int rc = perform(c, &rq, rs, &e);
    free(rs);
    if (rc != 0 && e.code == ERR_NOT_FOUND)
        return 0; /* already gone: deleting is idempotent */
    if (rc != 0)
        err_set(err, e.code, "%s", e.msg);
    return rc;
}

struct list_ctx {
    int (*cb)(void *ctx, const struct s3__list_item *it);
    void *ctx;
    size_t seen, max_total;
    bool stop;
};

static int on_list_item(void *arg, const struct s3__list_item *it)
{
    struct list_ctx *lc = arg;
    if (lc->max_total != 0 && lc->seen >= lc->max_total) {
        lc->stop = true;
        return 0;
    }
    lc->seen++;
    return lc->cb(lc->ctx, it);
}

int s3__list_objects(struct s3_client *c, const char *prefix, int max_keys, size_t max_total,
                     int (*cb)(void *ctx, const struct s3__list_item *it), void *ctx,
                     struct err *err)
{
    struct list_ctx lc = {cb, ctx, 0, max_total, false};
    struct s3__list_page *page = xmalloc(sizeof(*page));
    char *token = NULL, mk[16];
    snprintf(mk, sizeof(mk), "%d", max_keys);
    struct buf body;
    buf_init(&body, LIST_BODY_MAX);
    int rc = 0;
    for (;;) {
        struct sigv4_param q[4];
        size_t nq = 0;
        q[nq++] = (struct sigv4_param){"list-type", "2"};
        q[nq++] = (struct sigv4_param){"prefix", prefix != NULL ? prefix : ""};
        if (max_keys > 0)
            q[nq++] = (struct sigv4_param){"max-keys", mk};
        if (token != NULL)
            q[nq++] = (struct sigv4_param){"continuation-token", token};
        buf_reset(&body);
        struct req rq = {.method = "GET", .query = q, .nquery = nq, .sink = &body};
        struct resp rs;
        if (perform(c, &rq, &rs, err) != 0) {
            rc = -1;
            break;
        }
        rc = s3__parse_list(body.data != NULL ? body.data : "", body.len, page, on_list_item, &lc,
                            err);
        if (rc != 0 || lc.stop || !page->is_truncated)
            break;
        if (page->next_token[0] == '\0') {
            rc = err_set(err, ERR_UNAVAILABLE,
                         "S3 listing: truncated page without NextContinuationToken");
            break;
        }
        free(token);
        token = xstrdup(page->next_token);
    }
    free(token);
    free(page);
    buf_cleanup(&body);
    return rc;
}

int s3__list_versions(struct s3_client *c, const char *prefix,
                      int (*cb)(void *ctx, const struct s3__list_item *it), void *ctx,
                      struct err *err)
{
    struct s3__list_page *page = xmalloc(sizeof(*page));
    char *km = NULL, *vm = NULL;
    struct buf body;
    buf_init(&body, LIST_BODY_MAX);
    int rc = 0;
    for (;;) {
        struct sigv4_param q[4];
        size_t nq = 0;
        q[nq++] = (struct sigv4_param){"versions", NULL};
        q[nq++] = (struct sigv4_param){"prefix", prefix != NULL ? prefix : ""};
        if (km != NULL)
            q[nq++] = (struct sigv4_param){"key-marker", km};
        if (vm != NULL)
            q[nq++] = (struct sigv4_param){"version-id-marker", vm};
        buf_reset(&body);
        struct req rq = {.method = "GET", .query = q, .nquery = nq, .sink = &body};
        struct resp rs;
        if (perform(c, &rq, &rs, err) != 0) {
            rc = -1;
            break;
        }
        rc = s3__parse_list(body.data != NULL ? body.data : "", body.len, page, cb, ctx, err);
        if (rc != 0 || !page->is_truncated)
            break;
        if (page->next_key_marker[0] == '\0') {
            rc = err_set(err, ERR_UNAVAILABLE, "S3 versions listing: truncated without marker");
            break;
        }
        free(km);
        free(vm);
        km = xstrdup(page->next_key_marker);
        vm = page->next_version_marker[0] != '\0' ? xstrdup(page->next_version_marker) : NULL;
    }
    free(km);
    free(vm);
    free(page);
    buf_cleanup(&body);
    return rc;
}

int s3__get_versioning(struct s3_client *c, char status[16], struct err *err)
{
    struct sigv4_param q[1] = {{"versioning", NULL}};
    struct buf body;
    buf_init(&body, ERR_BODY_MAX);
    struct req rq = {.method = "GET", .query = q, .nquery = 1, .sink = &body};
    struct resp rs;
    int rc = perform(c, &rq, &rs, err);
    if (rc == 0 &&
        (body.data == NULL || s3__xml_text(body.data, body.len, "Status", status, 16) != 0))
        status[0] = '\0';
    buf_cleanup(&body);
    return rc;
}

int s3__put_versioning(struct s3_client *c, bool enabled, struct err *err)
{
    char *xml = xasprintf("<VersioningConfiguration "
                          "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                          "<Status>%s</Status></VersioningConfiguration>",
                          enabled ? "Enabled" : "Suspended");
    struct sigv4_param q[1] = {{"versioning", NULL}};
    struct req rq = {.method = "PUT",
                     .query = q,
                     .nquery = 1,
                     .body = xml,
                     .body_len = strlen(xml),
                     .content_type = "application/xml"};
    struct resp rs;
    int rc = perform(c, &rq, &rs, err);
    free(xml);
    return rc;
}

int s3__get_object_lock(struct s3_client *c, bool *enabled, struct err *err)
{
    struct sigv4_param q[1] = {{"object-lock", NULL}};
    struct buf body;
    buf_init(&body, ERR_BODY_MAX);
    struct req rq = {.method = "GET", .query = q, .nquery = 1, .sink = &body};
    struct resp rs;
    struct err e = {0};
    *enabled = false;
    int rc = perform(c, &rq, &rs, &e);
    if (rc == 0)
        *enabled = body.data != NULL && s3__parse_object_lock(body.data, body.len);
    else if (strcmp(rs.code, "ObjectLockConfigurationNotFoundError") == 0)
        rc = 0; /* a bucket created without Object Lock */
    else
        err_set(err, e.code, "%s", e.msg);
    buf_cleanup(&body);
    return rc;
}
