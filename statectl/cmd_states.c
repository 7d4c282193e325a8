/* statectl/cmd_states.c: states list, locks list, locks force-unlock, and the helpers every
 * command shares. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "statectl/statectl_int.h"

void ctl_print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (s != NULL)
        puts(s);
    free(s);
}

int ctl_check_name(const char *name)
{
    struct err e = {0};
    if (state_name_check(name, strlen(name), &e) == 0)
        return 0;
    return ctl_usage_error("invalid state name: %s", e.msg);
}

void ctl_short_time(const char *rfc3339, char out[32])
{
    /* "2026-11-22T02:20:13.123456Z" -> "2026-11-22T02:20:13Z"; anything else unchanged. */
    size_t n;
    if (rfc3339 == NULL || rfc3339[0] == '\0') {
        snprintf(out, 32, "-");
        return;
    }
    n = strcspn(rfc3339, ".");
    if (n >= 19 && rfc3339[n] == '.')
        snprintf(out, 32, "%.*sZ", (int)n, rfc3339);
    else
        snprintf(out, 32, "%s", rfc3339);
}

int ctl_call_json(const struct ctl_conn *c, const char *method, const char *path, const char *body,
                  const char *what, json_t **out)
{
    struct ctl_resp r;
    struct err e = {0};
    int ex = 0;
    *out = NULL;
    if (ctl_request(c, method, path, body, NULL, false, &r, &e) != 0) {
        fprintf(stderr, "statectl: %s: %s: %s\n", what, err_infra_code(e.code), e.msg);
        ctl_resp_cleanup(&r);
        return e.code == ERR_UNAVAILABLE ? CTL_EXIT_UNREACHABLE : CTL_EXIT_ERROR;
    }
    if (r.status < 200 || r.status > 299)
        ex = ctl_report_http(&r, what);
    else if ((*out = ctl_resp_json(&r)) == NULL)
        ex = CTL_EXIT_ERROR;
    ctl_resp_cleanup(&r);
    return ex;
}

void ctl_print_table(struct ctl_table *t)
{
    struct buf b;
    buf_init(&b, 0);
    ctl_table_render(t, &b);
    fwrite(b.data, 1, b.len, stdout);
    buf_cleanup(&b);
    ctl_table_cleanup(t);
}

const char *ctl_jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

void ctl_jnum(json_t *o, const char *key, char out[32])
{
    uint64_t v;
    if (u64_from_json(json_object_get(o, key), &v))
        snprintf(out, 32, "%" PRIu64, v);
    else
        snprintf(out, 32, "-");
}

int ctl_cmd_states_list(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    static const char *const head[] = {"NAME", "SERIAL", "SIZE", "LAST WRITE", "WRITER", "LOCK"};
    struct ctl_table t;
    json_t *arr, *s;
    size_t i;
    char *path;
    int ex;

    if (cl->opt[OPT_PREFIX] != NULL) {
        char *q = ctl_query_escape(cl->opt[OPT_PREFIX]);
        path = xasprintf("/v1/states?prefix=%s", q);
        free(q);
    } else {
        path = xstrdup("/v1/states");
    }
    ex = ctl_call_json(c, "GET", path, NULL, "states list", &arr);
    free(path);
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
        char serial[32], size[32], when[32], lock[400];
        json_t *l = json_object_get(s, "lock");
        ctl_jnum(s, "serial", serial);
        ctl_jnum(s, "size", size);
        ctl_short_time(ctl_jstr(s, "last_write"), when);
        if (json_is_object(l))
            snprintf(lock, sizeof(lock), "%s (%s)",
                     ctl_jstr(l, "who")[0] ? ctl_jstr(l, "who") : "?", ctl_jstr(l, "id"));
        else
            lock[0] = '\0';
        const char *row[] = {ctl_jstr(s, "name"), serial, size, when, ctl_jstr(s, "writer"), lock};
        ctl_table_add(&t, row);
    }
    ctl_print_table(&t);
    json_decref(arr);
    return 0;
}

int ctl_cmd_locks_list(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    static const char *const head[] = {"STATE",     "ID",      "WHO",    "OWNER",
                                       "OPERATION", "CREATED", "EXPIRES"};
    struct ctl_table t;
    json_t *arr, *l;
    size_t i;
    int ex = ctl_call_json(c, "GET", "/v1/locks", NULL, "locks list", &arr);
    if (ex != 0)
        return ex;
    if (cl->json) {
        ctl_print_json(arr);
        json_decref(arr);
        return 0;
    }
    ctl_table_init(&t, 7, head);
    CTL_ARRAY_EACH(arr, i, l)
    {
        char created[32], expires[32];
        const char *owner = ctl_jstr(l, "owner");
        ctl_short_time(ctl_jstr(l, "created"), created);
        ctl_short_time(ctl_jstr(l, "expires"), expires);
        const char *row[] = {ctl_jstr(l, "state"),
                             ctl_jstr(l, "id"),
                             ctl_jstr(l, "who"),
                             owner[0] != '\0' ? owner : "-",
                             ctl_jstr(l, "operation"),
                             created,
                             expires};
        ctl_table_add(&t, row);
    }
    ctl_print_table(&t);
    json_decref(arr);
    return 0;
}

int ctl_cmd_locks_force_unlock(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *name = cl->pos[0];
    char *path, *what;
    json_t *res;
    int ex = ctl_check_name(name);
    if (ex != 0)
        return ex;
    if (cl->opt[OPT_ID] != NULL) {
        char *q = ctl_query_escape(cl->opt[OPT_ID]);
        path = xasprintf("/v1/locks/%s?id=%s", name, q);
        free(q);
    } else {
        path = xasprintf("/v1/locks/%s", name);
    }
    what = xasprintf("force-unlock %s", name);
    ex = ctl_call_json(c, "DELETE", path, NULL, what, &res);
    free(path);
    free(what);
    if (ex != 0)
        return ex;
    if (cl->json)
        ctl_print_json(res);
    else if (json_is_true(json_object_get(res, "released")))
        printf("released the lock on %s (ID %s, held by %s)\n", name, ctl_jstr(res, "id"),
               ctl_jstr(res, "who")[0] ? ctl_jstr(res, "who") : "?");
    else
        printf("%s was not locked\n", name);
    json_decref(res);
    return 0;
}

