/* statectl/import: states from terraform's backend "s3" (or a tree of state files) into a
 * running stated, through its admin API (POST /v1/import/NAME).
 *
 * The source is only read: an S3 bucket through the S3 driver opened read-only (a terraform
 * bucket is not a stated storage: its objects are listed and fetched as they are), a
 * directory through plain reads. Every key that fits --key-pattern is one state; with
 * --versions each S3 object version (delete markers aside) is imported oldest first, so the
 * newest becomes current. What stated already has (same SHA-256 among the state's versions) is
 * not sent again, and the server skips it as well, so a second run imports nothing. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"
#include "common/util.h"
#include "statectl/statectl_int.h"

/* One version to import: the key it comes from and the state it becomes. */
struct item {
    char *key, *version_id; /* version_id "" for a file or a current S3 object */
    char *name;             /* NULL: the key gives no valid state name */
    char *why;              /* why not, when name is NULL */
};

struct plan {
    struct item *v;
    size_t n;
    const char *pattern;
    uint64_t ignored; /* keys that do not fit the pattern */
};

static void plan_add(struct plan *p, const char *key, const char *version_id)
{
    char name[STATE_NAME_MAX];
    struct err e = {0};
    int rc = ctl_key_to_name(p->pattern, key, name, sizeof(name), &e);
    if (rc == 1) {
        p->ignored++;
        return;
    }
    if (p->n % 64 == 0)
        p->v = xrealloc(p->v, (p->n + 64) * sizeof(*p->v));
    struct item *it = &p->v[p->n++];
    it->key = xstrdup(key);
    it->version_id = xstrdup(version_id);
    it->name = rc == 0 ? xstrdup(name) : NULL;
    it->why = rc == 0 ? NULL : xstrdup(e.msg);
}

static void plan_free(struct plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].key);
        free(p->v[i].version_id);
        free(p->v[i].name);
        free(p->v[i].why);
    }
    free(p->v);
}

/* ------------------------------------------------------------------ sources */

static struct plan *walk_plan; /* nftw has no context argument */
static size_t walk_root_len;

static int on_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_F && path[walk_root_len] == '/')
        plan_add(walk_plan, path + walk_root_len + 1, "");
    return 0;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct item *)a)->key, ((const struct item *)b)->key);
}

static int plan_dir(struct plan *p, const char *dir, struct err *err)
{
    char *root = xstrdup(dir);
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        root[--n] = '\0';
    walk_plan = p;
    walk_root_len = n;
    int rc = nftw(root, on_file, 32, FTW_PHYS);
    free(root);
    if (rc != 0)
        return err_set_errno(err, ERR_INVALID, errno, "--from-dir %s", dir);
    qsort(p->v, p->n, sizeof(*p->v), by_key); /* the walk's order is the file system's */
    return 0;
}

static int on_object(void *ctx, const struct obj_info *info)
{
    plan_add(ctx, info->key, "");
    return 0;
}

static int on_object_version(void *ctx, const struct obj_version *v)
{
    if (!v->is_delete_marker)
        plan_add(ctx, v->key, v->version_id);
    return 0;
}

/* The listing gives a key's versions newest first: each key's run is turned around. */
static void oldest_first(struct plan *p)
{
    for (size_t i = 0, j; i < p->n; i = j) {
        for (j = i + 1; j < p->n && strcmp(p->v[j].key, p->v[i].key) == 0;)
            j++;
        for (size_t a = i, b = j - 1; a < b; a++, b--) {
            struct item t = p->v[a];
            p->v[a] = p->v[b];
            p->v[b] = t;
        }
    }
}

static int plan_s3(struct plan *p, struct objstore *os, bool versions, struct err *err)
{
    if (!versions)
        return os->ops->list(os, "", on_object, p, err);
    if (os->ops->list_versions == NULL)
        return err_set(err, ERR_INVALID, "this storage keeps no object versions");
    if (os->ops->list_versions(os, "", on_object_version, p, err) != 0)
        return -1;
    oldest_first(p);
    return 0;
}

/* ------------------------------------------------------------------ importing */

struct run {
    const struct ctl_conn *c;
    const struct plan *p;
    struct objstore *os; /* NULL: --from-dir */
    const char *from;    /* the bucket URL or the directory, for sources and messages */
    bool dry_run, progress;
    json_t *known; /* state name -> {sha256: true} of the versions stated has */
    uint64_t imported, already, failed, skipped;
    int ex; /* the first failure's exit code */
};

