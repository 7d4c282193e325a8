/* statectl/cmd_offline.c: offline export, the way out when stated is down
 * (docs/disaster-recovery.md).
 *
 * Opens the storage itself, read-only, with the store code stated runs (store_new with
 * read_only: no layout migration, no sweep of interrupted writes, no versioning change), and
 * writes plain state files an operator can hand to terraform:
 *
 *   TO/NAME.tfstate                      the current state of NAME
 *   TO/NAME/@versions/SNAPSHOT.tfstate   every version (--all-versions)
 *
 * No state name contains '@', so a version directory never meets another state's file.
 * Files are written whole or not at all (temp file and rename), mode 0600: they hold secrets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"
#include "common/util.h"
#include "statectl/statectl_int.h"

struct names {
    char **v;
    size_t n;
};

static void names_add(struct names *l, const char *s)
{
    if (l->n % 64 == 0)
        l->v = xrealloc(l->v, (l->n + 64) * sizeof(*l->v));
    l->v[l->n++] = xstrdup(s);
}

static void names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

struct export_run {
    struct store *st;
    const char *to;
    bool all, progress;
    uint64_t states, versions, bytes, failed;
};

/* --to: created when missing; an existing one must be empty unless --force. */
static int prepare_target(const char *to, bool force)
{
    struct err e = {0};
    DIR *d = opendir(to);
    if (d == NULL) {
        if (errno != ENOENT) {
            fprintf(stderr, "statectl: offline export: --to %s: %s\n", to, strerror(errno));
            return CTL_EXIT_ERROR;
        }
        if (file_mkdir_p(to, 0700, ERR_WRITE, &e) != 0) {
            fprintf(stderr, "statectl: offline export: %s\n", e.msg);
            return CTL_EXIT_ERROR;
        }
        return 0;
    }
    struct dirent *de;
    bool empty = true;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            empty = false;
    closedir(d);
    if (!empty && !force)
        return ctl_usage_error("--to %s is not empty: files there could be mixed with this "
                               "export's (give an empty directory, or --force)",
                               to);
    return 0;
}

/* rel's bytes as the file TO/rel, its directories made first. */
static int write_one(const struct export_run *x, const char *rel, const struct buf *b,
                     struct err *err)
{
    char *path = xasprintf("%s/%s", x->to, rel);
    char *slash = strrchr(path, '/');
    struct file_write_opts how = {.mode = 0600, .durable = true, .code = ERR_WRITE};
    int rc;
    *slash = '\0';
    rc = file_mkdir_p(path, 0700, ERR_WRITE, err);
    *slash = '/';
    if (rc == 0)
        rc = file_write_atomic(path, b->data, b->len, NULL, 0, &how, err);
    free(path);
    return rc;
}

static int on_version(void *ctx, const struct state_meta *m)
{
    names_add(ctx, m->snapshot);
    return 0;
}

static int export_versions(struct export_run *x, const char *name, struct err *err)
{
    struct names ids = {0};
    struct buf b;
    int rc = store_list_snapshots(x->st, name, on_version, &ids, err);
    buf_init(&b, 0);
    for (size_t i = 0; rc == 0 && i < ids.n; i++) {
        char *rel = xasprintf("%s/@versions/%s.tfstate", name, ids.v[i]);
        buf_reset(&b);
        rc = store_get_snapshot(x->st, name, ids.v[i], &b, NULL, err);
        if (rc == 0 && (rc = write_one(x, rel, &b, err)) == 0) {
            x->versions++;
            x->bytes += b.len;
        }
        free(rel);
    }
    buf_cleanup(&b);
    names_free(&ids);
    return rc;
}

static int export_state(struct export_run *x, const char *name, struct err *err)
{
    struct buf b;
    char *rel = xasprintf("%s.tfstate", name);
    buf_init(&b, 0);
    int rc = store_get(x->st, name, &b, NULL, err);
    if (rc == 0 && (rc = write_one(x, rel, &b, err)) == 0) {
        x->states++;
        x->bytes += b.len;
    }
    if (rc == 0 && x->all)
        rc = export_versions(x, name, err);
    buf_cleanup(&b);
    free(rel);
    return rc;
}

static int on_state_name(void *ctx, const char *name, const struct state_meta *m)
{
    names_add(ctx, name);
    return 0;
}

static void export_all(struct export_run *x, const struct names *states)
{
    for (size_t i = 0; i < states->n; i++) {
        struct err e = {0};
        if (x->progress)
            fprintf(stderr, "\r\033[K[%zu/%zu] %s", i + 1, states->n, states->v[i]);
        if (export_state(x, states->v[i], &e) != 0) {
            x->failed++;
            fprintf(stderr, "%sstatectl: offline export: %s: %s\n", x->progress ? "\n" : "",
                    states->v[i], e.msg);
        }
    }
    if (x->progress && states->n > 0)
        fputc('\n', stderr);
}

/* The storage named by --storage or --data-dir, opened read-only. */
static struct objstore *open_storage(const struct ctl_cmdline *cl, struct err *err)
{
    const char *url = cl->opt[OPT_STORAGE];
    char *kind = NULL, *where = NULL, *prefix = NULL;
    struct objstore *os = NULL;
    if (url == NULL)
        return objstore_dir_open_ro(cl->opt[OPT_DATA_DIR], err);
    if (storage_url_parse(url, &kind, &where, &prefix, err) != 0)
        return NULL;
    os = strcmp(kind, "dir") == 0 ? objstore_dir_open_ro(where, err)
                                  : ctl_open_s3(cl, where, prefix, err);
    free(kind);
    free(where);
    free(prefix);
    return os;
}

int ctl_cmd_offline_export(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    struct export_run x = {.to = cl->opt[OPT_TO],
                           .all = cl->opt[OPT_ALL_VERSIONS] != NULL,
                           .progress = isatty(STDERR_FILENO) == 1};
    struct keyring *keys = NULL;
    struct names states = {0};
    struct err e = {0};
    int ex;
    (void)c;
    if ((cl->opt[OPT_STORAGE] == NULL) == (cl->opt[OPT_DATA_DIR] == NULL))
        return ctl_usage_error("offline export needs one of --storage or --data-dir");
    if (x.to == NULL)
        return ctl_usage_error("offline export needs --to DIR");
    if ((ex = prepare_target(x.to, cl->opt[OPT_FORCE] != NULL)) != 0)
        return ex;
    log_setup(LOG_WARN, LOG_TEXT); /* the drivers' start-up notes are not for this user */
    if (ctl_open_keys(cl, &keys, &e) != 0) {
        fprintf(stderr, "statectl: offline export: %s\n", e.msg);
        return CTL_EXIT_ERROR;
    }
    struct objstore *os = open_storage(cl, &e);
    struct store_config sc = {.keys = keys, .read_only = true};
    if (os != NULL)
        x.st = store_new(os, &sc, &e);
    if (x.st == NULL || store_list_states(x.st, "", on_state_name, &states, &e) != 0) {
        fprintf(stderr, "statectl: offline export: %s\n", e.msg);
        ex = CTL_EXIT_ERROR;
        goto out;
    }
    export_all(&x, &states);
    printf("exported %llu of %zu states%s to %s (%llu versions, %llu bytes)%s\n",
           (unsigned long long)x.states, states.n, x.all ? " with their history" : "", x.to,
           (unsigned long long)x.versions, (unsigned long long)x.bytes,
           x.failed > 0 ? "; failures above" : "");
    ex = x.failed > 0 ? CTL_EXIT_ERROR : CTL_EXIT_OK;
out:
    names_free(&states);
    store_free(x.st);
    keyring_free(keys);
    return ex;
}
