/* store/store.h: where states live. The whole API of store/.
 *
 * Two layers:
 *
 *  objstore  a raw object store: one vtable, two drivers. The local-directory driver is here
 *            (store/dir.c: embedded mode, durable writes by temp file + fsync + rename +
 *            directory fsync); the S3 driver is its own part (s3/s3.h: libcurl, SigV4). Keys
 *            are '/'-separated relative paths under the store's prefix. Each object may carry
 *            a small metadata string (a JSON object, at most OBJ_META_MAX bytes) that the
 *            driver stores with it.
 *
 *  store     the state semantics, written once over any objstore: current object, one immutable
 *            snapshot per accepted write, identical re-POST is a no-op, listing, restore source,
 *            retention and AES-256-GCM encryption at rest. Layout 2 (docs/storage.md), recorded
 *            in the marker object layout.json:
 *              states/NAME/@current.tfstate
 *              states/NAME/@snapshots/SEQ-SERIAL-SHA12.tfstate
 *            No state name contains '@', so no name maps onto another state's objects.
 *            SEQ is the write time in microseconds since the epoch, zero-padded to 16 digits, so
 *            a plain lexicographic listing is chronological. The snapshot is durable before
 *            current is replaced, so a crash leaves the old or the new state, never a torn one;
 *            a write answered with an error leaves no snapshot behind.
 *
 * Threads: every function may be called from any worker thread at the same time; drivers keep
 * per-thread connections (one curl handle per worker). Nothing here may run on an h2o event
 * loop thread: all calls block on disk or network. */
#ifndef STATED_STORE_H
#define STATED_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* ------------------------------------------------------------------ raw object store */

#define OBJ_KEY_MAX  1400
#define OBJ_META_MAX 1024

struct obj_info {
    char key[OBJ_KEY_MAX]; /* relative to the store prefix */
    uint64_t size;
    int64_t mtime_us;
    char meta[OBJ_META_MAX]; /* metadata stored with the object; "" when none or untrusted */
};

/* One stored version of an object, in a storage that keeps them (S3 bucket versioning). */
struct obj_version {
    char key[OBJ_KEY_MAX]; /* relative to the store prefix */
    char version_id[128];
    uint64_t size;
    int64_t mtime_us;
    bool is_latest, is_delete_marker;
};