/* GET /v1/state-info/NAME into *out (exit code). */
static int state_info(const struct ctl_conn *c, const char *name, json_t **out)
{
    char *path = xasprintf("/v1/state-info/%s", name);
    char *what = xasprintf("states show %s", name);
    int ex = ctl_call_json(c, "GET", path, NULL, what, out);
    free(path);
    free(what);
    return ex;
}

/* "a, b, c", "(none)", or why they are not known (an OpenTofu-encrypted state). */
static void output_list(json_t *names, struct buf *b)
{
    json_t *v;
    size_t i;
    if (!json_is_array(names)) {
        buf_printf(b, NULL, "(cannot be read: not a plain state)");
        return;
    }
    if (json_array_size(names) == 0)
        buf_printf(b, NULL, "(none)");
    CTL_ARRAY_EACH(names, i, v)
    buf_printf(b, NULL, "%s%s", i ? ", " : "", json_string_value(v));
}

int ctl_cmd_states_show(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *name = cl->pos[0];
    json_t *s;
    int ex = ctl_check_name(name);
    if (ex == 0)
        ex = state_info(c, name, &s);
    if (ex != 0)
        return ex;
    if (cl->json) {
        ctl_print_json(s);
        json_decref(s);
        return 0;
    }
    char serial[32], size[32], versions[32], when[32];
    struct buf outs;
    json_t *l = json_object_get(s, "lock");
    ctl_jnum(s, "serial", serial);
    ctl_jnum(s, "size", size);
    ctl_jnum(s, "versions", versions);
    ctl_short_time(ctl_jstr(s, "last_write"), when);
    buf_init(&outs, 0);
    output_list(json_object_get(s, "outputs"), &outs);
    printf("name:       %s\nserial:     %s\nlineage:    %s\nsize:       %s bytes\n"
           "writer:     %s\nlast write: %s\nsnapshot:   %s\n",
           name, serial, ctl_jstr(s, "lineage"), size, ctl_jstr(s, "writer"), when,
           ctl_jstr(s, "snapshot"));
    if (json_is_object(l))
        printf("lock:       %s (ID %s, since %s)\n",
               ctl_jstr(l, "who")[0] ? ctl_jstr(l, "who") : "?", ctl_jstr(l, "id"),
               ctl_jstr(l, "created"));
    else
        printf("lock:       none\n");
    printf("versions:   %s\noutputs:    %s\n", versions, outs.data != NULL ? outs.data : "");
    if (ctl_jstr(s, "restored_from")[0])
        printf("restored:   from %s by %s%s%s\n", ctl_jstr(s, "restored_from"),
               ctl_jstr(s, "restored_by"), ctl_jstr(s, "reason")[0] ? ": " : "",
               ctl_jstr(s, "reason"));
    buf_cleanup(&outs);
    json_decref(s);
    return 0;
}

/* The protocol's own DELETE /v1/states/NAME (audited as "delete", refused while locked): the
 * current state goes, its versions stay. */
int ctl_cmd_states_delete(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *name = cl->pos[0];
    json_t *s;
    struct ctl_resp r;
    struct err e = {0};
    char versions[32];
    int ex = ctl_check_name(name);
    if (ex == 0)
        ex = state_info(c, name, &s); /* 404 for a state that is not there */
    if (ex != 0)
        return ex;
    ctl_jnum(s, "versions", versions);
    json_decref(s);
    char *path = xasprintf("/v1/states/%s", name);
    ex = ctl_request(c, "DELETE", path, NULL, NULL, false, &r, &e);
    free(path);
    if (ex != 0) {
        fprintf(stderr, "statectl: states delete %s: %s: %s\n", name, err_infra_code(e.code),
                e.msg);
        ex = e.code == ERR_UNAVAILABLE ? CTL_EXIT_UNREACHABLE : CTL_EXIT_ERROR;
    } else if (r.status < 200 || r.status > 299) {
        char *what = xasprintf("states delete %s", name);
        ex = ctl_report_http(&r, what);
        free(what);
    } else if (cl->json) {
        printf("{\"name\": \"%s\", \"deleted\": true, \"versions_kept\": %s}\n", name, versions);
    } else {
        printf("deleted the current state of %s; its %s versions are kept (`statectl snapshots "
               "restore %s latest` brings it back)\n",
               name, versions, name);
    }
    ctl_resp_cleanup(&r);
    return ex;
}

int ctl_cmd_states_move(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *from = cl->pos[0], *to = cl->pos[1];
    json_t *res;
    int ex = ctl_check_name(from);
    if (ex == 0)
        ex = ctl_check_name(to);
    if (ex != 0)
        return ex;
    char *q = ctl_query_escape(to);
    char *path = xasprintf("/v1/move/%s?to=%s", from, q);
    char *what = xasprintf("states move %s %s", from, to);
    ex = ctl_call_json(c, "POST", path, NULL, what, &res);
    free(q);
    free(path);
    free(what);
    if (ex != 0)
        return ex;
    if (cl->json) {
        ctl_print_json(res);
    } else {
        char n[32];
        ctl_jnum(res, "objects_copied", n);
        printf("moved %s to %s with its history (%s objects copied)\n", from, to, n);
    }
    json_decref(res);
    return 0;
}
