/* statectl/diff.c: what changed between two snapshots of a v4 state.
 *
 * Each resource instance gets Terraform's address: "module.a.module.b." (the resource's
 * "module", if any), "data." for data sources, TYPE.NAME, then [0] or ["key"] for its
 * index_key. Deposed objects get " (deposed KEY)" so they never collide with the current one.
 * An instance is changed when its attributes (or attributes_flat, in states written before
 * 0.12 upgraded them) differ; outputs are changed when their value or sensitivity differ. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "statectl/statectl.h"

static void address_of(json_t *res, json_t *inst, struct buf *out)
{
    struct err e = {0};
    const char *module = json_string_value(json_object_get(res, "module"));
    const char *mode = json_string_value(json_object_get(res, "mode"));
    const char *type = json_string_value(json_object_get(res, "type"));
    const char *name = json_string_value(json_object_get(res, "name"));
    json_t *key = json_object_get(inst, "index_key");
    const char *deposed = json_string_value(json_object_get(inst, "deposed"));

    buf_reset(out);
    if (module != NULL && module[0] != '\0')
        buf_printf(out, &e, "%s.", module);
    if (mode != NULL && strcmp(mode, "data") == 0)
        buf_append_str(out, "data.", &e);
    buf_printf(out, &e, "%s.%s", type ? type : "?", name ? name : "?");
    if (json_is_integer(key)) {
        buf_printf(out, &e, "[%lld]", (long long)json_integer_value(key));
    } else if (json_is_string(key)) {
        char *k = json_dumps(key, JSON_ENCODE_ANY);
        buf_printf(out, &e, "[%s]", k ? k : "?");
        free(k);
    }
    if (deposed != NULL)
        buf_printf(out, &e, " (deposed %s)", deposed);
}

static json_t *attributes_of(json_t *inst)
{
    json_t *a = json_object_get(inst, "attributes");
    return a != NULL ? a : json_object_get(inst, "attributes_flat");
}

/* address -> attributes (borrowed from the parsed state). */
static json_t *index_resources(json_t *state)
{
    json_t *map = json_object();
    json_t *res, *inst;
    size_t i, k;
    struct buf addr;
    buf_init(&addr, 0);
    CTL_ARRAY_EACH(json_object_get(state, "resources"), i, res)
    {
        CTL_ARRAY_EACH(json_object_get(res, "instances"), k, inst)
        {
            json_t *a = attributes_of(inst);
            address_of(res, inst, &addr);
            json_object_set(map, addr.data, a != NULL ? a : json_null());
        }
    }
    buf_cleanup(&addr);
    return map;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static void sort_strings(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v;
    if (n < 2)
        return;
    v = xcalloc(n, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof(*v), cmp_str);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
}

/* Fills added/removed/changed from two maps name -> value. */
static void compare_maps(json_t *a, json_t *b, json_t *added, json_t *removed, json_t *changed)
{
    const char *key;
    json_t *va, *vb;
    CTL_OBJECT_EACH(a, key, va)
    {
        vb = json_object_get(b, key);
        if (vb == NULL)
            json_array_append_new(removed, json_string(key));
        else if (!json_equal(va, vb))
            json_array_append_new(changed, json_string(key));
    }
    CTL_OBJECT_EACH(b, key, vb)
    {
        if (json_object_get(a, key) == NULL)
            json_array_append_new(added, json_string(key));
    }
    sort_strings(added);
    sort_strings(removed);
    sort_strings(changed);
}

static json_t *index_outputs(json_t *state)
{
    json_t *map = json_object();
    const char *name;
    json_t *o;
    CTL_OBJECT_EACH(json_object_get(state, "outputs"), name, o)
    {
        json_t *v = json_array();
        json_array_append(v,
                          json_object_get(o, "value") ? json_object_get(o, "value") : json_null());
        json_array_append_new(v, json_boolean(json_is_true(json_object_get(o, "sensitive"))));
        json_object_set_new(map, name, v);
    }
    return map;
}

static json_t *load_state(const char *data, size_t len, const char *which, struct err *err)
{
    json_error_t je;
    json_t *j = json_loadb(data, len, 0, &je);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        err_set(err, ERR_INVALID, "snapshot %s is not a JSON state: %s", which,
                j == NULL ? je.text : "not an object");
        return NULL;
    }
    if (json_object_get(j, "encryption_version") != NULL) {
        json_decref(j);
        err_set(err, ERR_INVALID,
                "snapshot %s is encrypted by OpenTofu state encryption: its resources and "
                "outputs cannot be looked into without the client's key",
                which);
        return NULL;
    }
    return j;
}