struct objstore;
struct objstore_ops {
    /* Stores data under key, replacing any object there, atomically: a reader sees the old or
     * the new object whole. Durable when it returns 0. meta may be NULL. */
    int (*put)(struct objstore *os, const char *key, const void *data, size_t len, const char *meta,
               struct err *err);
    /* Appends the object's bytes to out. ERR_NOT_FOUND when absent. info may be NULL. */
    int (*get)(struct objstore *os, const char *key, struct buf *out, struct obj_info *info,
               struct err *err);
    /* ERR_NOT_FOUND when absent. */
    int (*head)(struct objstore *os, const char *key, struct obj_info *info, struct err *err);
    /* Removes key; 0 also when it was absent. */
    int (*del)(struct objstore *os, const char *key, struct err *err);
    /* Calls cb for every key starting with prefix, in ascending byte order. info->meta may be
     * "" (listing does not fetch metadata). A non-zero return from cb stops the walk and is
     * returned. */
    int (*list)(struct objstore *os, const char *prefix,
                int (*cb)(void *ctx, const struct obj_info *info), void *ctx, struct err *err);
    /* Cheap reachability check for /healthz and start-up: 0 when usable. */
    int (*ping)(struct objstore *os, struct err *err);
    void (*free)(struct objstore *os);
    const char *kind; /* "dir" or "s3" */
    /* Optional (NULL: callers use get). Like get, but *out gets a reference to the object's
     * bytes (blob_unref it), so a driver that caches objects hands them out without copying.
     * ERR_TOO_LARGE when the object is over max bytes (0: no ceiling). */
    int (*get_shared)(struct objstore *os, const char *key, size_t max, struct blob **out,
                      struct obj_info *info, struct err *err);
    /* Optional (NULL: callers use put). put, with sha256 the lowercase hex SHA-256 of data
     * already known to the caller, so a driver that sends it (S3's x-amz-content-sha256, which
     * the server verifies) does not hash the bytes again. */
    int (*put_sha256)(struct objstore *os, const char *key, const void *data, size_t len,
                      const char *meta, const char sha256[65], struct err *err);
    /* Optional (NULL: callers read and put). Replaces dst with a copy of src's bytes made by
     * the storage itself, stored with meta instead of src's metadata, or with src's metadata
     * when meta is NULL or ""; atomic and durable like put. ERR_NOT_FOUND when src is absent. */
    int (*copy)(struct objstore *os, const char *src, const char *dst, const char *meta,
                struct err *err);
    /* Optional, all three or none (NULL: the storage keeps no versions of an object, as the
     * directory driver). list_versions calls cb for every stored version and delete marker of
     * the keys starting with prefix: keys ascending, a key's versions newest first.
     * get_version appends one version's bytes to out (ERR_NOT_FOUND when absent); del_version
     * removes one version or delete marker for good (0 also when absent). */
    int (*list_versions)(struct objstore *os, const char *prefix,
                         int (*cb)(void *ctx, const struct obj_version *v), void *ctx,
                         struct err *err);
    int (*get_version)(struct objstore *os, const char *key, const char *version_id,
                       struct buf *out, struct err *err);
    int (*del_version)(struct objstore *os, const char *key, const char *version_id,
                       struct err *err);
    /* Optional, both or none (NULL: the storage has no object lock, as the directory driver).
     * object_lock sets *enabled when the storage can keep objects under retention (an S3
     * bucket created with Object Lock); put_retained is put (no meta) of a version that nobody,
     * not even the bucket's owner, can delete or overwrite before retain_until_us (S3 Object
     * Lock, COMPLIANCE mode). */
    int (*object_lock)(struct objstore *os, bool *enabled, struct err *err);
    int (*put_retained)(struct objstore *os, const char *key, const void *data, size_t len,
                        int64_t retain_until_us, struct err *err);
};
struct objstore {
    const struct objstore_ops *ops;
};

/* Local directory driver. Creates root if missing. */
struct objstore *objstore_dir_new(const char *root, struct err *err);
/* The same for a reader beside (or instead of) the stated that owns root: root must exist,
 * and nothing in it is touched at open (objstore_dir_new removes stale temp files). */
struct objstore *objstore_dir_open_ro(const char *root, struct err *err);

/* Parses "--storage" values: "dir:PATH" (or a bare path) and "s3://BUCKET[/PREFIX]". kind gets
 * "dir" or "s3"; path_or_bucket and prefix get malloc'd strings (caller frees). */
int storage_url_parse(const char *url, char **kind, char **path_or_bucket, char **prefix,
                      struct err *err);

/* ------------------------------------------------------------------ encryption at rest */

struct keyring;
/* Reads a key file: one base64 32-byte key per line, '#' comments and blank lines ignored. The
 * first key encrypts; all decrypt. Each key's id is the first 8 hex digits of SHA-256(key). */
struct keyring *keyring_load(const char *path, struct err *err);
/* The same from several key files, read as one: the first key of the first file encrypts
 * (offline readers: the current file and the retired ones). */
struct keyring *keyring_load_many(const char *const *paths, size_t n, struct err *err);
/* The same from text (keys separated by newlines, commas or spaces), e.g. the value of
 * STATED_ENCRYPTION_KEY; origin names the source in error messages. */
struct keyring *keyring_parse(const char *text, const char *origin, struct err *err);
void keyring_free(struct keyring *kr);
/* Encrypted object format: "STATEDENC1" magic, key id, 12-byte nonce, ciphertext, 16-byte GCM
 * tag. keyring_seal replaces out's content; keyring_open fails with ERR_INTERNAL on a wrong key
 * or a tampered object, and passes plaintext (no magic) through unchanged only when
 * allow_plain is true (objects written before encryption was turned on). */