static void fail(struct run *r, int ex)
{
    r->failed++;
    if (r->ex == 0)
        r->ex = ex;
}

/* The SHA-256 of every version stated has of name (none when it has no such state). */
static json_t *known_versions(struct run *r, const char *name)
{
    json_t *set = json_object_get(r->known, name), *arr, *v;
    struct ctl_resp resp;
    struct err e = {0};
    size_t i;
    if (set != NULL)
        return set;
    char *path = xasprintf("/v1/snapshots/%s", name);
    set = json_object();
    if (ctl_request(r->c, "GET", path, NULL, NULL, false, &resp, &e) != 0) {
        fprintf(stderr, "statectl: import: %s: %s\n", err_infra_code(e.code), e.msg);
        json_decref(set);
        set = NULL;
        fail(r, CTL_EXIT_UNREACHABLE);
    } else if (resp.status == 200 && (arr = ctl_resp_json(&resp)) != NULL) {
        CTL_ARRAY_EACH(arr, i, v)
        json_object_set_new(set, ctl_jstr(v, "sha256"), json_true());
        json_decref(arr);
    } else if (resp.status != 404) {
        fail(r, ctl_report_http(&resp, "import"));
        json_decref(set);
        set = NULL;
    }
    ctl_resp_cleanup(&resp);
    free(path);
    if (set != NULL)
        json_object_set_new(r->known, name, set);
    return set;
}

/* The version's bytes from the source. */
static int read_item(const struct run *r, const struct item *it, struct buf *out, struct err *err)
{
    if (r->os == NULL) {
        char *path = xasprintf("%s/%s", r->from, it->key);
        int rc = file_read(path, out, err);
        free(path);
        return rc;
    }
    if (it->version_id[0] == '\0')
        return r->os->ops->get(r->os, it->key, out, NULL, err);
    return r->os->ops->get_version(r->os, it->key, it->version_id, out, err);
}

static char *source_of(const struct run *r, const struct item *it)
{
    if (it->version_id[0] != '\0')
        return xasprintf("%s/%s versionId=%s", r->from, it->key, it->version_id);
    return xasprintf("%s/%s", r->from, it->key);
}

/* POST /v1/import/NAME; 1 when the server already had it, 0 imported, -1 failed. */
static int send_item(struct run *r, const struct item *it, const struct buf *b)
{
    char *src = source_of(r, it), *q = ctl_query_escape(src);
    char *path = xasprintf("/v1/import/%s?source=%s", it->name, q);
    struct ctl_resp resp;
    struct err e = {0};
    int rc = -1;
    json_t *j;
    if (ctl_request(r->c, "POST", path, b->data, NULL, false, &resp, &e) != 0) {
        fprintf(stderr, "statectl: import %s: %s: %s\n", it->name, err_infra_code(e.code), e.msg);
        fail(r, CTL_EXIT_UNREACHABLE);
    } else if (resp.status != 200) {
        fail(r, ctl_report_http(&resp, it->name));
    } else if ((j = ctl_resp_json(&resp)) != NULL) {
        rc = json_is_true(json_object_get(j, "imported")) ? 0 : 1;
        json_decref(j);
    } else {
        fail(r, CTL_EXIT_ERROR);
    }
    ctl_resp_cleanup(&resp);
    free(path);
    free(q);
    free(src);
    return rc;
}

/* One version: read, compared with what stated has, sent (or listed by --dry-run). */
static void import_item(struct run *r, const struct item *it)
{
    struct buf b;
    struct err e = {0};
    char sha[65];
    json_t *set = known_versions(r, it->name);
    if (set == NULL)
        return;
    buf_init(&b, 0);
    if (read_item(r, it, &b, &e) != 0 || buf_append(&b, "", 1, &e) != 0) {
        fprintf(stderr, "statectl: import: %s: %s\n", it->key, e.msg);
        fail(r, CTL_EXIT_ERROR);
        goto out;
    }
    b.len--; /* the NUL that makes it a string for the request */
    if (memchr(b.data, '\0', b.len) != NULL) {
        fprintf(stderr, "statectl: import: %s: not a state file (binary)\n", it->key);
        fail(r, CTL_EXIT_ERROR);
        goto out;
    }
    sha256_hex(b.data, b.len, sha);
    if (json_object_get(set, sha) != NULL) {
        r->already++;
    } else if (r->dry_run) {
        printf("would import %s%s%s -> %s\n", it->key, it->version_id[0] ? " version " : "",
               it->version_id, it->name);
        r->imported++;
        json_object_set_new(set, sha, json_true());
    } else {
        int rc = send_item(r, it, &b);
        if (rc >= 0)
            json_object_set_new(set, sha, json_true());
        r->imported += rc == 0;
        r->already += rc == 1;
    }
out:
    buf_cleanup(&b);
}

