/* store/layout.c: the storage layout marker and the migration from layout 1 to layout 2.
 *
 * The marker is the object "layout.json" at the root of the storage, plaintext JSON even
 * when states are encrypted (it holds no state data, and any stated must read it before it
 * knows which keys to try):
 *
 *     {"layout":2,"written":"2026-11-22T02:20:13.123456Z","by":"stated 0.1.0",
 *      "migrated_from":1,"objects_moved":1234}
 *
 * Only "layout" is read ("objects_moved" counts the run that finished the migration). At
 * start (store_new):
 *
 *   layout 2               nothing to do;
 *   a higher layout        refuse to start (a newer stated wrote it);
 *   no marker (or 1)       move every layout-1 state object to its layout-2 key, then write
 *                          the marker. An empty storage just gets the marker.
 *
 * The migration, object by object, in listing order:
 *
 *   1. head the layout-2 key; when it exists the object was moved already (an interrupted
 *      run, or another instance starting at the same time): go to 3;
 *   2. copy the layout-1 object to it, bytes and metadata (a server-side copy in S3; read and
 *      put in the directory driver); a source that is gone was moved by another instance;
 *   3. delete the layout-1 object (the directory driver removes its sidecar with it).
 *
 * Each step is idempotent and a put is atomic, so a kill -9 anywhere followed by a restart
 * finishes the job with nothing lost; the marker is written last, so a storage is marked only
 * once no layout-1 object is left. A copy only ever goes to a key that does not exist, and
 * before each current object is copied the marker is looked up again: once another instance
 * has written it, that instance has moved everything (and may serve writes to the new keys),
 * so this one stops instead of copying an old current over a new one. Keys under states/ that
 * are neither layout-1 nor layout-2 state objects are left where they are, and logged. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "common/version.h"
#include "store/store_int.h"

#define PROGRESS_EVERY 250 /* objects between two progress lines */
#define LOG_LEFT_MAX   20  /* left-alone keys named one by one */

/* ------------------------------------------------------------------ the marker */

/* The layout a marker's text names: 0 and the layout, or -1 when it is not a marker. */
static int marker_parse(const char *text, size_t len, int *layout)
{
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *v = json_object_get(o, "layout");
    int rc = -1;
    if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 1000000) {
        *layout = (int)json_integer_value(v);
        rc = 0;
    }
    json_decref(o);
    return rc;
}

/* The marker's layout: 0 when there is none. -1 on a storage error or a broken marker. */
static int marker_read(struct objstore *os, int *layout, struct err *err)
{
    struct buf b;
    struct err e = {0};
    buf_init(&b, 64 * 1024);
    *layout = 0;
    int rc = os->ops->get(os, STORE_MARKER_KEY, &b, NULL, &e);
    if (rc != 0 && e.code == ERR_NOT_FOUND) {
        rc = 0;
    } else if (rc != 0) {
        err_set(err, e.code, "cannot read the storage layout marker %s: %s", STORE_MARKER_KEY,
                e.msg);
    } else if (marker_parse(b.data, b.len, layout) != 0) {
        rc = err_set(err, ERR_INVALID,
                     "%s at the root of the storage is not a layout marker (a JSON object with "
                     "an integer \"layout\"): repair or remove it",
                     STORE_MARKER_KEY);
    }
    buf_cleanup(&b);
    return rc;
}

static int marker_write(struct objstore *os, int from, uint64_t moved, struct err *err)
{
    char t[32];
    time_format_rfc3339(now_us(), t);
    json_t *o =
        json_pack("{s:i,s:s,s:s,s:o,s:I}", "layout", STORE_LAYOUT, "written", t, "by",
                  "stated " STATED_VERSION, "migrated_from",
                  from > 0 ? json_integer(from) : json_null(), "objects_moved", (json_int_t)moved);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s == NULL)
        die_bug("json_dumps of the layout marker failed");
    size_t n = strlen(s);
    s = xrealloc(s, n + 2);
    memcpy(s + n, "\n", 2);
    int rc = os->ops->put(os, STORE_MARKER_KEY, s, n + 1, NULL, err);
    free(s);
    return rc;
}

/* ------------------------------------------------------------------ finding layout-1 objects */

struct v1_scan {
    char **keys; /* layout-1 state objects, in listing order */
    size_t n, cap;
    uint64_t v2, left; /* layout-2 objects already there; keys that are neither */
};

