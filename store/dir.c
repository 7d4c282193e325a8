/* store/dir.c: the local-directory object store (embedded mode).
 *
 * Keys map to files under root. A write goes to a temp file in the target directory, is
 * fsync'ed, renamed over the key and the directory is fsync'ed, so a reader (or a crash) sees
 * the old or the new object whole. The data file holds exactly the object's bytes, so an
 * operator can copy a state's @current.tfstate straight out of the data dir.
 *
 * Metadata lives in a sidecar "<file>.meta", written after the data file:
 *
 *     v1 <size> <inode> <mtime_ns>\n<meta bytes>
 *
 * The sidecar is written without fsync: the data file is durable when put returns, its
 * metadata may not be. A crash between the two renames leaves a new data file with the old
 * sidecar. The data file's
 * inode always changes on a put (the temp file exists alongside the old file before the rename),
 * so the stale sidecar no longer matches and its meta is reported as "" (untrusted); the store
 * then rebuilds the metadata from the content. Temp files contain '~', which no key may contain,
 * and keys may not end in ".meta", so neither is ever listed as an object. A directory whose
 * name ends in ".meta" is no sidecar, though ("team/x.meta" is a state name): it is walked.
 * The store's layout puts every data file of a state in a name of its own ("@current.tfstate",
 * "@snapshots/…"), so a sidecar never sits where a state's directory could be.
 *
 * Durable puts are a group commit (common/groupsync.h): each writer writes its temp file
 * unsynced, then joins; one leader fsyncs every queued temp file, then renames them, then
 * fsyncs each distinct directory once, and each writer returns when its own file is durable.
 * A put still returns only once durable, so the store's order (the snapshot durable before
 * current is written) is unchanged: a state write's two puts go through two batches. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/blobcache.h"
#include "common/file.h"
#include "common/groupsync.h"
#include "common/log.h"
#include "common/util.h"
#include "store/store.h"

/* Read cache (common/blobcache.h). An entry's validator is the identity of the file it came
 * from (device, inode, size, mtime and ctime in ns): a get still stat()s the path every time and
 * uses the entry only when that identity is unchanged. Files here are never modified in place
 * (every put renames a new inode over the key), and a file is cached only once its times are
 * older than CACHE_SETTLE_NS, so even an in-place edit by hand within one timestamp tick (the
 * kernel's file times are coarse) cannot be served stale. */
#define CACHE_ENTRIES   32
#define CACHE_MAX_OBJ   (16u << 20)
#define CACHE_MAX_BYTES (64u << 20)
#define CACHE_SETTLE_NS 100000000LL
#define VALIDATOR_MAX   96

struct dirstore {
    struct objstore base;
    char *root; /* no trailing '/' */
    struct blobcache *cache;
    struct groupsync commit; /* durable puts; members' arg: their struct file_temp */
};

static const char META_SUFFIX[] = ".meta";

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Keys are relative paths: non-empty segments, no "." or "..", no '~' (temp files), no NUL or
 * backslash, and not ending in ".meta" (sidecars). */
static int key_check(const char *key, struct err *err)
{
    size_t len = strlen(key);
    if (len == 0 || len >= OBJ_KEY_MAX)
        return err_set(err, ERR_INVALID, "object key empty or too long");
    const char *seg = key;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return err_set(err, ERR_INVALID, "object key has an empty, '.' or '..' segment");
        if (!slash)
            break;
        seg = slash + 1;
    }
    if (strchr(key, '~') || strchr(key, '\\'))
        return err_set(err, ERR_INVALID, "object key contains a reserved character");
    if (ends_with(key, META_SUFFIX))
        return err_set(err, ERR_INVALID, "object key may not end in %s", META_SUFFIX);
    return 0;
}

/* mkdir -p for the directory a key's file goes in (path is the file's). */
static int make_parents(const char *path, struct err *err)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash != NULL) {
        *slash = '\0';
        rc = file_mkdir_p(dir, 0750, ERR_WRITE, err);
    }
    free(dir);
    return rc;
}

static char *key_path(struct dirstore *ds, const char *key)
{
    return xasprintf("%s/%s", ds->root, key);
}