static void import_all(struct run *r)
{
    const struct plan *p = r->p;
    for (size_t i = 0; i < p->n; i++) {
        const struct item *it = &p->v[i];
        if (it->name == NULL) {
            fprintf(stderr, "%sstatectl: import: skipped %s: %s\n", r->progress ? "\n" : "",
                    it->key, it->why);
            r->skipped++;
            continue;
        }
        if (r->progress)
            fprintf(stderr, "\r\033[K[%zu/%zu] %s", i + 1, p->n, it->name);
        uint64_t before = r->failed;
        import_item(r, it);
        /* A state that failed gets no later version: its history would have a hole. */
        while (r->failed > before && i + 1 < p->n && p->v[i + 1].name != NULL &&
               strcmp(p->v[i + 1].name, it->name) == 0)
            i++;
    }
    if (r->progress && p->n > 0)
        fputc('\n', stderr);
}

/* The source the command line names, listed into p. */
static int make_plan(const struct ctl_cmdline *cl, struct run *r, struct plan *p, char **from,
                     struct err *err)
{
    char *kind = NULL, *bucket = NULL, *prefix = NULL;
    int rc;
    if (cl->opt[OPT_FROM_DIR] != NULL) {
        *from = xstrdup(cl->opt[OPT_FROM_DIR]);
        return plan_dir(p, *from, err);
    }
    if (storage_url_parse(cl->opt[OPT_FROM], &kind, &bucket, &prefix, err) != 0)
        return -1;
    if (strcmp(kind, "s3") != 0) {
        rc = err_set(err, ERR_INVALID,
                     "--from takes s3://BUCKET[/PREFIX] (a directory: --from-dir)");
    } else {
        *from = prefix != NULL && prefix[0] != '\0' ? xasprintf("s3://%s/%s", bucket, prefix)
                                                    : xasprintf("s3://%s", bucket);
        r->os = ctl_open_s3(cl, bucket, prefix, err);
        rc = r->os != NULL ? plan_s3(p, r->os, cl->opt[OPT_VERSIONS] != NULL, err) : -1;
    }
    free(kind);
    free(bucket);
    free(prefix);
    return rc;
}

static void summary(const struct run *r, const struct plan *p)
{
    printf("%s %llu version(s); %llu already in stated; %llu key(s) skipped (no valid state "
           "name); %llu failed; %llu other key(s) do not fit '%s'\n",
           r->dry_run ? "would import" : "imported", (unsigned long long)r->imported,
           (unsigned long long)r->already, (unsigned long long)r->skipped,
           (unsigned long long)r->failed, (unsigned long long)p->ignored, p->pattern);
}

int ctl_cmd_import(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    struct plan p = {.pattern = cl->opt[OPT_KEY_PATTERN] ? cl->opt[OPT_KEY_PATTERN]
                                                         : CTL_KEY_PATTERN_DEFAULT};
    struct run r = {.c = c,
                    .p = &p,
                    .dry_run = cl->opt[OPT_DRY_RUN] != NULL,
                    .progress = isatty(STDERR_FILENO) == 1};
    struct err e = {0};
    char *from = NULL;
    if ((cl->opt[OPT_FROM] == NULL) == (cl->opt[OPT_FROM_DIR] == NULL))
        return ctl_usage_error("import needs one of --from s3://BUCKET[/PREFIX] or --from-dir DIR");
    if (cl->opt[OPT_VERSIONS] != NULL && cl->opt[OPT_FROM] == NULL)
        return ctl_usage_error("--versions needs --from (files have no versions)");
    if (ctl_key_pattern_check(p.pattern, &e) != 0)
        return ctl_usage_error("%s", e.msg);
    log_setup(LOG_WARN, LOG_TEXT); /* the S3 driver's start-up notes are not for this user */
    if (make_plan(cl, &r, &p, &from, &e) != 0) {
        fprintf(stderr, "statectl: import: %s\n", e.msg);
        r.ex = CTL_EXIT_ERROR;
        goto out;
    }
    r.from = from;
    r.known = json_object();
    import_all(&r);
    summary(&r, &p);
    json_decref(r.known);
out:
    if (r.os != NULL)
        r.os->ops->free(r.os);
    free(from);
    plan_free(&p);
    return r.ex;
}
