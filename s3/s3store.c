/* s3/s3store.c: the objstore driver over an S3 bucket (objstore_s3_new in s3.h).
 *
 * Keys live under cfg->prefix + "/" in the bucket. Each object's meta string travels in the
 * x-amz-meta-stated header (base64url, since S3 metadata must be ASCII), so head and get
 * return it without a second request; listings do not carry it (meta "").
 *
 * Atomicity comes from S3 itself: a PUT replaces the object whole and a completed PUT is
 * durable. With bucket versioning on (turned on here at start when the key may), every
 * replaced or deleted object stays recoverable in the bucket too.
 *
 * Reads of shared bytes (get_shared, what a state GET uses) go through a read cache
 * (common/blobcache.h) validated by the object's ETag: a cached object is fetched again with
 * If-None-Match, and S3's 304 means the cached bytes are still the object's, whichever
 * instance wrote last. So a GET always costs one round trip, but the bytes cross the network
 * only when they changed, and any number of slow readers of one state share one copy. */
#include "s3/s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/blobcache.h"
#include "common/log.h"
#include "common/util.h"
#include "s3/s3_int.h"

#define CACHE_ENTRIES   32
#define CACHE_MAX_OBJ   (16u << 20)
#define CACHE_MAX_BYTES (64u << 20)

struct s3store {
    struct objstore base;
    struct s3_client *c;
    char *prefix; /* "" or "p/" (with the slash) */
    struct blobcache *cache;
};

static char *full_key(const struct s3store *s, const char *key)
{
    return xasprintf("%s%s", s->prefix, key);
}

/* S3 (AWS, Scaleway, RGW) refuses keys over 1024 bytes. */
#define S3_KEY_MAX 1024

/* 0 when key can be used; 1 when it is valid for the objstore contract but longer than S3
 * allows once prefixed, so no such object can exist (reads: not found; writes: refused);
 * -1 when it is not a key at all. */
static int check_key(const struct s3store *s, const char *key, struct err *err)
{
    size_t n = strlen(key);
    if (n == 0 || n >= OBJ_KEY_MAX || key[0] == '/')
        return err_set(err, ERR_INTERNAL, "S3: invalid object key (length %zu)", n);
    return strlen(s->prefix) + n > S3_KEY_MAX ? 1 : 0;
}

static int too_long(const struct s3store *s, const char *key, struct err *err)
{
    return err_set(err, ERR_INVALID,
                   "S3 key would be %zu bytes (prefix included); S3 allows %d: use a shorter "
                   "state name or storage prefix",
                   strlen(s->prefix) + strlen(key), S3_KEY_MAX);
}

static void to_info(const char *key, const struct s3__objhead *h, struct obj_info *info)
{
    if (info == NULL)
        return;
    memset(info, 0, sizeof(*info));
    snprintf(info->key, sizeof(info->key), "%s", key);
    info->size = h->size;
    info->mtime_us = h->mtime_us;
    snprintf(info->meta, sizeof(info->meta), "%s", h->meta);
}

/* The full key (caller frees) of a write of key, whose cached copy is dropped; NULL with err
 * set when key cannot be written. */
static char *write_key(struct s3store *s, const char *key, struct err *err)
{
    int ck = check_key(s, key, err);
    if (ck != 0) {
        if (ck > 0)
            too_long(s, key, err);
        return NULL;
    }
    blobcache_drop(s->cache, key);
    return full_key(s, key);
}

static int s3s_put(struct objstore *os, const char *key, const void *data, size_t len,
                   const char *meta, struct err *err)
{
    struct s3store *s = (struct s3store *)os;
    char *k = write_key(s, key, err);
    if (k == NULL)
        return -1;
    int rc = s3__put_object(s->c, k, data, len, meta, err);
    free(k);
    return rc;
}

static int s3s_put_retained(struct objstore *os, const char *key, const void *data, size_t len,
                            int64_t retain_until_us, struct err *err)
{
    struct s3store *s = (struct s3store *)os;
    char *k = write_key(s, key, err);
    if (k == NULL)
        return -1;
    int rc = s3__put_object_retained(s->c, k, data, len, retain_until_us, err);
    free(k);
    return rc;
}

static int s3s_object_lock(struct objstore *os, bool *enabled, struct err *err)
{
    return s3__get_object_lock(((struct s3store *)os)->c, enabled, err);
}