static int64_t st_mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static void fill_info(struct obj_info *info, const char *key, const struct stat *st)
{
    snprintf(info->key, sizeof(info->key), "%s", key);
    info->size = (uint64_t)st->st_size;
    info->mtime_us = st_mtime_ns(st) / 1000;
    info->meta[0] = '\0';
}

static int64_t st_ctime_ns(const struct stat *st)
{
    return (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

static void file_validator(const struct stat *st, char out[VALIDATOR_MAX])
{
    snprintf(out, VALIDATOR_MAX, "%llu:%llu:%lld:%lld:%lld", (unsigned long long)st->st_dev,
             (unsigned long long)st->st_ino, (long long)st->st_size, (long long)st_mtime_ns(st),
             (long long)st_ctime_ns(st));
}

/* Serves key from the cache when the file at path (just stat'ed as st) is the one cached:
 * appends its bytes to out, or gives a reference in *shared (exactly one of out and shared is
 * non-NULL), and fills info. 1 on a hit, 0 on a miss, -1 on error (over max bytes). */
static int cache_get(struct dirstore *ds, const char *key, const char *path, const struct stat *st,
                     size_t max, struct buf *out, struct blob **shared, struct obj_info *info,
                     struct err *err);

/* Reads the sidecar of path into meta when it describes exactly the data file st; else
 * leaves meta "". Never fails: a missing or stale sidecar only means "untrusted". */
static void read_sidecar(const char *path, const struct stat *st, char meta[OBJ_META_MAX])
{
    meta[0] = '\0';
    char *mpath = xasprintf("%s%s", path, META_SUFFIX);
    int fd = open(mpath, O_RDONLY | O_CLOEXEC);
    free(mpath);
    if (fd < 0)
        return;
    char buf[OBJ_META_MAX + 128];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof(buf) - 1)
            break;
    }
    close(fd);
    buf[len] = '\0';
    char *nl = memchr(buf, '\n', len);
    if (!nl)
        return;
    *nl = '\0';
    uint64_t size, ino;
    int64_t mtime_ns;
    char tail;
    if (sscanf(buf, "v1 %" SCNu64 " %" SCNu64 " %" SCNd64 "%c", &size, &ino, &mtime_ns, &tail) != 3)
        return;
    if (size != (uint64_t)st->st_size || ino != (uint64_t)st->st_ino || mtime_ns != st_mtime_ns(st))
        return;
    size_t mlen = len - (size_t)(nl + 1 - buf);
    if (mlen >= OBJ_META_MAX || memchr(nl + 1, '\0', mlen))
        return;
    memcpy(meta, nl + 1, mlen);
    meta[mlen] = '\0';
}

static int cache_get(struct dirstore *ds, const char *key, const char *path, const struct stat *st,
                     size_t max, struct buf *out, struct blob **shared, struct obj_info *info,
                     struct err *err)
{
    char validator[VALIDATOR_MAX], meta[OBJ_META_MAX];
    file_validator(st, validator);
    struct blob *b = blobcache_get(ds->cache, key, validator, meta, sizeof(meta));
    if (b == NULL)
        return 0;
    int rc = 1;
    if (b->len > max) {
        err_set(err, ERR_TOO_LARGE, "object %s is %lld bytes, over the limit", key,
                (long long)st->st_size);
        if (out)
            buf_cleanup(out);
        rc = -1;
    } else if (out) {
        buf_append(out, b->data, b->len, NULL); /* under max: cannot fail */
    } else {
        *shared = blob_ref(b);
    }
    blob_unref(b);
    if (rc > 0 && info) {
        fill_info(info, key, st);
        if (meta[0] == '\0') {
            /* The sidecar is written after the data file: it may have appeared since. */
            read_sidecar(path, st, meta);
            blobcache_set_meta(ds->cache, key, validator, meta);
        }
        snprintf(info->meta, sizeof(info->meta), "%s", meta);
    }
    return rc;
}

/* Remembers what was just read from the file st (meta may be "" when its sidecar is not there
 * or does not match). Returns a new reference to the bytes to hand out (blobcache_put). */