int keyring_seal(struct keyring *kr, const void *plain, size_t len, struct buf *out,
                 struct err *err);
int keyring_open(struct keyring *kr, const void *data, size_t len, bool allow_plain,
                 struct buf *out, struct err *err);

/* ------------------------------------------------------------------ states and snapshots */

/* The longest reason kept with a restore (bytes of UTF-8): short enough that the metadata,
 * escaped to ASCII, still fits OBJ_META_MAX with a full writer name in most cases. */
#define STORE_REASON_MAX 200

struct state_meta {
    char snapshot[64]; /* "SEQ-SERIAL-SHA12", the snapshot this content was written as */
    uint64_t serial;
    char lineage[129];
    char sha256[65];  /* of the plaintext state bytes */
    uint64_t size;    /* plaintext size */
    int64_t time_us;  /* when stated accepted the write */
    char writer[160]; /* actor that wrote it: "token-name" or "token-name/basic-user" */
    char md5[25];     /* base64 MD5 of the plaintext (a GET's Content-MD5); "" when unknown
                         (objects written before it was recorded, rebuilt metadata) */
    /* A version written by a restore: the snapshot it was restored from, the actor who
     * restored it and the reason given (all "" for any other write, and when the metadata was
     * rebuilt from the content). */
    char restored_from[64];
    char restored_by[160];
    char reason[STORE_REASON_MAX + 1];
};

struct store_config {
    uint64_t max_state_bytes;
    unsigned retain_snapshots; /* 0: keep all */
    unsigned retain_days;      /* 0: keep all */
    struct keyring *keys;      /* NULL: no encryption; borrowed, outlives the store */
    bool read_only;            /* offline readers (statectl offline export): the storage is
                                  never written, not even migrated or swept; a storage that
                                  would need a migration is refused (ERR_INVALID) */
};

struct store;
/* Takes ownership of os (also on failure). Opens the storage's layout first: reads the marker
 * layout.json and, for a storage of layout 1 (no marker), moves its objects to layout 2 and
 * writes the marker (crash-safe, see store/layout.c); ERR_INVALID when the marker names a
 * newer layout. Over the directory driver it then removes the snapshots newer than their
 * state's current one (writes interrupted between the two steps). */
struct store *store_new(struct objstore *os, const struct store_config *cfg, struct err *err);
void store_free(struct store *st);
struct objstore *store_objstore(struct store *st); /* borrowed */

/* Current state bytes (plaintext) appended to out, and its metadata. ERR_NOT_FOUND when none. */
int store_get(struct store *st, const char *name, struct buf *out, struct state_meta *meta,
              struct err *err);
/* Like store_get, but *out gets a shared reference to the plaintext (blob_unref it): no copy
 * when the storage driver has the object cached. */
int store_get_shared(struct store *st, const char *name, struct blob **out, struct state_meta *meta,
                     struct err *err);
/* Metadata of the current state only. ERR_NOT_FOUND when none. */
int store_head(struct store *st, const char *name, struct state_meta *meta, struct err *err);

struct store_write {
    uint64_t serial; /* from the body (statejson_scan) */
    const char *lineage;
    const char *writer; /* actor */
    const char *sha256; /* lowercase hex SHA-256 of the data when the caller has it, or NULL */
    const char *md5;    /* base64 MD5 of the data when the caller has it (a verified
                           Content-MD5), or NULL: computed here */
    const char *restored_from; /* a restore: the source snapshot id, else NULL */
    const char *reason;        /* a restore: why (at most STORE_REASON_MAX bytes), or NULL */
};
/* Writes a new state: snapshot first, then current (a server-side copy of the snapshot when
 * the objstore can, so the bytes are uploaded once), serialised with the other writes of name
 * in this process. When the content is byte-identical to the current state nothing is written
 * and *unchanged is set. out may be NULL. An error means nothing changed: the snapshot of a
 * write whose current object failed is deleted again (or at the next write of name), and a
 * current write the storage performed although it reported a failure is a success. Applies
 * retention to this state's snapshots afterwards (never the newest; failures there are
 * logged, not returned). */
