/* tests/unit/test_store.c: the local-directory objstore, storage URLs and the state store
 * semantics over the directory driver (snapshots, re-POST, listing, retention, encryption),
 * failed writes under injected storage faults, the keys of both layouts and the migration from
 * layout 1 (interrupted at each step). */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "common/util.h"
#include "store/store.h"
#include "store/store_int.h"
#include "tests/unit/t.h"

/* ------------------------------------------------------------------ helpers */

static char *state_body(uint64_t serial, const char *lineage, const char *extra)
{
    return xasprintf("{\"version\":4,\"terraform_version\":\"1.9.0\",\"serial\":%llu,"
                     "\"lineage\":\"%s\",\"outputs\":{\"x\":{\"value\":\"%s\"}},"
                     "\"resources\":[]}\n",
                     (unsigned long long)serial, lineage, extra);
}

static struct store *open_store(const char *root, unsigned retain_n, struct keyring *kr)
{
    struct err e = {0};
    struct objstore *os = objstore_dir_new(root, &e);
    CHECK(os != NULL);
    struct store_config cfg = {
        .max_state_bytes = 1 << 20, .retain_snapshots = retain_n, .keys = kr};
    struct store *st = store_new(os, &cfg, &e);
    CHECK(st != NULL);
    return st;
}

static int put_state(struct store *st, const char *name, const char *body, uint64_t serial,
                     bool *unchanged, struct state_meta *m)
{
    struct err e = {0};
    struct store_write w = {.serial = serial, .lineage = "lin-1", .writer = "ci/deploy"};
    int rc = store_put(st, name, body, strlen(body), &w, m, unchanged, &e);
    if (rc != 0)
        fprintf(stderr, "store_put %s: %s\n", name, e.msg);
    return rc;
}

struct snaps {
    int n;
    struct state_meta m[64];
};

static int on_snap(void *ctx, const struct state_meta *m)
{
    struct snaps *s = ctx;
    if (s->n < 64)
        s->m[s->n] = *m;
    s->n++;
    return 0;
}

static int count_snapshots(struct store *st, const char *name, struct snaps *s)
{
    struct err e = {0};
    memset(s, 0, sizeof(*s));
    if (store_list_snapshots(st, name, on_snap, s, &e) != 0)
        return -1;
    return s->n;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b;
    struct err e = {0};
    buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n, &e);
    fclose(f);
    return buf_take(&b, len);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fwrite(data, 1, len, f);
    fclose(f);
}

/* ------------------------------------------------------------------ dir driver */

struct keys {
    int n;
    char k[16][OBJ_KEY_MAX];
    char meta[16][OBJ_META_MAX];
};

static int on_key(void *ctx, const struct obj_info *info)
{
    struct keys *k = ctx;
    if (k->n < 16) {
        snprintf(k->k[k->n], OBJ_KEY_MAX, "%s", info->key);
        snprintf(k->meta[k->n], OBJ_META_MAX, "%s", info->meta);
    }
    k->n++;
    return 0;
}