static struct blob *cache_put(struct dirstore *ds, const char *key, const struct stat *st,
                              struct blob *data, const char *meta)
{
    if (data->len != (size_t)st->st_size)
        return blob_ref(data);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    int64_t newest = st_mtime_ns(st) > st_ctime_ns(st) ? st_mtime_ns(st) : st_ctime_ns(st);
    if (now_ns - newest < CACHE_SETTLE_NS)
        return blob_ref(data);
    char validator[VALIDATOR_MAX];
    file_validator(st, validator);
    return blobcache_put(ds->cache, key, validator, data, meta);
}

/* True when an earlier installed member of the batch than upto shares its directory. */
static bool dir_seen(struct groupsync_member *batch, struct groupsync_member *upto)
{
    const struct file_temp *t = upto->arg;
    for (struct groupsync_member *m = batch; m != upto; m = m->next) {
        const struct file_temp *o = m->arg;
        if (o->installed && strcmp(o->dir, t->dir) == 0)
            return true;
    }
    return false;
}

/* groupsync flush: every file's bytes, then the renames, then each directory once. A failed
 * file fsync fails the batch before anything is renamed (nothing changed, for everyone); a
 * failed rename is its member's alone; a failed directory fsync fails the batch after the
 * renames, which the store settles by reading current back (docs/storage.md, Failed writes). */
static int install_batch(void *ctx, struct groupsync_member *batch, struct err *err)
{
    (void)ctx;
    for (struct groupsync_member *m = batch; m; m = m->next)
        if (file_temp_sync(m->arg, err) != 0)
            return -1;
    for (struct groupsync_member *m = batch; m; m = m->next)
        file_temp_install(m->arg, &m->err);
    for (struct groupsync_member *m = batch; m; m = m->next) {
        struct file_temp *t = m->arg;
        if (t->installed && !dir_seen(batch, m) && fsync_dir(t->dir, t->code, err) != 0)
            return -1;
    }
    return 0;
}

/* Writes the sidecar mpath describing the data file st. The sidecar is a cache: not fsync'ed
 * (half the fsyncs of a write). After a power loss it may be missing, old or empty, and each
 * of those reads as "untrusted". */
static int write_sidecar(const char *mpath, const struct stat *st, const char *meta,
                         struct err *err)
{
    char head[96];
    int hn = snprintf(head, sizeof(head), "v1 %" PRIu64 " %" PRIu64 " %" PRId64 "\n",
                      (uint64_t)st->st_size, (uint64_t)st->st_ino, st_mtime_ns(st));
    struct file_write_opts how = {.mode = 0640, .durable = false, .code = ERR_WRITE};
    return file_write_atomic(mpath, head, (size_t)hn, meta, strlen(meta), &how, err);
}

/* Writes path durably, sharing the fsyncs with concurrent puts; st gets the new file's stat. */
static int put_data_file(struct dirstore *ds, const char *path, const void *data, size_t len,
                         struct stat *st, struct err *err)
{
    struct file_write_opts how = {.mode = 0640, .durable = true, .code = ERR_WRITE, .st = st};
    struct file_temp t;
    int rc = file_temp_write(&t, path, data, len, NULL, 0, &how, err);
    if (rc == 0) {
        struct groupsync_member me = {.arg = &t};
        rc = groupsync_join(&ds->commit, &me, err);
    }
    file_temp_cleanup(&t);
    return rc;
}

static int dir_put(struct objstore *os, const char *key, const void *data, size_t len,
                   const char *meta, struct err *err)
{
    struct dirstore *ds = (struct dirstore *)os;
    if (key_check(key, err) != 0)
        return -1;
    size_t mlen = meta ? strlen(meta) : 0;
    if (mlen >= OBJ_META_MAX)
        return err_set(err, ERR_INTERNAL, "object metadata too long (%zu bytes)", mlen);
    char *path = key_path(ds, key);
    char *mpath = xasprintf("%s%s", path, META_SUFFIX);
    int rc = -1;
    struct stat st;
    if (make_parents(path, err) != 0)
        goto out;
    /* Data first, then the sidecar naming the new file: see the file comment. */
    if (put_data_file(ds, path, data, len, &st, err) != 0)
        goto out;
    blobcache_drop(ds->cache, key); /* stale anyway (new inode); frees the memory now */
    if (mlen == 0) {
        /* No metadata: a stale sidecar would not match anyway, but drop it to keep the dir
         * tidy. */
        if (unlink(mpath) != 0 && errno != ENOENT)
            log_warn("dir store: remove stale %s: %s", mpath, strerror(errno));
        rc = 0;
        goto out;
    }
    rc = write_sidecar(mpath, &st, meta, err);
out:
    free(mpath);
    free(path);
    return rc;
}