static int s3s_put_sha256(struct objstore *os, const char *key, const void *data, size_t len,
                          const char *meta, const char sha256[65], struct err *err)
{
    struct s3store *s = (struct s3store *)os;
    char *k = write_key(s, key, err);
    if (k == NULL)
        return -1;
    int rc = s3__put_object_sha256(s->c, k, data, len, meta, sha256, err);
    free(k);
    return rc;
}

/* CopyObject: the current object of a write is a copy of its snapshot, made by the storage,
 * so the state's bytes cross the network once. */
static int s3s_copy(struct objstore *os, const char *src, const char *dst, const char *meta,
                    struct err *err)
{
    struct s3store *s = (struct s3store *)os;
    int ck = check_key(s, dst, err);
    if (ck != 0)
        return ck < 0 ? -1 : too_long(s, dst, err);
    ck = check_key(s, src, err);
    if (ck != 0)
        return ck < 0 ? -1 : err_set(err, ERR_NOT_FOUND, "S3 object %s not found", src);
    char *ks = full_key(s, src), *kd = full_key(s, dst);
    blobcache_drop(s->cache, dst);
    int rc = s3__copy_object(s->c, ks, kd, meta, err);
    free(kd);
    free(ks);
    return rc;
}

static int s3s_get(struct objstore *os, const char *key, struct buf *out, struct obj_info *info,
                   struct err *err)
{
    struct s3store *s = (struct s3store *)os;
    int ck = check_key(s, key, err);
    if (ck != 0)
        return ck < 0 ? -1 : err_set(err, ERR_NOT_FOUND, "S3 object %s not found", key);
    char *k = full_key(s, key);
    struct s3__objhead *h = xmalloc(sizeof(*h));
    int rc = s3__get_object(s->c, k, NULL, out, h, err);
    if (rc == 0)
        to_info(key, h, info);
    free(h);
    free(k);
    return rc;
}

static int s3s_head(struct objstore *os, const char *key, struct obj_info *info, struct err *err)
{
    struct s3store *s = (struct s3store *)os;
    int ck = check_key(s, key, err);
    if (ck != 0)
        return ck < 0 ? -1 : err_set(err, ERR_NOT_FOUND, "S3 object %s not found", key);
    char *k = full_key(s, key);
    struct s3__objhead *h = xmalloc(sizeof(*h));
    int rc = s3__head_object(s->c, k, h, err);
    if (rc == 0)
        to_info(key, h, info);
    free(h);
    free(k);
    return rc;
}

static int s3s_del(struct objstore *os, const char *key, struct err *err)
{
    struct s3store *s = (struct s3store *)os;
    int ck = check_key(s, key, err);
    if (ck != 0)
        return ck < 0 ? -1 : 0; /* cannot exist: already deleted */
    char *k = full_key(s, key);
    blobcache_drop(s->cache, key);
    int rc = s3__delete_object(s->c, k, err);
    free(k);
    return rc;
}

/* A fetch for get_shared: conditional on the cached ETag when there is one. 1 when S3 said the
 * cached bytes are current and they are still cached (*out set), 0 when the object was
 * fetched (*out set, and cached), -1 on error. */
static int fetch_shared(struct s3store *s, const char *key, const char *k, bool conditional,
                        size_t max, struct blob **out, struct obj_info *info, struct err *err)
{
    char etag[S3_ETAG_MAX] = "";
    if (conditional && !blobcache_validator(s->cache, key, etag, sizeof(etag)))
        conditional = false;
    struct buf b;
    buf_init(&b, max);
    struct s3__objhead *h = xmalloc(sizeof(*h));
    int rc = s3__get_object_if(s->c, k, NULL, conditional ? etag : NULL, &b, h, err);
    if (rc == 0 && h->not_modified) {
        char meta[OBJ_META_MAX];
        *out = blobcache_get(s->cache, key, etag, meta, sizeof(meta));
        rc = *out != NULL ? 1 : 0;
        if (*out != NULL && info != NULL) {
            to_info(key, h, info);
            info->size = (*out)->len;
            snprintf(info->meta, sizeof(info->meta), "%s", meta);
        }
        if (*out == NULL)
            rc = 2; /* evicted meanwhile: fetch whole */
    } else if (rc == 0) {
        struct blob *bl = blob_from_buf(&b);
        *out =
            h->etag[0] != '\0' ? blobcache_put(s->cache, key, h->etag, bl, h->meta) : blob_ref(bl);
        blob_unref(bl);
        to_info(key, h, info);
    }
    buf_cleanup(&b);
    free(h);
    return rc;
}

