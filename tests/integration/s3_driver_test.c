/* tests/integration/s3_driver_test.c: the S3 objstore driver against a real S3 server
 * (Ceph RGW from tests/env/rgw-up.sh). Built and run by tests/suites/40-s3.sh with
 * S3_ENDPOINT, S3_KEY, S3_SECRET and S3_BUCKET in the environment.
 *
 * Checks the objstore contract of s3/s3.h end to end: put/get/head/del, ERR_NOT_FOUND,
 * idempotent delete, metadata round trip, keys needing encoding, ascending listings across
 * continuation pages (>1000 keys), prefix filtering, the buffer ceiling, per-thread
 * connections under concurrency, start-up credential checks and bucket versioning. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "s3/s3.h"
#include "s3/s3_int.h"
#include "tests/unit/t.h"

static struct s3_config cfg;
static char prefix[128];
static struct objstore *os;

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        fprintf(stderr, "%s is not set\n", name);
        exit(2);
    }
    return v;
}

static void test_start(void)
{
    struct err e = {0};
    os = objstore_s3_new(&cfg, &e);
    CHECK(os != NULL);
    if (os == NULL) {
        printf("  objstore_s3_new: %s\n", e.msg);
        exit(1);
    }
    CHECK_STR(os->ops->kind, "s3");
    CHECK_INT(os->ops->ping(os, &e), 0);
    /* versioning was turned on at start */
    struct s3_client *c = s3__client_new(&cfg, &e);
    char st[16] = "?";
    CHECK_INT(s3__get_versioning(c, st, &e), 0);
    CHECK_STR(st, "Enabled");
    s3__client_free(c);
}

static void test_put_get_head_del(void)
{
    struct err e = {0};
    const char *meta = "{\"serial\":7,\"lineage\":\"l-\\u00e9\",\"note\":\"a b\\\"c\"}";
    const char body[] = "{\"version\":4,\"serial\":7}\n\0binary\xff";
    CHECK_INT(os->ops->put(os, "states/a/current.tfstate", body, sizeof(body), meta, &e), 0);
    struct buf out;
    buf_init(&out, 1 << 20);
    struct obj_info info;
    CHECK_INT(os->ops->get(os, "states/a/current.tfstate", &out, &info, &e), 0);
    CHECK_MEM(out.data, out.len, body, sizeof(body));
    CHECK_STR(info.meta, meta);
    CHECK_INT(info.size, sizeof(body));
    CHECK_STR(info.key, "states/a/current.tfstate");
    CHECK(info.mtime_us > now_us() - 3600LL * 1000000 &&
          info.mtime_us < now_us() + 3600LL * 1000000);
    struct obj_info hi;
    CHECK_INT(os->ops->head(os, "states/a/current.tfstate", &hi, &e), 0);
    CHECK_STR(hi.meta, meta);
    CHECK_INT(hi.size, sizeof(body));
    /* replace: the new bytes and meta, whole */
    CHECK_INT(os->ops->put(os, "states/a/current.tfstate", "x", 1, NULL, &e), 0);
    buf_reset(&out);
    CHECK_INT(os->ops->get(os, "states/a/current.tfstate", &out, &info, &e), 0);
    CHECK_MEM(out.data, out.len, "x", 1);
    CHECK_STR(info.meta, "");
    /* empty object */
    CHECK_INT(os->ops->put(os, "states/a/empty", "", 0, NULL, &e), 0);
    buf_reset(&out);
    CHECK_INT(os->ops->get(os, "states/a/empty", &out, &info, &e), 0);
    CHECK_INT(out.len, 0);
    CHECK_INT(e.code, ERR_OK);

    CHECK_INT(os->ops->del(os, "states/a/current.tfstate", &e), 0);
    CHECK_INT(os->ops->del(os, "states/a/current.tfstate", &e), 0); /* idempotent */
    buf_reset(&out);
    struct err nf = {0};
    CHECK_INT(os->ops->get(os, "states/a/current.tfstate", &out, NULL, &nf), -1);
    CHECK_INT(nf.code, ERR_NOT_FOUND);
    err_clear(&nf);
    CHECK_INT(os->ops->head(os, "states/a/never", &hi, &nf), -1);
    CHECK_INT(nf.code, ERR_NOT_FOUND);
    err_clear(&nf);
    CHECK_INT(os->ops->del(os, "states/a/never", &nf), 0);
    buf_cleanup(&out);
}

