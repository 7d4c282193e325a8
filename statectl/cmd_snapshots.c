/* statectl/cmd_snapshots.c: snapshots list, show, diff and restore. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "statectl/statectl_int.h"

/* A version reference (docs/admin-api.md "Version references"): a snapshot ID
 * "SEQ-SERIAL-SHA12" (".tfstate" may follow) or a prefix of one of at least 6 characters,
 * "latest", "latest~N" or "serial:N". Only its form is checked here, so a typo is a usage
 * error, not a request; the server resolves it. */
static bool all_digits(const char *s)
{
    return s[0] != '\0' && strspn(s, "0123456789") == strlen(s);
}

static int check_snapshot_id(const char *ref)
{
    size_t n = strlen(ref), sfx = strlen(".tfstate");
    if (strcmp(ref, "latest") == 0 || (strncmp(ref, "latest~", 7) == 0 && all_digits(ref + 7)) ||
        (strncmp(ref, "serial:", 7) == 0 && all_digits(ref + 7)))
        return 0;
    if (n > sfx && strcmp(ref + n - sfx, ".tfstate") == 0)
        n -= sfx;
    if (n >= 6 && n <= 60 && strspn(ref, "0123456789abcdef-") == n)
        return 0;
    return ctl_usage_error("invalid version '%s' (expected a snapshot ID as `snapshots list` "
                           "prints it or a prefix of at least 6 characters, latest, latest~N "
                           "or serial:N)",
                           ref);
}

/* "restored from ID by WHO: REASON" for a version a restore wrote, else "". */
static void restore_note(json_t *s, char *out, size_t cap)
{
    const char *from = ctl_jstr(s, "restored_from"), *reason = ctl_jstr(s, "reason");
    if (from[0] == '\0') {
        out[0] = '\0';
        return;
    }
    snprintf(out, cap, "restored from %s by %s%s%s", from, ctl_jstr(s, "restored_by"),
             reason[0] ? ": " : "", reason);
}

int ctl_cmd_snapshots_list(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    static const char *const head[] = {"SNAPSHOT", "SERIAL", "SIZE", "TIME",
                                       "WRITER",   "SHA256", "NOTE"};
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
    ctl_table_init(&t, 7, head);
    CTL_ARRAY_EACH(arr, i, s)
    {
        char serial[32], size[32], when[32], sha[16], note[512];
        ctl_jnum(s, "serial", serial);
        ctl_jnum(s, "size", size);
        ctl_short_time(ctl_jstr(s, "time"), when);
        snprintf(sha, sizeof(sha), "%.12s", ctl_jstr(s, "sha256"));
        restore_note(s, note, sizeof(note));
        const char *row[] = {ctl_jstr(s, "id"),     serial, size, when,
                             ctl_jstr(s, "writer"), sha,    note};
        ctl_table_add(&t, row);
    }
    ctl_print_table(&t);
    json_decref(arr);
    return 0;
}