static int s3s_get_shared(struct objstore *os, const char *key, size_t max, struct blob **out,
                          struct obj_info *info, struct err *err)
{
    struct s3store *s = (struct s3store *)os;
    *out = NULL;
    int ck = check_key(s, key, err);
    if (ck != 0)
        return ck < 0 ? -1 : err_set(err, ERR_NOT_FOUND, "S3 object %s not found", key);
    char *k = full_key(s, key);
    /* Nothing cached yet: claim the key, so that readers who come together fetch it once and
     * then each confirm the cached copy with a conditional GET. */
    char etag[S3_ETAG_MAX];
    while (!blobcache_validator(s->cache, key, etag, sizeof(etag)) &&
           !blobcache_claim(s->cache, key))
        ;
    int rc = fetch_shared(s, key, k, true, max, out, info, err);
    if (rc == 2)
        rc = fetch_shared(s, key, k, false, max, out, info, err);
    blobcache_release(s->cache, key); /* unless the fetch's put did */
    if (rc != 0 && err->code == ERR_NOT_FOUND)
        blobcache_drop(s->cache, key);
    free(k);
    return rc < 0 ? -1 : 0;
}

struct walk {
    size_t strip;
    int (*cb)(void *ctx, const struct obj_info *info);
    void *ctx;
    struct obj_info info;
};

static int on_item(void *arg, const struct s3__list_item *it)
{
    struct walk *w = arg;
    size_t n = strlen(it->key);
    if (n <= w->strip)
        return 0; /* the prefix itself (a "directory" object someone made): not ours */
    memset(&w->info, 0, sizeof(w->info));
    memcpy(w->info.key, it->key + w->strip, n - w->strip + 1);
    w->info.size = it->size;
    w->info.mtime_us = it->mtime_us;
    return w->cb(w->ctx, &w->info);
}

static int s3s_list(struct objstore *os, const char *prefix,
                    int (*cb)(void *ctx, const struct obj_info *info), void *ctx, struct err *err)
{
    struct s3store *s = (struct s3store *)os;
    char *p = full_key(s, prefix != NULL ? prefix : "");
    struct walk *w = xmalloc(sizeof(*w));
    w->strip = strlen(s->prefix);
    w->cb = cb;
    w->ctx = ctx;
    /* S3 lists keys in ascending UTF-8 byte order, which is the contract's order. */
    int rc = s3__list_objects(s->c, p, 0, 0, on_item, w, err);
    free(w);
    free(p);
    return rc;
}

struct version_walk {
    size_t strip;
    int (*cb)(void *ctx, const struct obj_version *v);
    void *ctx;
    struct obj_version v;
};

static int on_version(void *arg, const struct s3__list_item *it)
{
    struct version_walk *w = arg;
    size_t n = strlen(it->key);
    if (n <= w->strip)
        return 0;
    memset(&w->v, 0, sizeof(w->v));
    memcpy(w->v.key, it->key + w->strip, n - w->strip + 1);
    snprintf(w->v.version_id, sizeof(w->v.version_id), "%s", it->version_id);
    w->v.size = it->size;
    w->v.mtime_us = it->mtime_us;
    w->v.is_latest = it->is_latest;
    w->v.is_delete_marker = it->is_delete_marker;
    return w->cb(w->ctx, &w->v);
}

static int s3s_list_versions(struct objstore *os, const char *prefix,
                             int (*cb)(void *ctx, const struct obj_version *v), void *ctx,
                             struct err *err)
{
    struct s3store *s = (struct s3store *)os;
    char *p = full_key(s, prefix != NULL ? prefix : "");
    struct version_walk *w = xmalloc(sizeof(*w));
    w->strip = strlen(s->prefix);
    w->cb = cb;
    w->ctx = ctx;
    int rc = s3__list_versions(s->c, p, on_version, w, err);
    free(w);
    free(p);
    return rc;
}

static int s3s_get_version(struct objstore *os, const char *key, const char *version_id,
                           struct buf *out, struct err *err)
{
    struct s3store *s = (struct s3store *)os;
    int ck = check_key(s, key, err);
    if (ck != 0)
        return ck < 0 ? -1 : err_set(err, ERR_NOT_FOUND, "S3 object %s not found", key);
    char *k = full_key(s, key);
    int rc = s3__get_object(s->c, k, version_id, out, NULL, err);
    free(k);
    return rc;
}