static const char *odd_keys[] = {
    "odd/a b c.tfstate",         "odd/env:/prod/x.tfstate", "odd/p!$&'()*+,;=@~_-.tfstate",
    "odd/percent%20not-decoded", "odd/q?x=1#frag",          "odd/[brackets]{braces}^`|",
};

static void test_odd_keys(void)
{
    struct err e = {0};
    size_t n = sizeof(odd_keys) / sizeof(odd_keys[0]);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(os->ops->put(os, odd_keys[i], odd_keys[i], strlen(odd_keys[i]), "{}", &e), 0);
        if (e.code != ERR_OK)
            printf("  put %s: %s\n", odd_keys[i], e.msg);
        err_clear(&e);
    }
    for (size_t i = 0; i < n; i++) {
        struct buf out;
        buf_init(&out, 0);
        struct obj_info info;
        CHECK_INT(os->ops->get(os, odd_keys[i], &out, &info, &e), 0);
        CHECK_MEM(out.data, out.len, odd_keys[i], strlen(odd_keys[i]));
        CHECK_STR(info.meta, "{}");
        buf_cleanup(&out);
        err_clear(&e);
    }
}

struct collect {
    char **keys;
    size_t n, cap;
    bool sorted;
};

static int on_key(void *ctx, const struct obj_info *info)
{
    struct collect *c = ctx;
    if (c->n > 0 && strcmp(c->keys[c->n - 1], info->key) >= 0)
        c->sorted = false;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->keys = xrealloc(c->keys, c->cap * sizeof(char *));
    }
    c->keys[c->n++] = xstrdup(info->key);
    return 0;
}

static void collect_free(struct collect *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->keys[i]);
    free(c->keys);
}

static void test_list_odd_and_prefix(void)
{
    struct err e = {0};
    struct collect c = {NULL, 0, 0, true};
    CHECK_INT(os->ops->list(os, "odd/", on_key, &c, &e), 0);
    CHECK_INT(c.n, sizeof(odd_keys) / sizeof(odd_keys[0]));
    CHECK(c.sorted);
    for (size_t i = 0; i < c.n; i++) {
        bool found = false;
        for (size_t j = 0; j < sizeof(odd_keys) / sizeof(odd_keys[0]); j++)
            found = found || strcmp(c.keys[i], odd_keys[j]) == 0;
        CHECK(found);
    }
    collect_free(&c);
    /* "pre/a/" must not see "pre/ab" */
    CHECK_INT(os->ops->put(os, "pre/a/1", "1", 1, NULL, &e), 0);
    CHECK_INT(os->ops->put(os, "pre/ab", "2", 1, NULL, &e), 0);
    struct collect d = {NULL, 0, 0, true};
    CHECK_INT(os->ops->list(os, "pre/a/", on_key, &d, &e), 0);
    CHECK_INT(d.n, 1);
    if (d.n == 1)
        CHECK_STR(d.keys[0], "pre/a/1");
    collect_free(&d);
}

static int stop_at_3(void *ctx, const struct obj_info *info)
{
    (void)info;
    return ++*(int *)ctx == 3 ? 42 : 0;
}

#define MANY 1005
struct put_range {
    int from, to, failures;
};

static void *put_many(void *arg)
{
    struct put_range *r = arg;
    for (int i = r->from; i < r->to; i++) {
        char key[64], val[16];
        snprintf(key, sizeof(key), "many/k%05d", i);
        snprintf(val, sizeof(val), "%d", i);
        struct err e = {0};
        if (os->ops->put(os, key, val, strlen(val), NULL, &e) != 0) {
            r->failures++;
            if (r->failures == 1)
                printf("  put %s: %s\n", key, e.msg);
        }
    }
    return NULL;
}

