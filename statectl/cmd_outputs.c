/* statectl/cmd_outputs.c: states outputs (GET /v1/outputs/NAME[?at=REF]). */
#include <stdio.h>
#include <stdlib.h>

#include "common/statediff.h"
#include "common/util.h"
#include "statectl/statectl_int.h"

/* A type or value as one table cell: a string type as its name ("string"), anything else as
 * compact JSON (["list","number"], "dev", 42). */
static char *cell(json_t *v, bool bare_string)
{
    if (bare_string && json_is_string(v))
        return xstrdup(json_string_value(v));
    char *s = json_dumps(v != NULL ? v : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    return s != NULL ? s : xstrdup("?");
}

static void print_outputs(json_t *outs)
{
    static const char *const head[] = {"NAME", "TYPE", "VALUE"};
    struct ctl_table t;
    ctl_table_init(&t, 3, head);
    for (void *it = json_object_iter(outs); it != NULL; it = json_object_iter_next(outs, it)) {
        json_t *o = json_object_iter_value(it);
        bool sensitive = json_is_true(json_object_get(o, "sensitive"));
        char *type = cell(json_object_get(o, "type"), true);
        char *value =
            sensitive ? xstrdup(STATEDIFF_MASK) : cell(json_object_get(o, "value"), false);
        const char *row[] = {json_object_iter_key(it), type, value};
        ctl_table_add(&t, row);
        free(type);
        free(value);
    }
    ctl_print_table(&t);
}

int ctl_cmd_states_outputs(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *name = cl->pos[0], *at = cl->opt[OPT_AT];
    json_t *res;
    int ex = ctl_check_name(name);
    if (ex != 0)
        return ex;
    char *q = at != NULL ? ctl_query_escape(at) : NULL;
    char *path = xasprintf("/v1/outputs/%s%s%s", name, q != NULL ? "?at=" : "", q != NULL ? q : "");
    char *what = xasprintf("outputs of %s", name);
    ex = ctl_call_json(c, "GET", path, NULL, what, &res);
    free(q);
    free(path);
    free(what);
    if (ex != 0)
        return ex;
    if (cl->json)
        ctl_print_json(res);
    else
        print_outputs(json_object_get(res, "outputs"));
    json_decref(res);
    return 0;
}