static void test_dir_put_get_meta(void)
{
    const char *root = t_tempdir();
    char *sub = xasprintf("%s/data/nested", root);
    struct err e = {0};
    struct objstore *os = objstore_dir_new(sub, &e);
    CHECK(os != NULL);
    CHECK_STR(os->ops->kind, "dir");
    CHECK_INT(os->ops->ping(os, &e), 0);
    CHECK_INT(os->ops->put(os, "a/b/c.bin", "hello\0world", 11, "{\"m\":1}", &e), 0);
    struct buf b;
    buf_init(&b, 0);
    struct obj_info info;
    CHECK_INT(os->ops->get(os, "a/b/c.bin", &b, &info, &e), 0);
    CHECK_MEM(b.data, b.len, "hello\0world", 11);
    CHECK_STR(info.meta, "{\"m\":1}");
    CHECK_INT(info.size, 11);
    buf_cleanup(&b);

    /* The data file holds exactly the bytes; metadata sits beside it. */
    char *path = xasprintf("%s/a/b/c.bin", sub);
    size_t len;
    char *raw = read_file(path, &len);
    CHECK_MEM(raw, len, "hello\0world", 11);
    free(raw);

    /* Head of a missing key, a bad key. */
    CHECK_INT(os->ops->head(os, "a/b/none", &info, &e), -1);
    CHECK_INT(e.code, ERR_NOT_FOUND);
    err_clear(&e);
    CHECK_INT(os->ops->put(os, "../x", "x", 1, NULL, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    CHECK_INT(os->ops->put(os, "a/x.meta", "x", 1, NULL, &e), -1);
    err_clear(&e);

    /* Delete is idempotent. */
    CHECK_INT(os->ops->del(os, "a/b/c.bin", &e), 0);
    CHECK_INT(os->ops->del(os, "a/b/c.bin", &e), 0);
    CHECK_INT(os->ops->get(os, "a/b/c.bin", &b, NULL, &e), -1);
    CHECK_INT(e.code, ERR_NOT_FOUND);
    buf_cleanup(&b);
    free(path);
    free(sub);
    os->ops->free(os);
}

static void test_dir_list_order(void)
{
    const char *root = t_tempdir();
    struct err e = {0};
    struct objstore *os = objstore_dir_new(root, &e);
    const char *keys[] = {"p/a/x", "p/a-b/x", "p/a.b", "p/b", "q/z", "p/a/y/z"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
        CHECK_INT(os->ops->put(os, keys[i], "1", 1, "m", &e), 0);
    /* A leftover temp file from a crash is never listed. */
    char *tmp = xasprintf("%s/p/.~tmp.deadbeef", root);
    write_file(tmp, "junk", 4);
    free(tmp);
    struct keys k = {0};
    CHECK_INT(os->ops->list(os, "p/", on_key, &k, &e), 0);
    CHECK_INT(k.n, 5);
    /* Byte order of whole keys: '-' (0x2d) < '.' (0x2e) < '/' (0x2f). */
    CHECK_STR(k.k[0], "p/a-b/x");
    CHECK_STR(k.k[1], "p/a.b");
    CHECK_STR(k.k[2], "p/a/x");
    CHECK_STR(k.k[3], "p/a/y/z");
    CHECK_STR(k.k[4], "p/b");
    CHECK_STR(k.meta[0], "m");
    memset(&k, 0, sizeof(k));
    CHECK_INT(os->ops->list(os, "p/a", on_key, &k, &e), 0);
    CHECK_INT(k.n, 4);
    memset(&k, 0, sizeof(k));
    CHECK_INT(os->ops->list(os, "nothing/", on_key, &k, &e), 0);
    CHECK_INT(k.n, 0);
    os->ops->free(os);
}

/* A crash between the data rename and the sidecar rename leaves a sidecar describing an older
 * file: its metadata must not be trusted. */
static void test_dir_stale_sidecar_ignored(void)
{
    const char *root = t_tempdir();
    struct err e = {0};
    struct objstore *os = objstore_dir_new(root, &e);
    CHECK_INT(os->ops->put(os, "k", "old", 3, "{\"old\":1}", &e), 0);
    char *path = xasprintf("%s/k", root);
    char *mpath = xasprintf("%s/k.meta", root);
    size_t mlen;
    char *sidecar = read_file(mpath, &mlen);
    /* Simulate the crash: a new data file, renamed in, with the old sidecar left. */
    char *tmp = xasprintf("%s/.~tmp.x", root);
    write_file(tmp, "new", 3);
    CHECK_INT(rename(tmp, path), 0);
    struct obj_info info;
    CHECK_INT(os->ops->head(os, "k", &info, &e), 0);
    CHECK_STR(info.meta, "");
    /* A sidecar written by hand for the current file but with the wrong size is ignored too. */
    write_file(mpath, sidecar, mlen);
    CHECK_INT(os->ops->head(os, "k", &info, &e), 0);
    CHECK_STR(info.meta, "");
    free(sidecar);
    free(tmp);
    free(mpath);
    free(path);
    os->ops->free(os);
}

/* The read cache never serves bytes the file no longer has: an in-place edit of the same size,
 * a new file renamed over the key, and a removal are all seen by the next get. */
static void test_dir_cache_never_stale(void)
{
    const char *root = t_tempdir();
    struct err e = {0};
    struct objstore *os = objstore_dir_new(root, &e);
    CHECK_INT(os->ops->put(os, "c", "one", 3, "{\"m\":1}", &e), 0);
    usleep(150 * 1000); /* older than the cache's settle time: cacheable */
    struct buf b;
    buf_init(&b, 0);
    struct obj_info info;
    for (int i = 0; i < 2; i++) { /* a miss that fills the cache, then a hit */
        buf_reset(&b);
        CHECK_INT(os->ops->get(os, "c", &b, &info, &e), 0);
        CHECK_STR(b.data, "one");
        CHECK_STR(info.meta, "{\"m\":1}");
    }
    for (int i = 0; i < 2; i++) { /* shared references to the cached bytes */
        struct blob *bl = NULL;
        CHECK_INT(os->ops->get_shared(os, "c", 0, &bl, &info, &e), 0);
        CHECK_STR(bl->data, "one");
        CHECK_STR(info.meta, "{\"m\":1}");
        blob_unref(bl);
    }
    struct blob *small = NULL;
    CHECK_INT(os->ops->get_shared(os, "c", 2, &small, NULL, &e), -1);
    CHECK_INT(e.code, ERR_TOO_LARGE);
    CHECK(small == NULL);
    err_clear(&e);
    char *path = xasprintf("%s/c", root);
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    CHECK_INT((int)write(fd, "two", 3), 3);
    close(fd);
    buf_reset(&b);
    CHECK_INT(os->ops->get(os, "c", &b, &info, &e), 0);
    CHECK_STR(b.data, "two");
    CHECK_STR(info.meta, ""); /* the sidecar no longer describes the file */
    char *tmp = xasprintf("%s/.~tmp.y", root);
    write_file(tmp, "six", 3);
    CHECK_INT(rename(tmp, path), 0);
    usleep(150 * 1000);
    buf_reset(&b);
    CHECK_INT(os->ops->get(os, "c", &b, NULL, &e), 0);
    CHECK_STR(b.data, "six");
    CHECK_INT(unlink(path), 0);
    buf_reset(&b);
    CHECK_INT(os->ops->get(os, "c", &b, NULL, &e), -1);
    CHECK_INT(e.code, ERR_NOT_FOUND);
    buf_cleanup(&b);
    free(tmp);
    free(path);
    os->ops->free(os);
}

/* The directory driver copies by a hard link: same bytes and metadata under the new key, and
 * the copy is unaffected when the source is replaced or deleted afterwards. */
static void test_dir_copy_is_a_link(void)
{
    const char *root = t_tempdir();
    struct err e = {0};
    struct objstore *os = objstore_dir_new(root, &e);
    CHECK(os != NULL && os->ops->copy != NULL);
    CHECK_INT(os->ops->put(os, "s/snap", "one", 3, "{\"m\":1}", &e), 0);
    CHECK_INT(os->ops->copy(os, "s/snap", "s/cur", "{\"m\":1}", &e), 0);
    char *a = xasprintf("%s/s/snap", root), *b = xasprintf("%s/s/cur", root);
    struct stat sa, sb;
    CHECK_INT(stat(a, &sa), 0);
    CHECK_INT(stat(b, &sb), 0);
    CHECK(sa.st_ino == sb.st_ino);
    struct buf out;
    buf_init(&out, 0);
    struct obj_info info;
    CHECK_INT(os->ops->get(os, "s/cur", &out, &info, &e), 0);
    CHECK_MEM(out.data, out.len, "one", 3);
    CHECK_STR(info.meta, "{\"m\":1}");
    /* Other metadata: its own sidecar; none given: the source's. */
    CHECK_INT(os->ops->copy(os, "s/snap", "s/cur2", "{\"m\":2}", &e), 0);
    CHECK_INT(os->ops->head(os, "s/cur2", &info, &e), 0);
    CHECK_STR(info.meta, "{\"m\":2}");
    CHECK_INT(os->ops->copy(os, "s/snap", "s/cur3", NULL, &e), 0);
    CHECK_INT(os->ops->head(os, "s/cur3", &info, &e), 0);
    CHECK_STR(info.meta, "{\"m\":1}");
    /* Replacing or deleting the source leaves the copy as it was. */
    CHECK_INT(os->ops->put(os, "s/snap", "two", 3, "{\"m\":3}", &e), 0);
    CHECK_INT(os->ops->del(os, "s/snap", &e), 0);
    out.len = 0;
    CHECK_INT(os->ops->get(os, "s/cur", &out, &info, &e), 0);
    CHECK_MEM(out.data, out.len, "one", 3);
    CHECK_STR(info.meta, "{\"m\":1}");
    /* A missing source. */
    CHECK_INT(os->ops->copy(os, "s/none", "s/cur", NULL, &e), -1);
    CHECK_INT(e.code, ERR_NOT_FOUND);
    err_clear(&e);
    buf_cleanup(&out);
    free(a);
    free(b);
    os->ops->free(os);
}

/* Parses url; on success returns "kind|where|prefix" (caller frees), else NULL. */
static char *parse_url(const char *url, struct err *e)
{
    char *kind, *where, *prefix;
    if (storage_url_parse(url, &kind, &where, &prefix, e) != 0) {
        CHECK(kind == NULL && where == NULL && prefix == NULL);
        return NULL;
    }
    char *s = xasprintf("%s|%s|%s", kind, where, prefix);
    free(kind);
    free(where);
    free(prefix);
    return s;
}

static void test_storage_url(void)
{
    struct err e = {0};
    struct {
        const char *url, *want;
    } cases[] = {
        {"s3://my-bucket/team/states/", "s3|my-bucket|team/states"},
        {"s3://bkt", "s3|bkt|"},
        {"s3://bkt//a/b", "s3|bkt|a/b"},
        {"dir:/var/lib/stated", "dir|/var/lib/stated|"},
        {"./data", "dir|./data|"},
        {"s3://Bad_Bucket", NULL},
        {"s3://ab", NULL},
        {"s3://bkt/a//b", NULL},
        {"gs://x", NULL},
        {"dir:", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        err_clear(&e);
        char *got = parse_url(cases[i].url, &e);
        if (cases[i].want) {
            CHECK_STR(got ? got : "(error)", cases[i].want);
        } else {
            CHECK(got == NULL);
            CHECK_INT(e.code, ERR_INVALID);
        }
        free(got);
    }
}

/* ------------------------------------------------------------------ store */

static void test_store_roundtrip_and_snapshots(void)
{
    const char *root = t_tempdir();
    struct store *st = open_store(root, 0, NULL);
    struct err e = {0};
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(store_get(st, "prod/net", &b, NULL, &e), -1);
    CHECK_INT(e.code, ERR_NOT_FOUND);
    err_clear(&e);

    char *s1 = state_body(1, "lin-1", "a");
    char *s2 = state_body(2, "lin-1", "b");
    bool unchanged = true;
    struct state_meta m1, m2, g;
    CHECK_INT(put_state(st, "prod/net", s1, 1, &unchanged, &m1), 0);
    CHECK(!unchanged);
    CHECK_INT(put_state(st, "prod/net", s2, 2, &unchanged, &m2), 0);
    CHECK(!unchanged);
    CHECK(strcmp(m1.snapshot, m2.snapshot) < 0);

    CHECK_INT(store_get(st, "prod/net", &b, &g, &e), 0);
    CHECK_MEM(b.data, b.len, s2, strlen(s2));
    CHECK_INT(g.serial, 2);
    CHECK_STR(g.lineage, "lin-1");
    CHECK_STR(g.writer, "ci/deploy");
    CHECK_STR(g.snapshot, m2.snapshot);
    CHECK_INT(g.time_us, m2.time_us);
    char sha[65];
    sha256_hex(s2, strlen(s2), sha);
    CHECK_STR(g.sha256, sha);
    CHECK_INT(g.size, strlen(s2));

    /* The current file on disk is exactly the bytes written. */
    char *path = xasprintf("%s/states/prod/net/@current.tfstate", root);
    size_t len;
    char *raw = read_file(path, &len);
    CHECK_MEM(raw, len, s2, strlen(s2));
    free(raw);
    free(path);

    /* Snapshot ids: SEQ-SERIAL-SHA12. */
    CHECK_INT(strlen(m2.snapshot), 16 + 1 + 1 + 1 + 12);
    CHECK(strncmp(m2.snapshot + 19, sha, 12) == 0);

    /* Identical re-POST: no new snapshot, unchanged reported. */
    CHECK_INT(put_state(st, "prod/net", s2, 2, &unchanged, NULL), 0);
    CHECK(unchanged);
    struct snaps s;
    CHECK_INT(count_snapshots(st, "prod/net", &s), 2);
    /* Newest first, with metadata. */
    CHECK_STR(s.m[0].snapshot, m2.snapshot);
    CHECK_STR(s.m[1].snapshot, m1.snapshot);
    CHECK_INT(s.m[1].serial, 1);
    CHECK_STR(s.m[0].writer, "ci/deploy");

    /* Snapshot content. */
    buf_reset(&b);
    struct state_meta sm;
    CHECK_INT(store_get_snapshot(st, "prod/net", m1.snapshot, &b, &sm, &e), 0);
    CHECK_MEM(b.data, b.len, s1, strlen(s1));
    CHECK_INT(sm.serial, 1);
    char *with_ext = xasprintf("%s.tfstate", m1.snapshot);
    buf_reset(&b);
    CHECK_INT(store_get_snapshot(st, "prod/net", with_ext, &b, NULL, &e), 0);
    free(with_ext);
    CHECK_INT(store_get_snapshot(st, "prod/net", "0000000000000001-1-000000000000", &b, NULL, &e),
              -1);
    CHECK_INT(e.code, ERR_NOT_FOUND);
    err_clear(&e);
    CHECK_INT(store_get_snapshot(st, "prod/net", "../current", &b, NULL, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);

    /* Delete keeps snapshots. */
    CHECK_INT(store_delete(st, "prod/net", &e), 0);
    CHECK_INT(store_delete(st, "prod/net", &e), 0);
    CHECK_INT(store_head(st, "prod/net", &sm, &e), -1);
    CHECK_INT(e.code, ERR_NOT_FOUND);
    err_clear(&e);
    CHECK_INT(count_snapshots(st, "prod/net", &s), 2);

    /* Bad names never reach storage. */
    CHECK_INT(put_state(st, "../etc", s1, 1, NULL, NULL), -1);

    buf_cleanup(&b);
    free(s1);
    free(s2);
    store_free(st);
}

static void test_store_too_large(void)
{
    const char *root = t_tempdir();
    struct err e = {0};
    struct objstore *os = objstore_dir_new(root, &e);
    struct store_config cfg = {.max_state_bytes = 64};
    struct store *st = store_new(os, &cfg, &e);
    char *big = state_body(1, "l", "0123456789012345678901234567890123456789");
    struct store_write w = {.serial = 1, .lineage = "l", .writer = "w"};
    CHECK_INT(store_put(st, "big", big, strlen(big), &w, NULL, NULL, &e), -1);
    CHECK_INT(e.code, ERR_TOO_LARGE);
    free(big);
    store_free(st);
}

struct names {
    int n;
    char v[16][64];
    uint64_t serial[16];
};

static int on_state(void *ctx, const char *name, const struct state_meta *m)
{
    struct names *n = ctx;
    if (n->n < 16) {
        snprintf(n->v[n->n], 64, "%s", name);
        n->serial[n->n] = m->serial;
    }
    n->n++;
    return 0;
}

static bool want_after_prod_db(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "prod-db") > 0;
}

static int stop_after_two(void *ctx, const char *name, const struct state_meta *m)
{
    struct names *n = ctx;
    return n->n == 2 ? 1 : on_state(ctx, name, m);
}

static void test_store_list_states(void)
{
    const char *root = t_tempdir();
    struct store *st = open_store(root, 0, NULL);
    const char *names[] = {"prod/net", "prod-db", "prod/app/web", "dev", "prod/snapshots"};
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
        char *body = state_body(i + 1, "l", names[i]);
        CHECK_INT(put_state(st, names[i], body, i + 1, NULL, NULL), 0);
        free(body);
    }
    struct names n = {0};
    struct err e = {0};
    CHECK_INT(store_list_states(st, "", on_state, &n, &e), 0);
    CHECK_INT(n.n, 5);
    CHECK_STR(n.v[0], "dev");
    CHECK_STR(n.v[1], "prod-db");
    CHECK_STR(n.v[2], "prod/app/web");
    CHECK_STR(n.v[3], "prod/net");
    CHECK_STR(n.v[4], "prod/snapshots");
    CHECK_INT(n.serial[3], 1);
    memset(&n, 0, sizeof(n));
    CHECK_INT(store_list_states(st, "prod/", on_state, &n, &e), 0);
    CHECK_INT(n.n, 3);
    memset(&n, 0, sizeof(n));
    CHECK_INT(store_list_states(st, "prod", on_state, &n, &e), 0);
    CHECK_INT(n.n, 4);
    /* A name filter: the others' metadata is never read, the order is kept. */
    memset(&n, 0, sizeof(n));
    CHECK_INT(store_list_states_where(st, "", want_after_prod_db, on_state, &n, &e), 0);
    CHECK_INT(n.n, 3);
    CHECK_STR(n.v[0], "prod/app/web");
    CHECK_STR(n.v[2], "prod/snapshots");
    /* A callback's non-zero return stops the listing and is returned. */
    memset(&n, 0, sizeof(n));
    CHECK_INT(store_list_states(st, "", stop_after_two, &n, &e), 1);
    CHECK_INT(n.n, 2);
    /* A state called prod/snapshots does not show up as snapshots of prod. */
    struct snaps s;
    CHECK_INT(count_snapshots(st, "prod", &s), 0);
    store_free(st);
}

static void test_store_retention_count(void)
{
    const char *root = t_tempdir();
    struct store *st = open_store(root, 3, NULL);
    char *last = NULL;
    for (int i = 1; i <= 6; i++) {
        char *body = state_body((uint64_t)i, "l", "x");
        struct state_meta m;
        CHECK_INT(put_state(st, "s", body, (uint64_t)i, NULL, &m), 0);
        free(last);
        last = xstrdup(m.snapshot);
        free(body);
    }
    struct snaps s;
    CHECK_INT(count_snapshots(st, "s", &s), 3);
    CHECK_STR(s.m[0].snapshot, last);
    CHECK_INT(s.m[0].serial, 6);
    CHECK_INT(s.m[2].serial, 4);
    free(last);
    store_free(st);
}

static void test_store_retention_days_never_newest(void)
{
    const char *root = t_tempdir();
    struct err e = {0};
    struct objstore *os = objstore_dir_new(root, &e);
    struct store_config cfg = {.max_state_bytes = 1 << 20, .retain_days = 7};
    struct store *st = store_new(os, &cfg, &e);
    /* Two snapshots from 2020, placed as an older stated would have. */
    char *old1 = state_body(1, "l", "old1");
    char *old2 = state_body(2, "l", "old2");
    CHECK_INT(os->ops->put(os, "states/s/@snapshots/1577836800000000-1-aaaaaaaaaaaa.tfstate", old1,
                           strlen(old1), NULL, &e),
              0);
    CHECK_INT(os->ops->put(os, "states/s/@snapshots/1577836800000001-2-bbbbbbbbbbbb.tfstate", old2,
                           strlen(old2), NULL, &e),
              0);
    /* Their metadata is missing: rebuilt from the file name and the content. */
    struct snaps s;
    CHECK_INT(count_snapshots(st, "s", &s), 2);
    CHECK_STR(s.m[0].snapshot, "1577836800000001-2-bbbbbbbbbbbb");
    CHECK_INT(s.m[0].serial, 2);
    CHECK_INT(s.m[0].time_us, 1577836800000001LL);
    CHECK_STR(s.m[0].lineage, "l");
    CHECK_INT(s.m[0].size, strlen(old2));
    /* A new write prunes both old ones: the new snapshot is the newest. */
    char *body = state_body(3, "l", "new");
    CHECK_INT(put_state(st, "s", body, 3, NULL, NULL), 0);
    CHECK_INT(count_snapshots(st, "s", &s), 1);
    CHECK_INT(s.m[0].serial, 3);
    free(body);

    /* When the only snapshots are old, the newest is kept. */
    CHECK_INT(os->ops->put(os, "states/t/@snapshots/1577836800000000-1-aaaaaaaaaaaa.tfstate", old1,
                           strlen(old1), NULL, &e),
              0);
    CHECK_INT(os->ops->put(os, "states/t/@snapshots/1577836800000001-2-bbbbbbbbbbbb.tfstate", old2,
                           strlen(old2), NULL, &e),
              0);
    CHECK_INT(os->ops->put(os, "states/t/@current.tfstate", old2, strlen(old2), NULL, &e), 0);
    /* Identical re-POST: no write, no pruning needed. A new write would prune; instead call a
     * write on another state and check t is untouched. */
    bool unchanged = false;
    CHECK_INT(put_state(st, "t", old2, 2, &unchanged, NULL), 0);
    CHECK(unchanged);
    CHECK_INT(count_snapshots(st, "t", &s), 2);
    free(old1);
    free(old2);
    store_free(st);
}

/* The current object's metadata is missing (written by hand or after a crash): the re-POST
 * check hashes the content instead. */
static void test_store_untrusted_current_meta(void)
{
    const char *root = t_tempdir();
    struct store *st = open_store(root, 0, NULL);
    char *body = state_body(5, "lin-x", "v");
    CHECK_INT(put_state(st, "a", body, 5, NULL, NULL), 0);
    char *mpath = xasprintf("%s/states/a/@current.tfstate.meta", root);
    CHECK_INT(unlink(mpath), 0);
    free(mpath);
    struct err e = {0};
    struct state_meta m;
    CHECK_INT(store_head(st, "a", &m, &e), 0);
    CHECK_INT(m.serial, 5);
    CHECK_STR(m.lineage, "lin-x");
    CHECK_STR(m.writer, "");
    bool unchanged = false;
    CHECK_INT(put_state(st, "a", body, 5, &unchanged, NULL), 0);
    CHECK(unchanged);
    struct snaps s;
    CHECK_INT(count_snapshots(st, "a", &s), 1);
    free(body);
    store_free(st);
}

/* A crash after current's data rename but before its sidecar rename: the old sidecar sits
 * next to the new content. The store must describe (and compare against) the new content. */
static void test_store_crash_between_data_and_sidecar(void)
{
    const char *root = t_tempdir();
    struct store *st = open_store(root, 0, NULL);
    char *v1 = state_body(1, "l", "one");
    char *v2 = state_body(2, "l", "two");
    CHECK_INT(put_state(st, "c", v1, 1, NULL, NULL), 0);
    char *mpath = xasprintf("%s/states/c/@current.tfstate.meta", root);
    size_t mlen;
    char *old_sidecar = read_file(mpath, &mlen);
    CHECK_INT(put_state(st, "c", v2, 2, NULL, NULL), 0);
    write_file(mpath, old_sidecar, mlen);
    struct err e = {0};
    struct state_meta m;
    CHECK_INT(store_head(st, "c", &m, &e), 0);
    CHECK_INT(m.serial, 2);
    char sha[65];
    sha256_hex(v2, strlen(v2), sha);
    CHECK_STR(m.sha256, sha);
    /* Writing v1 again is a real change, not a re-POST. */
    bool unchanged = true;
    CHECK_INT(put_state(st, "c", v1, 3, &unchanged, NULL), 0);
    CHECK(!unchanged);
    struct snaps s;
    CHECK_INT(count_snapshots(st, "c", &s), 3);
    free(old_sidecar);
    free(mpath);
    free(v1);
    free(v2);
    store_free(st);
}

/* A writer name comes from a client's Basic username: any bytes, and non-ASCII text grows
 * six-fold when escaped. The write still succeeds and its metadata stays readable. */
static void test_store_odd_writer(void)
{
    const char *root = t_tempdir();
    struct store *st = open_store(root, 0, NULL);
    char writer[160];
    size_t o = 0;
    while (o + 2 < sizeof(writer) - 1) {
        writer[o++] = (char)0xc3;
        writer[o++] = (char)0xa9; /* é */
    }
    writer[o] = '\0';
    writer[5] = (char)0xff; /* and an invalid byte */
    char lineage[129];
    memset(lineage, 0, sizeof(lineage));
    for (size_t i = 0; i + 3 < 128; i += 3)
        memcpy(lineage + i, "\xe2\x82\xac", 3); /* € */
    char *body = state_body(1, "l", "w");
    struct err e = {0};
    struct store_write w = {.serial = 1, .lineage = lineage, .writer = writer};
    struct state_meta m;
    CHECK_INT(store_put(st, "w", body, strlen(body), &w, &m, NULL, &e), 0);
    struct state_meta h;
    CHECK_INT(store_head(st, "w", &h, &e), 0);
    CHECK_STR(h.lineage, lineage);
    CHECK(strncmp(h.writer, "\xc3\xa9\xc3\xa9?", 5) == 0);
    CHECK_STR(h.snapshot, m.snapshot);
    /* Metadata was stored, not rebuilt (a rebuilt one has no writer). */
    CHECK(h.writer[0] != '\0');
    free(body);
    store_free(st);
}

/* An objstore whose listing carries no metadata, as S3's ListObjectsV2 does: the store must
 * fetch it per object (head) and behave the same. */
struct nometa {
    struct objstore base;
    struct objstore *inner;
    int heads;
};

static int nm_put(struct objstore *os, const char *key, const void *data, size_t len,
                  const char *meta, struct err *err)
{
    struct objstore *in = ((struct nometa *)os)->inner;
    return in->ops->put(in, key, data, len, meta, err);
}
static int nm_get(struct objstore *os, const char *key, struct buf *out, struct obj_info *info,
                  struct err *err)
{
    struct objstore *in = ((struct nometa *)os)->inner;
    return in->ops->get(in, key, out, info, err);
}
static int nm_head(struct objstore *os, const char *key, struct obj_info *info, struct err *err)
{
    struct nometa *nm = (struct nometa *)os;
    nm->heads++;
    return nm->inner->ops->head(nm->inner, key, info, err);
}
static int nm_del(struct objstore *os, const char *key, struct err *err)
{
    struct objstore *in = ((struct nometa *)os)->inner;
    return in->ops->del(in, key, err);
}
struct nm_list_ctx {
    int (*cb)(void *ctx, const struct obj_info *info);
    void *ctx;
};
static int nm_list_cb(void *ctx, const struct obj_info *info)
{
    struct nm_list_ctx *c = ctx;
    struct obj_info copy = *info;
    copy.meta[0] = '\0';
    return c->cb(c->ctx, &copy);
}
static int nm_list(struct objstore *os, const char *prefix,
                   int (*cb)(void *ctx, const struct obj_info *info), void *ctx, struct err *err)
{
    struct objstore *in = ((struct nometa *)os)->inner;
    struct nm_list_ctx c = {cb, ctx};
    return in->ops->list(in, prefix, nm_list_cb, &c, err);
}
static int nm_ping(struct objstore *os, struct err *err)
{
    return 0;
}
static void nm_free(struct objstore *os)
{
    struct nometa *nm = (struct nometa *)os;
    nm->inner->ops->free(nm->inner);
    free(nm);
}
static const struct objstore_ops nometa_ops = {.put = nm_put,
                                               .get = nm_get,
                                               .head = nm_head,
                                               .del = nm_del,
                                               .list = nm_list,
                                               .ping = nm_ping,
                                               .free = nm_free,
                                               .kind = "nometa"};

/* An objstore that can copy on its side and takes the caller's SHA-256, over the dir driver:
 * mode 0 copies, 1 refuses copies (a store without CopyObject), 2 fails them as in an outage. */
struct copier {
    struct objstore base;
    struct objstore *inner;
    int mode;
    int puts, sha_puts, sha_wrong, copies;
};

static struct objstore *cp_inner(struct objstore *os)
{
    return ((struct copier *)os)->inner;
}
static int cp_put(struct objstore *os, const char *key, const void *data, size_t len,
                  const char *meta, struct err *err)
{
    ((struct copier *)os)->puts++;
    return cp_inner(os)->ops->put(cp_inner(os), key, data, len, meta, err);
}
static int cp_put_sha256(struct objstore *os, const char *key, const void *data, size_t len,
                         const char *meta, const char sha256[65], struct err *err)
{
    struct copier *c = (struct copier *)os;
    char real[65];
    sha256_hex(data, len, real);
    c->sha_puts++;
    if (strcmp(real, sha256) != 0)
        c->sha_wrong++;
    return c->inner->ops->put(c->inner, key, data, len, meta, err);
}
static int cp_get(struct objstore *os, const char *key, struct buf *out, struct obj_info *info,
                  struct err *err)
{
    return cp_inner(os)->ops->get(cp_inner(os), key, out, info, err);
}
static int cp_head(struct objstore *os, const char *key, struct obj_info *info, struct err *err)
{
    return cp_inner(os)->ops->head(cp_inner(os), key, info, err);
}
static int cp_del(struct objstore *os, const char *key, struct err *err)
{
    return cp_inner(os)->ops->del(cp_inner(os), key, err);
}
static int cp_list(struct objstore *os, const char *prefix,
                   int (*cb)(void *ctx, const struct obj_info *info), void *ctx, struct err *err)
{
    return cp_inner(os)->ops->list(cp_inner(os), prefix, cb, ctx, err);
}
static int cp_ping(struct objstore *os, struct err *err)
{
    return 0;
}
static void cp_free(struct objstore *os)
{
    cp_inner(os)->ops->free(cp_inner(os));
    free(os);
}
static int cp_copy(struct objstore *os, const char *src, const char *dst, const char *meta,
                   struct err *err)
{
    struct copier *c = (struct copier *)os;
    c->copies++;
    if (c->mode == 1)
        return err_set(err, ERR_INTERNAL, "copy not implemented");
    if (c->mode == 2)
        return err_set(err, ERR_UNAVAILABLE, "storage down");
    struct buf b;
    struct obj_info info;
    buf_init(&b, 0);
    int rc = c->inner->ops->get(c->inner, src, &b, &info, err);
    if (rc == 0) /* as S3: no new metadata keeps the source's */
        rc = c->inner->ops->put(c->inner, dst, b.data, b.len, meta && meta[0] ? meta : info.meta,
                                err);
    buf_cleanup(&b);
    return rc;
}
static const struct objstore_ops copier_ops = {.put = cp_put,
                                               .get = cp_get,
                                               .head = cp_head,
                                               .del = cp_del,
                                               .list = cp_list,
                                               .ping = cp_ping,
                                               .free = cp_free,
                                               .kind = "copier",
                                               .put_sha256 = cp_put_sha256,
                                               .copy = cp_copy};

/* A write sends the bytes once (snapshot with the known SHA-256, current copied); a store
 * that refuses copies gets uploads (and is not asked again); a copy failing in an outage
 * fails the write, leaves the previous current and takes its snapshot back. The recorded MD5
 * is the content's. */
static void test_store_put_copy(void)
{
    for (int mode = 0; mode <= 2; mode++) {
        const char *root = t_tempdir();
        struct err e = {0};
        struct copier *c = xcalloc(1, sizeof(*c));
        c->base.ops = &copier_ops;
        c->inner = objstore_dir_new(root, &e);
        c->mode = mode;
        struct store_config cfg = {.max_state_bytes = 1 << 20};
        struct store *st = store_new(&c->base, &cfg, &e);
        c->puts = 0; /* the layout marker of the new storage */
        char *b1 = state_body(1, "l", "one"), *b2 = state_body(2, "l", "two");
        struct state_meta m;
        CHECK_INT(put_state(st, "s", b1, 1, NULL, &m), mode == 2 ? -1 : 0);
        if (mode == 2) {
            /* The snapshot went in and out again; current was not replaced. */
            struct buf b;
            buf_init(&b, 0);
            CHECK_INT(store_get(st, "s", &b, NULL, &e), -1);
            CHECK_INT(e.code, ERR_NOT_FOUND);
            buf_cleanup(&b);
            CHECK_INT(c->sha_puts, 1);
            struct snaps s;
            CHECK_INT(count_snapshots(st, "s", &s), 0);
        } else {
            CHECK_INT(put_state(st, "s", b2, 2, NULL, &m), 0);
            CHECK_INT(c->sha_puts, mode == 0 ? 2 : 4);
            CHECK_INT(c->copies, 1 + (mode == 0));
            struct buf b;
            buf_init(&b, 0);
            struct state_meta got;
            CHECK_INT(store_get(st, "s", &b, &got, &e), 0);
            CHECK_STR(b.data, b2);
            char md5[25];
            md5_base64(b2, strlen(b2), md5);
            CHECK_STR(got.md5, md5);
            CHECK_STR(got.snapshot, m.snapshot);
            buf_cleanup(&b);
        }
        CHECK_INT(c->sha_wrong, 0);
        CHECK_INT(c->puts, 0);
        free(b1);
        free(b2);
        store_free(st);
    }
}

static void test_store_listing_without_meta(void)
{
    const char *root = t_tempdir();
    struct err e = {0};
    struct nometa *nm = xcalloc(1, sizeof(*nm));
    nm->base.ops = &nometa_ops;
    nm->inner = objstore_dir_new(root, &e);
    struct store_config cfg = {.max_state_bytes = 1 << 20, .retain_snapshots = 2};
    struct store *st = store_new(&nm->base, &cfg, &e);
    for (int i = 1; i <= 4; i++) {
        char *body = state_body((uint64_t)i, "l", "x");
        struct store_write w = {.serial = (uint64_t)i, .lineage = "l", .writer = "bob"};
        CHECK_INT(store_put(st, "a/b", body, strlen(body), &w, NULL, NULL, &e), 0);
        free(body);
    }
    struct snaps s;
    nm->heads = 0;
    CHECK_INT(count_snapshots(st, "a/b", &s), 2);
    CHECK_INT(nm->heads, 2);
    CHECK_INT(s.m[0].serial, 4);
    CHECK_STR(s.m[0].writer, "bob");
    struct names n = {0};
    CHECK_INT(store_list_states(st, "", on_state, &n, &e), 0);
    CHECK_INT(n.n, 1);
    CHECK_INT(n.serial[0], 4);
    store_free(st);
}

struct writer_arg {
    struct store *st;
    int id;
    int failures;
};

static void *write_many(void *p)
{
    struct writer_arg *a = p;
    for (int i = 0; i < 15; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "w%d-%d", a->id, i);
        char *body = state_body((uint64_t)i, "l", tag);
        struct err e = {0};
        struct store_write w = {.serial = (uint64_t)i, .lineage = "l", .writer = tag};
        /* Two threads share a state, two have their own. */
        const char *name = a->id < 2 ? "shared" : (a->id == 2 ? "own/two" : "own/three");
        if (store_put(a->st, name, body, strlen(body), &w, NULL, NULL, &e) != 0)
            a->failures++;
        free(body);
    }
    return NULL;
}

/* Writers on worker threads at once: every write gets its own snapshot (SEQ never repeats),
 * current is always one of the written states, whole, and the newest snapshot is it. */
static void test_store_concurrent_writes(void)
{
    const char *root = t_tempdir();
    struct store *st = open_store(root, 0, NULL);
    pthread_t th[4];
    struct writer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct writer_arg){.st = st, .id = i};
        pthread_create(&th[i], NULL, write_many, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(args[i].failures, 0);
    }
    struct snaps s;
    CHECK_INT(count_snapshots(st, "shared", &s), 30);
    for (int i = 1; i < 30; i++)
        CHECK(strcmp(s.m[i - 1].snapshot, s.m[i].snapshot) > 0);
    CHECK_INT(count_snapshots(st, "own/two", &s), 15);
    struct err e = {0};
    struct buf b;
    buf_init(&b, 0);
    struct state_meta m;
    CHECK_INT(store_get(st, "shared", &b, &m, &e), 0);
    char sha[65];
    sha256_hex(b.data, b.len, sha);
    CHECK_STR(m.sha256, sha);
    /* Writes of one state are serialised: the newest snapshot is the write that is current. */
    CHECK_INT(count_snapshots(st, "shared", &s), 30);
    CHECK_STR(s.m[0].snapshot, m.snapshot);
    buf_cleanup(&b);
    store_free(st);
}

/* Serials up to 2^64-1 round-trip exactly through the metadata (a decimal string above
 * 2^63-1, so that any JSON reader gets it right), in reads and both listings. */
static void test_store_serial_u64_meta(void)
{
    const char *root = t_tempdir();
    struct store *st = open_store(root, 0, NULL);
    const uint64_t serials[] = {9223372036854775807ULL, 9223372036854775808ULL, UINT64_MAX};
    const char *in_meta[] = {"\"serial\":9223372036854775807,",
                             "\"serial\":\"9223372036854775808\",",
                             "\"serial\":\"18446744073709551615\","};
    for (int i = 0; i < 3; i++) {
        char *body = state_body(serials[i], "l", "u");
        struct state_meta m, g;
        CHECK_INT(put_state(st, "u", body, serials[i], NULL, &m), 0);
        CHECK(strstr(m.snapshot, i == 2 ? "-18446744073709551615-" : "-922337203685477580") !=
              NULL);
        char *side = xasprintf("%s/states/u/@current.tfstate.meta", root);
        size_t len;
        char *text = read_file(side, &len);
        CHECK(text && strstr(text, in_meta[i]));
        free(text);
        free(side);
        store_free(st); /* no cached object: the metadata is read back from the sidecar */
        st = open_store(root, 0, NULL);
        struct err e = {0};
        CHECK_INT(store_head(st, "u", &g, &e), 0);
        CHECK(g.serial == serials[i]);
        struct names n = {0};
        CHECK_INT(store_list_states(st, "", on_state, &n, &e), 0);
        CHECK(n.serial[0] == serials[i]);
        struct snaps s;
        CHECK_INT(count_snapshots(st, "u", &s), i + 1);
        CHECK(s.m[0].serial == serials[i]);
        free(body);
    }
    store_free(st);
}

/* ------------------------------------------------------------------ faults */

/* An objstore over the directory driver that fails chosen operations the ways storage does:
 * before doing anything, after doing it (a lost answer, an fsync failing after the rename),
 * or after the data file but before its sidecar (a kill between the two); or lets "another
 * instance" run the layout migration first. It can offer server-side copy, made by reading
 * and putting (no new metadata keeps the source's, as in S3). */
enum fault_op { F_PUT = 1, F_DEL = 2, F_HEAD = 4, F_COPY = 8 };
enum fault_how { F_BEFORE, F_AFTER, F_DATA_ONLY, F_OTHER_INSTANCE };

struct fault_rule {
    unsigned ops;      /* which operations the rule counts */
    const char *match; /* key substring; NULL: any key */
    int fail_at;       /* >0: only the fail_at-th counted operation fails; 0: each one */
    enum fault_how how;
    enum err_code code; /* what the failure reports; ERR_OK: ERR_UNAVAILABLE */
    int seen;
};

struct faulty {
    struct objstore base;
    struct objstore_ops ops; /* faulty_ops, with copy or without */
    struct objstore *inner;
    char *root;
    struct fault_rule rule[2];
    int mutations; /* puts, copies and deletes seen */
};

static struct fault_rule *fault_rule_for(struct faulty *f, unsigned op, const char *key)
{
    if (op != F_HEAD)
        f->mutations++;
    for (int i = 0; i < 2; i++) {
        struct fault_rule *r = &f->rule[i];
        if (!(r->ops & op) || (r->match && !strstr(key, r->match)))
            continue;
        r->seen++;
        if (r->fail_at == 0 || r->seen == r->fail_at)
            return r;
    }
    return NULL;
}

static int fault_fail(const struct fault_rule *r, const char *key, struct err *err)
{
    return err_set(err, r->code != ERR_OK ? r->code : ERR_UNAVAILABLE, "injected fault on %s", key);
}

/* Runs a rule's fault around op (0 done, -1 failed): before, after, instead. */
static int fault_around(struct faulty *f, struct fault_rule *r, const char *key, int done,
                        struct err *err)
{
    if (r->how == F_DATA_ONLY) {
        char *side = xasprintf("%s/%s.meta", f->root, key);
        unlink(side);
        free(side);
    }
    return done != 0 ? -1 : fault_fail(r, key, err);
}

static bool fault_first(struct faulty *f, struct fault_rule *r)
{
    if (r->how == F_OTHER_INSTANCE) {
        struct err e = {0};
        CHECK_INT(store__layout_open(f->inner, false, &e), 0);
        return false;
    }
    return r->how == F_BEFORE;
}

static int fl_put(struct objstore *os, const char *key, const void *data, size_t len,
                  const char *meta, struct err *err)
{
    struct faulty *f = (struct faulty *)os;
    struct fault_rule *r = fault_rule_for(f, F_PUT, key);
    if (r && fault_first(f, r))
        return fault_fail(r, key, err);
    int rc = f->inner->ops->put(f->inner, key, data, len, meta, err);
    return r && r->how != F_OTHER_INSTANCE ? fault_around(f, r, key, rc, err) : rc;
}
static int fl_get(struct objstore *os, const char *key, struct buf *out, struct obj_info *info,
                  struct err *err)
{
    struct objstore *in = ((struct faulty *)os)->inner;
    return in->ops->get(in, key, out, info, err);
}
static int fl_head(struct objstore *os, const char *key, struct obj_info *info, struct err *err)
{
    struct faulty *f = (struct faulty *)os;
    struct fault_rule *r = fault_rule_for(f, F_HEAD, key);
    if (r)
        return fault_fail(r, key, err);
    return f->inner->ops->head(f->inner, key, info, err);
}
static int fl_del(struct objstore *os, const char *key, struct err *err)
{
    struct faulty *f = (struct faulty *)os;
    struct fault_rule *r = fault_rule_for(f, F_DEL, key);
    if (r && fault_first(f, r))
        return fault_fail(r, key, err);
    int rc = f->inner->ops->del(f->inner, key, err);
    return r && r->how != F_OTHER_INSTANCE ? fault_around(f, r, key, rc, err) : rc;
}
static int fl_list(struct objstore *os, const char *prefix,
                   int (*cb)(void *ctx, const struct obj_info *info), void *ctx, struct err *err)
{
    struct objstore *in = ((struct faulty *)os)->inner;
    return in->ops->list(in, prefix, cb, ctx, err);
}
static int fl_ping(struct objstore *os, struct err *err)
{
    return 0;
}
static void fl_free(struct objstore *os)
{
    struct faulty *f = (struct faulty *)os;
    f->inner->ops->free(f->inner);
    free(f->root);
    free(f);
}
static int fl_copy(struct objstore *os, const char *src, const char *dst, const char *meta,
                   struct err *err)
{
    struct faulty *f = (struct faulty *)os;
    struct fault_rule *r = fault_rule_for(f, F_COPY, dst);
    if (r && fault_first(f, r))
        return fault_fail(r, dst, err);
    struct buf b;
    struct obj_info info;
    buf_init(&b, 0);
    int rc = f->inner->ops->get(f->inner, src, &b, &info, err);
    if (rc == 0)
        rc = f->inner->ops->put(f->inner, dst, b.data, b.len, meta && meta[0] ? meta : info.meta,
                                err);
    buf_cleanup(&b);
    return r && r->how != F_OTHER_INSTANCE ? fault_around(f, r, dst, rc, err) : rc;
}
static const struct objstore_ops faulty_ops = {.put = fl_put,
                                               .get = fl_get,
                                               .head = fl_head,
                                               .del = fl_del,
                                               .list = fl_list,
                                               .ping = fl_ping,
                                               .free = fl_free,
                                               .kind = "faulty"};

static struct faulty *faulty_new(const char *root, bool copy)
{
    struct err e = {0};
    struct faulty *f = xcalloc(1, sizeof(*f));
    f->ops = faulty_ops;
    f->ops.copy = copy ? fl_copy : NULL;
    f->base.ops = &f->ops;
    f->inner = objstore_dir_new(root, &e);
    f->root = xstrdup(root);
    CHECK(f->inner != NULL);
    return f;
}

static struct store *faulty_store(struct faulty *f, unsigned retain_n)
{
    struct err e = {0};
    struct store_config cfg = {.max_state_bytes = 1 << 20, .retain_snapshots = retain_n};
    struct store *st = store_new(&f->base, &cfg, &e);
    CHECK(st != NULL);
    return st;
}

static void read_current(struct store *st, const char *name, const char *want)
{
    struct buf b;
    struct err e = {0};
    buf_init(&b, 0);
    CHECK_INT(store_get(st, name, &b, NULL, &e), want ? 0 : -1);
    if (want)
        CHECK_STR(b.data ? b.data : "", want);
    buf_cleanup(&b);
}

/* State "s" in a store over a faulty objstore, and five bodies for it (b[1] ... b[5]). */
struct fx {
    struct faulty *f;
    struct store *st;
    char *b[6];
};

/* The store over a faulty driver; setup (may be NULL) changes the driver's calls before the
 * store wraps it (store_new takes the optional calls the driver has then). */
static void fx_open_with(struct fx *x, bool copy, void (*setup)(struct objstore_ops *ops))
{
    static const char *const words[] = {"", "one", "two", "three", "four", "five"};
    x->f = faulty_new(t_tempdir(), copy);
    if (setup != NULL)
        setup(&x->f->ops);
    x->st = faulty_store(x->f, 0);
    x->b[0] = NULL;
    for (int i = 1; i < 6; i++)
        x->b[i] = state_body((uint64_t)i, "l", words[i]);
}

static void fx_open(struct fx *x, bool copy)
{
    fx_open_with(x, copy, NULL);
}

static void fx_close(struct fx *x)
{
    for (int i = 1; i < 6; i++)
        free(x->b[i]);
    store_free(x->st);
}

/* Writes b[i] as serial i; 0 or -1, and *code the error's. */
static int fx_put(struct fx *x, int i, struct state_meta *m, enum err_code *code)
{
    struct err e = {0};
    struct store_write w = {.serial = (uint64_t)i, .lineage = "l", .writer = "ci"};
    int rc = store_put(x->st, "s", x->b[i], strlen(x->b[i]), &w, m, NULL, &e);
    if (code)
        *code = e.code;
    return rc;
}

/* The snapshots of "s": how many, and their serials newest first in s. */
static int fx_snapshots(struct fx *x, struct snaps *s)
{
    return count_snapshots(x->st, "s", s);
}

/* A current write that fails changes nothing: the state stays, and so does its list of
 * snapshots. One that the storage performed although it said it failed is a success. Both
 * with the directory's put and with a server-side copy. */
static void test_store_failed_current_write(void)
{
    for (int copy = 0; copy <= 1; copy++) {
        struct fx x;
        struct snaps s;
        struct state_meta m1, m3;
        enum err_code code;
        fx_open(&x, copy);
        CHECK_INT(fx_put(&x, 1, &m1, NULL), 0);
        x.f->rule[0] = (struct fault_rule){.ops = copy ? F_COPY : F_PUT, .match = "@current"};
        CHECK_INT(fx_put(&x, 2, NULL, &code), -1);
        CHECK_INT(code, ERR_UNAVAILABLE);
        read_current(x.st, "s", x.b[1]);
        CHECK_INT(fx_snapshots(&x, &s), 1);
        CHECK_STR(s.m[0].snapshot, m1.snapshot);
        /* Done by the storage, reported failed: answered as written. */
        x.f->rule[0].how = F_AFTER;
        CHECK_INT(fx_put(&x, 3, &m3, NULL), 0);
        read_current(x.st, "s", x.b[3]);
        CHECK_INT(fx_snapshots(&x, &s), 2);
        CHECK_STR(s.m[0].snapshot, m3.snapshot);
        /* Its metadata was lost with the failure (a directory sidecar): still this write. */
        if (!copy) {
            x.f->rule[0].how = F_DATA_ONLY;
            CHECK_INT(fx_put(&x, 4, NULL, NULL), 0);
            read_current(x.st, "s", x.b[4]);
            CHECK_INT(fx_snapshots(&x, &s), 3);
        }
        fx_close(&x);
    }
}

/* The snapshot of a failed write that cannot be deleted either stays listed until the next
 * write of the state removes it; one whose write turned out current is kept. */
static void test_store_orphan_cleaned_by_next_write(void)
{
    struct fx x;
    struct snaps s;
    struct state_meta m1, m3, m5;
    fx_open(&x, false);
    CHECK_INT(fx_put(&x, 1, &m1, NULL), 0);
    x.f->rule[0] = (struct fault_rule){.ops = F_PUT, .match = "@current"};
    x.f->rule[1] = (struct fault_rule){.ops = F_DEL, .match = "@snapshots", .code = ERR_WRITE};
    CHECK_INT(fx_put(&x, 2, NULL, NULL), -1);
    CHECK_INT(fx_snapshots(&x, &s), 2); /* the orphan, for now */
    memset(x.f->rule, 0, sizeof(x.f->rule));
    CHECK_INT(fx_put(&x, 3, &m3, NULL), 0);
    CHECK_INT(fx_snapshots(&x, &s), 2);
    CHECK_STR(s.m[0].snapshot, m3.snapshot);
    CHECK_STR(s.m[1].snapshot, m1.snapshot);
    /* Current written, its read-back failing: an error, and the snapshot is kept for the next
     * write to tell; that one finds it current and keeps it. */
    x.f->rule[0] = (struct fault_rule){.ops = F_PUT, .match = "@current", .how = F_AFTER};
    x.f->rule[1] = (struct fault_rule){.ops = F_HEAD, .match = "@current", .fail_at = 2};
    CHECK_INT(fx_put(&x, 4, NULL, NULL), -1);
    memset(x.f->rule, 0, sizeof(x.f->rule));
    read_current(x.st, "s", x.b[4]);
    CHECK_INT(fx_put(&x, 5, &m5, NULL), 0);
    CHECK_INT(fx_snapshots(&x, &s), 4);
    CHECK_STR(s.m[0].snapshot, m5.snapshot);
    CHECK_INT(s.m[1].serial, 4);
    fx_close(&x);
}

/* A snapshot that fails leaves nothing: deleted at once, or, in an outage (the put may have
 * been stored), at the next write. */
static void test_store_failed_snapshot_write(void)
{
    struct fx x;
    struct snaps s;
    struct state_meta m1, m3;
    enum err_code code;
    fx_open(&x, false);
    CHECK_INT(fx_put(&x, 1, &m1, NULL), 0);
    x.f->rule[0] =
        (struct fault_rule){.ops = F_PUT, .match = "@snapshots", .how = F_AFTER, .code = ERR_WRITE};
    CHECK_INT(fx_put(&x, 2, NULL, &code), -1);
    CHECK_INT(code, ERR_WRITE);
    CHECK_INT(fx_snapshots(&x, &s), 1);
    x.f->rule[0].code = ERR_UNAVAILABLE;
    CHECK_INT(fx_put(&x, 2, NULL, NULL), -1);
    CHECK_INT(fx_snapshots(&x, &s), 2);
    memset(x.f->rule, 0, sizeof(x.f->rule));
    CHECK_INT(fx_put(&x, 3, &m3, NULL), 0);
    CHECK_INT(fx_snapshots(&x, &s), 2);
    CHECK_STR(s.m[0].snapshot, m3.snapshot);
    CHECK_STR(s.m[1].snapshot, m1.snapshot);
    read_current(x.st, "s", x.b[3]);
    fx_close(&x);
}

/* Plants a snapshot object of name with id, as a write killed before its current would. */
static void plant_snapshot(struct objstore *os, const char *name, const char *id, const char *body)
{
    struct err e = {0};
    char *key = store__key_snapshot(name, id, STORE_LAYOUT);
    CHECK_INT(os->ops->put(os, key, body, strlen(body), NULL, &e), 0);
    free(key);
}

/* Directory driver: the next start removes the snapshots newer than their state's current
 * one (writes killed between the two steps); a deleted state's snapshots and older ones stay.
 * A new write's SEQ sorts after the current one's even when the clock is behind it. */
static void test_store_start_sweep(void)
{
    const char *root = t_tempdir();
    struct store *st = open_store(root, 0, NULL);
    char *b1 = state_body(1, "l", "one"), *b2 = state_body(2, "l", "two");
    struct state_meta m1, mg;
    CHECK_INT(put_state(st, "a/b", b1, 1, NULL, &m1), 0);
    CHECK_INT(put_state(st, "gone", b1, 1, NULL, &mg), 0);
    struct err e = {0};
    CHECK_INT(store_delete(st, "gone", &e), 0);
    CHECK_INT(put_state(st, "a", b1, 1, NULL, NULL), 0);
    struct objstore *os = store_objstore(st);
    plant_snapshot(os, "a/b", "4102444800000000-2-aaaaaaaaaaaa", b2);
    plant_snapshot(os, "a/b", "4102444800000001-3-bbbbbbbbbbbb", b2);
    plant_snapshot(os, "a/b", "1000000000000000-0-cccccccccccc", b2); /* older: kept */
    plant_snapshot(os, "gone", "4102444800000000-2-aaaaaaaaaaaa", b2);
    store_free(st);
    st = open_store(root, 0, NULL);
    struct snaps s;
    CHECK_INT(count_snapshots(st, "a/b", &s), 2);
    CHECK_STR(s.m[0].snapshot, m1.snapshot);
    CHECK_INT(count_snapshots(st, "gone", &s), 2);
    CHECK_INT(count_snapshots(st, "a", &s), 1);

    /* The current snapshot from the year 2100 (a clock that went back since): the next one
     * still sorts after it. */
    os = store_objstore(st);
    char meta[400];
    char sha[65];
    sha256_hex(b2, strlen(b2), sha);
    snprintf(meta, sizeof(meta),
             "{\"serial\":2,\"lineage\":\"l\",\"sha256\":\"%s\",\"size\":%zu,\"time\":"
             "\"2100-01-01T00:00:00.000000Z\",\"writer\":\"w\",\"snapshot\":"
             "\"4102444800000000-2-%.12s\"}",
             sha, strlen(b2), sha);
    char *id = xasprintf("4102444800000000-2-%.12s", sha);
    plant_snapshot(os, "c", id, b2);
    CHECK_INT(os->ops->put(os, "states/c/@current.tfstate", b2, strlen(b2), meta, &e), 0);
    struct state_meta m3;
    CHECK_INT(put_state(st, "c", b1, 3, NULL, &m3), 0);
    CHECK(strcmp(m3.snapshot, id) > 0);
    CHECK_INT(count_snapshots(st, "c", &s), 2);
    CHECK_STR(s.m[0].snapshot, m3.snapshot);
    store_free(st);
    /* And the start after that keeps both. */
    st = open_store(root, 0, NULL);
    CHECK_INT(count_snapshots(st, "c", &s), 2);
    store_free(st);
    free(id);
    free(b1);
    free(b2);
}

/* ------------------------------------------------------------------ layout */

/* Keys of both layouts parse back to their state, and nothing else does; names that mimic
 * keys are states of their own. */
static void test_key_parse(void)
{
    static const struct {
        const char *key;
        int layout;
        enum skey_kind kind;
        const char *name, *snapshot;
    } cases[] = {
        {"states/a/@current.tfstate", 2, SKEY_CURRENT, "a", ""},
        {"states/team/a/@snapshots/1795314013123456-42-9f86d081884c.tfstate", 2, SKEY_SNAPSHOT,
         "team/a", "1795314013123456-42-9f86d081884c"},
        {"states/team/a/current.tfstate/@current.tfstate", 2, SKEY_CURRENT,
         "team/a/current.tfstate", ""},
        {"states/team/a/snapshots/@current.tfstate", 2, SKEY_CURRENT, "team/a/snapshots", ""},
        {"states/w/current.tfstate.meta/@current.tfstate", 2, SKEY_CURRENT,
         "w/current.tfstate.meta", ""},
        {"states/a/@snapshots/@current.tfstate", 2, SKEY_OTHER, "", ""},
        {"states/a/@current.tfstate/@current.tfstate", 2, SKEY_OTHER, "", ""},
        {"states/a/current.tfstate", 2, SKEY_OTHER, "", ""},
        {"states/a/@snapshots/1795314013123456-42-9f86d081884c.tfstate.meta", 2, SKEY_OTHER, "",
         ""},
        {"states/a/@snapshots/x/1795314013123456-42-9f86d081884c.tfstate", 2, SKEY_OTHER, "", ""},
        {"states/a/@snapshots/1795314013123456-042-9f86d081884c.tfstate", 2, SKEY_OTHER, "", ""},
        {"states/a/@snapshots/1795314013123456-18446744073709551616-9f86d081884c.tfstate", 2,
         SKEY_OTHER, "", ""},
        {"states/a/@snapshots/1795314013123456-18446744073709551615-9f86d081884c.tfstate", 2,
         SKEY_SNAPSHOT, "a", "1795314013123456-18446744073709551615-9f86d081884c"},
        {"states/@current.tfstate", 2, SKEY_OTHER, "", ""},
        {"states/../@current.tfstate", 2, SKEY_OTHER, "", ""},
        {"states/a/lock/@current.tfstate", 2, SKEY_OTHER, "", ""}, /* names never end "lock" */
        {"config/tokens.json", 2, SKEY_OTHER, "", ""},
        {"layout.json", 2, SKEY_OTHER, "", ""},
        /* Layout 1: each key is one object of one state, "snapshots/current.tfstate" too. */
        {"states/a/current.tfstate", 1, SKEY_CURRENT, "a", ""},
        {"states/a/snapshots/current.tfstate", 1, SKEY_CURRENT, "a/snapshots", ""},
        {"states/a/snapshots/1795314013123456-1-9f86d081884c.tfstate", 1, SKEY_SNAPSHOT, "a",
         "1795314013123456-1-9f86d081884c"},
        {"states/a/snapshots/snapshots/1795314013123456-1-9f86d081884c.tfstate", 1, SKEY_SNAPSHOT,
         "a/snapshots", "1795314013123456-1-9f86d081884c"},
        {"states/victim/current.tfstate/current.tfstate", 1, SKEY_CURRENT, "victim/current.tfstate",
         ""},
        {"states/a/@current.tfstate", 1, SKEY_OTHER, "", ""},
        {"states/a/snapshots/notes.tfstate", 1, SKEY_OTHER, "", ""},
        {"states/junk.txt", 1, SKEY_OTHER, "", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct skey k;
        enum skey_kind want = cases[i].kind;
        enum skey_kind got = store__key_parse(cases[i].key, cases[i].layout, &k);
        if (got != want)
            printf("  key %s (layout %d)\n", cases[i].key, cases[i].layout);
        CHECK_INT(got, want);
        if (got == want && want != SKEY_OTHER) {
            CHECK_STR(k.name, cases[i].name);
            CHECK_STR(k.snapshot, cases[i].snapshot);
            /* And the key is made back from its parts. */
            char *again = want == SKEY_CURRENT
                              ? store__key_current(k.name, cases[i].layout)
                              : store__key_snapshot(k.name, k.snapshot, cases[i].layout);
            CHECK_STR(again, cases[i].key);
            free(again);
        }
    }
}

/* States whose names look like keys of another state each keep their own objects, in the
 * directory driver too (no file where a directory must be, no sidecar clash). */
static void test_store_names_mimic_keys(void)
{
    const char *root = t_tempdir();
    struct store *st = open_store(root, 0, NULL);
    const char *names[] = {"team/a",
                           "team/a/current.tfstate",
                           "team/a/snapshots",
                           "team/a/current.tfstate.meta",
                           "team/a/snapshots/current.tfstate",
                           "victim",
                           "victim/current.tfstate",
                           "w",
                           "w/current.tfstate.meta",
                           "x.meta",
                           "x.meta/y.meta"};
    size_t n = sizeof(names) / sizeof(names[0]);
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < n; i++) {
            char *body = state_body((uint64_t)round + 1, "l", names[i]);
            CHECK_INT(put_state(st, names[i], body, (uint64_t)round + 1, NULL, NULL), 0);
            free(body);
        }
    char *body = state_body(1, "l", "at");
    CHECK_INT(put_state(st, "team/a/@current.tfstate", body, 1, NULL, NULL), -1);
    free(body);
    for (size_t i = 0; i < n; i++) {
        char *want = state_body(2, "l", names[i]);
        read_current(st, names[i], want);
        struct snaps s;
        CHECK_INT(count_snapshots(st, names[i], &s), 2);
        free(want);
    }
    struct names got = {0};
    struct err e = {0};
    CHECK_INT(store_list_states(st, "", on_state, &got, &e), 0);
    CHECK_INT(got.n, (int)n);
    store_free(st);
    /* A restart (start-up sweep, marker) changes none of it. */
    st = open_store(root, 0, NULL);
    for (size_t i = 0; i < n; i++) {
        struct snaps s;
        CHECK_INT(count_snapshots(st, names[i], &s), 2);
    }
    store_free(st);
}

/* A layout-1 storage as the previous stated left it (keys, bytes and sidecar metadata),
 * including what layout 1 could hold: a state "a/snapshots" sharing a directory with a's
 * snapshots, a state whose directory ends in ".meta" (which layout-1 listings skipped), a
 * deleted state, and objects that are no state's. */
static const struct v1obj {
    const char *key, *body, *meta;
} v1_objects[] = {
    {"states/prod/net/current.tfstate", "net-3", "{\"m\":\"net-3\"}"},
    {"states/prod/net/snapshots/1795314013000001-1-aaaaaaaaaaaa.tfstate", "net-1", "{\"m\":1}"},
    {"states/prod/net/snapshots/1795314013000002-2-bbbbbbbbbbbb.tfstate", "net-2", "{\"m\":2}"},
    {"states/prod/net/snapshots/1795314013000003-3-cccccccccccc.tfstate", "net-3", "{\"m\":3}"},
    {"states/a/current.tfstate", "a-1", "{\"m\":\"a\"}"},
    {"states/a/snapshots/1795314013000004-1-dddddddddddd.tfstate", "a-1", NULL},
    {"states/a/snapshots/current.tfstate", "as-1", "{\"m\":\"as\"}"},
    {"states/a/snapshots/snapshots/1795314013000005-1-eeeeeeeeeeee.tfstate", "as-1", "{}"},
    {"states/x.meta/current.tfstate", "xm-1", "{\"m\":\"xm\"}"},
    {"states/gone/snapshots/1795314013000006-9-ffffffffffff.tfstate", "gone-9", "{\"m\":9}"},
};
static const struct v1obj v1_others[] = {
    {"states/junk.txt", "junk", NULL},
    {"states/prod/net/snapshots/notes.tfstate", "notes", NULL},
    {"config/tokens.json", "{\"tokens\":[]}", NULL},
};
#define N_V1     (sizeof(v1_objects) / sizeof(v1_objects[0]))
#define N_OTHERS (sizeof(v1_others) / sizeof(v1_others[0]))

static void v1_write(const char *root)
{
    struct err e = {0};
    struct objstore *os = objstore_dir_new(root, &e);
    for (size_t i = 0; i < N_V1; i++)
        CHECK_INT(os->ops->put(os, v1_objects[i].key, v1_objects[i].body,
                               strlen(v1_objects[i].body), v1_objects[i].meta, &e),
                  0);
    for (size_t i = 0; i < N_OTHERS; i++)
        CHECK_INT(os->ops->put(os, v1_others[i].key, v1_others[i].body, strlen(v1_others[i].body),
                               NULL, &e),
                  0);
    os->ops->free(os);
}

/* The number of files under root/rel that sit at a layout-1 key, or are its sidecar. */
static int v1_files(const char *root, const char *rel)
{
    char *path = rel[0] ? xasprintf("%s/%s", root, rel) : xstrdup(root);
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *key = rel[0] ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
        char *full = xasprintf("%s/%s", root, key);
        struct stat sb;
        if (lstat(full, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            n += v1_files(root, key);
        } else {
            size_t kl = strlen(key);
            if (kl > 5 && strcmp(key + kl - 5, ".meta") == 0)
                key[kl - 5] = '\0';
            struct skey k;
            if (store__key_parse(key, 1, &k) != SKEY_OTHER) {
                printf("  layout-1 file left: %s\n", full);
                n++;
            }
        }
        free(full);
        free(key);
    }
    if (d)
        closedir(d);
    free(path);
    return n;
}

/* Everything of v1_write is in layout 2 with its exact bytes and metadata, nothing is left
 * at a layout-1 key, the other objects are untouched and the marker says layout 2. */
static void v1_check_migrated(const char *root)
{
    struct err e = {0};
    struct objstore *os = objstore_dir_new(root, &e);
    struct buf b;
    struct obj_info info;
    buf_init(&b, 0);
    for (size_t i = 0; i < N_V1; i++) {
        struct skey k;
        CHECK(store__key_parse(v1_objects[i].key, 1, &k) != SKEY_OTHER);
        char *v2 = k.kind == SKEY_CURRENT ? store__key_current(k.name, 2)
                                          : store__key_snapshot(k.name, k.snapshot, 2);
        buf_reset(&b);
        CHECK_INT(os->ops->get(os, v2, &b, &info, &e), 0);
        CHECK_STR(b.data ? b.data : "", v1_objects[i].body);
        CHECK_STR(info.meta, v1_objects[i].meta ? v1_objects[i].meta : "");
        CHECK_INT(os->ops->head(os, v1_objects[i].key, &info, &e), -1);
        err_clear(&e);
        free(v2);
    }
    for (size_t i = 0; i < N_OTHERS; i++) {
        buf_reset(&b);
        CHECK_INT(os->ops->get(os, v1_others[i].key, &b, NULL, &e), 0);
        CHECK_STR(b.data ? b.data : "", v1_others[i].body);
    }
    buf_reset(&b);
    CHECK_INT(os->ops->get(os, "layout.json", &b, NULL, &e), 0);
    CHECK(b.data && strncmp(b.data, "{\"layout\":2,", 12) == 0);
    buf_cleanup(&b);
    os->ops->free(os);
    CHECK_INT(v1_files(root, ""), 0);
}

static void test_layout_migration(void)
{
    const char *root = t_tempdir();
    v1_write(root);
    struct store *st = open_store(root, 0, NULL);
    v1_check_migrated(root);
    /* Through the store: the states, their snapshots, the bytes. */
    struct names n = {0};
    struct err e = {0};
    CHECK_INT(store_list_states(st, "", on_state, &n, &e), 0);
    char listed[256] = "";
    for (int i = 0; i < n.n && i < 16; i++)
        snprintf(listed + strlen(listed), sizeof(listed) - strlen(listed), "%s ", n.v[i]);
    CHECK_STR(listed, "a a/snapshots prod/net x.meta ");
    struct snaps s;
    CHECK_INT(count_snapshots(st, "prod/net", &s), 3);
    CHECK_STR(s.m[0].snapshot, "1795314013000003-3-cccccccccccc");
    CHECK_INT(count_snapshots(st, "a", &s), 1);
    CHECK_INT(count_snapshots(st, "a/snapshots", &s), 1);
    CHECK_INT(count_snapshots(st, "gone", &s), 1);
    read_current(st, "prod/net", "net-3");
    read_current(st, "x.meta", "xm-1");
    store_free(st);
    /* Marked: the next start moves nothing, even a layout-1 key put there by hand. */
    struct objstore *os = objstore_dir_new(root, &e);
    CHECK_INT(os->ops->put(os, "states/late/current.tfstate", "late", 4, NULL, &e), 0);
    os->ops->free(os);
    st = open_store(root, 0, NULL);
    read_current(st, "late", NULL);
    store_free(st);
}

/* The marker: written on an empty storage; a newer layout or a broken marker stops the
 * start with a message saying so. */
static void test_layout_marker(void)
{
    const char *root = t_tempdir();
    struct err e = {0};
    struct store *st = open_store(root, 0, NULL);
    store_free(st);
    char *path = xasprintf("%s/layout.json", root);
    size_t len;
    char *text = read_file(path, &len);
    CHECK(text && strstr(text, "\"layout\":2") && strstr(text, "\"by\":\"stated ") &&
          strstr(text, "\"written\":\""));
    free(text);
    const char *bad[] = {"{\"layout\":3,\"by\":\"stated 9\"}\n", "not json", "{\"layout\":\"2\"}"};
    for (int i = 0; i < 3; i++) {
        write_file(path, bad[i], strlen(bad[i]));
        err_clear(&e);
        struct store_config cfg = {.max_state_bytes = 1 << 20};
        st = store_new(objstore_dir_new(root, &e), &cfg, &e);
        CHECK(st == NULL);
        CHECK_INT(e.code, ERR_INVALID);
        CHECK(strstr(e.msg, i == 0 ? "layout 3" : "not a layout marker") != NULL);
        store_free(st);
    }
    free(path);
}

/* The migration interrupted at each of its steps (a failure before or after the step, or a
 * kill between a copy's data file and its sidecar), then started again, ends complete and
 * exact; with the directory's read-and-put and with server-side copies. Also: another
 * instance finishing the migration in the middle of this one. */
static void test_layout_migration_interrupted(void)
{
    const char *base = t_tempdir();
    struct err e = {0};
    /* How many puts, copies and deletes one migration takes. */
    char *dir = xasprintf("%s/count", base);
    v1_write(dir);
    struct faulty *f = faulty_new(dir, false);
    CHECK_INT(store__layout_open(&f->base, false, &e), 0);
    int steps = f->mutations;
    CHECK(steps >= 2 * (int)N_V1 + 1);
    fl_free(&f->base);
    free(dir);
    int runs = 0;
    log_setup(LOG_ERROR, LOG_TEXT); /* each run names the keys it leaves alone */
    for (int copy = 0; copy <= 1; copy++)
        for (int how = F_BEFORE; how <= F_OTHER_INSTANCE; how++)
            for (int at = 1; at <= steps; at++) {
                dir = xasprintf("%s/r%d-%d-%d", base, copy, how, at);
                v1_write(dir);
                f = faulty_new(dir, copy);
                f->rule[0] = (struct fault_rule){
                    .ops = F_PUT | F_DEL | F_COPY, .fail_at = at, .how = (enum fault_how)how};
                err_clear(&e);
                int rc = store__layout_open(&f->base, false, &e);
                CHECK_INT(rc, how == F_OTHER_INSTANCE ? 0 : -1);
                fl_free(&f->base);
                /* The restart. */
                struct store *st = open_store(dir, 0, NULL);
                store_free(st);
                v1_check_migrated(dir);
                free(dir);
                runs++;
            }
    log_setup(LOG_WARN, LOG_TEXT);
    CHECK(runs > 100);
}

/* ------------------------------------------------------------------ encryption */

static char *write_keyfile(const char *dir, const char *name, const unsigned char keys[][32], int n)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fprintf(f, "# stated encryption keys, newest first\n\n");
    for (int i = 0; i < n; i++) {
        char *b64 = base64_encode(keys[i], 32);
        fprintf(f, "%s\n", b64);
        free(b64);
    }
    fclose(f);
    return path;
}