/* Also the concurrency check: four threads, each with its own connection. */
static void test_list_continuation(void)
{
    pthread_t th[4];
    struct put_range r[4];
    for (int t = 0; t < 4; t++) {
        r[t] = (struct put_range){t * MANY / 4, (t + 1) * MANY / 4, 0};
        pthread_create(&th[t], NULL, put_many, &r[t]);
    }
    int failures = 0;
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        failures += r[t].failures;
    }
    CHECK_INT(failures, 0);
    struct err e = {0};
    struct collect c = {NULL, 0, 0, true};
    CHECK_INT(os->ops->list(os, "many/", on_key, &c, &e), 0);
    CHECK_INT(c.n, MANY);
    CHECK(c.sorted);
    if (c.n == MANY) {
        CHECK_STR(c.keys[0], "many/k00000");
        CHECK_STR(c.keys[MANY - 1], "many/k01004");
    }
    collect_free(&c);
    int seen = 0;
    CHECK_INT(os->ops->list(os, "many/", stop_at_3, &seen, &e), 42);
    CHECK_INT(seen, 3);
}

static void test_large_and_ceiling(void)
{
    size_t n = 10u << 20;
    char *big = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 2654435761u >> 13);
    struct err e = {0};
    CHECK_INT(os->ops->put(os, "big/ten-mb", big, n, NULL, &e), 0);
    struct buf out;
    buf_init(&out, n);
    CHECK_INT(os->ops->get(os, "big/ten-mb", &out, NULL, &e), 0);
    CHECK(out.len == n && memcmp(out.data, big, n) == 0);
    buf_cleanup(&out);
    buf_init(&out, n - 1);
    struct err tl = {0};
    CHECK_INT(os->ops->get(os, "big/ten-mb", &out, NULL, &tl), -1);
    CHECK_INT(tl.code, ERR_TOO_LARGE);
    buf_cleanup(&out);
    free(big);
}

/* Virtual-hosted addressing (bucket.host): RGW is configured with "rgw dns name = localhost",
 * and libcurl resolves *.localhost to loopback itself. */
static void test_virtual_host(void)
{
    const char *port = strrchr(cfg.endpoint, ':');
    if (strncmp(cfg.endpoint, "http://127.0.0.1:", 17) != 0 || port == NULL) {
        printf("  virtual host: endpoint %s is not http://127.0.0.1:PORT, not checked\n",
               cfg.endpoint);
        return;
    }
    char *ep = xasprintf("http://localhost%s", port);
    char *vp = xasprintf("%s-vhost", prefix);
    struct s3_config vc = cfg;
    vc.endpoint = ep;
    vc.prefix = vp;
    vc.virtual_host = true;
    struct err e = {0};
    struct objstore *v = objstore_s3_new(&vc, &e);
    CHECK(v != NULL);
    if (v == NULL) {
        printf("  virtual host: %s\n", e.msg);
    } else {
        CHECK_INT(v->ops->put(v, "states/v h/current.tfstate", "vh", 2, "{\"a\":1}", &e), 0);
        struct buf out;
        buf_init(&out, 0);
        struct obj_info info;
        CHECK_INT(v->ops->get(v, "states/v h/current.tfstate", &out, &info, &e), 0);
        CHECK_MEM(out.data, out.len, "vh", 2);
        CHECK_STR(info.meta, "{\"a\":1}");
        buf_cleanup(&out);
        struct collect c = {NULL, 0, 0, true};
        CHECK_INT(v->ops->list(v, "states/", on_key, &c, &e), 0);
        CHECK_INT(c.n, 1);
        collect_free(&c);
        v->ops->free(v);
    }
    free(ep);
    free(vp);
}

/* S3 keys stop at 1024 bytes (prefix included): up to that they work; past it reads say
 * not found, deletes succeed and writes are refused with a clear error. */
static void test_key_length_limit(void)
{
    size_t room = 1024 - strlen(prefix) - 1;
    char *k = xmalloc(room + 2);
    memcpy(k, "long/", 5);
    memset(k + 5, 'k', room - 5);
    k[room] = '\0';
    struct err e = {0};
    CHECK_INT(os->ops->put(os, k, "L", 1, "{}", &e), 0);
    if (e.code != ERR_OK)
        printf("  1024-byte key: %s\n", e.msg);
    struct buf out;
    buf_init(&out, 0);
    CHECK_INT(os->ops->get(os, k, &out, NULL, &e), 0);
    CHECK_MEM(out.data, out.len, "L", 1);
    buf_cleanup(&out);
    k[room] = 'k';
    k[room + 1] = '\0';
    struct err nf = {0};
    CHECK_INT(os->ops->get(os, k, &out, NULL, &nf), -1);
    CHECK_INT(nf.code, ERR_NOT_FOUND);
    err_clear(&nf);
    CHECK_INT(os->ops->head(os, k, NULL, &nf), -1);
    CHECK_INT(nf.code, ERR_NOT_FOUND);
    err_clear(&nf);
    CHECK_INT(os->ops->del(os, k, &nf), 0);
    CHECK_INT(os->ops->put(os, k, "L", 1, NULL, &nf), -1);
    CHECK_INT(nf.code, ERR_INVALID);
    CHECK(strstr(nf.msg, "1024") != NULL);
    buf_cleanup(&out);
    free(k);
}