/* GETs one snapshot and streams it to f (show), redacted on request. */
static int fetch_snapshot(const struct ctl_conn *c, const char *name, const char *id, bool redact,
                          FILE *f, struct ctl_resp *r)
{
    struct err e = {0};
    char *q = ctl_query_escape(id);
    char *path = xasprintf("/v1/snapshots/%s?id=%s%s", name, q, redact ? "&redact=1" : "");
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
    ex = fetch_snapshot(c, name, id, cl->opt[OPT_REDACT] != NULL, f, &r);
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

/* GET /v1/diff/NAME?from=A&to=B into *out (versions are resolved by the server). */
static int fetch_diff(const struct ctl_conn *c, const char *name, const char *from, const char *to,
                      json_t **out)
{
    char *qf = ctl_query_escape(from), *qt = ctl_query_escape(to);
    char *path = xasprintf("/v1/diff/%s?from=%s&to=%s", name, qf, qt);
    char *what = xasprintf("diff of %s from %s to %s", name, from, to);
    int ex = ctl_call_json(c, "GET", path, NULL, what, out);
    free(qf);
    free(qt);
    free(path);
    free(what);
    return ex;
}

static void print_diff(json_t *d)
{
    struct buf out;
    buf_init(&out, 0);
    ctl_diff_render(d, &out);
    fwrite(out.data, 1, out.len, stdout);
    buf_cleanup(&out);
}

int ctl_cmd_snapshots_diff(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    json_t *d;
    int ex = ctl_check_name(cl->pos[0]);
    if (ex == 0)
        ex = fetch_diff(c, cl->pos[0], cl->pos[1], cl->pos[2], &d);
    if (ex != 0)
        return ex;
    if (cl->json)
        ctl_print_json(d);
    else
        print_diff(d);
    json_decref(d);
    return 0;
}

/* restore --dry-run: what the restore would change, from the newest version to id. */
static int restore_preview(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *name = cl->pos[0], *id = cl->pos[1];
    json_t *d;
    int ex = fetch_diff(c, name, "latest", id, &d);
    if (ex != 0)
        return ex;
    if (cl->json) {
        ctl_print_json(d);
    } else {
        char serial[32];
        json_t *from = json_object_get(d, "from");
        ctl_jnum(from, "serial", serial);
        printf("dry run: restoring %s from %s would change, from the newest version (serial %s, "
               "%s):\n",
               name, ctl_jstr(json_object_get(d, "to"), "snapshot"), serial,
               ctl_jstr(from, "snapshot"));
        print_diff(d);
        printf("nothing was changed\n");
    }
    json_decref(d);
    return 0;
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
    if (cl->opt[OPT_DRY_RUN])
        return restore_preview(c, cl);
    q = ctl_query_escape(id);
    char *why = ctl_query_escape(cl->opt[OPT_REASON] != NULL ? cl->opt[OPT_REASON] : "");
    path = xasprintf("/v1/restore/%s?id=%s%s%s%s", name, q, cl->opt[OPT_FORCE] ? "&force=1" : "",
                     why[0] ? "&reason=" : "", why);
    what = xasprintf("restore %s from %s", name, id);
    ex = ctl_call_json(c, "POST", path, NULL, what, &res);
    free(why);
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
        printf("restored %s from snapshot %s as serial %s (new snapshot %s)\n", name,
               ctl_jstr(res, "restored_from"), serial, ctl_jstr(res, "snapshot"));
        if (json_is_object(json_object_get(res, "lock")))
            printf("note: the lock held by %s (ID %s) was left in place\n",
                   ctl_jstr(json_object_get(res, "lock"), "who"),
                   ctl_jstr(json_object_get(res, "lock"), "id"));
    }
    json_decref(res);
    return 0;
}

int ctl_cmd_snapshots_delete(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *name = cl->pos[0], *id = cl->pos[1], *reason = cl->opt[OPT_REASON];
    json_t *res;
    int ex = ctl_check_name(name);
    if (ex == 0)
        ex = check_snapshot_id(id);
    if (ex == 0 && (reason == NULL || reason[0] == '\0'))
        ex = ctl_usage_error("snapshots delete needs --reason TEXT (kept in the audit trail)");
    if (ex != 0)
        return ex;
    char *q = ctl_query_escape(id), *why = ctl_query_escape(reason);
    char *path = xasprintf("/v1/snapshots/%s?id=%s&reason=%s", name, q, why);
    char *what = xasprintf("delete version %s of %s", id, name);
    ex = ctl_call_json(c, "DELETE", path, NULL, what, &res);
    free(q);
    free(why);
    free(path);
    free(what);
    if (ex != 0)
        return ex;
    if (cl->json) {
        ctl_print_json(res);
    } else {
        json_t *d = json_object_get(res, "deleted");
        char serial[32];
        ctl_jnum(d, "serial", serial);
        printf("deleted version %s of %s (serial %s, sha256 %s)\n", ctl_jstr(d, "id"), name, serial,
               ctl_jstr(d, "sha256"));
    }
    json_decref(res);
    return 0;
}
