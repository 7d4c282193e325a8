/* store/timed.c: an objstore that times every call of the one it wraps, whatever the driver
 * (stated_storage_requests_total{op,result}, stated_storage_request_duration_seconds{op}).
 * store_new wraps the driver it is given, so every storage call of the server is counted once,
 * here, and no driver counts anything itself.
 *
 * result is "ok", "not_found" (a get, head or copy of an absent object: an answer, not a
 * failure) or "error". A list is timed as one call, callbacks included. */
#include <stdlib.h>

#include "common/metrics.h"
#include "common/util.h"
#include "store/store_int.h"

static struct metric m_requests = {
    .name = "stated_storage_requests_total",
    .help = "Calls to the object storage, by operation and result (ok, not_found, error).",
    .type = METRIC_COUNTER,
    .labels = {"op", "result"}};
static struct metric m_duration = {.name = "stated_storage_request_duration_seconds",
                                   .help = "Duration of calls to the object storage, in seconds.",
                                   .type = METRIC_HISTOGRAM,
                                   .labels = {"op"},
                                   .buckets = metrics_latency_buckets,
                                   .nbuckets = METRICS_LATENCY_NBUCKETS};

static const char *const OPS[] = {
    "put",  "get",           "head",        "delete",         "list",       "ping",
    "copy", "list_versions", "get_version", "delete_version", "object_lock"};

struct timed {
    struct objstore base;
    struct objstore_ops ops; /* the inner driver's optional calls decide which are set */
    struct objstore *in;
};

static struct objstore *inner(struct objstore *os)
{
    return ((struct timed *)os)->in;
}

/* Counts one call of op that started at t0_us and returned rc with err. */
static int done(const char *op, int64_t t0_us, int rc, const struct err *err)
{
    const char *result = rc == 0 ? "ok" : err->code == ERR_NOT_FOUND ? "not_found" : "error";
    metric_inc_l(&m_requests, op, result);
    metric_observe_l(&m_duration, (double)(mono_us() - t0_us) / 1e6, op);
    return rc;
}

static int t_put(struct objstore *os, const char *key, const void *data, size_t len,
                 const char *meta, struct err *err)
{
    int64_t t0 = mono_us();
    return done("put", t0, inner(os)->ops->put(inner(os), key, data, len, meta, err), err);
}

static int t_get(struct objstore *os, const char *key, struct buf *out, struct obj_info *info,
                 struct err *err)
{
    int64_t t0 = mono_us();
    return done("get", t0, inner(os)->ops->get(inner(os), key, out, info, err), err);
}

static int t_head(struct objstore *os, const char *key, struct obj_info *info, struct err *err)
{
    int64_t t0 = mono_us();
    return done("head", t0, inner(os)->ops->head(inner(os), key, info, err), err);
}

static int t_del(struct objstore *os, const char *key, struct err *err)
{
    int64_t t0 = mono_us();
    return done("delete", t0, inner(os)->ops->del(inner(os), key, err), err);
}

static int t_list(struct objstore *os, const char *prefix,
                  int (*cb)(void *ctx, const struct obj_info *info), void *ctx, struct err *err)
{
    int64_t t0 = mono_us();
    return done("list", t0, inner(os)->ops->list(inner(os), prefix, cb, ctx, err), err);
}

static int t_ping(struct objstore *os, struct err *err)
{
    int64_t t0 = mono_us();
    return done("ping", t0, inner(os)->ops->ping(inner(os), err), err);
}

static void t_free(struct objstore *os)
{
    inner(os)->ops->free(inner(os));
    free(os);
}

static int t_get_shared(struct objstore *os, const char *key, size_t max, struct blob **out,
                        struct obj_info *info, struct err *err)
{
    int64_t t0 = mono_us();
    return done("get", t0, inner(os)->ops->get_shared(inner(os), key, max, out, info, err), err);
}

static int t_put_sha256(struct objstore *os, const char *key, const void *data, size_t len,
                        const char *meta, const char sha256[65], struct err *err)
{
    int64_t t0 = mono_us();
    int rc = inner(os)->ops->put_sha256(inner(os), key, data, len, meta, sha256, err);
    return done("put", t0, rc, err);
}

static int t_copy(struct objstore *os, const char *src, const char *dst, const char *meta,
                  struct err *err)
{
    int64_t t0 = mono_us();
    return done("copy", t0, inner(os)->ops->copy(inner(os), src, dst, meta, err), err);
}

static int t_list_versions(struct objstore *os, const char *prefix,
                           int (*cb)(void *ctx, const struct obj_version *v), void *ctx,
                           struct err *err)
{
    int64_t t0 = mono_us();
    int rc = inner(os)->ops->list_versions(inner(os), prefix, cb, ctx, err);
    return done("list_versions", t0, rc, err);
}

static int t_get_version(struct objstore *os, const char *key, const char *version_id,
                         struct buf *out, struct err *err)
{
    int64_t t0 = mono_us();
    int rc = inner(os)->ops->get_version(inner(os), key, version_id, out, err);
    return done("get_version", t0, rc, err);
}

static int t_del_version(struct objstore *os, const char *key, const char *version_id,
                         struct err *err)
{
    int64_t t0 = mono_us();
    int rc = inner(os)->ops->del_version(inner(os), key, version_id, err);
    return done("delete_version", t0, rc, err);
}

static int t_object_lock(struct objstore *os, bool *enabled, struct err *err)
{
    int64_t t0 = mono_us();
    return done("object_lock", t0, inner(os)->ops->object_lock(inner(os), enabled, err), err);
}

static int t_put_retained(struct objstore *os, const char *key, const void *data, size_t len,
                          int64_t retain_until_us, struct err *err)
{
    int64_t t0 = mono_us();
    int rc = inner(os)->ops->put_retained(inner(os), key, data, len, retain_until_us, err);
    return done("put", t0, rc, err);
}

void store__metrics_register(void)
{
    metrics_register(&m_requests);
    metrics_register(&m_duration);
    /* Every op's error series exists from the start, for alerts on their rate. */
    for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++)
        metric_touch_l(&m_requests, OPS[i], "error");
}

struct objstore *store__timed_new(struct objstore *in)
{
    struct timed *t = xcalloc(1, sizeof(*t));
    const struct objstore_ops *o = in->ops;
    t->in = in;
    t->ops = (struct objstore_ops){.put = t_put,
                                   .get = t_get,
                                   .head = t_head,
                                   .del = t_del,
                                   .list = t_list,
                                   .ping = t_ping,
                                   .free = t_free,
                                   .kind = o->kind,
                                   .get_shared = o->get_shared ? t_get_shared : NULL,
                                   .put_sha256 = o->put_sha256 ? t_put_sha256 : NULL,
                                   .copy = o->copy ? t_copy : NULL,
                                   .list_versions = o->list_versions ? t_list_versions : NULL,
                                   .get_version = o->get_version ? t_get_version : NULL,
                                   .del_version = o->del_version ? t_del_version : NULL,
                                   .object_lock = o->object_lock ? t_object_lock : NULL,
                                   .put_retained = o->put_retained ? t_put_retained : NULL};
    t->base.ops = &t->ops;
    return &t->base;
}