static int on_v1_key(void *ctx, const struct obj_info *info)
{
    struct v1_scan *sc = ctx;
    struct skey k;
    if (store__key_parse(info->key, 1, &k) != SKEY_OTHER) {
        if (sc->n == sc->cap) {
            sc->cap = sc->cap ? sc->cap * 2 : 256;
            sc->keys = xrealloc(sc->keys, sc->cap * sizeof(*sc->keys));
        }
        sc->keys[sc->n++] = xstrdup(info->key);
    } else if (store__key_parse(info->key, STORE_LAYOUT, &k) != SKEY_OTHER) {
        sc->v2++;
    } else {
        if (sc->left < LOG_LEFT_MAX)
            log_warn("storage layout: %s is not a state object of either layout; left alone",
                     info->key);
        sc->left++;
    }
    return 0;
}

static void v1_scan_free(struct v1_scan *sc)
{
    for (size_t i = 0; i < sc->n; i++)
        free(sc->keys[i]);
    free(sc->keys);
}

/* ------------------------------------------------------------------ moving one object */

enum moved { MOVED_COPIED, MOVED_ALREADY, MOVED_GONE };

/* Copies src to dst (absent) with its bytes and metadata: MOVED_GONE when src is gone. */
static int copy_object(struct objstore *os, const char *src, const char *dst, enum moved *how,
                       struct err *err)
{
    struct err e = {0};
    *how = MOVED_COPIED;
    if (os->ops->copy != NULL) {
        /* meta NULL: the copy keeps the source's metadata. */
        if (os->ops->copy(os, src, dst, NULL, &e) == 0)
            return 0;
        if (e.code == ERR_NOT_FOUND) {
            *how = MOVED_GONE;
            return 0;
        }
        if (e.code == ERR_UNAVAILABLE)
            return err_set(err, e.code, "%s", e.msg);
        log_warn("storage layout: server-side copy of %s refused (%s); reading and writing it", src,
                 e.msg);
        err_clear(&e);
    }
    struct buf b;
    struct obj_info *info = xmalloc(sizeof(*info));
    buf_init(&b, 0);
    int rc = os->ops->get(os, src, &b, info, &e);
    if (rc != 0 && e.code == ERR_NOT_FOUND) {
        *how = MOVED_GONE;
        rc = 0;
    } else if (rc != 0) {
        err_set(err, e.code, "%s", e.msg);
    } else {
        rc = os->ops->put(os, dst, b.data, b.len, info->meta[0] ? info->meta : NULL, err);
    }
    buf_cleanup(&b);
    free(info);
    return rc;
}

/* dst exists already. When its metadata is missing but src still has some (the directory
 * driver was killed between a copy's data file and its sidecar), and the bytes are the same,
 * dst is written again with it, so the move keeps the metadata. */
static int restore_meta(struct objstore *os, const char *src, const char *dst,
                        const struct obj_info *dinfo, struct err *err)
{
    if (dinfo->meta[0] != '\0')
        return 0;
    struct buf sb, db;
    struct obj_info *sinfo = xmalloc(sizeof(*sinfo));
    struct err e = {0};
    buf_init(&sb, 0);
    buf_init(&db, 0);
    int rc = 0;
    if (os->ops->get(os, src, &sb, sinfo, &e) == 0 && sinfo->meta[0] != '\0' &&
        os->ops->get(os, dst, &db, NULL, &e) == 0 && db.len == sb.len &&
        memcmp(db.data, sb.data, sb.len) == 0)
        rc = os->ops->put(os, dst, sb.data, sb.len, sinfo->meta, err);
    else if (e.code != ERR_OK && e.code != ERR_NOT_FOUND)
        rc = err_set(err, e.code, "%s", e.msg);
    buf_cleanup(&sb);
    buf_cleanup(&db);
    free(sinfo);
    return rc;
}

/* Steps 1-3 of the file comment for one layout-1 key. */
static int move_one(struct objstore *os, const char *src, enum moved *how, struct err *err)
{
    struct skey k;
    store__key_parse(src, 1, &k);
    char *dst = k.kind == SKEY_CURRENT ? store__key_current(k.name, STORE_LAYOUT)
                                       : store__key_snapshot(k.name, k.snapshot, STORE_LAYOUT);
    struct obj_info *dinfo = xmalloc(sizeof(*dinfo));
    struct err e = {0};
    int rc = os->ops->head(os, dst, dinfo, &e);
    if (rc == 0) {
        *how = MOVED_ALREADY;
        rc = restore_meta(os, src, dst, dinfo, err);
    } else if (e.code == ERR_NOT_FOUND) {
        rc = copy_object(os, src, dst, how, err);
    } else {
        err_set(err, e.code, "%s", e.msg);
    }
    if (rc == 0 && *how != MOVED_GONE)
        rc = os->ops->del(os, src, err);
    free(dinfo);
    free(dst);
    return rc;
}

