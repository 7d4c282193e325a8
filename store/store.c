/* store/store.c: state semantics over any objstore (current, snapshots, retention, encryption).
 *
 * Layout 2 under the objstore (store_int.h, docs/storage.md):
 *
 *     states/NAME/@current.tfstate
 *     states/NAME/@snapshots/SEQ-SERIAL-SHA12.tfstate
 *
 * e.g. states/prod/network/@snapshots/1795314013123456-42-9f86d081884c.tfstate is serial 42
 * of "prod/network", accepted at 1795314013.123456 s, whose plaintext SHA-256 starts 9f86d0...
 * store_new first opens the layout (store/layout.c), migrating a layout-1 storage.
 *
 * Each object carries its metadata as a compact JSON object (the objstore's meta string):
 *
 *     {"serial":42,"lineage":"…","sha256":"<64 hex>","size":1234,
 *      "time":"2026-11-22T02:20:13.123456Z","writer":"ci/deploy","snapshot":"SEQ-SERIAL-SHA12"}
 *
 * sha256 and size are of the plaintext; a serial above 2^63-1 is a decimal string
 * (common/json.h). Metadata is a cache, never the truth: when an object's meta is missing or
 * untrusted (a crash between the dir driver's data and sidecar renames, an object copied in by
 * hand) it is rebuilt from the snapshot's file name and the content itself.
 *
 * Write order: snapshot, then current, with the writes of one state serialised in the process
 * (a striped mutex), so the newest snapshot is the write that became current. A failed write
 * changes nothing: when the current object cannot be written, what is current is looked up;
 * if it is this write after all (the storage did it but reported a failure) the write
 * succeeded, else its snapshot is deleted again (and, when even that fails, at the next write
 * of the state). A crash between the two steps leaves the old current and an extra snapshot,
 * which the directory driver removes at the next start; current is never torn because every
 * objstore put is atomic. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/statejson.h"
#include "common/utf8.h"
#include "common/util.h"
#include "store/store_int.h"

#define ENC_OVERHEAD 64  /* magic + key id + nonce + tag (46), rounded up */
#define STRIPES      256 /* write mutexes, by state name */
#define ORPHANS_MAX  4096

/* The snapshot of a failed write that could not be deleted at once: deleted at the next write
 * of its state (unless it turned out to be current). */
struct orphan {
    char *name, *key;
    char id[SNAP_ID_MAX];
};

struct store {
    struct objstore *os;
    struct store_config cfg;
    atomic_bool copy_refused; /* the objstore's copy failed for a reason other than outage */
    pthread_mutex_t stripe[STRIPES];
    pthread_mutex_t orphan_mu;
    struct orphan *orphans;
    size_t norphans;
};

/* SEQ is strictly increasing within the process so two writes in the same microsecond (or a
 * clock step backwards) still list in write order. */
static pthread_mutex_t seq_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t seq_last;

/* The next SEQ, also above floor: a state's new snapshot always sorts after the one that is
 * current, even when the clock went back since that was written (only this write is moved:
 * one state's odd SEQ does not shift the others'). */
static int64_t next_seq(int64_t floor)
{
    int64_t now = now_us();
    pthread_mutex_lock(&seq_mu);
    if (now <= seq_last)
        now = seq_last + 1;
    seq_last = now;
    pthread_mutex_unlock(&seq_mu);
    return now > floor ? now : floor + 1;
}

static void sweep_newer_snapshots(struct store *st);

static struct metric m_writes = {.name = "stated_state_writes_total",
                                 .help =
                                     "State versions written (identical re-writes not counted).",
                                 .type = METRIC_COUNTER};
static struct metric m_write_bytes = {.name = "stated_state_write_bytes_total",
                                      .help = "Bytes of the state versions written.",
                                      .type = METRIC_COUNTER};
static struct metric m_pruned = {
    .name = "stated_snapshots_pruned_total",
    .help = "Snapshots deleted by retention (--retain-snapshots, --retain-days).",
    .type = METRIC_COUNTER};

static void register_metrics(void)
{
    metrics_register(&m_writes);
    metrics_register(&m_write_bytes);
    metrics_register(&m_pruned);
    store__metrics_register();
}

struct store *store_new(struct objstore *os, const struct store_config *cfg, struct err *err)
{
    if (!os) {
        err_set(err, ERR_INTERNAL, "store_new: no object store");
        return NULL;
    }
    register_metrics();
    os = store__timed_new(os);
    if (store__layout_open(os, cfg != NULL && cfg->read_only, err) != 0) {
        os->ops->free(os);
        return NULL;
    }
    struct store *st = xcalloc(1, sizeof(*st));
    st->os = os;
    if (cfg)
        st->cfg = *cfg;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&st->stripe[i], NULL);
    pthread_mutex_init(&st->orphan_mu, NULL);
    /* One stated owns a data dir, so what its last run left half-done can be cleaned now; a
     * reader owns nothing. */
    if (strcmp(os->ops->kind, "dir") == 0 && !st->cfg.read_only)
        sweep_newer_snapshots(st);
    return st;
}

void store_free(struct store *st)
{
    if (!st)
        return;
    if (st->os)
        st->os->ops->free(st->os);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&st->stripe[i]);
    pthread_mutex_destroy(&st->orphan_mu);
    for (size_t i = 0; i < st->norphans; i++) {
        free(st->orphans[i].name);
        free(st->orphans[i].key);
    }
    free(st->orphans);
    free(st);
}

struct objstore *store_objstore(struct store *st)
{
    return st->os;
}

/* ------------------------------------------------------------------ names and keys */

static int name_check(const char *name, struct err *err)
{
    if (!name)
        return err_set(err, ERR_INVALID, "no state name");
    return state_name_check(name, strlen(name), err);
}

static char *key_current(const char *name)
{
    return store__key_current(name, STORE_LAYOUT);
}

/* The SEQ of a snapshot id; 0 when it is not one. */
static int64_t snapshot_seq(const char *id)
{
    int64_t seq = 0;
    if (!store__snapshot_id_parse(id, strlen(id), &seq, NULL, NULL))
        return 0;
    return seq;
}

/* The write mutex of a state (FNV-1a of the name picks the stripe). */
static pthread_mutex_t *stripe_of(struct store *st, const char *name)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return &st->stripe[h % STRIPES];
}

/* ------------------------------------------------------------------ metadata JSON */

/* The strings of a state_meta that come from clients, made UTF-8 and possibly shortened to
 * fit (meta_encode). */
struct meta_text {
    char lineage[129], writer[160], restored_by[160], reason[STORE_REASON_MAX + 1];
};

static char *meta_dump(const struct state_meta *m, const struct meta_text *t)
{
    char when[32];
    time_format_rfc3339(m->time_us, when);
    json_t *o = json_object();
    json_object_set_new(o, "serial", u64_to_json(m->serial));
    json_object_set_new(o, "lineage", json_string(t->lineage));
    json_object_set_new(o, "sha256", json_string(m->sha256));
    json_object_set_new(o, "size", json_integer((json_int_t)m->size));
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "writer", json_string(t->writer));
    json_object_set_new(o, "snapshot", json_string(m->snapshot));
    if (m->md5[0])
        json_object_set_new(o, "md5", json_string(m->md5));
    if (m->restored_from[0]) {
        json_object_set_new(o, "restored_from", json_string(m->restored_from));
        json_object_set_new(o, "restored_by", json_string(t->restored_by));
        json_object_set_new(o, "reason", json_string(t->reason));
    }
    /* ASCII only: S3 carries metadata in HTTP headers. */
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!s)
        die_bug("json_dumps of state metadata failed");
    return s;
}