/* Copies by a hard link: the same inode under a second name, no byte written. Safe because no
 * file here is ever changed in place (every put renames a new inode over its key), and src is
 * durable (it was put). The sidecar names the inode, so src's sidecar describes dst as well
 * and is linked too when the metadata is the same. */
static int dir_copy(struct objstore *os, const char *src, const char *dst, const char *meta,
                    struct err *err)
{
    struct dirstore *ds = (struct dirstore *)os;
    if (key_check(src, err) != 0 || key_check(dst, err) != 0)
        return -1;
    char *spath = key_path(ds, src), *dpath = key_path(ds, dst);
    char *smeta_path = xasprintf("%s%s", spath, META_SUFFIX);
    char *dmeta_path = xasprintf("%s%s", dpath, META_SUFFIX);
    char smeta[OBJ_META_MAX];
    struct stat st;
    struct file_temp t = {.fd = -1};
    int rc = -1;
    if (stat(spath, &st) != 0) {
        err_set_errno(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_UNAVAILABLE, errno, "stat %s",
                      src);
        goto out;
    }
    read_sidecar(spath, &st, smeta);
    if (make_parents(dpath, err) != 0 || file_temp_link(&t, spath, dpath, ERR_WRITE, err) != 0)
        goto out;
    struct groupsync_member me = {.arg = &t};
    if (groupsync_join(&ds->commit, &me, err) != 0)
        goto out;
    blobcache_drop(ds->cache, dst);
    const char *want = meta && meta[0] ? meta : smeta;
    if (!want[0]) {
        if (unlink(dmeta_path) != 0 && errno != ENOENT)
            log_warn("dir store: remove stale %s: %s", dmeta_path, strerror(errno));
        rc = 0;
    } else {
        /* A sidecar that cannot be linked (src's removed meanwhile) is written instead; one
         * replaced meanwhile names another inode, so it reads as untrusted for dst: safe. */
        struct file_temp mt = {.fd = -1};
        struct err le = {0};
        bool linked = strcmp(want, smeta) == 0 &&
                      file_temp_link(&mt, smeta_path, dmeta_path, ERR_WRITE, &le) == 0 &&
                      file_temp_install(&mt, &le) == 0;
        file_temp_cleanup(&mt);
        rc = linked ? 0 : write_sidecar(dmeta_path, &st, want, err);
    }
out:
    file_temp_cleanup(&t);
    free(dmeta_path);
    free(smeta_path);
    free(dpath);
    free(spath);
    return rc;
}

static int dir_head_path(const char *path, const char *key, struct obj_info *info, struct err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return err_set(err, ERR_NOT_FOUND, "no object %s", key);
        return err_set_errno(err, ERR_UNAVAILABLE, errno, "stat %s", path);
    }
    if (!S_ISREG(st.st_mode))
        return err_set(err, ERR_NOT_FOUND, "no object %s", key);
    if (info) {
        fill_info(info, key, &st);
        read_sidecar(path, &st, info->meta);
    }
    return 0;
}

static int dir_head(struct objstore *os, const char *key, struct obj_info *info, struct err *err)
{
    struct dirstore *ds = (struct dirstore *)os;
    if (key_check(key, err) != 0)
        return -1;
    char *path = key_path(ds, key);
    int rc = dir_head_path(path, key, info, err);
    free(path);
    return rc;
}

/* get and get_shared: the bytes of key appended to out (under out's own ceiling), or a
 * reference in *shared (exactly one of the two is non-NULL). max: 0 or the most bytes the
 * object may have. */
