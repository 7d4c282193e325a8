/* s3/store.c: state semantics over any objstore (current, snapshots, retention, encryption).
 *
 * Layout under the objstore (DESIGN.md):
 *
 *     states/NAME/current.tfstate
 *     states/NAME/snapshots/SEQ-SERIAL-SHA12.tfstate
 *
 * e.g. states/prod/network/snapshots/0001795314013123456-42-9f86d081884c.tfstate is serial 42
 * of "prod/network", accepted at 1795314013.123456 s, whose plaintext SHA-256 starts 9f86d0...
 *
 * Each object carries its metadata as a compact JSON object (the objstore's meta string):
 *
 *     {"serial":42,"lineage":"…","sha256":"<64 hex>","size":1234,
 *      "time":"2026-11-22T02:20:13.123456Z","writer":"ci/deploy","snapshot":"SEQ-SERIAL-SHA12"}
 *
 * sha256 and size are of the plaintext. Metadata is a cache, never the truth: when an object's
 * meta is missing or untrusted (a crash between the dir driver's data and sidecar renames, an
 * object copied in by hand) it is rebuilt from the snapshot's file name and the content itself.
 *
 * Write order: snapshot, then current. A crash after the snapshot leaves the old current and
 * an extra snapshot (harmless, the next write supersedes it); current is never torn because
 * every objstore put is atomic. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "common/statejson.h"
#include "common/utf8.h"
#include "common/util.h"
#include "store/store.h"

#define ENC_OVERHEAD   64 /* magic + key id + nonce + tag (46), rounded up */
#define SNAP_SUFFIX    ".tfstate"
#define CURRENT_SUFFIX "/current.tfstate"

struct store {
    struct objstore *os;
    struct store_config cfg;
    atomic_bool copy_refused; /* the objstore's copy failed for a reason other than outage */
};

/* SEQ is strictly increasing within the process so two writes in the same microsecond (or a
 * clock step backwards) still list in write order. */
static pthread_mutex_t seq_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t seq_last;

static int64_t next_seq(void)
{
    int64_t now = now_us();
    pthread_mutex_lock(&seq_mu);
    if (now <= seq_last)
        now = seq_last + 1;
    seq_last = now;
    pthread_mutex_unlock(&seq_mu);
    return now;
}

struct store *store_new(struct objstore *os, const struct store_config *cfg, struct err *err)
{
    if (!os) {
        err_set(err, ERR_INTERNAL, "store_new: no object store");
        return NULL;
    }
    struct store *st = xcalloc(1, sizeof(*st));
    st->os = os;
    if (cfg)
        st->cfg = *cfg;
    return st;
}

void store_free(struct store *st)
{
    if (!st)
        return;
    if (st->os)
        st->os->ops->free(st->os);
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
    return xasprintf("states/%s" CURRENT_SUFFIX, name);
}

static bool is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Parses exactly "SEQ-SERIAL-SHA12" (n bytes): 16 digits, 1-20 digits, 12 lowercase hex. */
static bool snapshot_id_parse(const char *s, size_t n, int64_t *seq, uint64_t *serial,
                              char sha12[13])
{
    if (n < 16 + 1 + 1 + 1 + 12 || n > 16 + 1 + 20 + 1 + 12)
        return false;
    if (!is_digits(s, 16) || s[16] != '-')
        return false;
    size_t serial_len = n - 16 - 1 - 1 - 12;
    const char *sp = s + 17;
    if (!is_digits(sp, serial_len) || sp[serial_len] != '-')
        return false;
    if (serial_len > 1 && sp[0] == '0')
        return false;
    const char *hp = sp + serial_len + 1;
    if (!is_lower_hex(hp, 12))
        return false;
    if (seq) {
        int64_t v = 0;
        for (int i = 0; i < 16; i++)
            v = v * 10 + (s[i] - '0');
        *seq = v;
    }
    if (serial) {
        uint64_t v = 0;
        for (size_t i = 0; i < serial_len; i++) {
            uint64_t d = (uint64_t)(sp[i] - '0');
            if (v > (UINT64_MAX - d) / 10)
                return false;
            v = v * 10 + d;
        }
        *serial = v;
    }
    if (sha12) {
        memcpy(sha12, hp, 12);
        sha12[12] = '\0';
    }
    return true;
}