/* Halves a string at a character boundary; false when it was already empty. */
static bool shorten(char *s)
{
    if (s[0] == '\0')
        return false;
    utf8_sanitize(s, strlen(s) / 2 + 1, s);
    return true;
}

/* jansson refuses strings that are not UTF-8, and a writer name comes from a client's Basic
 * username: bytes that are not UTF-8 become '?'. */
static char *meta_encode(const struct state_meta *m)
{
    struct meta_text t;
    utf8_sanitize(t.lineage, sizeof(t.lineage), m->lineage);
    utf8_sanitize(t.writer, sizeof(t.writer), m->writer);
    utf8_sanitize(t.restored_by, sizeof(t.restored_by), m->restored_by);
    utf8_sanitize(t.reason, sizeof(t.reason), m->reason);
    char *s = meta_dump(m, &t);
    /* Non-ASCII text is escaped six bytes per unit: shorten the names (informational), then
     * the reason (the audit event keeps it whole) until the whole fits the objstore's
     * metadata limit. */
    while (strlen(s) >= OBJ_META_MAX) {
        bool names = shorten(t.writer);
        names = shorten(t.restored_by) || names;
        if (!names && !shorten(t.reason))
            break;
        free(s);
        s = meta_dump(m, &t);
    }
    if (strlen(s) >= OBJ_META_MAX) {
        free(s);
        t.lineage[0] = '\0';
        s = meta_dump(m, &t);
    }
    return s;
}

static bool copy_str(char *dst, size_t cap, json_t *v)
{
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v))
        return false;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return true;
}