int store_put(struct store *st, const char *name, const void *data, size_t len,
              const struct store_write *w, struct state_meta *out, bool *unchanged,
              struct err *err);
/* Deletes the current state; snapshots are kept. 0 also when there was none. */
int store_delete(struct store *st, const char *name, struct err *err);

/* Deletes one snapshot of name for good, serialised with the writes of name: the object, and
 * in a storage that keeps object versions every stored version and delete marker of its key
 * and the older versions of the current object that hold the same bytes, so none survive. id is a
 * full snapshot id (store_resolve_ref). ERR_INVALID when it is the version the current state was
 * written as; ERR_NOT_FOUND when absent. deleted (may be NULL) gets the deleted version's metadata,
 * *versions (may be NULL) how many stored object versions were removed besides the object itself.
 * The snapshot's live version goes last, so a deletion that failed half-way (an outage) can simply
 * be run again. */
int store_delete_snapshot(struct store *st, const char *name, const char *id,
                          struct state_meta *deleted, unsigned *versions, struct err *err);
/* Renames state from to to with its whole history, serialised with the writes of both names in
 * this process (other instances are the caller's to exclude: backend takes a lease on both).
 * Crash-safe order: every snapshot copied (metadata kept), then the current object, then the
 * old current deleted, then the old snapshots; re-running a move that was interrupted finishes
 * it. ERR_NOT_FOUND when from has no object; ERR_INVALID when to is another state already
 * (anything there that is not a copy of from's objects) or the names are equal. *copied (may
 * be NULL) gets the number of objects moved. */
int store_move(struct store *st, const char *from, const char *to, unsigned *copied,
               struct err *err);

/* Calls cb for each state whose name starts with prefix ("" for all), in name order. A
 * non-zero return from cb stops the listing and is returned. */
int store_list_states(struct store *st, const char *prefix,
                      int (*cb)(void *ctx, const char *name, const struct state_meta *meta),
                      void *ctx, struct err *err);
/* The same for the names want (called first, in name order) accepts: the metadata of the
 * others is never read. */
int store_list_states_where(struct store *st, const char *prefix,
                            bool (*want)(void *ctx, const char *name),
                            int (*cb)(void *ctx, const char *name, const struct state_meta *meta),
                            void *ctx, struct err *err);
/* Calls cb for each snapshot of name, newest first. */
int store_list_snapshots(struct store *st, const char *name,
                         int (*cb)(void *ctx, const struct state_meta *meta), void *ctx,
                         struct err *err);
/* Snapshot bytes (plaintext) appended to out. snapshot is "SEQ-SERIAL-SHA12" (".tfstate" may
 * follow). ERR_NOT_FOUND when absent. */
int store_get_snapshot(struct store *st, const char *name, const char *snapshot, struct buf *out,
                       struct state_meta *meta, struct err *err);

/* Metadata of one snapshot (id exactly "SEQ-SERIAL-SHA12"), without reading its bytes when the
 * storage has the metadata. ERR_NOT_FOUND when absent. */
int store_head_snapshot(struct store *st, const char *name, const char *id, struct state_meta *meta,
                        struct err *err);

/* Resolves a version reference of name to its snapshot id (docs/admin-api.md "Version
 * references"): the full ID (".tfstate" may follow), "latest", "latest~N" (N versions before
 * the newest), "serial:N" (the newest version with that serial) or a unique prefix of at least
 * 6 characters of an ID. ERR_NOT_FOUND when it names no version; ERR_INVALID when malformed or
 * ambiguous (the message lists the candidates). Lists the snapshots, reads none. */
int store_resolve_ref(struct store *st, const char *name, const char *ref, char id[64],
                      struct err *err);

/* Raw objects outside states/ (tokens, audit segments): encrypted like states when a keyring
 * is configured. */
int store_put_blob(struct store *st, const char *key, const void *data, size_t len,
                   struct err *err);
int store_get_blob(struct store *st, const char *key, struct buf *out, struct err *err);

#endif