static bool contains(const char *hay, size_t hlen, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= hlen; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

static void test_store_encrypted(void)
{
    const char *root = t_tempdir();
    const char *kdir = t_tempdir();
    unsigned char keys[2][32];
    random_bytes(keys, sizeof(keys));
    char *fa = write_keyfile(kdir, "a.keys", (const unsigned char(*)[32])keys, 1);
    unsigned char ba[2][32];
    memcpy(ba[0], keys[1], 32);
    memcpy(ba[1], keys[0], 32);
    char *fba = write_keyfile(kdir, "ba.keys", (const unsigned char(*)[32])ba, 2);
    char *fb = write_keyfile(kdir, "b.keys", (const unsigned char(*)[32])ba, 1);
    struct err e = {0};
    struct keyring *ka = keyring_load(fa, &e);
    struct keyring *kba = keyring_load(fba, &e);
    struct keyring *kb = keyring_load(fb, &e);
    CHECK(ka && kba && kb);

    struct store *st = open_store(root, 0, ka);
    char *body = state_body(1, "lin-secret", "TOPSECRETVALUE");
    struct state_meta m;
    CHECK_INT(put_state(st, "enc", body, 1, NULL, &m), 0);
    CHECK_INT(store_put_blob(st, "config/tokens.json", "{\"TOKENPLAIN\":1}", 16, &e), 0);
    /* Nothing on disk holds the plaintext. */
    char *cur = xasprintf("%s/states/enc/@current.tfstate", root);
    char *snap = xasprintf("%s/states/enc/@snapshots/%s.tfstate", root, m.snapshot);
    char *blob = xasprintf("%s/config/tokens.json", root);
    size_t len;
    char *raw = read_file(cur, &len);
    CHECK(raw && len > strlen(body));
    CHECK(!contains(raw, len, "TOPSECRETVALUE"));
    CHECK(!contains(raw, len, "lin-secret"));
    CHECK(memcmp(raw, "STATEDENC1", 10) == 0);
    free(raw);
    raw = read_file(snap, &len);
    CHECK(raw && !contains(raw, len, "TOPSECRETVALUE"));
    free(raw);
    raw = read_file(blob, &len);
    CHECK(raw && !contains(raw, len, "TOKENPLAIN"));
    free(raw);
    /* Reads give the plaintext and plaintext metadata. */
    struct buf b;
    buf_init(&b, 0);
    struct state_meta g;
    CHECK_INT(store_get(st, "enc", &b, &g, &e), 0);
    CHECK_MEM(b.data, b.len, body, strlen(body));
    CHECK_INT(g.size, strlen(body));
    buf_reset(&b);
    CHECK_INT(store_get_blob(st, "config/tokens.json", &b, &e), 0);
    CHECK_MEM(b.data, b.len, "{\"TOKENPLAIN\":1}", 16);
    /* Re-POST detection works through encryption. */
    bool unchanged = false;
    CHECK_INT(put_state(st, "enc", body, 1, &unchanged, NULL), 0);
    CHECK(unchanged);
    store_free(st);

    /* Rotation: keyring [B, A] reads A's objects and writes with B. */
    st = open_store(root, 0, kba);
    buf_reset(&b);
    CHECK_INT(store_get(st, "enc", &b, NULL, &e), 0);
    CHECK_MEM(b.data, b.len, body, strlen(body));
    char *body2 = state_body(2, "lin-secret", "TOPSECRETVALUE2");
    CHECK_INT(put_state(st, "enc", body2, 2, NULL, NULL), 0);
    store_free(st);

    /* Keyring [B] alone reads the new current but not the A-encrypted snapshot. */
    st = open_store(root, 0, kb);
    buf_reset(&b);
    CHECK_INT(store_get(st, "enc", &b, NULL, &e), 0);
    CHECK_MEM(b.data, b.len, body2, strlen(body2));
    buf_reset(&b);
    /* The expected decryption errors below are logged. */
    CHECK_INT(store_get_snapshot(st, "enc", m.snapshot, &b, NULL, &e), -1);
    CHECK_INT(e.code, ERR_INTERNAL);
    CHECK(strstr(e.msg, "key id") != NULL);
    err_clear(&e);
    store_free(st);

    /* No keyring at all: an encrypted object is refused, never returned as a state. */
    st = open_store(root, 0, NULL);
    buf_reset(&b);
    CHECK_INT(store_get(st, "enc", &b, NULL, &e), -1);
    CHECK_INT(e.code, ERR_INTERNAL);
    err_clear(&e);
    store_free(st);

    buf_cleanup(&b);
    keyring_free(ka);
    keyring_free(kba);
    keyring_free(kb);
    free(body);
    free(body2);
    free(cur);
    free(snap);
    free(blob);
    free(fa);
    free(fba);
    free(fb);
}

/* ------------------------------------------------------------------ history */

/* Four versions of "h/s" with serials 1, 2, 2, 3 (oldest first in ids). */
static struct store *history_store(char ids[4][64])
{
    static const uint64_t serials[4] = {1, 2, 2, 3};
    struct store *st = open_store(t_tempdir(), 0, NULL);
    for (int i = 0; i < 4; i++) {
        char word[16];
        struct state_meta m;
        snprintf(word, sizeof(word), "v%d", i);
        char *b = state_body(serials[i], "lin-1", word);
        CHECK_INT(put_state(st, "h/s", b, serials[i], NULL, &m), 0);
        snprintf(ids[i], 64, "%s", m.snapshot);
        free(b);
    }
    return st;
}

/* Resolves ref; returns 0 and the id, or -1 and the error's code in *code. */
static int resolve(struct store *st, const char *ref, char id[64], enum err_code *code, char *msg,
                   size_t cap)
{
    struct err e = {0};
    id[0] = '\0';
    int rc = store_resolve_ref(st, "h/s", ref, id, &e);
    *code = e.code;
    if (msg)
        snprintf(msg, cap, "%s", e.msg);
    return rc;
}

static void test_store_resolve_ref(void)
{
    char ids[4][64], id[64], ref[80], msg[240];
    enum err_code code;
    struct store *st = history_store(ids);
    /* latest and latest~N, also past the end */
    CHECK_INT(resolve(st, "latest", id, &code, NULL, 0), 0);
    CHECK_STR(id, ids[3]);
    CHECK_INT(resolve(st, "latest~0", id, &code, NULL, 0), 0);
    CHECK_STR(id, ids[3]);
    CHECK_INT(resolve(st, "latest~3", id, &code, NULL, 0), 0);
    CHECK_STR(id, ids[0]);
    CHECK_INT(resolve(st, "latest~4", id, &code, NULL, 0), -1);
    CHECK_INT(code, ERR_NOT_FOUND);
    CHECK_INT(resolve(st, "latest~x", id, &code, NULL, 0), -1);
    CHECK_INT(code, ERR_INVALID);
    CHECK_INT(resolve(st, "latest~-1", id, &code, NULL, 0), -1);
    CHECK_INT(code, ERR_INVALID);
    /* serial:N is the newest version with that serial */
    CHECK_INT(resolve(st, "serial:2", id, &code, NULL, 0), 0);
    CHECK_STR(id, ids[2]);
    CHECK_INT(resolve(st, "serial:1", id, &code, NULL, 0), 0);
    CHECK_STR(id, ids[0]);
    CHECK_INT(resolve(st, "serial:9", id, &code, NULL, 0), -1);
    CHECK_INT(code, ERR_NOT_FOUND);
    CHECK_INT(resolve(st, "serial:", id, &code, NULL, 0), -1);
    CHECK_INT(code, ERR_INVALID);
    /* the full ID, with or without .tfstate */
    CHECK_INT(resolve(st, ids[1], id, &code, NULL, 0), 0);
    CHECK_STR(id, ids[1]);
    snprintf(ref, sizeof(ref), "%s.tfstate", ids[1]);
    CHECK_INT(resolve(st, ref, id, &code, NULL, 0), 0);
    CHECK_STR(id, ids[1]);
    /* a unique prefix: the whole SEQ is unique (the versions' SEQs differ) */
    snprintf(ref, sizeof(ref), "%.17s", ids[2]);
    CHECK_INT(resolve(st, ref, id, &code, NULL, 0), 0);
    CHECK_STR(id, ids[2]);
    /* an ambiguous prefix (the SEQs share their first digits): 400 naming the candidates */
    snprintf(ref, sizeof(ref), "%.6s", ids[0]);
    CHECK_INT(resolve(st, ref, id, &code, msg, sizeof(msg)), -1);
    CHECK_INT(code, ERR_INVALID);
    CHECK(strstr(msg, "ambiguous") != NULL);
    CHECK(strstr(msg, ids[0]) != NULL);
    CHECK(strstr(msg, ids[3]) != NULL);
    /* too short, unknown, foreign characters */
    CHECK_INT(resolve(st, "17961", id, &code, NULL, 0), -1);
    CHECK_INT(code, ERR_INVALID);
    CHECK_INT(resolve(st, "0000000000000000-1-aaaaaaaaaaaa", id, &code, NULL, 0), -1);
    CHECK_INT(code, ERR_NOT_FOUND);
    CHECK_INT(resolve(st, "", id, &code, NULL, 0), -1);
    CHECK_INT(code, ERR_INVALID);
    store_free(st);
}

/* A full ID is never a proper prefix of another valid ID (SHA12 is fixed-width), so the rule
 * "the full ID wins" is checked where it matters: two IDs sharing everything but their last
 * hex digit. Their common 30-character prefix is ambiguous; each full ID resolves to itself. */
static void test_store_resolve_full_id_among_prefix_matches(void)
{
    const char *root = t_tempdir();
    struct store *st = open_store(root, 0, NULL);
    char *b = state_body(1, "lin-1", "x");
    const char *a_id = "1796000000000000-1-aaaaaaaaaaa0", *b_id = "1796000000000000-1-aaaaaaaaaaa1";
    struct objstore *os = store_objstore(st);
    struct err e = {0};
    char key[256], id[64];
    snprintf(key, sizeof(key), "states/h/s/@snapshots/%s.tfstate", a_id);
    CHECK_INT(os->ops->put(os, key, b, strlen(b), NULL, &e), 0);
    snprintf(key, sizeof(key), "states/h/s/@snapshots/%s.tfstate", b_id);
    CHECK_INT(os->ops->put(os, key, b, strlen(b), NULL, &e), 0);
    CHECK_INT(store_resolve_ref(st, "h/s", a_id, id, &e), 0);
    CHECK_STR(id, a_id);
    CHECK_INT(store_resolve_ref(st, "h/s", b_id, id, &e), 0);
    CHECK_STR(id, b_id);
    CHECK_INT(store_resolve_ref(st, "h/s", "1796000000000000-1-aaaaaaaaaaa", id, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    CHECK(strstr(e.msg, a_id) != NULL && strstr(e.msg, b_id) != NULL);
    free(b);
    store_free(st);
}

/* A restore's marker (source, actor, reason) is kept in the version's metadata, also a long
 * non-ASCII reason that the ASCII escaping makes six times longer. */
static void test_store_restore_marker(void)
{
    struct store *st = open_store(t_tempdir(), 0, NULL);
    char *b1 = state_body(1, "lin-1", "a"), *b2 = state_body(2, "lin-1", "b");
    struct state_meta m1, m2;
    struct snaps s;
    struct err e = {0};
    char reason[STORE_REASON_MAX + 1] = "";
    for (int i = 0; i < STORE_REASON_MAX / 2; i++)
        strcat(reason, "\xc3\xa9"); /* é */
    CHECK_INT(put_state(st, "r/s", b1, 1, NULL, &m1), 0);
    struct store_write w = {.serial = 2,
                            .lineage = "lin-1",
                            .writer = "alice",
                            .restored_from = m1.snapshot,
                            .reason = reason};
    CHECK_INT(store_put(st, "r/s", b2, strlen(b2), &w, &m2, NULL, &e), 0);
    CHECK_INT(count_snapshots(st, "r/s", &s), 2);
    CHECK_STR(s.m[0].restored_from, m1.snapshot);
    CHECK_STR(s.m[0].restored_by, "alice");
    CHECK_STR(s.m[0].reason, reason);
    CHECK_STR(s.m[1].restored_from, "");
    CHECK_STR(s.m[1].reason, "");
    struct state_meta cur;
    CHECK_INT(store_head(st, "r/s", &cur, &e), 0);
    CHECK_STR(cur.restored_from, m1.snapshot);
    free(b1);
    free(b2);
    store_free(st);
}

static bool file_exists(const char *root, const char *name, const char *id)
{
    char *p = xasprintf("%s/states/%s/@snapshots/%s.tfstate", root, name, id);
    bool there = access(p, F_OK) == 0;
    free(p);
    return there;
}

static void test_store_delete_snapshot(void)
{
    const char *root = t_tempdir();
    struct store *st = open_store(root, 0, NULL);
    char ids[3][64];
    struct state_meta m, gone;
    struct snaps s;
    struct err e = {0};
    unsigned nv = 99;
    for (int i = 0; i < 3; i++) {
        char *b = state_body((uint64_t)i + 1, "lin-1", i == 1 ? "secret" : "plain");
        CHECK_INT(put_state(st, "d/s", b, (uint64_t)i + 1, NULL, &m), 0);
        snprintf(ids[i], 64, "%s", m.snapshot);
        free(b);
    }
    /* never the current version */
    CHECK_INT(store_delete_snapshot(st, "d/s", ids[2], &gone, &nv, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    CHECK(strstr(e.msg, "current") != NULL);
    CHECK(file_exists(root, "d/s", ids[2]));
    err_clear(&e);
    /* an older one: its file is gone, the others stay */
    char *secret = state_body(2, "lin-1", "secret");
    char sha[65];
    sha256_hex(secret, strlen(secret), sha);
    CHECK_INT(store_delete_snapshot(st, "d/s", ids[1], &gone, &nv, &e), 0);
    CHECK_STR(gone.sha256, sha);
    CHECK_INT(gone.serial, 2);
    CHECK_INT(nv, 0); /* the directory keeps no object versions */
    CHECK(!file_exists(root, "d/s", ids[1]));
    CHECK(file_exists(root, "d/s", ids[0]));
    CHECK_INT(count_snapshots(st, "d/s", &s), 2);
    /* again: not found; a malformed id: invalid */
    CHECK_INT(store_delete_snapshot(st, "d/s", ids[1], NULL, NULL, &e), -1);
    CHECK_INT(e.code, ERR_NOT_FOUND);
    err_clear(&e);
    CHECK_INT(store_delete_snapshot(st, "d/s", "latest", NULL, NULL, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    /* once the state is deleted, its newest version may go too */
    CHECK_INT(store_delete(st, "d/s", &e), 0);
    CHECK_INT(store_delete_snapshot(st, "d/s", ids[2], NULL, NULL, &e), 0);
    free(secret);
    store_free(st);
}

/* Object versions a versioned storage would keep, for the fake below: two of the key and a
 * delete marker, and one of a longer key that shares the prefix (which must survive). */
static char fv_deleted[8][160];
static int fv_ndeleted;

static int fv_list_versions(struct objstore *os, const char *prefix,
                            int (*cb)(void *ctx, const struct obj_version *v), void *ctx,
                            struct err *err)
{
    static const char *const vids[] = {"v-new", "v-old", "marker"};
    struct obj_version v;
    for (int i = 0; i < 3; i++) {
        memset(&v, 0, sizeof(v));
        snprintf(v.key, sizeof(v.key), "%s", prefix);
        snprintf(v.version_id, sizeof(v.version_id), "%s", vids[i]);
        v.is_delete_marker = i == 2;
        cb(ctx, &v);
    }
    snprintf(v.key, sizeof(v.key), "%s.bak", prefix);
    snprintf(v.version_id, sizeof(v.version_id), "other");
    return cb(ctx, &v);
}

static int fv_del_version(struct objstore *os, const char *key, const char *version_id,
                          struct err *err)
{
    if (fv_ndeleted < 8)
        snprintf(fv_deleted[fv_ndeleted++], sizeof(fv_deleted[0]), "%s", version_id);
    return 0;
}

static int fv_get_version(struct objstore *os, const char *key, const char *version_id,
                          struct buf *out, struct err *err)
{
    return err_set(err, ERR_NOT_FOUND, "none");
}

static void with_versions(struct objstore_ops *ops)
{
    ops->list_versions = fv_list_versions;
    ops->get_version = fv_get_version;
    ops->del_version = fv_del_version;
}

/* In a storage that keeps object versions, deleting a version removes every stored version
 * and delete marker of its key, and nothing of another key. */
static void test_store_delete_snapshot_purges_versions(void)
{
    struct fx x;
    struct state_meta m1, m2;
    struct err e = {0};
    unsigned nv = 0;
    fx_open_with(&x, true, with_versions);
    fv_ndeleted = 0;
    CHECK_INT(fx_put(&x, 1, &m1, NULL), 0);
    CHECK_INT(fx_put(&x, 2, &m2, NULL), 0);
    CHECK_INT(store_delete_snapshot(x.st, "s", m1.snapshot, NULL, &nv, &e), 0);
    /* oldest first, the live version last; three versions are the object and two more */
    CHECK_INT(nv, 2);
    CHECK_INT(fv_ndeleted, 3);
    CHECK_STR(fv_deleted[0], "marker");
    CHECK_STR(fv_deleted[1], "v-old");
    CHECK_STR(fv_deleted[2], "v-new");
    CHECK(!file_exists(x.f->root, "s", m1.snapshot));
    fx_close(&x);
}

static void test_store_move(void)
{
    const char *root = t_tempdir();
    struct store *st = open_store(root, 0, NULL);
    struct state_meta m1, m2, cur;
    struct snaps s;
    struct err e = {0};
    unsigned n = 0;
    char *b1 = state_body(1, "lin-1", "a"), *b2 = state_body(2, "lin-1", "b");
    CHECK_INT(put_state(st, "old/s", b1, 1, NULL, &m1), 0);
    CHECK_INT(put_state(st, "old/s", b2, 2, NULL, &m2), 0);
    CHECK_INT(put_state(st, "taken", b1, 1, NULL, NULL), 0);
    /* onto an existing state, onto itself, from nothing: refused, nothing changes */
    CHECK_INT(store_move(st, "old/s", "taken", &n, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    CHECK_INT(store_move(st, "old/s", "old/s", &n, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    CHECK_INT(store_move(st, "nothing", "new/s", &n, &e), -1);
    CHECK_INT(e.code, ERR_NOT_FOUND);
    err_clear(&e);
    CHECK_INT(count_snapshots(st, "old/s", &s), 2);
    /* an interrupted move left one snapshot copied: running it again finishes it */
    struct objstore *os = store_objstore(st);
    struct buf raw;
    struct obj_info info;
    buf_init(&raw, 0);
    char *src = xasprintf("states/old/s/@snapshots/%s.tfstate", m1.snapshot);
    char *dst = xasprintf("states/new/s/@snapshots/%s.tfstate", m1.snapshot);
    CHECK_INT(os->ops->get(os, src, &raw, &info, &e), 0);
    CHECK_INT(os->ops->put(os, dst, raw.data, raw.len, info.meta, &e), 0);
    CHECK_INT(store_move(st, "old/s", "new/s", &n, &e), 0);
    CHECK_INT(n, 2); /* the other snapshot and current */
    CHECK_INT(count_snapshots(st, "new/s", &s), 2);
    CHECK_STR(s.m[0].snapshot, m2.snapshot);
    CHECK_STR(s.m[0].writer, "ci/deploy");
    CHECK_INT(store_head(st, "new/s", &cur, &e), 0);
    CHECK_STR(cur.snapshot, m2.snapshot);
    read_current(st, "new/s", b2);
    CHECK_INT(store_head(st, "old/s", &cur, &e), -1);
    CHECK_INT(e.code, ERR_NOT_FOUND);
    err_clear(&e);
    CHECK_INT(count_snapshots(st, "old/s", &s), 0);
    /* and a move that had already deleted old's current finishes its snapshots */
    CHECK_INT(os->ops->put(os, src, raw.data, raw.len, info.meta, &e), 0);
    CHECK_INT(store_move(st, "old/s", "new/s", &n, &e), 0);
    CHECK_INT(count_snapshots(st, "old/s", &s), 0);
    CHECK_INT(count_snapshots(st, "new/s", &s), 2);
    buf_cleanup(&raw);
    free(src);
    free(dst);
    free(b1);
    free(b2);
    store_free(st);
}

/* A read-only open (statectl offline export) changes nothing: no layout migration (a layout-1
 * storage is refused, its objects left where they are), no sweep of the snapshots of
 * interrupted writes, no stale temp file removed, and every write refused. */
static void test_store_read_only(void)
{
    struct err e = {0};
    struct store_config ro = {.read_only = true};
    const char *v1 = t_tempdir();
    v1_write(v1);
    struct objstore *os = objstore_dir_open_ro(v1, &e);
    CHECK(os != NULL);
    CHECK(store_new(os, &ro, &e) == NULL);
    CHECK_INT(e.code, ERR_INVALID);
    char path[600];
    snprintf(path, sizeof(path), "%s/layout.json", v1);
    CHECK(access(path, F_OK) != 0);
    err_clear(&e);
    snprintf(path, sizeof(path), "%s/missing", v1);
    CHECK(objstore_dir_open_ro(path, &e) == NULL);
    CHECK(access(path, F_OK) != 0);

    const char *root = t_tempdir();
    struct store *st = open_store(root, 0, NULL);
    char *b1 = state_body(1, "l", "one"), *b2 = state_body(2, "l", "two");
    CHECK_INT(put_state(st, "a/b", b1, 1, NULL, NULL), 0);
    plant_snapshot(store_objstore(st), "a/b", "4102444800000000-2-aaaaaaaaaaaa", b2);
    store_free(st);
    char *tmp = xasprintf("%s/states/" FILE_TEMP_PREFIX "x", root);
    FILE *f = fopen(tmp, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    os = objstore_dir_open_ro(root, &e);
    st = os ? store_new(os, &ro, &e) : NULL;
    CHECK(st != NULL);
    if (st) {
        struct snaps s;
        CHECK_INT(count_snapshots(st, "a/b", &s), 2); /* not swept */
        read_current(st, "a/b", b1);
        bool same;
        struct store_write w = {.serial = 3, .lineage = "l", .writer = "w"};
        CHECK_INT(store_put(st, "a/b", b2, strlen(b2), &w, NULL, &same, &e), -1);
        CHECK_INT(store_delete(st, "a/b", &e), -1);
        CHECK_INT(store_put_blob(st, "tokens.json", "{}", 2, &e), -1);
        CHECK_INT(
            store_delete_snapshot(st, "a/b", "4102444800000000-2-aaaaaaaaaaaa", NULL, NULL, &e),
            -1);
        CHECK_INT(store_move(st, "a/b", "c/d", NULL, &e), -1);
        CHECK_INT(count_snapshots(st, "a/b", &s), 2);
        store_free(st);
    }
    CHECK(access(tmp, F_OK) == 0); /* a live stated's temp file is not ours to remove */
    free(tmp);
    free(b1);
    free(b2);
}

/* Every storage call is counted once, by op and result, whatever the driver; writes, their
 * bytes and pruned snapshots by the store. */
static void test_store_metrics(void)
{
    struct store *st = open_store(t_tempdir(), 1, NULL);
    const char *ok_get = "stated_storage_requests_total{op=\"get\",result=\"ok\"}";
    const char *nf_get = "stated_storage_requests_total{op=\"get\",result=\"not_found\"}";
    const char *puts = "stated_storage_requests_total{op=\"put\",result=\"ok\"}";
    double g0 = t_metric(ok_get), n0 = t_metric(nf_get), p0 = t_metric(puts);
    double w0 = t_metric("stated_state_writes_total"),
           b0 = t_metric("stated_state_write_bytes_total");
    double pr0 = t_metric("stated_snapshots_pruned_total");
    double h0 = t_metric("stated_storage_request_duration_seconds_count{op=\"get\"}");
    struct buf out;
    buf_init(&out, 0);
    struct err e = {0};
    CHECK_INT(store_get(st, "none", &out, NULL, &e), -1); /* absent: not_found */
    char *b1 = state_body(1, "lin-1", "one"), *b2 = state_body(2, "lin-1", "two");
    CHECK_INT(put_state(st, "m", b1, 1, NULL, NULL), 0);
    CHECK_INT(put_state(st, "m", b1, 1, NULL, NULL), 0); /* identical: not a write */
    CHECK_INT(put_state(st, "m", b2, 2, NULL, NULL), 0); /* retain 1: the first is pruned */
    CHECK(t_metric(nf_get) >= n0 + 1);
    CHECK(t_metric(puts) >= p0 + 2);
    CHECK_INT(t_metric("stated_state_writes_total"), w0 + 2);
    CHECK_INT(t_metric("stated_state_write_bytes_total"), b0 + (double)(strlen(b1) + strlen(b2)));
    CHECK_INT(t_metric("stated_snapshots_pruned_total"), pr0 + 1);
    double g1 = t_metric(ok_get);
    buf_reset(&out);
    CHECK_INT(store_get(st, "m", &out, NULL, &e), 0);
    CHECK(t_metric(ok_get) >= g1 + 1 && g1 >= g0);
    CHECK(t_metric("stated_storage_request_duration_seconds_count{op=\"get\"}") > h0);
    buf_cleanup(&out);
    free(b1);
    free(b2);
    store_free(st);
}

int main(void)
{
    log_setup(LOG_WARN, LOG_TEXT);
    RUN(test_store_metrics);
    RUN(test_dir_put_get_meta);
    RUN(test_dir_list_order);
    RUN(test_dir_stale_sidecar_ignored);
    RUN(test_dir_cache_never_stale);
    RUN(test_dir_copy_is_a_link);
    RUN(test_storage_url);
    RUN(test_store_roundtrip_and_snapshots);
    RUN(test_store_too_large);
    RUN(test_store_list_states);
    RUN(test_store_retention_count);
    RUN(test_store_retention_days_never_newest);
    RUN(test_store_untrusted_current_meta);
    RUN(test_store_crash_between_data_and_sidecar);
    RUN(test_store_listing_without_meta);
    RUN(test_store_put_copy);
    RUN(test_store_concurrent_writes);
    RUN(test_store_odd_writer);
    RUN(test_store_serial_u64_meta);
    RUN(test_store_failed_current_write);
    RUN(test_store_orphan_cleaned_by_next_write);
    RUN(test_store_failed_snapshot_write);
    RUN(test_store_start_sweep);
    RUN(test_key_parse);
    RUN(test_store_names_mimic_keys);
    RUN(test_layout_migration);
    RUN(test_layout_marker);
    RUN(test_layout_migration_interrupted);
    RUN(test_store_encrypted);
    RUN(test_store_resolve_ref);
    RUN(test_store_resolve_full_id_among_prefix_matches);
    RUN(test_store_restore_marker);
    RUN(test_store_delete_snapshot);
    RUN(test_store_delete_snapshot_purges_versions);
    RUN(test_store_move);
    RUN(test_store_read_only);
    return t_report();
}