/* 0 when s is complete, well-formed metadata; -1 otherwise (the caller rebuilds it). */
static int meta_decode(const char *s, struct state_meta *m)
{
    if (!s || !s[0])
        return -1;
    json_t *o = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    struct state_meta tmp;
    memset(&tmp, 0, sizeof(tmp));
    int rc = -1;
    json_t *serial = json_object_get(o, "serial"), *size = json_object_get(o, "size");
    char t[40];
    if (!u64_from_json(serial, &tmp.serial) || !json_is_integer(size) ||
        json_integer_value(size) < 0)
        goto out;
    tmp.size = (uint64_t)json_integer_value(size);
    if (!copy_str(tmp.lineage, sizeof(tmp.lineage), json_object_get(o, "lineage")) ||
        !copy_str(tmp.sha256, sizeof(tmp.sha256), json_object_get(o, "sha256")) ||
        !copy_str(tmp.writer, sizeof(tmp.writer), json_object_get(o, "writer")) ||
        !copy_str(tmp.snapshot, sizeof(tmp.snapshot), json_object_get(o, "snapshot")) ||
        !copy_str(t, sizeof(t), json_object_get(o, "time")))
        goto out;
    if (strlen(tmp.sha256) != 64 || !store__is_lower_hex(tmp.sha256, 64))
        goto out;
    if (time_parse_rfc3339(t, &tmp.time_us) != 0)
        goto out;
    /* md5 is optional (not recorded before); a malformed one is just not used. */
    if (!copy_str(tmp.md5, sizeof(tmp.md5), json_object_get(o, "md5")) || strlen(tmp.md5) != 24)
        tmp.md5[0] = '\0';
    /* So is the restore marker; kept only whole and naming a snapshot. */
    if (!copy_str(tmp.restored_from, sizeof(tmp.restored_from),
                  json_object_get(o, "restored_from")) ||
        !store__snapshot_id_parse(tmp.restored_from, strlen(tmp.restored_from), NULL, NULL, NULL) ||
        !copy_str(tmp.restored_by, sizeof(tmp.restored_by), json_object_get(o, "restored_by")) ||
        !copy_str(tmp.reason, sizeof(tmp.reason), json_object_get(o, "reason")))
        tmp.restored_from[0] = tmp.restored_by[0] = tmp.reason[0] = '\0';
    *m = tmp;
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* Metadata rebuilt from plaintext content: hash, size, and serial/lineage when the content is
 * a state. time and snapshot come from the caller (file name or object mtime). */
static void meta_from_content(const void *data, size_t len, struct state_meta *m)
{
    sha256_hex(data, len, m->sha256);
    m->size = len;
    struct state_summary sum;
    struct err e = {0};
    if (statejson_scan(data, len, &sum, &e) == 0) {
        m->serial = sum.serial;
        snprintf(m->lineage, sizeof(m->lineage), "%s", sum.lineage);
    }
}

/* The metadata of an object read whole: what was stored with it when it decodes, else rebuilt
 * from the bytes (time: the object's mtime). */
static void meta_of_read(const struct obj_info *info, const void *data, size_t len,
                         struct state_meta *m)
{
    memset(m, 0, sizeof(*m));
    if (meta_decode(info->meta, m) == 0)
        return;
    memset(m, 0, sizeof(*m));
    meta_from_content(data, len, m);
    m->time_us = info->mtime_us;
}

/* ------------------------------------------------------------------ object I/O */

static size_t read_limit(const struct store *st)
{
    if (st->cfg.max_state_bytes == 0)
        return 0;
    return (size_t)st->cfg.max_state_bytes + ENC_OVERHEAD;
}

/* Without a keyring, an encrypted object cannot be served: it would reach clients as
 * ciphertext. -1 with ERR_INTERNAL when data is one. */
static int refuse_sealed(const char *key, const void *data, size_t len, struct err *err)
{
    if (len < 10 || memcmp(data, "STATEDENC1", 10) != 0)
        return 0;
    return err_set(err, ERR_INTERNAL,
                   "object %s is encrypted but no encryption key file is configured", key);
}

/* Reads key fully, decrypting when a keyring is configured, and appends the plaintext to out.
 * Objects written before encryption was turned on are still readable. */
static int read_object(struct store *st, const char *key, struct buf *out, struct obj_info *info,
                       struct err *err)
{
    if (!st->cfg.keys && out->len == 0) {
        /* Plaintext into an empty buffer: read straight into it (no second copy of the
         * state), under the same ceiling as below. */
        size_t saved = out->max, lim = read_limit(st);
        if (lim && (saved == 0 || saved > lim))
            out->max = lim;
        int rc = st->os->ops->get(st->os, key, out, info, err);
        out->max = saved;
        if (rc == 0 && (rc = refuse_sealed(key, out->data, out->len, err)) != 0)
            buf_reset(out);
        if (rc != 0 && err->code == ERR_INTERNAL)
            log_error("store: cannot read %s: %s", key, err->msg);
        return rc;
    }
    struct buf raw;
    buf_init(&raw, read_limit(st));
    if (st->os->ops->get(st->os, key, &raw, info, err) != 0) {
        buf_cleanup(&raw);
        return -1;
    }
    int rc;
    if (st->cfg.keys) {
        struct buf plain;
        buf_init(&plain, 0);
        rc = keyring_open(st->cfg.keys, raw.data, raw.len, true, &plain, err);
        if (rc == 0)
            rc = buf_append(out, plain.data, plain.len, err);
        buf_cleanup(&plain);
    } else if ((rc = refuse_sealed(key, raw.data, raw.len, err)) == 0) {
        rc = buf_append(out, raw.data, raw.len, err);
    }
    if (rc != 0 && err->code == ERR_INTERNAL)
        log_error("store: cannot read %s: %s", key, err->msg);
    buf_cleanup(&raw);
    return rc;
}

/* A read-only store (store_config.read_only) changes nothing, whatever asks. */
static int refuse_read_only(const struct store *st, struct err *err)
{
    if (st->cfg.read_only)
        return err_set(err, ERR_INTERNAL, "the storage was opened read-only");
    return 0;
}

static int write_object(struct store *st, const char *key, const void *data, size_t len,
                        const char *meta, struct err *err)
{
    if (!st->cfg.keys)
        return st->os->ops->put(st->os, key, data, len, meta, err);
    struct buf sealed;
    buf_init(&sealed, 0);
    int rc = keyring_seal(st->cfg.keys, data, len, &sealed, err);
    if (rc == 0)
        rc = st->os->ops->put(st->os, key, sealed.data, sealed.len, meta, err);
    buf_cleanup(&sealed);
    return rc;
}

static int put_payload(struct store *st, const char *key, const void *data, size_t len,
                       const char *sha256, const char *meta, struct err *err)
{
    if (sha256 && st->os->ops->put_sha256)
        return st->os->ops->put_sha256(st->os, key, data, len, meta, sha256, err);
    return st->os->ops->put(st->os, key, data, len, meta, err);
}

/* Writes a state's snapshot, then its current object, both with meta. The bytes are sealed
 * once (both objects carry the same ciphertext) and, when the objstore can copy on its side,
 * sent once: current becomes a copy of the snapshot, which is complete and durable before
 * current changes, as the crash rule needs. plain_sha256 is the hex SHA-256 of data. On
 * failure *snapshot_written tells whether the current object was the step that failed. */
static int write_state_pair(struct store *st, const char *snap_key, const char *cur_key,
                            const void *data, size_t len, const char *plain_sha256,
                            const char *meta, bool *snapshot_written, struct err *err)
{
    const void *payload = data;
    size_t plen = len;
    const char *payload_sha = plain_sha256;
    char sealed_sha[65];
    struct buf sealed;
    buf_init(&sealed, 0);
    int rc = -1;
    *snapshot_written = false;
    if (st->cfg.keys) {
        if (keyring_seal(st->cfg.keys, data, len, &sealed, err) != 0)
            goto out;
        payload = sealed.data;
        plen = sealed.len;
        payload_sha = NULL;
        if (st->os->ops->put_sha256) {
            sha256_hex(payload, plen, sealed_sha);
            payload_sha = sealed_sha;
        }
    }
    if (put_payload(st, snap_key, payload, plen, payload_sha, meta, err) != 0)
        goto out;
    *snapshot_written = true;
    if (st->os->ops->copy && !atomic_load(&st->copy_refused)) {
        struct err ce = {0};
        if (st->os->ops->copy(st->os, snap_key, cur_key, meta, &ce) == 0) {
            rc = 0;
            goto out;
        }
        if (ce.code == ERR_UNAVAILABLE) {
            /* Storage down or overloaded: an upload would fare no better. */
            err_set(err, ce.code, "%s", ce.msg);
            goto out;
        }
        /* A store without server-side copy (or a key without the right to it): upload
         * instead, from now on. */
        if (ce.code != ERR_NOT_FOUND)
            atomic_store(&st->copy_refused, true);
        log_warn("store: server-side copy refused (%s); writing current objects by upload", ce.msg);
    }
    rc = put_payload(st, cur_key, payload, plen, payload_sha, meta, err);
out:
    buf_cleanup(&sealed);
    return rc;
}

/* Full metadata of an object: its stored meta when trustworthy, else rebuilt by reading it.
 * snap_id (may be NULL) is the snapshot id from the key name, which is authoritative. */
static int object_meta(struct store *st, const char *key, const char *stored_meta,
                       const char *snap_id, struct state_meta *m, struct err *err)
{
    memset(m, 0, sizeof(*m));
    struct obj_info *info = NULL;
    int rc = 0;
    if (meta_decode(stored_meta, m) != 0) {
        /* Listings may omit metadata: ask for it once before reading the object. */
        info = xmalloc(sizeof(*info));
        if (st->os->ops->head(st->os, key, info, err) != 0) {
            rc = -1;
            goto out;
        }
        if (meta_decode(info->meta, m) != 0) {
            struct buf b;
            buf_init(&b, 0);
            memset(m, 0, sizeof(*m));
            rc = read_object(st, key, &b, info, err);
            if (rc == 0) {
                meta_from_content(b.data, b.len, m);
                m->time_us = info->mtime_us;
            }
            buf_cleanup(&b);
            if (rc != 0)
                goto out;
            if (snap_id)
                m->time_us = snapshot_seq(snap_id);
        }
    }
    if (snap_id)
        snprintf(m->snapshot, sizeof(m->snapshot), "%s", snap_id);
out:
    free(info);
    return rc;
}

/* ------------------------------------------------------------------ current state */

int store_get(struct store *st, const char *name, struct buf *out, struct state_meta *meta,
              struct err *err)
{
    if (name_check(name, err) != 0)
        return -1;
    char *key = key_current(name);
    struct obj_info *info = xmalloc(sizeof(*info));
    size_t start = out->len;
    int rc = read_object(st, key, out, info, err);
    if (rc == 0 && meta)
        meta_of_read(info, out->data + start, out->len - start, meta);
    free(info);
    free(key);
    return rc;
}

int store_get_shared(struct store *st, const char *name, struct blob **out, struct state_meta *meta,
                     struct err *err)
{
    *out = NULL;
    if (st->cfg.keys || !st->os->ops->get_shared) {
        struct buf b;
        buf_init(&b, 0);
        if (store_get(st, name, &b, meta, err) != 0) {
            buf_cleanup(&b);
            return -1;
        }
        *out = blob_from_buf(&b);
        return 0;
    }
    if (name_check(name, err) != 0)
        return -1;
    char *key = key_current(name);
    struct obj_info *info = xmalloc(sizeof(*info));
    struct blob *bl = NULL;
    int rc = st->os->ops->get_shared(st->os, key, read_limit(st), &bl, info, err);
    if (rc == 0)
        rc = refuse_sealed(key, bl->data, bl->len, err);
    if (rc != 0 && err->code == ERR_INTERNAL)
        log_error("store: cannot read %s: %s", key, err->msg);
    if (rc == 0 && meta)
        meta_of_read(info, bl->data, bl->len, meta);
    if (rc == 0)
        *out = bl;
    else
        blob_unref(bl);
    free(info);
    free(key);
    return rc;
}

int store_head(struct store *st, const char *name, struct state_meta *meta, struct err *err)
{
    if (name_check(name, err) != 0)
        return -1;
    char *key = key_current(name);
    int rc = object_meta(st, key, NULL, NULL, meta, err);
    free(key);
    return rc;
}

/* ------------------------------------------------------------------ snapshots listing */

struct snap_entry {
    char *key;
    char *meta;
    char id[SNAP_ID_MAX];
};
struct snap_list {
    struct snap_entry *v;
    size_t n, cap;
    const char *name;
    struct skey k; /* scratch */
};

static int collect_snapshot(void *ctx, const struct obj_info *info)
{
    struct snap_list *sl = ctx;
    if (store__key_parse(info->key, STORE_LAYOUT, &sl->k) != SKEY_SNAPSHOT ||
        strcmp(sl->k.name, sl->name) != 0)
        return 0;
    if (sl->n == sl->cap) {
        sl->cap = sl->cap ? sl->cap * 2 : 32;
        sl->v = xrealloc(sl->v, sl->cap * sizeof(*sl->v));
    }
    struct snap_entry *e = &sl->v[sl->n++];
    e->key = xstrdup(info->key);
    e->meta = xstrdup(info->meta);
    memcpy(e->id, sl->k.snapshot, sizeof(e->id));
    return 0;
}

static void snap_list_free(struct snap_list *sl)
{
    for (size_t i = 0; i < sl->n; i++) {
        free(sl->v[i].key);
        free(sl->v[i].meta);
    }
    free(sl->v);
}

/* Snapshots of name in ascending (oldest first) order. */
static int snapshots_collect(struct store *st, const char *name, struct snap_list *sl,
                             struct err *err)
{
    char *dir = store__key_snapdir(name, STORE_LAYOUT);
    memset(sl, 0, sizeof(*sl));
    sl->name = name;
    int rc = st->os->ops->list(st->os, dir, collect_snapshot, sl, err);
    if (rc != 0 && err->code == ERR_OK)
        err_set(err, ERR_INTERNAL, "snapshot listing stopped");
    free(dir);
    return rc == 0 ? 0 : -1;
}

static void apply_retention(struct store *st, const char *name)
{
    if (st->cfg.retain_snapshots == 0 && st->cfg.retain_days == 0)
        return;
    struct snap_list sl;
    struct err e = {0};
    if (snapshots_collect(st, name, &sl, &e) != 0) {
        log_warn("retention: cannot list snapshots of %s: %s", name, e.msg);
        goto out;
    }
    int64_t cutoff = st->cfg.retain_days
                         ? now_us() - (int64_t)st->cfg.retain_days * 86400LL * 1000000LL
                         : INT64_MIN;
    /* Oldest first; the last one is the newest and is never pruned. */
    for (size_t i = 0; i + 1 < sl.n; i++) {
        bool drop = false;
        if (st->cfg.retain_snapshots && sl.n > st->cfg.retain_snapshots &&
            i < sl.n - st->cfg.retain_snapshots)
            drop = true;
        if (st->cfg.retain_days && snapshot_seq(sl.v[i].id) < cutoff)
            drop = true;
        if (!drop)
            continue;
        struct err de = {0};
        if (st->os->ops->del(st->os, sl.v[i].key, &de) != 0)
            log_warn("retention: cannot delete snapshot %s of %s: %s", sl.v[i].id, name, de.msg);
        else {
            log_debug("retention: deleted snapshot %s of %s", sl.v[i].id, name);
            metric_inc(&m_pruned);
        }
    }
out:
    snap_list_free(&sl);
}

int store_list_snapshots(struct store *st, const char *name,
                         int (*cb)(void *ctx, const struct state_meta *meta), void *ctx,
                         struct err *err)
{
    if (name_check(name, err) != 0)
        return -1;
    struct snap_list sl;
    int rc = snapshots_collect(st, name, &sl, err);
    struct state_meta m;
    for (size_t i = sl.n; rc == 0 && i-- > 0;) {
        struct err e2 = {0};
        if (object_meta(st, sl.v[i].key, sl.v[i].meta, sl.v[i].id, &m, &e2) != 0) {
            if (e2.code == ERR_NOT_FOUND)
                continue; /* pruned since the listing */
            rc = err_set(err, e2.code, "%s", e2.msg);
            break;
        }
        rc = cb(ctx, &m);
    }
    snap_list_free(&sl);
    return rc;
}

/* ------------------------------------------------------------------ version references */

#define REF_PREFIX_MIN       6
#define REF_CANDIDATES_SHOWN 8

/* Parses the decimal N of "latest~N" or "serial:N": digits only, no sign, fits 64 bits. */
static bool parse_ref_number(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    uint64_t v = 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* The ambiguous-prefix error: the candidates, newest first, so the caller can pick one. */
static int ambiguous_ref(const struct snap_list *sl, const char *ref, size_t matches,
                         struct err *err)
{
    struct buf msg;
    buf_init(&msg, 0);
    size_t shown = 0, n = strlen(ref);
    for (size_t i = sl->n; i-- > 0 && shown < REF_CANDIDATES_SHOWN;) {
        if (strncmp(sl->v[i].id, ref, n) == 0) {
            buf_printf(&msg, NULL, "%s%s", shown ? ", " : "", sl->v[i].id);
            shown++;
        }
    }
    if (matches > shown)
        buf_printf(&msg, NULL, " and %zu more", matches - shown);
    err_set(err, ERR_INVALID, "version reference '%s' is ambiguous: it matches %s", ref,
            msg.data != NULL ? msg.data : "");
    buf_cleanup(&msg);
    return -1;
}

/* Index in sl (oldest first) of the version ref names, or -1 with err set. */
static ssize_t find_ref(const struct snap_list *sl, const char *ref, struct err *err)
{
    uint64_t n;
    if (strcmp(ref, "latest") == 0 || strncmp(ref, "latest~", 7) == 0) {
        if (ref[6] == '\0')
            n = 0;
        else if (!parse_ref_number(ref + 7, &n))
            return err_set(err, ERR_INVALID, "version reference '%s': latest~N needs a number",
                           ref);
        if (n >= sl->n)
            return err_set(err, ERR_NOT_FOUND, "there are only %zu versions: no %s", sl->n, ref);
        return (ssize_t)(sl->n - 1 - n);
    }
    if (strncmp(ref, "serial:", 7) == 0) {
        if (!parse_ref_number(ref + 7, &n))
            return err_set(err, ERR_INVALID, "version reference '%s': serial:N needs a number",
                           ref);
        for (size_t i = sl->n; i-- > 0;) {
            uint64_t serial;
            if (store__snapshot_id_parse(sl->v[i].id, strlen(sl->v[i].id), NULL, &serial, NULL) &&
                serial == n)
                return (ssize_t)i;
        }
        return err_set(err, ERR_NOT_FOUND, "no version with serial %" PRIu64, n);
    }
    size_t len = strlen(ref), sl_len = strlen(SNAP_SUFFIX);
    if (len > sl_len && strcmp(ref + len - sl_len, SNAP_SUFFIX) == 0)
        len -= sl_len;
    if (len < REF_PREFIX_MIN || len >= SNAP_ID_MAX)
        return err_set(err, ERR_INVALID,
                       "version reference '%s': use a snapshot ID (or a prefix of at least %d "
                       "characters), latest, latest~N or serial:N",
                       ref, REF_PREFIX_MIN);
    ssize_t found = -1;
    size_t matches = 0;
    for (size_t i = 0; i < sl->n; i++) {
        if (strncmp(sl->v[i].id, ref, len) != 0)
            continue;
        if (sl->v[i].id[len] == '\0')
            return (ssize_t)i; /* the full ID, even if it is also another's prefix */
        found = (ssize_t)i;
        matches++;
    }
    if (matches > 1) {
        char pfx[SNAP_ID_MAX];
        memcpy(pfx, ref, len);
        pfx[len] = '\0';
        return ambiguous_ref(sl, pfx, matches, err);
    }
    if (found < 0)
        return err_set(err, ERR_NOT_FOUND, "no version matches '%s'", ref);
    return found;
}

int store_resolve_ref(struct store *st, const char *name, const char *ref, char id[64],
                      struct err *err)
{
    if (name_check(name, err) != 0)
        return -1;
    if (ref == NULL || ref[0] == '\0')
        return err_set(err, ERR_INVALID, "a version reference is needed");
    struct snap_list sl;
    if (snapshots_collect(st, name, &sl, err) != 0)
        return -1;
    ssize_t i = find_ref(&sl, ref, err);
    if (i >= 0)
        snprintf(id, SNAP_ID_MAX, "%s", sl.v[i].id);
    snap_list_free(&sl);
    return i >= 0 ? 0 : -1;
}

int store_get_snapshot(struct store *st, const char *name, const char *snapshot, struct buf *out,
                       struct state_meta *meta, struct err *err)
{
    if (name_check(name, err) != 0)
        return -1;
    size_t n = snapshot ? strlen(snapshot) : 0;
    size_t sl = strlen(SNAP_SUFFIX);
    if (n > sl && strcmp(snapshot + n - sl, SNAP_SUFFIX) == 0)
        n -= sl;
    if (!snapshot || !store__snapshot_id_parse(snapshot, n, NULL, NULL, NULL))
        return err_set(err, ERR_INVALID, "snapshot id must be SEQ-SERIAL-SHA12");
    char id[SNAP_ID_MAX];
    memcpy(id, snapshot, n);
    id[n] = '\0';
    char *key = store__key_snapshot(name, id, STORE_LAYOUT);
    struct obj_info *info = xmalloc(sizeof(*info));
    size_t start = out->len;
    int rc = read_object(st, key, out, info, err);
    if (rc == 0 && meta) {
        meta_of_read(info, out->data + start, out->len - start, meta);
        if (meta->snapshot[0] == '\0') /* rebuilt: the time is the snapshot's, by its id */
            meta->time_us = snapshot_seq(id);
        snprintf(meta->snapshot, sizeof(meta->snapshot), "%s", id);
    }
    free(info);
    free(key);
    return rc;
}

int store_head_snapshot(struct store *st, const char *name, const char *id, struct state_meta *meta,
                        struct err *err)
{
    if (name_check(name, err) != 0)
        return -1;
    if (!id || !store__snapshot_id_parse(id, strlen(id), NULL, NULL, NULL))
        return err_set(err, ERR_INVALID, "snapshot id must be SEQ-SERIAL-SHA12");
    char *key = store__key_snapshot(name, id, STORE_LAYOUT);
    int rc = object_meta(st, key, NULL, id, meta, err);
    free(key);
    return rc;
}

/* ------------------------------------------------------------------ writes */

/* Remembers the snapshot of a failed write that could not be deleted (the caller logged its
 * key; past ORPHANS_MAX that log line is all that is left of it). */
static void orphan_add(struct store *st, const char *name, const char *key, const char *id)
{
    pthread_mutex_lock(&st->orphan_mu);
    if (st->norphans < ORPHANS_MAX) {
        if (st->norphans % 64 == 0)
            st->orphans = xrealloc(st->orphans, (st->norphans + 64) * sizeof(*st->orphans));
        struct orphan *o = &st->orphans[st->norphans++];
        o->name = xstrdup(name);
        o->key = xstrdup(key);
        snprintf(o->id, sizeof(o->id), "%s", id);
    }
    pthread_mutex_unlock(&st->orphan_mu);
}

/* Deletes key, snapshot id of a write of name that failed, with a few brief retries; an outage
 * is not retried here (the driver did already). When it stays, it is logged with its key and
 * left for the next write of name. */
static void orphan_delete(struct store *st, const char *name, const char *key, const char *id,
                          int attempts)
{
    struct err e = {0};
    for (int i = 0; i < attempts; i++) {
        err_clear(&e);
        if (st->os->ops->del(st->os, key, &e) == 0)
            return;
        if (e.code == ERR_UNAVAILABLE)
            break;
        struct timespec ts = {0, (long)(i + 1) * 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    log_error("store: cannot delete %s, the snapshot of a failed write of %s (%s); the next write "
              "of %s retries",
              key, name, e.msg, name);
    orphan_add(st, name, key, id);
}

/* At a write of name (its stripe held), with cur_id the current snapshot ("" when none): the
 * snapshots of earlier failed writes of name that are still there are deleted now, except one
 * that turned out to be current after all. */
static void orphans_retry(struct store *st, const char *name, const char *cur_id)
{
    struct orphan *mine = NULL;
    size_t n = 0;
    pthread_mutex_lock(&st->orphan_mu);
    for (size_t i = 0; i < st->norphans;) {
        if (strcmp(st->orphans[i].name, name) != 0) {
            i++;
            continue;
        }
        mine = xrealloc(mine, (n + 1) * sizeof(*mine));
        mine[n++] = st->orphans[i];
        st->orphans[i] = st->orphans[--st->norphans];
    }
    pthread_mutex_unlock(&st->orphan_mu);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(mine[i].id, cur_id) == 0)
            log_warn("store: snapshot %s of %s, whose write was answered with an error, is "
                     "current: kept",
                     mine[i].id, name);
        else
            orphan_delete(st, name, mine[i].key, mine[i].id, 1);
        free(mine[i].name);
        free(mine[i].key);
    }
    free(mine);
}

/* True when cur (just read back) is the write m: its snapshot, or, when the current object's
 * metadata was lost with the failure, its bytes. Another write of the same bytes would have
 * been a no-op: the writes of a state are serialised. */
static bool is_this_write(const struct state_meta *cur, const struct state_meta *m)
{
    if (strcmp(cur->sha256, m->sha256) != 0 || cur->size != m->size)
        return false;
    return cur->snapshot[0] == '\0' || strcmp(cur->snapshot, m->snapshot) == 0;
}

/* The current object of write m could not be written (err says why). The storage may have
 * done it anyway (a lost S3 answer, a failed directory fsync after the rename): what is
 * current decides. 0 when it is this write (the write succeeded); else the write's snapshot
 * is removed again and -1 returned, so the error changed nothing. When current cannot even be
 * read, the snapshot is kept for the next write of name to decide. */
static int settle_failed_current(struct store *st, const char *name, const char *cur_key,
                                 const char *snap_key, const struct state_meta *m, struct err *err)
{
    struct state_meta now;
    struct err he = {0};
    int rc = object_meta(st, cur_key, NULL, NULL, &now, &he);
    if (rc == 0 && is_this_write(&now, m)) {
        log_warn("store: writing the current object of %s failed (%s), yet it is this write "
                 "(snapshot %s): answered as written",
                 name, err->msg, m->snapshot);
        err_clear(err);
        return 0;
    }
    if (rc != 0 && he.code != ERR_NOT_FOUND) {
        log_error("store: writing the current object of %s failed (%s) and it cannot be read "
                  "back (%s); snapshot %s is kept until the next write of %s tells",
                  name, err->msg, he.msg, snap_key, name);
        orphan_add(st, name, snap_key, m->snapshot);
        return -1;
    }
    orphan_delete(st, name, snap_key, m->snapshot, 3);
    return -1;
}

/* The metadata of a new write of data (its SHA-256 sha), whose snapshot sorts after
 * prev_id. */
static void new_write_meta(const void *data, size_t len, const char *sha,
                           const struct store_write *w, const char *prev_id, struct state_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->serial = w ? w->serial : 0;
    snprintf(m->lineage, sizeof(m->lineage), "%s", w && w->lineage ? w->lineage : "");
    snprintf(m->writer, sizeof(m->writer), "%s", w && w->writer ? w->writer : "");
    memcpy(m->sha256, sha, sizeof(m->sha256));
    m->size = len;
    /* Recorded so a GET can send Content-MD5 without hashing the state each time. */
    if (w && w->md5 && strlen(w->md5) == 24)
        memcpy(m->md5, w->md5, sizeof(m->md5));
    else
        md5_base64(data, len, m->md5);
    if (w && w->restored_from && w->restored_from[0]) {
        snprintf(m->restored_from, sizeof(m->restored_from), "%s", w->restored_from);
        snprintf(m->restored_by, sizeof(m->restored_by), "%s", m->writer);
        snprintf(m->reason, sizeof(m->reason), "%s", w->reason ? w->reason : "");
    }
    m->time_us = next_seq(snapshot_seq(prev_id));
    snprintf(m->snapshot, sizeof(m->snapshot), "%016" PRId64 "-%" PRIu64 "-%.12s", m->time_us,
             m->serial, sha);
}

/* store_put with name's stripe held. */
static int put_locked(struct store *st, const char *name, const void *data, size_t len,
                      const char *sha, const struct store_write *w, struct state_meta *out,
                      bool *unchanged, struct err *err)
{
    char *cur_key = key_current(name);
    char *json = NULL, *snap_key = NULL;
    int rc = -1;
    struct state_meta cur, m;
    struct err he = {0};
    if (object_meta(st, cur_key, NULL, NULL, &cur, &he) != 0) {
        if (he.code != ERR_NOT_FOUND) {
            err_set(err, he.code, "%s", he.msg);
            goto done;
        }
        memset(&cur, 0, sizeof(cur));
    }
    orphans_retry(st, name, cur.snapshot);
    /* Identical re-POST (a client retrying after a lost response): nothing to write. */
    if (cur.size == len && strcmp(cur.sha256, sha) == 0) {
        *unchanged = true;
        m = cur;
        rc = 0;
        goto done;
    }
    new_write_meta(data, len, sha, w, cur.snapshot, &m);
    json = meta_encode(&m);
    snap_key = store__key_snapshot(name, m.snapshot, STORE_LAYOUT);
    bool snapshot_written;
    rc = write_state_pair(st, snap_key, cur_key, data, len, sha, json, &snapshot_written, err);
    if (rc != 0 && snapshot_written) {
        rc = settle_failed_current(st, name, cur_key, snap_key, &m, err);
    } else if (rc != 0) {
        /* A put reported failed may still have stored the object; in an outage a delete
         * now would wait as long again: the next write of name deletes it. */
        if (err->code == ERR_UNAVAILABLE) {
            log_warn("store: snapshot %s of a failed write of %s may have been stored; the next "
                     "write of %s deletes it",
                     snap_key, name, name);
            orphan_add(st, name, snap_key, m.snapshot);
        } else {
            orphan_delete(st, name, snap_key, m.snapshot, 3);
        }
    }
done:
    if (rc == 0 && out)
        *out = m;
    free(snap_key);
    free(json);
    free(cur_key);
    return rc;
}

int store_put(struct store *st, const char *name, const void *data, size_t len,
              const struct store_write *w, struct state_meta *out, bool *unchanged, struct err *err)
{
    if (refuse_read_only(st, err) != 0)
        return -1;
    bool same = false;
    if (unchanged)
        *unchanged = false;
    if (name_check(name, err) != 0)
        return -1;
    if (st->cfg.max_state_bytes && len > st->cfg.max_state_bytes)
        return err_set(err, ERR_TOO_LARGE, "state is %zu bytes, limit %" PRIu64, len,
                       st->cfg.max_state_bytes);
    char sha[65];
    if (w && w->sha256 && strlen(w->sha256) == 64 && store__is_lower_hex(w->sha256, 64))
        memcpy(sha, w->sha256, sizeof(sha));
    else
        sha256_hex(data, len, sha);
    struct state_meta m;
    pthread_mutex_t *mu = stripe_of(st, name);
    pthread_mutex_lock(mu);
    int rc = put_locked(st, name, data, len, sha, w, &m, &same, err);
    pthread_mutex_unlock(mu);
    if (rc != 0)
        return -1;
    if (unchanged)
        *unchanged = same;
    if (out)
        *out = m;
    if (!same) {
        metric_inc(&m_writes);
        metric_add(&m_write_bytes, len);
        apply_retention(st, name);
    }
    return 0;
}

int store_delete(struct store *st, const char *name, struct err *err)
{
    if (refuse_read_only(st, err) != 0)
        return -1;
    if (name_check(name, err) != 0)
        return -1;
    char *key = key_current(name);
    pthread_mutex_t *mu = stripe_of(st, name);
    pthread_mutex_lock(mu);
    int rc = st->os->ops->del(st->os, key, err);
    pthread_mutex_unlock(mu);
    free(key);
    return rc;
}

/* ------------------------------------------------------------------ deleting one version */

struct version_ids {
    const char *key; /* the exact key wanted: a prefix listing may return longer keys */
    bool older_only; /* skip the live version and delete markers */
    char (*ids)[128];
    size_t n;
};

static int collect_version(void *ctx, const struct obj_version *v)
{
    struct version_ids *vi = ctx;
    if (strcmp(v->key, vi->key) != 0 || (vi->older_only && (v->is_latest || v->is_delete_marker)))
        return 0;
    if (vi->n % 16 == 0)
        vi->ids = xrealloc(vi->ids, (vi->n + 16) * sizeof(*vi->ids));
    snprintf(vi->ids[vi->n++], sizeof(vi->ids[0]), "%s", v->version_id);
    return 0;
}

/* Removes key with every stored version and delete marker of it: in a versioned bucket a
 * plain delete would keep the bytes as a noncurrent version. Oldest first, the live version
 * last, so a deletion that fails half-way leaves the object there to be deleted again. A plain
 * delete ends it (a storage without versions, or one that did not list this object). */
static int delete_all_versions(struct store *st, const char *key, unsigned *removed,
                               struct err *err)
{
    const struct objstore_ops *ops = st->os->ops;
    *removed = 0;
    if (ops->list_versions && ops->del_version) {
        struct version_ids vi = {.key = key};
        struct err he = {0};
        int rc = ops->list_versions(st->os, key, collect_version, &vi, err);
        for (size_t i = vi.n; rc == 0 && i-- > 0;)
            if ((rc = ops->del_version(st->os, key, vi.ids[i], err)) == 0)
                (*removed)++;
        free(vi.ids);
        if (rc != 0)
            return -1;
        struct obj_info *info = xmalloc(sizeof(*info));
        if (ops->head(st->os, key, info, &he) != 0 && he.code == ERR_NOT_FOUND) {
            free(info);
            return 0; /* gone, and no delete marker made */
        }
        free(info);
    }
    return ops->del(st->os, key, err);
}

/* The current object was once this version too: in a storage that keeps object versions its
 * older versions hold the bytes of every state that was current, so those whose plaintext has
 * the deleted version's SHA-256 are removed as well (each is read once to compare). */
static int purge_current_copies(struct store *st, const char *cur_key, const char *sha256,
                                unsigned *removed, struct err *err)
{
    const struct objstore_ops *ops = st->os->ops;
    if (!ops->list_versions || !ops->get_version || !ops->del_version)
        return 0;
    struct version_ids vi = {.key = cur_key, .older_only = true};
    int rc = ops->list_versions(st->os, cur_key, collect_version, &vi, err);
    for (size_t i = 0; rc == 0 && i < vi.n; i++) {
        struct buf raw, plain;
        struct err ge = {0};
        char sha[65] = "";
        buf_init(&raw, read_limit(st));
        buf_init(&plain, 0);
        if (ops->get_version(st->os, cur_key, vi.ids[i], &raw, &ge) == 0) {
            if (!st->cfg.keys)
                sha256_hex(raw.data, raw.len, sha);
            else if (keyring_open(st->cfg.keys, raw.data, raw.len, true, &plain, &ge) == 0)
                sha256_hex(plain.data, plain.len, sha);
        }
        if (ge.code == ERR_UNAVAILABLE)
            rc = err_set(err, ge.code, "%s", ge.msg);
        else if (ge.code != ERR_OK && ge.code != ERR_NOT_FOUND)
            log_warn("store: cannot compare version %s of %s with the deleted one (%s): kept",
                     vi.ids[i], cur_key, ge.msg);
        else if (strcmp(sha, sha256) == 0 &&
                 (rc = ops->del_version(st->os, cur_key, vi.ids[i], err)) == 0)
            (*removed)++;
        buf_cleanup(&raw);
        buf_cleanup(&plain);
    }
    free(vi.ids);
    return rc;
}

/* True when the current state cur was written as snapshot id. Rebuilt metadata names no
 * snapshot: then the content's hash decides, so a version whose bytes are current is never
 * deleted. */
static bool is_current_version(const struct state_meta *cur, const char *id)
{
    char sha12[13];
    if (strcmp(cur->snapshot, id) == 0)
        return true;
    return cur->snapshot[0] == '\0' &&
           store__snapshot_id_parse(id, strlen(id), NULL, NULL, sha12) &&
           strncmp(cur->sha256, sha12, 12) == 0;
}

/* store_delete_snapshot with name's stripe held. */
static int delete_snapshot_locked(struct store *st, const char *name, const char *id,
                                  struct state_meta *deleted, unsigned *versions, struct err *err)
{
    char *cur_key = key_current(name), *snap_key = store__key_snapshot(name, id, STORE_LAYOUT);
    struct state_meta cur, m;
    struct err e = {0};
    int rc = -1;
    if (object_meta(st, cur_key, NULL, NULL, &cur, &e) == 0) {
        if (is_current_version(&cur, id)) {
            err_set(err, ERR_INVALID,
                    "version %s is the current state of %s: write or restore another version "
                    "first (or delete the state, which keeps its history)",
                    id, name);
            goto out;
        }
    } else if (e.code != ERR_NOT_FOUND) {
        err_set(err, e.code, "%s", e.msg);
        goto out;
    }
    err_clear(&e);
    if (object_meta(st, snap_key, NULL, id, &m, &e) != 0) {
        if (e.code == ERR_NOT_FOUND)
            err_set(err, ERR_NOT_FOUND, "no version %s of %s", id, name);
        else
            err_set(err, e.code, "%s", e.msg);
        goto out;
    }
    /* The copies under the current key first: until the snapshot itself is gone, running the
     * deletion again (after an outage) finds it and finishes. */
    unsigned copies = 0, all = 0;
    if (purge_current_copies(st, cur_key, m.sha256, &copies, err) != 0 ||
        delete_all_versions(st, snap_key, &all, err) != 0)
        goto out;
    *versions = copies + (all > 0 ? all - 1 : 0);
    if (deleted)
        *deleted = m;
    rc = 0;
out:
    free(snap_key);
    free(cur_key);
    return rc;
}

int store_delete_snapshot(struct store *st, const char *name, const char *id,
                          struct state_meta *deleted, unsigned *versions, struct err *err)
{
    unsigned n = 0;
    if (refuse_read_only(st, err) != 0 || name_check(name, err) != 0)
        return -1;
    if (!id || !store__snapshot_id_parse(id, strlen(id), NULL, NULL, NULL))
        return err_set(err, ERR_INVALID, "snapshot id must be SEQ-SERIAL-SHA12");
    pthread_mutex_t *mu = stripe_of(st, name);
    pthread_mutex_lock(mu);
    int rc = delete_snapshot_locked(st, name, id, deleted, &n, err);
    pthread_mutex_unlock(mu);
    if (versions)
        *versions = n;
    return rc;
}

/* ------------------------------------------------------------------ moving a state */

/* Both sides of a move as found: each name's snapshots (oldest first) and current object. */
struct move_side {
    struct snap_list snaps;
    struct state_meta cur;
    bool has_cur;
};

static int move_side_read(struct store *st, const char *name, struct move_side *s, struct err *err)
{
    struct err e = {0};
    memset(s, 0, sizeof(*s));
    if (snapshots_collect(st, name, &s->snaps, err) != 0)
        return -1;
    char *key = key_current(name);
    int rc = object_meta(st, key, NULL, NULL, &s->cur, &e);
    free(key);
    s->has_cur = rc == 0;
    if (rc != 0 && e.code != ERR_NOT_FOUND)
        return err_set(err, e.code, "%s", e.msg);
    return 0;
}

static bool has_snapshot(const struct snap_list *sl, const char *id)
{
    for (size_t i = 0; i < sl->n; i++)
        if (strcmp(sl->v[i].id, id) == 0)
            return true;
    return false;
}

/* Every snapshot of a is one of b's. */
static bool snaps_within(const struct snap_list *a, const struct snap_list *b)
{
    for (size_t i = 0; i < a->n; i++)
        if (!has_snapshot(b, a->v[i].id))
            return false;
    return true;
}

/* Whether to may receive from: it is empty, or holds only what an interrupted move of from
 * left there. Copies go first and current last, and from's current is deleted before its
 * snapshots, so an interrupted move leaves either to's snapshots within from's (and to's
 * current, if any, from's current), or from without current and its snapshots within to's. */
static bool move_target_ok(const struct move_side *f, const struct move_side *t)
{
    bool same_cur = f->has_cur && t->has_cur && strcmp(f->cur.snapshot, t->cur.snapshot) == 0 &&
                    strcmp(f->cur.sha256, t->cur.sha256) == 0;
    if (snaps_within(&t->snaps, &f->snaps) && (!t->has_cur || same_cur))
        return true;
    return !f->has_cur && t->has_cur && snaps_within(&f->snaps, &t->snaps);
}

/* dst becomes a copy of src's stored bytes and metadata (ciphertext stays ciphertext): by the
 * storage itself when it can, else read and written again. */
static int copy_raw(struct store *st, const char *src, const char *dst, struct err *err)
{
    const struct objstore_ops *ops = st->os->ops;
    if (ops->copy && !atomic_load(&st->copy_refused)) {
        struct err ce = {0};
        if (ops->copy(st->os, src, dst, NULL, &ce) == 0)
            return 0;
        if (ce.code == ERR_UNAVAILABLE || ce.code == ERR_NOT_FOUND)
            return err_set(err, ce.code, "%s", ce.msg);
        log_warn("store: server-side copy refused (%s); moving objects by upload", ce.msg);
    }
    struct obj_info *info = xmalloc(sizeof(*info));
    struct buf raw;
    buf_init(&raw, read_limit(st));
    int rc = ops->get(st->os, src, &raw, info, err);
    if (rc == 0)
        rc = ops->put(st->os, dst, raw.data, raw.len, info->meta[0] ? info->meta : NULL, err);
    buf_cleanup(&raw);
    free(info);
    return rc;
}

/* store_move with both stripes held and both sides read. */
static int move_locked(struct store *st, const char *from, const char *to,
                       const struct move_side *f, const struct move_side *t, unsigned *copied,
                       struct err *err)
{
    char *fkey = key_current(from), *tkey = key_current(to);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < f->snaps.n; i++) {
        if (has_snapshot(&t->snaps, f->snaps.v[i].id))
            continue; /* copied by an interrupted run */
        char *dst = store__key_snapshot(to, f->snaps.v[i].id, STORE_LAYOUT);
        if ((rc = copy_raw(st, f->snaps.v[i].key, dst, err)) == 0)
            (*copied)++;
        free(dst);
    }
    if (rc == 0 && f->has_cur && !t->has_cur && (rc = copy_raw(st, fkey, tkey, err)) == 0)
        (*copied)++;
    /* Everything is at to: from goes, current first, so it stops being a state at once. */
    if (rc == 0)
        rc = st->os->ops->del(st->os, fkey, err);
    for (size_t i = 0; rc == 0 && i < f->snaps.n; i++)
        rc = st->os->ops->del(st->os, f->snaps.v[i].key, err);
    free(fkey);
    free(tkey);
    return rc;
}

int store_move(struct store *st, const char *from, const char *to, unsigned *copied,
               struct err *err)
{
    unsigned n = 0;
    if (refuse_read_only(st, err) != 0 || name_check(from, err) != 0 || name_check(to, err) != 0)
        return -1;
    if (strcmp(from, to) == 0)
        return err_set(err, ERR_INVALID, "a state cannot be moved onto itself");
    /* Both stripes, in address order so two opposite moves cannot deadlock. */
    pthread_mutex_t *a = stripe_of(st, from), *b = stripe_of(st, to);
    if (a > b) {
        pthread_mutex_t *x = a;
        a = b;
        b = x;
    }
    pthread_mutex_lock(a);
    if (b != a)
        pthread_mutex_lock(b);
    struct move_side f = {0}, t = {0};
    int rc = -1;
    if (move_side_read(st, from, &f, err) != 0 || move_side_read(st, to, &t, err) != 0)
        goto out;
    if (!f.has_cur && f.snaps.n == 0)
        err_set(err, ERR_NOT_FOUND, "no state named %s", from);
    else if (!move_target_ok(&f, &t))
        err_set(err, ERR_INVALID, "%s already exists: move onto a name that has no state", to);
    else
        rc = move_locked(st, from, to, &f, &t, &n, err);
out:
    if (b != a)
        pthread_mutex_unlock(b);
    pthread_mutex_unlock(a);
    snap_list_free(&f.snaps);
    snap_list_free(&t.snaps);
    if (copied)
        *copied = n;
    return rc;
}

/* ------------------------------------------------------------------ states listing */

struct state_entry {
    char *name;
    char *meta;
};
struct state_list {
    struct state_entry *v;
    size_t n, cap;
    struct skey k; /* scratch */
};

static int collect_state(void *ctx, const struct obj_info *info)
{
    struct state_list *sl = ctx;
    if (store__key_parse(info->key, STORE_LAYOUT, &sl->k) != SKEY_CURRENT)
        return 0;
    if (sl->n == sl->cap) {
        sl->cap = sl->cap ? sl->cap * 2 : 32;
        sl->v = xrealloc(sl->v, sl->cap * sizeof(*sl->v));
    }
    sl->v[sl->n].name = xstrdup(sl->k.name);
    sl->v[sl->n].meta = xstrdup(info->meta);
    sl->n++;
    return 0;
}

static int cmp_state(const void *a, const void *b)
{
    return strcmp(((const struct state_entry *)a)->name, ((const struct state_entry *)b)->name);
}

int store_list_states(struct store *st, const char *prefix,
                      int (*cb)(void *ctx, const char *name, const struct state_meta *meta),
                      void *ctx, struct err *err)
{
    return store_list_states_where(st, prefix, NULL, cb, ctx, err);
}

int store_list_states_where(struct store *st, const char *prefix,
                            bool (*want)(void *ctx, const char *name),
                            int (*cb)(void *ctx, const char *name, const struct state_meta *meta),
                            void *ctx, struct err *err)
{
    char *lp = xasprintf("states/%s", prefix ? prefix : "");
    struct state_list sl = {0};
    int rc = st->os->ops->list(st->os, lp, collect_state, &sl, err);
    free(lp);
    /* Key order is not name order ("a-b/current" sorts before "a/current"). */
    if (rc == 0 && sl.n > 1)
        qsort(sl.v, sl.n, sizeof(*sl.v), cmp_state);
    struct state_meta m;
    for (size_t i = 0; rc == 0 && i < sl.n; i++) {
        if (want != NULL && !want(ctx, sl.v[i].name))
            continue; /* its metadata is never read: a page of many costs its page only */
        char *key = key_current(sl.v[i].name);
        struct err e2 = {0};
        int r = object_meta(st, key, sl.v[i].meta, NULL, &m, &e2);
        free(key);
        if (r != 0) {
            if (e2.code == ERR_NOT_FOUND)
                continue; /* deleted since the listing */
            rc = err_set(err, e2.code, "%s", e2.msg);
            break;
        }
        rc = cb(ctx, sl.v[i].name, &m);
    }
    for (size_t i = 0; i < sl.n; i++) {
        free(sl.v[i].name);
        free(sl.v[i].meta);
    }
    free(sl.v);
    return rc;
}

/* ------------------------------------------------------------------ start-up sweep */

/* A listing of states/ in key order gives each state's current object immediately followed
 * by its snapshots ("@current" < "@snapshots", and no other key starts with
 * "states/NAME/@"), so one pass sees each state as a group. */
struct sweep {
    struct store *st;
    struct skey k;
    char name[STATE_NAME_MAX]; /* the group: a state with a current object, or "" */
    int64_t cur_seq;           /* the SEQ of its current snapshot; 0: unknown, keep all */
    char **doomed;             /* snapshots newer than their current */
    size_t ndoomed;
};

static int on_sweep_key(void *ctx, const struct obj_info *info)
{
    struct sweep *sw = ctx;
    enum skey_kind kind = store__key_parse(info->key, STORE_LAYOUT, &sw->k);
    if (kind == SKEY_CURRENT) {
        struct state_meta m;
        struct err e = {0};
        snprintf(sw->name, sizeof(sw->name), "%s", sw->k.name);
        /* Only a current object whose metadata names its snapshot is compared: one with
         * rebuilt metadata may have been copied in by hand. */
        sw->cur_seq = object_meta(sw->st, info->key, info->meta, NULL, &m, &e) == 0
                          ? snapshot_seq(m.snapshot)
                          : 0;
    } else if (kind == SKEY_SNAPSHOT && sw->cur_seq > 0 && strcmp(sw->k.name, sw->name) == 0 &&
               snapshot_seq(sw->k.snapshot) > sw->cur_seq) {
        if (sw->ndoomed % 64 == 0)
            sw->doomed = xrealloc(sw->doomed, (sw->ndoomed + 64) * sizeof(*sw->doomed));
        sw->doomed[sw->ndoomed++] = xstrdup(info->key);
    }
    return 0;
}

/* Directory driver only (one stated per data dir): the snapshots newer than their state's
 * current one come from writes that failed or were killed between snapshot and current;
 * none was acknowledged. Removed at start, so the newest snapshot is always the current. */
static void sweep_newer_snapshots(struct store *st)
{
    struct sweep *sw = xcalloc(1, sizeof(*sw));
    struct err e = {0};
    sw->st = st;
    size_t removed = 0;
    if (st->os->ops->list(st->os, "states/", on_sweep_key, sw, &e) != 0)
        log_warn("storage: cannot look for snapshots of interrupted writes: %s", e.msg);
    for (size_t i = 0; i < sw->ndoomed; i++) {
        err_clear(&e);
        if (st->os->ops->del(st->os, sw->doomed[i], &e) == 0)
            removed++;
        else
            log_warn("storage: cannot remove %s: %s", sw->doomed[i], e.msg);
        free(sw->doomed[i]);
    }
    if (removed > 0)
        log_warn("storage: removed %zu snapshot(s) newer than their state's current object "
                 "(writes that failed or were interrupted before current changed)",
                 removed);
    free(sw->doomed);
    free(sw);
}

/* ------------------------------------------------------------------ blobs */

static int blob_key_check(const char *key, struct err *err)
{
    if (!key || !key[0] || key[0] == '/' || strlen(key) >= OBJ_KEY_MAX)
        return err_set(err, ERR_INVALID, "bad blob key");
    if (strncmp(key, "states/", 7) == 0 || strcmp(key, STORE_MARKER_KEY) == 0)
        return err_set(err, ERR_INVALID, "blob keys may not be under states/ nor the marker");
    return 0;
}

int store_put_blob(struct store *st, const char *key, const void *data, size_t len, struct err *err)
{
    if (refuse_read_only(st, err) != 0)
        return -1;
    if (blob_key_check(key, err) != 0)
        return -1;
    return write_object(st, key, data, len, NULL, err);
}

int store_get_blob(struct store *st, const char *key, struct buf *out, struct err *err)
{
    if (blob_key_check(key, err) != 0)
        return -1;
    return read_object(st, key, out, NULL, err);
}