/* ------------------------------------------------------------------ the migration */

struct tally {
    uint64_t copied, already, gone;
};

/* Moves every key of sc; 1 when another instance finished first (nothing left to do). */
static int move_all(struct objstore *os, const struct v1_scan *sc, struct tally *t,
                    int64_t start_ms, struct err *err)
{
    for (size_t i = 0; i < sc->n; i++) {
        struct skey k;
        int layout = 0;
        if (store__key_parse(sc->keys[i], 1, &k) == SKEY_CURRENT) {
            if (marker_read(os, &layout, err) != 0)
                return -1;
            if (layout >= STORE_LAYOUT)
                return 1;
        }
        enum moved how;
        if (move_one(os, sc->keys[i], &how, err) != 0) {
            struct err why = *err;
            err_clear(err);
            return err_set(err, why.code,
                           "storage layout migration stopped at %s (%zu of %zu moved; a restart "
                           "goes on from there): %s",
                           sc->keys[i], i, sc->n, why.msg);
        }
        if (how == MOVED_COPIED)
            t->copied++;
        else if (how == MOVED_ALREADY)
            t->already++;
        else
            t->gone++;
        if ((i + 1) % PROGRESS_EVERY == 0 && i + 1 < sc->n)
            log_info("storage layout migration: %zu of %zu objects moved (%.1f s)", i + 1, sc->n,
                     (double)(mono_ms() - start_ms) / 1000.0);
    }
    return 0;
}

static int migrate(struct objstore *os, int from, struct err *err)
{
    int64_t start_ms = mono_ms();
    struct v1_scan sc = {0};
    int rc = os->ops->list(os, "states/", on_v1_key, &sc, err);
    if (rc != 0) {
        v1_scan_free(&sc);
        return -1;
    }
    if (sc.left > LOG_LEFT_MAX)
        log_warn("storage layout: %" PRIu64 " keys under states/ are not state objects; left alone",
                 sc.left);
    if (sc.n == 0) {
        rc = marker_write(os, sc.v2 > 0 ? from : 0, 0, err);
        if (rc == 0)
            log_info("storage layout %d: marker %s written (%s)", STORE_LAYOUT, STORE_MARKER_KEY,
                     sc.v2 > 0 ? "no layout-1 objects left" : "new storage");
        v1_scan_free(&sc);
        return rc;
    }
    log_info("storage layout 1 found: moving %zu state objects to layout %d (%" PRIu64
             " layout-2 objects already there, %" PRIu64 " other keys left alone)",
             sc.n, STORE_LAYOUT, sc.v2, sc.left);
    struct tally t = {0};
    rc = move_all(os, &sc, &t, start_ms, err);
    double secs = (double)(mono_ms() - start_ms) / 1000.0;
    if (rc > 0) {
        log_info("storage layout migration finished by another instance (%" PRIu64
                 " objects moved here, %.1f s)",
                 t.copied, secs);
        rc = 0;
    } else if (rc == 0 && (rc = marker_write(os, from, t.copied + t.already, err)) == 0) {
        log_info("storage layout migration done: %zu objects (%" PRIu64 " copied, %" PRIu64
                 " already there, %" PRIu64 " moved by another instance), %" PRIu64
                 " other keys left alone, %.1f s",
                 sc.n, t.copied, t.already, t.gone, sc.left, secs);
    }
    v1_scan_free(&sc);
    return rc;
}

int store__layout_open(struct objstore *os, bool read_only, struct err *err)
{
    int layout;
    if (marker_read(os, &layout, err) != 0)
        return -1;
    if (layout == STORE_LAYOUT)
        return 0;
    if (read_only && layout < STORE_LAYOUT)
        return err_set(err, ERR_INVALID,
                       "the storage has no layout marker %s (empty, or in layout 1, which a "
                       "read-only open cannot migrate: start stated on it once)",
                       STORE_MARKER_KEY);
    if (layout > STORE_LAYOUT)
        return err_set(err, ERR_INVALID,
                       "the storage is in layout %d (%s); this stated reads layout %d only: "
                       "run a newer stated",
                       layout, STORE_MARKER_KEY, STORE_LAYOUT);
    return migrate(os, 1, err);
}