/* Opens the object's file for reading: ERR_NOT_FOUND when there is no regular file there. */
static int open_object(const char *path, const char *key, struct stat *st, struct err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR)
            return err_set(err, ERR_NOT_FOUND, "no object %s", key);
        return err_set_errno(err, ERR_UNAVAILABLE, errno, "open %s", path);
    }
    if (fstat(fd, st) != 0) {
        err_set_errno(err, ERR_UNAVAILABLE, errno, "fstat %s", path);
    } else if (!S_ISREG(st->st_mode)) {
        err_set(err, ERR_NOT_FOUND, "no object %s", key);
    } else {
        return fd;
    }
    close(fd);
    return -1;
}

/* Appends the whole file to dst under its ceiling (ERR_TOO_LARGE frees dst). */
static int read_file(int fd, const char *path, const char *key, const struct stat *st,
                     struct buf *dst, struct err *err)
{
    if (dst->max && (uint64_t)st->st_size > dst->max - dst->len) {
        buf_cleanup(dst);
        return err_set(err, ERR_TOO_LARGE, "object %s is %lld bytes, over the limit", key,
                       (long long)st->st_size);
    }
    if (buf_reserve(dst, (size_t)st->st_size, err) != 0)
        return -1;
    /* Read straight into the reserved room; once it is full, a file that grew meanwhile goes
     * through buf_append so the ceiling still holds. */
    for (;;) {
        char chunk[8192];
        size_t room = dst->cap - dst->len - 1;
        char *to = room > 0 ? dst->data + dst->len : chunk;
        ssize_t n = read(fd, to, room > 0 ? room : sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_set_errno(err, ERR_UNAVAILABLE, errno, "read %s", path);
        if (n == 0)
            return 0;
        if (to == chunk) {
            if (buf_append(dst, chunk, (size_t)n, err) != 0)
                return -1;
        } else {
            dst->len += (size_t)n;
            dst->data[dst->len] = '\0';
        }
    }
}

/* After a miss: the metadata from the sidecar, and the bytes into the cache. The bytes were
 * read into out (from start on), or into own, which becomes the shared blob. */
static void after_miss(struct dirstore *ds, const char *key, const char *path,
                       const struct stat *st, struct buf *out, size_t start, struct buf *own,
                       struct blob **shared, struct obj_info *info)
{
    char *meta = xmalloc(OBJ_META_MAX);
    read_sidecar(path, st, meta);
    if (info) {
        fill_info(info, key, st);
        memcpy(info->meta, meta, OBJ_META_MAX);
    }
    if (out) {
        /* The cache needs its own copy; only when it would keep it. */
        size_t n = out->len - start;
        if (n == (size_t)st->st_size && n <= CACHE_MAX_OBJ) {
            struct buf copy;
            buf_init(&copy, 0);
            buf_append(&copy, out->data + start, n, NULL);
            struct blob *bl = blob_from_buf(&copy);
            blob_unref(cache_put(ds, key, st, bl, meta));
            blob_unref(bl);
        }
    } else {
        struct blob *bl = blob_from_buf(own);
        *shared = cache_put(ds, key, st, bl, meta);
        blob_unref(bl);
    }
    free(meta);
}

/* get and get_shared: from the cache when the file is unchanged, else from the file. */
static int dir_read(struct dirstore *ds, const char *key, size_t max, struct buf *out,
                    struct blob **shared, struct obj_info *info, struct err *err)
{
    if (key_check(key, err) != 0)
        return -1;
    char *path = key_path(ds, key);
    struct stat st;
    size_t lim = max ? max : SIZE_MAX;
    if (out && out->max)
        lim = out->len < out->max ? out->max - out->len : 0;
    /* A shared read that misses claims the key, so readers missing together read it once. */
    for (bool claimed = false; !claimed;) {
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            int hit = cache_get(ds, key, path, &st, lim, out, shared, info, err);
            if (hit != 0) {
                free(path);
                return hit > 0 ? 0 : -1;
            }
        }
        claimed = out != NULL || blobcache_claim(ds->cache, key);
    }
    struct buf own;
    buf_init(&own, !out && max ? max : 0);
    struct buf *dst = out ? out : &own;
    size_t start = dst->len;
    int rc = -1;
    int fd = open_object(path, key, &st, err);
    if (fd >= 0 && read_file(fd, path, key, &st, dst, err) == 0) {
        after_miss(ds, key, path, &st, out, start, &own, shared, info);
        rc = 0;
    }
    if (fd >= 0)
        close(fd);
    if (out == NULL)
        blobcache_release(ds->cache, key); /* unless the cache_put did */
    buf_cleanup(&own);
    free(path);
    return rc;
}

