/* statectl/cmd_snapshots.c: snapshots list, show, diff and restore. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "statectl/statectl_int.h"

/* Snapshot ids are "SEQ-SERIAL-SHA12" (".tfstate" may follow): checked locally so a typo is a
 * usage error, not a request. */
static int check_snapshot_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 60 || strspn(id, "0123456789abcdefABCDEF-.tfstae") != n)
        return ctl_usage_error(
            "invalid snapshot id '%s' (expected SEQ-SERIAL-SHA12 as `snapshots list` prints it)",
            id);
    return 0;
}

int ctl_cmd_snapshots_list(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    static const char *const head[] = {"SNAPSHOT", "SERIAL", "SIZE", "TIME", "WRITER", "SHA256"};
    const char *name = cl->pos[0];
    struct ctl_table t;
    json_t *arr, *s;
    size_t i;
    char *path, *what;
    int ex = ctl_check_name(name);
    if (ex != 0)
        return ex;
    path = xasprintf("/v1/snapshots/%s", name);
    what = xasprintf("snapshots list %s", name);
    ex = ctl_call_json(c, "GET", path, NULL, what, &arr);
    free(path);
    free(what);
    if (ex != 0)
        return ex;
    if (cl->json) {
        ctl_print_json(arr);
        json_decref(arr);
        return 0;
    }
    ctl_table_init(&t, 6, head);
    CTL_ARRAY_EACH(arr, i, s)
    {
        char serial[32], size[32], when[32], sha[16];
        ctl_jnum(s, "serial", serial);
        ctl_jnum(s, "size", size);
        ctl_short_time(ctl_jstr(s, "time"), when);
        snprintf(sha, sizeof(sha), "%.12s", ctl_jstr(s, "sha256"));
        const char *row[] = {ctl_jstr(s, "id"), serial, size, when, ctl_jstr(s, "writer"), sha};
        ctl_table_add(&t, row);
    }
    ctl_print_table(&t);
    json_decref(arr);
    return 0;
}

/* GETs one snapshot into memory (diff) or streams it to f (show). */
static int fetch_snapshot(const struct ctl_conn *c, const char *name, const char *id, FILE *f,
                          struct ctl_resp *r)
{
    struct err e = {0};
    char *q = ctl_query_escape(id);
    char *path = xasprintf("/v1/snapshots/%s?id=%s", name, q);
    int rc = ctl_request(c, "GET", path, NULL, f, false, r, &e);
    free(q);
    free(path);
    if (rc != 0) {
        fprintf(stderr, "statectl: snapshot %s of %s: %s: %s\n", id, name, err_infra_code(e.code),
                e.msg);
        return e.code == ERR_UNAVAILABLE ? CTL_EXIT_UNREACHABLE : CTL_EXIT_ERROR;
    }
    if (r->status != 200) {
        char *what = xasprintf("snapshot %s of %s", id, name);
        int ex = ctl_report_http(r, what);
        free(what);
        return ex;
    }
    return 0;
}

int ctl_cmd_snapshots_show(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *name = cl->pos[0], *id = cl->pos[1], *file = cl->opt[OPT_OUTFILE];
    struct ctl_resp r;
    FILE *f = stdout;
    int ex = ctl_check_name(name);
    if (ex == 0)
        ex = check_snapshot_id(id);
    if (ex != 0)
        return ex;
    if (file != NULL && strcmp(file, "-") != 0 && (f = fopen(file, "wb")) == NULL) {
        fprintf(stderr, "statectl: %s: %s\n", file, strerror(errno));
        return CTL_EXIT_ERROR;
    }
    ex = fetch_snapshot(c, name, id, f, &r);
    ctl_resp_cleanup(&r);
    if (f != stdout) {
        if (fclose(f) != 0 && ex == 0) {
            fprintf(stderr, "statectl: %s: %s\n", file, strerror(errno));
            ex = CTL_EXIT_ERROR;
        }
        if (ex != 0)
            unlink(file);
    } else if (fflush(stdout) != 0 && ex == 0) {
        ex = CTL_EXIT_ERROR;
    }
    return ex;
}

int ctl_cmd_snapshots_diff(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *name = cl->pos[0];
    struct ctl_resp ra, rb;
    struct ctl_diff d;
    struct err e = {0};
    int ex = ctl_check_name(name);
    if (ex == 0)
        ex = check_snapshot_id(cl->pos[1]);
    if (ex == 0)
        ex = check_snapshot_id(cl->pos[2]);
    if (ex != 0)
        return ex;
    ex = fetch_snapshot(c, name, cl->pos[1], NULL, &ra);
    if (ex != 0) {
        ctl_resp_cleanup(&ra);
        return ex;
    }
    ex = fetch_snapshot(c, name, cl->pos[2], NULL, &rb);
    if (ex == 0) {
        if (ctl_diff_compute(ra.body.data ? ra.body.data : "", ra.body.len,
                             rb.body.data ? rb.body.data : "", rb.body.len, &d, &e) != 0) {
            fprintf(stderr, "statectl: snapshots diff %s: %s: %s\n", name, err_infra_code(e.code),
                    e.msg);
            ex = CTL_EXIT_ERROR;
        } else {
            if (cl->json) {
                json_t *j = ctl_diff_json(&d);
                ctl_print_json(j);
                json_decref(j);
            } else {
                struct buf out;
                buf_init(&out, 0);
                ctl_diff_render(&d, &out);
                fwrite(out.data, 1, out.len, stdout);
                buf_cleanup(&out);
            }
            ctl_diff_cleanup(&d);
        }
    }
    ctl_resp_cleanup(&ra);
    ctl_resp_cleanup(&rb);
    return ex;
}

int ctl_cmd_snapshots_restore(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *name = cl->pos[0], *id = cl->pos[1];
    char *q, *path, *what;
    json_t *res;
    int ex = ctl_check_name(name);
    if (ex == 0)
        ex = check_snapshot_id(id);
    if (ex != 0)
        return ex;
    q = ctl_query_escape(id);
    path = xasprintf("/v1/restore/%s?id=%s%s", name, q, cl->opt[OPT_FORCE] ? "&force=1" : "");
    what = xasprintf("restore %s from %s", name, id);
    ex = ctl_call_json(c, "POST", path, NULL, what, &res);
    free(q);
    free(path);
    free(what);
    if (ex != 0)
        return ex;
    if (cl->json) {
        ctl_print_json(res);
    } else {
        char serial[32];
        ctl_jnum(res, "serial", serial);
        printf("restored %s from snapshot %s as serial %s (new snapshot %s)\n", name, id, serial,
               ctl_jstr(res, "snapshot"));
        if (json_is_object(json_object_get(res, "lock")))
            printf("note: the lock held by %s (ID %s) was left in place\n",
                   ctl_jstr(json_object_get(res, "lock"), "who"),
                   ctl_jstr(json_object_get(res, "lock"), "id"));
    }
    json_decref(res);
    return 0;
}