static void test_wrong_secret(void)
{
    struct s3_config bad = cfg;
    bad.secret_key = "definitely-not-the-secret";
    struct err e = {0};
    int64_t t0 = mono_ms();
    struct objstore *b = objstore_s3_new(&bad, &e);
    CHECK(b == NULL);
    CHECK_INT(e.code, ERR_INVALID);
    CHECK(strstr(e.msg, "check the secret key") != NULL);
    char first4[5];
    snprintf(first4, sizeof(first4), "%s", cfg.access_key);
    CHECK(strstr(e.msg, first4) != NULL);
    CHECK(strstr(e.msg, cfg.access_key) == NULL || strlen(cfg.access_key) <= 4);
    CHECK(strstr(e.msg, bad.secret_key) == NULL);
    CHECK(mono_ms() - t0 < 5000); /* a 403 is not retried */
    printf("  wrong secret: %s\n", e.msg);
}

static void test_unreachable(void)
{
    struct s3_config dead = cfg;
    dead.endpoint = "http://127.0.0.1:9"; /* discard port: connection refused */
    dead.max_retries = 2;
    struct err e = {0};
    int64_t t0 = mono_ms();
    struct objstore *b = objstore_s3_new(&dead, &e);
    CHECK(b == NULL);
    CHECK_INT(e.code, ERR_UNAVAILABLE);
    CHECK(mono_ms() - t0 < 10000);
    printf("  unreachable: %s\n", e.msg);
}

struct vers {
    int n;
    char first[128];
};

static int on_version(void *ctx, const struct s3__list_item *it)
{
    struct vers *v = ctx;
    if (v->n++ == 0)
        snprintf(v->first, sizeof(v->first), "%s", it->version_id);
    return 0;
}

static void test_versions(void)
{
    struct err e = {0};
    CHECK_INT(os->ops->put(os, "ver/x", "one", 3, NULL, &e), 0);
    CHECK_INT(os->ops->put(os, "ver/x", "two", 3, NULL, &e), 0);
    struct s3_client *c = s3__client_new(&cfg, &e);
    struct vers v = {0, ""};
    char *p = xasprintf("%s/ver/", prefix);
    CHECK_INT(s3__list_versions(c, p, on_version, &v, &e), 0);
    CHECK_INT(v.n, 2);
    /* the older version is still readable by its id */
    struct buf out;
    buf_init(&out, 0);
    char *k = xasprintf("%s/ver/x", prefix);
    CHECK_INT(s3__get_object(c, k, v.first, &out, NULL, &e), 0);
    CHECK(out.len == 3 && (memcmp(out.data, "one", 3) == 0 || memcmp(out.data, "two", 3) == 0));
    buf_cleanup(&out);
    free(k);
    free(p);
    s3__client_free(c);
}

int main(void)
{
    log_setup(LOG_WARN, LOG_TEXT);
    snprintf(prefix, sizeof(prefix), "drivertest/%lld", (long long)now_us());
    cfg = (struct s3_config){.endpoint = env("S3_ENDPOINT"),
                             .region = "us-east-1",
                             .bucket = env("S3_BUCKET"),
                             .prefix = prefix,
                             .access_key = env("S3_KEY"),
                             .secret_key = env("S3_SECRET"),
                             .connect_timeout_ms = 2000,
                             .timeout_ms = 30000};
    RUN(test_start);
    RUN(test_put_get_head_del);
    RUN(test_odd_keys);
    RUN(test_list_odd_and_prefix);
    RUN(test_list_continuation);
    RUN(test_large_and_ceiling);
    RUN(test_versions);
    RUN(test_key_length_limit);
    RUN(test_virtual_host);
    RUN(test_wrong_secret);
    RUN(test_unreachable);
    os->ops->free(os);
    return t_report();
}
