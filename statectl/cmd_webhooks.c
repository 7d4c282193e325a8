/* statectl/cmd_webhooks.c: webhooks list, deliveries and redeliver (docs/webhooks.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "statectl/statectl_int.h"

/* Webhook names and delivery IDs are the server's alphabet: safe in a URL as they are. */
static int check_word(const char *what, const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 95 ||
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
        return ctl_usage_error("%s must be 1-95 of [A-Za-z0-9._-]", what);
    return 0;
}

static void jint(json_t *o, const char *key, char out[24])
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        snprintf(out, 24, "%lld", (long long)json_integer_value(v));
    else
        snprintf(out, 24, "-");
}

static void last_text(json_t *last, json_t *retrying, char *out, size_t n)
{
    char when[32];
    if (json_is_object(retrying)) {
        char status[24];
        jint(retrying, "status", status);
        snprintf(out, n, "retrying %lld (try %lld, HTTP %s)",
                 (long long)json_integer_value(json_object_get(retrying, "seq")),
                 (long long)json_integer_value(json_object_get(retrying, "attempts")), status);
        return;
    }
    if (!json_is_object(last)) {
        snprintf(out, n, "-");
        return;
    }
    ctl_short_time(ctl_jstr(last, "time"), when);
    snprintf(out, n, "%s %s %s", when, ctl_jstr(last, "id"), ctl_jstr(last, "result"));
}

int ctl_cmd_webhooks_list(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    static const char *const head[] = {"NAME",   "HOST",    "EVENTS", "STATES",
                                       "CURSOR", "BACKLOG", "LAST"};
    json_t *res, *w;
    size_t i;
    int ex = ctl_call_json(c, "GET", "/v1/webhooks", NULL, "webhooks list", &res);
    if (ex != 0)
        return ex;
    if (cl->json) {
        ctl_print_json(res);
        json_decref(res);
        return 0;
    }
    struct ctl_table t;
    ctl_table_init(&t, 7, head);
    CTL_ARRAY_EACH(json_object_get(res, "webhooks"), i, w)
    {
        char cursor[24], backlog[24], last[200];
        jint(w, "cursor", cursor);
        jint(w, "backlog", backlog);
        last_text(json_object_get(w, "last_delivery"), json_object_get(w, "retrying"), last,
                  sizeof(last));
        struct buf events;
        buf_init(&events, 0);
        size_t k;
        json_t *e;
        json_array_foreach(json_object_get(w, "events"), k, e)
        {
            const char *v = json_string_value(e);
            buf_printf(&events, NULL, "%s%s", k > 0 ? "," : "", v != NULL ? v : "");
        }
        buf_append(&events, "", 1, NULL);
        const char *row[] = {ctl_jstr(w, "name"),
                             ctl_jstr(w, "host"),
                             events.data,
                             ctl_jstr(w, "states"),
                             cursor,
                             backlog,
                             last};
        ctl_table_add(&t, row);
        buf_cleanup(&events);
    }
    ctl_print_table(&t);
    json_decref(res);
    return 0;
}

int ctl_cmd_webhooks_deliveries(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    static const char *const head[] = {"ID", "EVENT", "STATE", "TIME", "TRIES", "STATUS", "RESULT"};
    const char *name = cl->pos[0];
    json_t *res, *d;
    size_t i;
    int ex = check_word("webhook name", name);
    if (ex != 0)
        return ex;
    char *path = xasprintf("/v1/webhooks/%s/deliveries%s", name,
                           cl->opt[OPT_FAILED] != NULL ? "?failed=1" : "");
    ex = ctl_call_json(c, "GET", path, NULL, "webhooks deliveries", &res);
    free(path);
    if (ex != 0)
        return ex;
    if (cl->json) {
        ctl_print_json(res);
        json_decref(res);
        return 0;
    }
    struct ctl_table t;
    ctl_table_init(&t, 7, head);
    CTL_ARRAY_EACH(json_object_get(res, "deliveries"), i, d)
    {
        char when[32], tries[24], status[24], result[200];
        ctl_short_time(ctl_jstr(d, "time"), when);
        jint(d, "attempts", tries);
        jint(d, "status", status);
        const char *error = ctl_jstr(d, "error");
        snprintf(result, sizeof(result), "%s%s%s", ctl_jstr(d, "result"),
                 error[0] != '\0' ? ": " : "", error);
        const char *row[] = {ctl_jstr(d, "id"),
                             ctl_jstr(d, "type"),
                             ctl_jstr(d, "state"),
                             when,
                             tries,
                             status,
                             result};
        ctl_table_add(&t, row);
    }
    ctl_print_table(&t);
    json_decref(res);
    return 0;
}

int ctl_cmd_webhooks_redeliver(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *name = cl->pos[0], *id = cl->pos[1];
    json_t *res;
    int ex = check_word("webhook name", name);
    if (ex == 0)
        ex = check_word("delivery ID", id);
    if (ex != 0)
        return ex;
    char *path = xasprintf("/v1/webhooks/%s/redeliver?id=%s", name, id);
    ex = ctl_call_json(c, "POST", path, NULL, "webhooks redeliver", &res);
    free(path);
    if (ex != 0)
        return ex;
    if (cl->json)
        ctl_print_json(res);
    else
        printf("delivery %s of webhook %s queued\n", id, name);
    json_decref(res);
    return 0;
}