static int dir_get(struct objstore *os, const char *key, struct buf *out, struct obj_info *info,
                   struct err *err)
{
    return dir_read((struct dirstore *)os, key, 0, out, NULL, info, err);
}

static int dir_get_shared(struct objstore *os, const char *key, size_t max, struct blob **out,
                          struct obj_info *info, struct err *err)
{
    *out = NULL;
    return dir_read((struct dirstore *)os, key, max, NULL, out, info, err);
}

static int dir_del(struct objstore *os, const char *key, struct err *err)
{
    struct dirstore *ds = (struct dirstore *)os;
    if (key_check(key, err) != 0)
        return -1;
    char *path = key_path(ds, key);
    char *mpath = xasprintf("%s%s", path, META_SUFFIX);
    int rc = 0;
    blobcache_drop(ds->cache, key);
    /* Sidecar first: a crash in between leaves data without metadata (rebuilt on read), never
     * a sidecar that could describe a later file. */
    if (unlink(mpath) != 0 && errno != ENOENT && errno != ENOTDIR)
        rc = err_set_errno(err, ERR_WRITE, errno, "remove %s", mpath);
    if (rc == 0 && unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR)
        rc = err_set_errno(err, ERR_WRITE, errno, "remove %s", path);
    if (rc == 0) {
        char *slash = strrchr(path, '/');
        *slash = '\0';
        if (access(path, F_OK) == 0)
            rc = fsync_dir(path, ERR_WRITE, err);
    }
    free(mpath);
    free(path);
    return rc;
}

struct keylist {
    char **keys;
    size_t n, cap;
};

/* Walks dir (relative key prefix rel, "" or ending in '/') collecting regular files whose key
 * starts with prefix. Directories that cannot contain such keys are not entered. */
static int walk(struct dirstore *ds, const char *rel, const char *prefix, struct keylist *kl,
                struct err *err)
{
    char *path = rel[0] ? xasprintf("%s/%s", ds->root, rel) : xstrdup(ds->root);
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        free(path);
        if (e == ENOENT || e == ENOTDIR)
            return 0;
        return err_set_errno(err, ERR_UNAVAILABLE, e, "open directory %s/%s", ds->root, rel);
    }
    int rc = 0;
    size_t plen = strlen(prefix);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strchr(n, '~'))
            continue;
        char *key = xasprintf("%s%s", rel, n);
        size_t klen = strlen(key);
        /* Only names compatible with the prefix: the key is a prefix of it (a directory on
         * the way) or it starts with it. */
        size_t cmp = klen < plen ? klen : plen;
        if (memcmp(key, prefix, cmp) != 0) {
            free(key);
            continue;
        }
        bool is_dir = false, is_reg = false;
        if (de->d_type == DT_DIR) {
            is_dir = true;
        } else if (de->d_type == DT_REG) {
            is_reg = true;
        } else {
            struct stat st;
            char *fp = xasprintf("%s/%s", path, n);
            if (lstat(fp, &st) == 0) {
                is_dir = S_ISDIR(st.st_mode);
                is_reg = S_ISREG(st.st_mode);
            }
            free(fp);
        }
        if (is_dir) {
            char *sub = xasprintf("%s/", key);
            size_t slen = klen + 1;
            size_t c2 = slen < plen ? slen : plen;
            if (memcmp(sub, prefix, c2) == 0)
                rc = walk(ds, sub, prefix, kl, err);
            free(sub);
            free(key);
            if (rc != 0)
                break;
        } else if (is_reg && klen >= plen && klen < OBJ_KEY_MAX && !ends_with(n, META_SUFFIX)) {
            if (kl->n == kl->cap) {
                kl->cap = kl->cap ? kl->cap * 2 : 64;
                kl->keys = xrealloc(kl->keys, kl->cap * sizeof(*kl->keys));
            }
            kl->keys[kl->n++] = key;
        } else {
            free(key);
        }
    }
    closedir(d);
    free(path);
    return rc;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int dir_list(struct objstore *os, const char *prefix,
                    int (*cb)(void *ctx, const struct obj_info *info), void *ctx, struct err *err)
{
    struct dirstore *ds = (struct dirstore *)os;
    struct keylist kl = {0};
    /* Start at the deepest directory the prefix names, so listing one state's snapshots does
     * not walk every state. */
    char *start = xstrdup(prefix);
    char *slash = strrchr(start, '/');
    if (slash)
        slash[1] = '\0';
    else
        start[0] = '\0';
    int rc = walk(ds, start, prefix, &kl, err);
    free(start);
    if (rc == 0 && kl.n > 1)
        qsort(kl.keys, kl.n, sizeof(*kl.keys), cmp_keys);
    struct obj_info *info = xmalloc(sizeof(*info));
    for (size_t i = 0; rc == 0 && i < kl.n; i++) {
        char *path = key_path(ds, kl.keys[i]);
        struct err e2 = {0};
        /* A file removed since the walk is simply skipped. */
        if (dir_head_path(path, kl.keys[i], info, &e2) == 0)
            rc = cb(ctx, info);
        free(path);
    }
    for (size_t i = 0; i < kl.n; i++)
        free(kl.keys[i]);
    free(kl.keys);
    free(info);
    return rc;
}