/* If key is "<snapdir><SEQ-SERIAL-SHA12>.tfstate" with nothing more, copies the id to id_out. */
static bool snapshot_key_match(const char *key, const char *snapdir, char id_out[64])
{
    size_t dl = strlen(snapdir);
    if (strncmp(key, snapdir, dl) != 0)
        return false;
    const char *base = key + dl;
    size_t bl = strlen(base), sl = strlen(SNAP_SUFFIX);
    if (bl <= sl || strcmp(base + bl - sl, SNAP_SUFFIX) != 0 || strchr(base, '/'))
        return false;
    if (!snapshot_id_parse(base, bl - sl, NULL, NULL, NULL))
        return false;
    memcpy(id_out, base, bl - sl);
    id_out[bl - sl] = '\0';
    return true;
}

/* ------------------------------------------------------------------ metadata JSON */

static char *meta_dump(const struct state_meta *m, const char *lineage, const char *writer)
{
    char t[32];
    time_format_rfc3339(m->time_us, t);
    json_t *o = json_object();
    json_object_set_new(o, "serial", json_integer((json_int_t)m->serial));
    json_object_set_new(o, "lineage", json_string(lineage));
    json_object_set_new(o, "sha256", json_string(m->sha256));
    json_object_set_new(o, "size", json_integer((json_int_t)m->size));
    json_object_set_new(o, "time", json_string(t));
    json_object_set_new(o, "writer", json_string(writer));
    json_object_set_new(o, "snapshot", json_string(m->snapshot));
    if (m->md5[0])
        json_object_set_new(o, "md5", json_string(m->md5));
    /* ASCII only: S3 carries metadata in HTTP headers. */
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!s)
        die_bug("json_dumps of state metadata failed");
    return s;
}

/* jansson refuses strings that are not UTF-8, and a writer name comes from a client's Basic
 * username: bytes that are not UTF-8 become '?'. */