int ctl_diff_compute(const char *a, size_t alen, const char *b, size_t blen, struct ctl_diff *d,
                     struct err *err)
{
    json_t *ja, *jb, *ra, *rb, *oa, *ob;
    memset(d, 0, sizeof(*d));
    ja = load_state(a, alen, "A", err);
    if (ja == NULL)
        return -1;
    jb = load_state(b, blen, "B", err);
    if (jb == NULL) {
        json_decref(ja);
        return -1;
    }
    d->res_added = json_array();
    d->res_removed = json_array();
    d->res_changed = json_array();
    d->out_added = json_array();
    d->out_removed = json_array();
    d->out_changed = json_array();
    ra = index_resources(ja);
    rb = index_resources(jb);
    compare_maps(ra, rb, d->res_added, d->res_removed, d->res_changed);
    oa = index_outputs(ja);
    ob = index_outputs(jb);
    compare_maps(oa, ob, d->out_added, d->out_removed, d->out_changed);
    json_decref(ra);
    json_decref(rb);
    json_decref(oa);
    json_decref(ob);
    json_decref(ja);
    json_decref(jb);
    return 0;
}

static void render_list(json_t *arr, char mark, const char *prefix, struct buf *out)
{
    struct err e = {0};
    size_t i;
    json_t *v;
    CTL_ARRAY_EACH(arr, i, v)
    buf_printf(out, &e, "%c %s%s\n", mark, prefix, json_string_value(v));
}

void ctl_diff_render(const struct ctl_diff *d, struct buf *out)
{
    struct err e = {0};
    size_t nres = json_array_size(d->res_added) + json_array_size(d->res_removed) +
                  json_array_size(d->res_changed);
    size_t nout = json_array_size(d->out_added) + json_array_size(d->out_removed) +
                  json_array_size(d->out_changed);
    if (nres + nout == 0) {
        buf_append_str(out, "No differences in resources or outputs.\n", &e);
        return;
    }
    if (nres > 0) {
        buf_printf(out, &e, "Resources: %zu added, %zu removed, %zu changed\n",
                   json_array_size(d->res_added), json_array_size(d->res_removed),
                   json_array_size(d->res_changed));
        render_list(d->res_added, '+', "", out);
        render_list(d->res_removed, '-', "", out);
        render_list(d->res_changed, '~', "", out);
    }
    if (nout > 0) {
        buf_printf(out, &e, "Outputs: %zu added, %zu removed, %zu changed\n",
                   json_array_size(d->out_added), json_array_size(d->out_removed),
                   json_array_size(d->out_changed));
        render_list(d->out_added, '+', "output.", out);
        render_list(d->out_removed, '-', "output.", out);
        render_list(d->out_changed, '~', "output.", out);
    }
}

json_t *ctl_diff_json(const struct ctl_diff *d)
{
    return json_pack("{s:{s:O,s:O,s:O},s:{s:O,s:O,s:O}}", "resources", "added", d->res_added,
                     "removed", d->res_removed, "changed", d->res_changed, "outputs", "added",
                     d->out_added, "removed", d->out_removed, "changed", d->out_changed);
}

void ctl_diff_cleanup(struct ctl_diff *d)
{
    json_decref(d->res_added);
    json_decref(d->res_removed);
    json_decref(d->res_changed);
    json_decref(d->out_added);
    json_decref(d->out_removed);
    json_decref(d->out_changed);
    memset(d, 0, sizeof(*d));
}