static int dir_ping(struct objstore *os, struct err *err)
{
    struct dirstore *ds = (struct dirstore *)os;
    struct stat st;
    if (stat(ds->root, &st) != 0)
        return err_set_errno(err, ERR_HEALTH, errno, "data dir %s", ds->root);
    if (!S_ISDIR(st.st_mode))
        return err_set(err, ERR_HEALTH, "data dir %s is not a directory", ds->root);
    if (access(ds->root, W_OK | X_OK) != 0)
        return err_set_errno(err, ERR_HEALTH, errno, "data dir %s not writable", ds->root);
    return 0;
}

static void dir_free(struct objstore *os)
{
    struct dirstore *ds = (struct dirstore *)os;
    if (!ds)
        return;
    blobcache_free(ds->cache);
    groupsync_cleanup(&ds->commit);
    free(ds->root);
    free(ds);
}

static const struct objstore_ops dir_ops = {
    .put = dir_put,
    .get = dir_get,
    .head = dir_head,
    .del = dir_del,
    .list = dir_list,
    .ping = dir_ping,
    .free = dir_free,
    .kind = "dir",
    .get_shared = dir_get_shared,
    .copy = dir_copy,
};

static struct objstore *dir_open(const char *root, bool read_only, struct err *err)
{
    if (!root || !root[0]) {
        err_set(err, ERR_INVALID, "empty data directory");
        return NULL;
    }
    char *r = xstrdup(root);
    size_t n = strlen(r);
    while (n > 1 && r[n - 1] == '/')
        r[--n] = '\0';
    struct stat st;
    if (stat(r, &st) != 0) {
        if (errno != ENOENT || read_only) {
            err_set_errno(err, ERR_INVALID, errno, "data dir %s", r);
            free(r);
            return NULL;
        }
        if (file_mkdir_p(r, 0750, ERR_INVALID, err) != 0) {
            free(r);
            return NULL;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        err_set(err, ERR_INVALID, "data dir %s is not a directory", r);
        free(r);
        return NULL;
    }
    /* One stated owns a data dir, so every temp file found before its first write is stale.
     * A reader is not that owner: the temp files may be a live stated's writes. */
    unsigned stale = read_only ? 0 : file_remove_stale_temps(r, true);
    if (stale > 0)
        log_warn("storage: removed %u temp file(s) left by interrupted writes under %s", stale, r);
    struct dirstore *ds = xcalloc(1, sizeof(*ds));
    ds->base.ops = &dir_ops;
    ds->root = r;
    ds->cache = blobcache_new(CACHE_ENTRIES, CACHE_MAX_BYTES, CACHE_MAX_OBJ);
    groupsync_init(&ds->commit, install_batch, ds);
    return &ds->base;
}

struct objstore *objstore_dir_new(const char *root, struct err *err)
{
    return dir_open(root, false, err);
}

struct objstore *objstore_dir_open_ro(const char *root, struct err *err)
{
    return dir_open(root, true, err);
}
