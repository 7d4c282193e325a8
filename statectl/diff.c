/* statectl/diff.c: the value-level diff of two versions (GET /v1/diff/NAME, computed by the
 * server with common/statediff.h) written for people, in the order the server sends it:
 *
 *   Resources: 1 added, 0 removed, 1 changed
 *   + terraform_data.new
 *   ~ terraform_data.app
 *       input.value.tags.env: "dev" → "prod"
 *       + input.value.tags.owner: "me"
 *       triggers_replace.value.password: (sensitive) → (sensitive)
 *   Outputs: 0 added, 0 removed, 1 changed
 *   ~ output.env: "dev" → "prod"
 *
 * Values are printed as compact JSON, so a string is quoted and escaped (no control character
 * reaches the terminal) and a number or an object reads as in the state. */
#include <stdlib.h>
#include <string.h>

#include "common/statediff.h"
#include "common/util.h"
#include "statectl/statectl.h"

static void put_value(struct buf *out, json_t *entry, const char *key)
{
    struct err e = {0};
    if (json_is_true(json_object_get(entry, "sensitive"))) {
        buf_append_str(out, STATEDIFF_MASK, &e);
        return;
    }
    json_t *v = json_object_get(entry, key);
    char *s = json_dumps(v != NULL ? v : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    buf_append_str(out, s != NULL ? s : "?", &e);
    free(s);
}

/* "NAME: OLD → NEW" for a change, "NAME: NEW" after "+ ", "NAME: OLD" after "- ". */
static void put_change(struct buf *out, json_t *entry, const char *name)
{
    struct err e = {0};
    const char *action = json_string_value(json_object_get(entry, "action"));
    action = action != NULL ? action : "";
    buf_printf(out, &e, "%s: ", name);
    if (strcmp(action, "added") == 0) {
        put_value(out, entry, "new");
    } else if (strcmp(action, "removed") == 0) {
        put_value(out, entry, "old");
    } else {
        put_value(out, entry, "old");
        buf_append_str(out, " \u2192 ", &e);
        put_value(out, entry, "new");
    }
    buf_append_str(out, "\n", &e);
}

static char mark_of(json_t *entry)
{
    const char *a = json_string_value(json_object_get(entry, "action"));
    return a == NULL ? '?' : strcmp(a, "added") == 0 ? '+' : strcmp(a, "removed") == 0 ? '-' : '~';
}

/* "N added, N removed, N changed" of one list of entries. */
static void put_counts(struct buf *out, const char *what, json_t *arr)
{
    struct err e = {0};
    size_t n[3] = {0};
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char m = mark_of(json_array_get(arr, i));
        n[m == '+' ? 0 : m == '-' ? 1 : 2]++;
    }
    buf_printf(out, &e, "%s: %zu added, %zu removed, %zu changed\n", what, n[0], n[1], n[2]);
}

static void put_resource(struct buf *out, json_t *r)
{
    struct err e = {0};
    json_t *attrs = json_object_get(r, "attributes");
    const char *addr = json_string_value(json_object_get(r, "address"));
    buf_printf(out, &e, "%c %s\n", mark_of(r), addr != NULL ? addr : "?");
    for (size_t i = 0; i < json_array_size(attrs); i++) {
        json_t *a = json_array_get(attrs, i);
        const char *path = json_string_value(json_object_get(a, "path"));
        char m = mark_of(a);
        buf_append_str(out, "    ", &e);
        if (m != '~')
            buf_printf(out, &e, "%c ", m);
        put_change(out, a, path != NULL && path[0] != '\0' ? path : "(all attributes)");
    }
}

void ctl_diff_render(json_t *diff, struct buf *out)
{
    struct err e = {0};
    json_t *res = json_object_get(diff, "resources"), *outs = json_object_get(diff, "outputs");
    if (json_array_size(res) + json_array_size(outs) == 0) {
        buf_append_str(out, "No differences in resources or outputs.\n", &e);
        return;
    }
    if (json_array_size(res) > 0) {
        put_counts(out, "Resources", res);
        for (size_t i = 0; i < json_array_size(res); i++)
            put_resource(out, json_array_get(res, i));
    }
    if (json_array_size(outs) > 0) {
        put_counts(out, "Outputs", outs);
        for (size_t i = 0; i < json_array_size(outs); i++) {
            json_t *o = json_array_get(outs, i);
            const char *name = json_string_value(json_object_get(o, "name"));
            char *label = xasprintf("output.%s", name != NULL ? name : "?");
            buf_printf(out, &e, "%c ", mark_of(o));
            put_change(out, o, label);
            free(label);
        }
    }
}