static int s3s_del_version(struct objstore *os, const char *key, const char *version_id,
                           struct err *err)
{
    struct s3store *s = (struct s3store *)os;
    int ck = check_key(s, key, err);
    if (ck != 0)
        return ck < 0 ? -1 : 0;
    char *k = full_key(s, key);
    blobcache_drop(s->cache, key);
    int rc = s3__delete_version(s->c, k, version_id, err);
    free(k);
    return rc;
}

static int count_one(void *ctx, const struct s3__list_item *it)
{
    (void)it;
    (*(int *)ctx)++;
    return 0;
}

static int s3s_ping(struct objstore *os, struct err *err)
{
    struct s3store *s = (struct s3store *)os;
    int n = 0;
    return s3__list_objects(s->c, s->prefix, 1, 1, count_one, &n, err);
}

static void s3s_free(struct objstore *os)
{
    struct s3store *s = (struct s3store *)os;
    if (s == NULL)
        return;
    s3__client_free(s->c);
    blobcache_free(s->cache);
    free(s->prefix);
    free(s);
}

static const struct objstore_ops s3_ops = {
    .put = s3s_put,
    .get = s3s_get,
    .head = s3s_head,
    .del = s3s_del,
    .list = s3s_list,
    .ping = s3s_ping,
    .free = s3s_free,
    .kind = "s3",
    .put_sha256 = s3s_put_sha256,
    .copy = s3s_copy,
    .get_shared = s3s_get_shared,
    .list_versions = s3s_list_versions,
    .get_version = s3s_get_version,
    .del_version = s3s_del_version,
    .object_lock = s3s_object_lock,
    .put_retained = s3s_put_retained,
};

/* Versioning keeps every overwritten or deleted object recoverable in the bucket. Turning it
 * on needs s3:PutBucketVersioning, which a least-privilege key may lack: then we say so and
 * go on (the snapshots stated writes are the history either way). */
static void ensure_versioning(struct s3store *s, const char *bucket)
{
    char status[16] = "";
    struct err e = {0};
    if (s3__get_versioning(s->c, status, &e) != 0) {
        log_warn("S3 bucket %s: cannot read the versioning status (%s); continuing", bucket, e.msg);
        return;
    }
    if (strcmp(status, "Enabled") == 0) {
        log_debug("S3 bucket %s: versioning is enabled", bucket);
        return;
    }
    err_clear(&e);
    if (s3__put_versioning(s->c, true, &e) != 0) {
        log_warn("S3 bucket %s: versioning is %s and could not be turned on (%s); continuing",
                 bucket, status[0] != '\0' ? status : "off", e.msg);
        return;
    }
    log_info("S3 bucket %s: versioning turned on", bucket);
}

struct objstore *objstore_s3_new(const struct s3_config *cfg, struct err *err)
{
    const char *pfx = cfg->prefix != NULL ? cfg->prefix : "";
    size_t pl = strlen(pfx);
    if (pl > 0 && (pfx[0] == '/' || pfx[pl - 1] == '/' || pl > 512)) {
        err_set(err, ERR_INVALID, "S3 prefix %s: no leading or trailing '/', at most 512 bytes",
                pfx);
        return NULL;
    }
    struct s3_client *c = s3__client_new(cfg, err);
    if (c == NULL)
        return NULL;
    struct s3store *s = xcalloc(1, sizeof(*s));
    s->base.ops = &s3_ops;
    s->c = c;
    s->prefix = pl > 0 ? xasprintf("%s/", pfx) : xstrdup("");
    s->cache = blobcache_new(CACHE_ENTRIES, CACHE_MAX_BYTES, CACHE_MAX_OBJ);
    /* One cheap signed request proves the endpoint, the bucket and the credentials: a wrong
     * secret key fails here (SignatureDoesNotMatch) instead of on the first state write. */
    struct err e = {0};
    if (s3s_ping(&s->base, &e) != 0) {
        err_set(err, e.code == ERR_NOT_FOUND ? ERR_UNAVAILABLE : e.code,
                "S3 storage s3://%s/%s at %s unusable: %s", cfg->bucket, pfx, cfg->endpoint, e.msg);
        s3s_free(&s->base);
        return NULL;
    }
    if (!cfg->read_only)
        ensure_versioning(s, cfg->bucket);
    log_info("S3 storage: bucket %s prefix \"%s\" at %s (region %s)", cfg->bucket, pfx,
             cfg->endpoint, cfg->region != NULL ? cfg->region : "us-east-1");
    return &s->base;
}