static char *meta_encode(const struct state_meta *m)
{
    char lineage[sizeof(m->lineage)], writer[sizeof(m->writer)];
    utf8_sanitize(lineage, sizeof(lineage), m->lineage);
    utf8_sanitize(writer, sizeof(writer), m->writer);
    char *s = meta_dump(m, lineage, writer);
    /* Non-ASCII text is escaped six bytes per unit: shorten the writer (informational) until
     * the whole fits the objstore's metadata limit. */
    while (strlen(s) >= OBJ_META_MAX && writer[0]) {
        free(s);
        utf8_sanitize(writer, strlen(writer) / 2 + 1, writer);
        s = meta_dump(m, lineage, writer);
    }
    if (strlen(s) >= OBJ_META_MAX) {
        free(s);
        s = meta_dump(m, "", "");
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
    if (!json_is_integer(serial) || json_integer_value(serial) < 0 || !json_is_integer(size) ||
        json_integer_value(size) < 0)
        goto out;
    tmp.serial = (uint64_t)json_integer_value(serial);
    tmp.size = (uint64_t)json_integer_value(size);
    if (!copy_str(tmp.lineage, sizeof(tmp.lineage), json_object_get(o, "lineage")) ||
        !copy_str(tmp.sha256, sizeof(tmp.sha256), json_object_get(o, "sha256")) ||
        !copy_str(tmp.writer, sizeof(tmp.writer), json_object_get(o, "writer")) ||
        !copy_str(tmp.snapshot, sizeof(tmp.snapshot), json_object_get(o, "snapshot")) ||
        !copy_str(t, sizeof(t), json_object_get(o, "time")))
        goto out;
    if (strlen(tmp.sha256) != 64 || !is_lower_hex(tmp.sha256, 64))
        goto out;
    if (time_parse_rfc3339(t, &tmp.time_us) != 0)
        goto out;
    /* md5 is optional (not recorded before); a malformed one is just not used. */
    if (!copy_str(tmp.md5, sizeof(tmp.md5), json_object_get(o, "md5")) || strlen(tmp.md5) != 24)
        tmp.md5[0] = '\0';
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
 * current changes, as the crash rule needs. plain_sha256 is the hex SHA-256 of data. */
static int write_state_pair(struct store *st, const char *snap_key, const char *cur_key,
                            const void *data, size_t len, const char *plain_sha256,
                            const char *meta, struct err *err)
{
    const void *payload = data;
    size_t plen = len;
    const char *payload_sha = plain_sha256;
    char sealed_sha[65];
    struct buf sealed;
    buf_init(&sealed, 0);
    int rc = -1;
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
            if (snap_id) {
                int64_t seq;
                snapshot_id_parse(snap_id, strlen(snap_id), &seq, NULL, NULL);
                m->time_us = seq;
            }
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
    char id[64];
};
struct snap_list {
    struct snap_entry *v;
    size_t n, cap;
    const char *dir;
};

static int collect_snapshot(void *ctx, const struct obj_info *info)
{
    struct snap_list *sl = ctx;
    char id[64];
    if (!snapshot_key_match(info->key, sl->dir, id))
        return 0;
    if (sl->n == sl->cap) {
        sl->cap = sl->cap ? sl->cap * 2 : 32;
        sl->v = xrealloc(sl->v, sl->cap * sizeof(*sl->v));
    }
    struct snap_entry *e = &sl->v[sl->n++];
    e->key = xstrdup(info->key);
    e->meta = xstrdup(info->meta);
    memcpy(e->id, id, sizeof(id));
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
                             char **dir_out, struct err *err)
{
    char *dir = xasprintf("states/%s/snapshots/", name);
    memset(sl, 0, sizeof(*sl));
    sl->dir = dir;
    int rc = st->os->ops->list(st->os, dir, collect_snapshot, sl, err);
    if (rc != 0 && err->code == ERR_OK)
        err_set(err, ERR_INTERNAL, "snapshot listing stopped");
    *dir_out = dir;
    return rc == 0 ? 0 : -1;
}

static void apply_retention(struct store *st, const char *name)
{
    if (st->cfg.retain_snapshots == 0 && st->cfg.retain_days == 0)
        return;
    struct snap_list sl;
    char *dir;
    struct err e = {0};
    if (snapshots_collect(st, name, &sl, &dir, &e) != 0) {
        log_warn("retention: cannot list snapshots of %s: %s", name, e.msg);
        goto out;
    }
    int64_t cutoff = st->cfg.retain_days
                         ? now_us() - (int64_t)st->cfg.retain_days * 86400LL * 1000000LL
                         : INT64_MIN;
    /* Oldest first; the last one is the newest and is never pruned. */
    for (size_t i = 0; i + 1 < sl.n; i++) {
        int64_t seq = 0;
        snapshot_id_parse(sl.v[i].id, strlen(sl.v[i].id), &seq, NULL, NULL);
        bool drop = false;
        if (st->cfg.retain_snapshots && sl.n > st->cfg.retain_snapshots &&
            i < sl.n - st->cfg.retain_snapshots)
            drop = true;
        if (st->cfg.retain_days && seq < cutoff)
            drop = true;
        if (!drop)
            continue;
        struct err de = {0};
        if (st->os->ops->del(st->os, sl.v[i].key, &de) != 0)
            log_warn("retention: cannot delete snapshot %s of %s: %s", sl.v[i].id, name, de.msg);
        else
            log_debug("retention: deleted snapshot %s of %s", sl.v[i].id, name);
    }
out:
    snap_list_free(&sl);
    free(dir);
}

int store_list_snapshots(struct store *st, const char *name,
                         int (*cb)(void *ctx, const struct state_meta *meta), void *ctx,
                         struct err *err)
{
    if (name_check(name, err) != 0)
        return -1;
    struct snap_list sl;
    char *dir;
    int rc = snapshots_collect(st, name, &sl, &dir, err);
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
    free(dir);
    return rc;
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
    if (!snapshot || !snapshot_id_parse(snapshot, n, NULL, NULL, NULL))
        return err_set(err, ERR_INVALID, "snapshot id must be SEQ-SERIAL-SHA12");
    char id[64];
    memcpy(id, snapshot, n);
    id[n] = '\0';
    char *key = xasprintf("states/%s/snapshots/%s" SNAP_SUFFIX, name, id);
    struct obj_info *info = xmalloc(sizeof(*info));
    size_t start = out->len;
    int rc = read_object(st, key, out, info, err);
    if (rc == 0 && meta) {
        meta_of_read(info, out->data + start, out->len - start, meta);
        if (meta->snapshot[0] == '\0') /* rebuilt: the time is the snapshot's, by its id */
            snapshot_id_parse(id, n, &meta->time_us, NULL, NULL);
        snprintf(meta->snapshot, sizeof(meta->snapshot), "%s", id);
    }
    free(info);
    free(key);
    return rc;
}

/* ------------------------------------------------------------------ writes */

int store_put(struct store *st, const char *name, const void *data, size_t len,
              const struct store_write *w, struct state_meta *out, bool *unchanged, struct err *err)
{
    if (unchanged)
        *unchanged = false;
    if (name_check(name, err) != 0)
        return -1;
    if (st->cfg.max_state_bytes && len > st->cfg.max_state_bytes)
        return err_set(err, ERR_TOO_LARGE, "state is %zu bytes, limit %" PRIu64, len,
                       st->cfg.max_state_bytes);
    char sha[65];
    if (w && w->sha256 && strlen(w->sha256) == 64 && is_lower_hex(w->sha256, 64))
        memcpy(sha, w->sha256, sizeof(sha));
    else
        sha256_hex(data, len, sha);
    char *cur_key = key_current(name);
    int rc = -1;
    char *json = NULL;
    char *snap_key = NULL;

    /* Identical re-POST (a client retrying after a lost response): nothing to write. */
    struct state_meta cur;
    struct err he = {0};
    if (object_meta(st, cur_key, NULL, NULL, &cur, &he) == 0) {
        if (strcmp(cur.sha256, sha) == 0 && cur.size == len) {
            if (unchanged)
                *unchanged = true;
            if (out)
                *out = cur;
            rc = 0;
            goto done;
        }
    } else if (he.code != ERR_NOT_FOUND) {
        err_set(err, he.code, "%s", he.msg);
        goto done;
    }

    struct state_meta m;
    memset(&m, 0, sizeof(m));
    m.serial = w ? w->serial : 0;
    snprintf(m.lineage, sizeof(m.lineage), "%s", w && w->lineage ? w->lineage : "");
    snprintf(m.writer, sizeof(m.writer), "%s", w && w->writer ? w->writer : "");
    memcpy(m.sha256, sha, sizeof(m.sha256));
    m.size = len;
    /* Recorded so a GET can send Content-MD5 without hashing the state each time. */
    if (w && w->md5 && strlen(w->md5) == 24)
        memcpy(m.md5, w->md5, sizeof(m.md5));
    else
        md5_base64(data, len, m.md5);
    m.time_us = next_seq();
    snprintf(m.snapshot, sizeof(m.snapshot), "%016" PRId64 "-%" PRIu64 "-%.12s", m.time_us,
             m.serial, sha);
    json = meta_encode(&m);
    snap_key = xasprintf("states/%s/snapshots/%s" SNAP_SUFFIX, name, m.snapshot);
    if (write_state_pair(st, snap_key, cur_key, data, len, sha, json, err) != 0)
        goto done;
    if (out)
        *out = m;
    rc = 0;
    apply_retention(st, name);
done:
    free(snap_key);
    free(json);
    free(cur_key);
    return rc;
}

int store_delete(struct store *st, const char *name, struct err *err)
{
    if (name_check(name, err) != 0)
        return -1;
    char *key = key_current(name);
    int rc = st->os->ops->del(st->os, key, err);
    free(key);
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
};

static int collect_state(void *ctx, const struct obj_info *info)
{
    struct state_list *sl = ctx;
    size_t kl = strlen(info->key), pl = strlen("states/"), sl_ = strlen(CURRENT_SUFFIX);
    if (kl <= pl + sl_ || strncmp(info->key, "states/", pl) != 0 ||
        strcmp(info->key + kl - sl_, CURRENT_SUFFIX) != 0)
        return 0;
    size_t nl = kl - pl - sl_;
    struct err e = {0};
    if (state_name_check(info->key + pl, nl, &e) != 0)
        return 0;
    if (sl->n == sl->cap) {
        sl->cap = sl->cap ? sl->cap * 2 : 32;
        sl->v = xrealloc(sl->v, sl->cap * sizeof(*sl->v));
    }
    sl->v[sl->n].name = xstrndup(info->key + pl, nl);
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
    char *lp = xasprintf("states/%s", prefix ? prefix : "");
    struct state_list sl = {0};
    int rc = st->os->ops->list(st->os, lp, collect_state, &sl, err);
    free(lp);
    /* Key order is not name order ("a-b/current" sorts before "a/current"). */
    if (rc == 0 && sl.n > 1)
        qsort(sl.v, sl.n, sizeof(*sl.v), cmp_state);
    struct state_meta m;
    for (size_t i = 0; rc == 0 && i < sl.n; i++) {
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

/* ------------------------------------------------------------------ blobs */

static int blob_key_check(const char *key, struct err *err)
{
    if (!key || !key[0] || key[0] == '/' || strlen(key) >= OBJ_KEY_MAX)
        return err_set(err, ERR_INVALID, "bad blob key");
    if (strncmp(key, "states/", 7) == 0)
        return err_set(err, ERR_INVALID, "blob keys may not be under states/");
    return 0;
}

int store_put_blob(struct store *st, const char *key, const void *data, size_t len, struct err *err)
{
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
