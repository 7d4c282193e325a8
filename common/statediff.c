/* common/statediff.c: see statediff.h.
 *
 * Instances are identified by Terraform's address: "module.a.module.b." (the resource's
 * "module"), "data." for data sources, TYPE.NAME, then [0] or ["key"] for the index_key, and
 * " (deposed KEY)" for a deposed object so it never collides with the current one. Both sides'
 * instances are sorted by address and merged, so a state of n instances costs O(n log n).
 *
 * Two instances at one address are compared attribute by attribute: objects member by member
 * (keys of both sides, sorted), lists element by element, anything else as a whole. Example:
 * tags {"env":"dev"} -> {"env":"prod","owner":"me"} gives tags.env changed "dev" -> "prod" and
 * tags.owner added "me". Before an entry is written its path is checked against the sensitive
 * paths of both sides: when the value is sensitive, or holds a sensitive value below it, the
 * entry carries "sensitive": true instead of values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/statediff.h"
#include "common/util.h"

json_t *statediff_load(const char *data, size_t len, const char *which, struct err *err)
{
    json_error_t je;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        err_set(err, ERR_INVALID, "%s is not a readable JSON state: %s (line %d)", which, je.text,
                je.line);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        err_set(err, ERR_INVALID, "%s is not a state: not a JSON object", which);
        return NULL;
    }
    if (json_object_get(j, "encryption_version") != NULL) {
        json_decref(j);
        err_set(err, ERR_INVALID,
                "%s is encrypted by OpenTofu state encryption: its resources and outputs cannot "
                "be looked into without the client's key",
                which);
        return NULL;
    }
    return j;
}

/* ------------------------------------------------------------------ sensitive paths */

bool statediff_output_sensitive(json_t *output)
{
    json_t *s = json_object_get(output, "sensitive");
    return s != NULL && !json_is_false(s) && !json_is_null(s);
}

bool statediff_is_wrapper(json_t *o)
{
    json_t *type = json_object_get(o, "type");
    return json_is_object(o) && json_object_size(o) == 2 && json_object_get(o, "value") != NULL &&
           (json_is_string(type) || json_is_array(type));
}

static bool key_equals(const struct statediff_step *q, json_t *s)
{
    return !q->is_index && json_is_string(s) && json_string_length(s) == q->key_len &&
           memcmp(json_string_value(s), q->key, q->key_len) == 0;
}

/* Whether step s of a sensitive path names the JSON step q. An index step names a list element
 * ({"value":0,"type":"number"}) or a map key ({"value":"k","type":"string"}). */
static bool step_matches(json_t *s, const struct statediff_step *q)
{
    const char *type = json_string_value(json_object_get(s, "type"));
    json_t *v = json_object_get(s, "value");
    if (type != NULL && strcmp(type, "get_attr") == 0 && json_is_string(v))
        return key_equals(q, v);
    if (type != NULL && strcmp(type, "index") == 0 && json_is_object(v)) {
        json_t *iv = json_object_get(v, "value");
        if (json_is_integer(iv))
            return q->is_index && json_integer_value(iv) >= 0 &&
                   (uint64_t)json_integer_value(iv) == (uint64_t)q->index;
        if (json_is_string(iv))
            return key_equals(q, iv);
    }
    return true; /* a step we cannot read: assume it leads here */
}

/* One sensitive path against path[0..n). Each JSON step consumes one step of the sensitive
 * path, or none when it unwraps a dynamic value; reach[i] says that the first i steps of the
 * sensitive path can have been consumed. No step consumes more than one, so i <= n. */
static enum statediff_sens match_one(json_t *sp, const struct statediff_step *path, size_t n)
{
    bool reach[STATEDIFF_DEPTH_MAX + 2] = {true}, next[STATEDIFF_DEPTH_MAX + 2];
    size_t slen = json_array_size(sp);
    if (n > STATEDIFF_DEPTH_MAX)
        n = STATEDIFF_DEPTH_MAX;
    for (size_t j = 0; j < n; j++) {
        memset(next, 0, sizeof(next));
        for (size_t i = 0; i <= j; i++) {
            if (!reach[i])
                continue;
            if (i == slen)
                return STATEDIFF_WITHIN; /* the rest of path is below the sensitive value */
            if (path[j].unwrap)
                next[i] = true;
            if (step_matches(json_array_get(sp, i), &path[j]))
                next[i + 1] = true;
        }
        memcpy(reach, next, sizeof(reach));
    }
    if (slen <= n && reach[slen])
        return STATEDIFF_WITHIN;
    for (size_t i = 0; i <= n; i++)
        if (reach[i])
            return STATEDIFF_CONTAINS; /* path is a prefix of the sensitive path */
    return STATEDIFF_CLEAR;
}

enum statediff_sens statediff_sensitivity(json_t *sensitive_attributes,
                                          const struct statediff_step *path, size_t n)
{
    enum statediff_sens best = STATEDIFF_CLEAR;
    if (sensitive_attributes != NULL && !json_is_array(sensitive_attributes) &&
        !json_is_null(sensitive_attributes))
        return STATEDIFF_WITHIN; /* unreadable: everything may be sensitive */
    for (size_t k = 0; k < json_array_size(sensitive_attributes) && best != STATEDIFF_WITHIN; k++) {
        json_t *sp = json_array_get(sensitive_attributes, k);
        enum statediff_sens s = json_is_array(sp) ? match_one(sp, path, n) : STATEDIFF_WITHIN;
        if (s > best)
            best = s;
    }
    return best;
}

/* ------------------------------------------------------------------ addresses */

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

struct inst {
    char *addr;
    size_t seq;           /* position in the state: two instances at one address keep order */
    json_t *attrs, *sens; /* borrowed from the state */
};

static int by_addr(const void *a, const void *b)
{
    const struct inst *x = a, *y = b;
    int c = strcmp(x->addr, y->addr);
    return c != 0 ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Every instance of state, sorted by address (caller frees each addr and the array). */
static struct inst *instances_of(json_t *state, size_t *count)
{
    json_t *resources = json_object_get(state, "resources");
    size_t n = 0, cap = 16;
    struct inst *v = xcalloc(cap, sizeof(*v));
    struct buf addr;
    buf_init(&addr, 0);
    for (size_t i = 0; i < json_array_size(resources); i++) {
        json_t *res = json_array_get(resources, i), *insts = json_object_get(res, "instances");
        for (size_t k = 0; k < json_array_size(insts); k++) {
            json_t *inst = json_array_get(insts, k);
            json_t *a = json_object_get(inst, "attributes");
            if (n == cap)
                v = xrealloc(v, (cap *= 2) * sizeof(*v));
            address_of(res, inst, &addr);
            v[n].addr = xstrdup(addr.data != NULL ? addr.data : "");
            v[n].seq = n;
            v[n].attrs = a != NULL ? a : json_object_get(inst, "attributes_flat");
            v[n].sens = json_object_get(inst, "sensitive_attributes");
            n++;
        }
    }
    buf_cleanup(&addr);
    qsort(v, n, sizeof(*v), by_addr);
    *count = n;
    return v;
}

static void instances_free(struct inst *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].addr);
    free(v);
}

/* ------------------------------------------------------------------ attribute diff */

/* One instance pair being compared: the path walked so far and where entries go. */
struct walk {
    json_t *entries;
    json_t *sens_from, *sens_to;
    struct statediff_step path[STATEDIFF_DEPTH_MAX];
    size_t n;
};

static bool is_identifier(const char *s, size_t len)
{
    if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

/* "ingress[1].port", "tags.env", "tags[\"a b\"]": the path as text. */
static json_t *path_text(const struct walk *w)
{
    struct buf b;
    struct err e = {0};
    buf_init(&b, 0);
    for (size_t i = 0; i < w->n; i++) {
        const struct statediff_step *s = &w->path[i];
        if (s->is_index) {
            buf_printf(&b, &e, "[%zu]", s->index);
        } else if (is_identifier(s->key, s->key_len)) {
            buf_printf(&b, &e, "%s%.*s", i > 0 ? "." : "", (int)s->key_len, s->key);
        } else {
            json_t *k = json_stringn(s->key, s->key_len);
            char *q = k != NULL ? json_dumps(k, JSON_ENCODE_ANY) : NULL;
            buf_printf(&b, &e, "[%s]", q != NULL ? q : "\"?\"");
            free(q);
            json_decref(k);
        }
    }
    json_t *t = json_string(b.data != NULL ? b.data : "");
    buf_cleanup(&b);
    return t;
}

/* Adds "old"/"new" to entry o, or "sensitive": true when either side says so. */
static void put_values(json_t *o, json_t *old, json_t *new_, bool sensitive)
{
    if (sensitive) {
        json_object_set_new(o, "sensitive", json_true());
        return;
    }
    if (old != NULL)
        json_object_set(o, "old", old);
    if (new_ != NULL)
        json_object_set(o, "new", new_);
}

static const char *action_of(const json_t *a, const json_t *b)
{
    return a == NULL ? "added" : b == NULL ? "removed" : "changed";
}

static void add_entry(struct walk *w, json_t *a, json_t *b)
{
    bool sensitive = statediff_sensitivity(w->sens_from, w->path, w->n) != STATEDIFF_CLEAR ||
                     statediff_sensitivity(w->sens_to, w->path, w->n) != STATEDIFF_CLEAR;
    json_t *o = json_object();
    json_object_set_new(o, "path", path_text(w));
    json_object_set_new(o, "action", json_string(action_of(a, b)));
    put_values(o, a, b, sensitive);
    json_array_append_new(w->entries, o);
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The member names of a and b, each once, sorted (caller frees the array, not the names). */
static const char **union_keys(json_t *a, json_t *b, size_t *count)
{
    size_t n = 0;
    const char **k = xcalloc(json_object_size(a) + json_object_size(b) + 1, sizeof(*k));
    for (void *it = json_object_iter(a); it != NULL; it = json_object_iter_next(a, it))
        k[n++] = json_object_iter_key(it);
    for (void *it = json_object_iter(b); it != NULL; it = json_object_iter_next(b, it))
        if (json_object_get(a, json_object_iter_key(it)) == NULL)
            k[n++] = json_object_iter_key(it);
    qsort(k, n, sizeof(*k), cmp_keys);
    *count = n;
    return k;
}

static void diff_value(struct walk *w, json_t *a, json_t *b);

static void diff_objects(struct walk *w, json_t *a, json_t *b)
{
    size_t n;
    const char **keys = union_keys(a, b, &n);
    bool wrapped = statediff_is_wrapper(a) || statediff_is_wrapper(b);
    for (size_t i = 0; i < n; i++) {
        w->path[w->n] = (struct statediff_step){.key = keys[i],
                                                .key_len = strlen(keys[i]),
                                                .unwrap = wrapped && !strcmp(keys[i], "value")};
        w->n++;
        diff_value(w, json_object_get(a, keys[i]), json_object_get(b, keys[i]));
        w->n--;
    }
    free(keys);
}

static void diff_arrays(struct walk *w, json_t *a, json_t *b)
{
    size_t na = json_array_size(a), nb = json_array_size(b);
    for (size_t i = 0; i < (na > nb ? na : nb); i++) {
        w->path[w->n] = (struct statediff_step){.index = i, .is_index = true};
        w->n++;
        diff_value(w, json_array_get(a, i), json_array_get(b, i));
        w->n--;
    }
}

/* a or b may be NULL (absent on that side). Below STATEDIFF_DEPTH_MAX a subtree is one entry. */
static void diff_value(struct walk *w, json_t *a, json_t *b)
{
    if (a != NULL && b != NULL && json_equal(a, b))
        return;
    bool room = w->n < STATEDIFF_DEPTH_MAX;
    if (room && json_is_object(a) && json_is_object(b))
        diff_objects(w, a, b);
    else if (room && json_is_array(a) && json_is_array(b))
        diff_arrays(w, a, b);
    else
        add_entry(w, a, b);
}

/* ------------------------------------------------------------------ resources and outputs */

static json_t *resource_entry(const char *addr, const char *action)
{
    json_t *o = json_object();
    json_object_set_new(o, "address", json_string(addr));
    json_object_set_new(o, "action", json_string(action));
    return o;
}

static void diff_instances(json_t *out, const struct inst *a, const struct inst *b)
{
    struct walk w = {.entries = json_array(), .sens_from = a->sens, .sens_to = b->sens};
    json_t *ea = a->attrs != NULL ? a->attrs : json_null();
    json_t *eb = b->attrs != NULL ? b->attrs : json_null();
    diff_value(&w, ea, eb);
    if (json_array_size(w.entries) == 0) {
        json_decref(w.entries);
        return;
    }
    json_t *o = resource_entry(a->addr, "changed");
    json_object_set_new(o, "attributes", w.entries);
    json_array_append_new(out, o);
}

static json_t *diff_resources(json_t *from, json_t *to)
{
    size_t na, nb, i = 0, k = 0;
    struct inst *a = instances_of(from, &na), *b = instances_of(to, &nb);
    json_t *out = json_array();
    while (i < na || k < nb) {
        int c = i == na ? 1 : k == nb ? -1 : strcmp(a[i].addr, b[k].addr);
        if (c < 0) {
            json_array_append_new(out, resource_entry(a[i++].addr, "removed"));
        } else if (c > 0) {
            json_array_append_new(out, resource_entry(b[k++].addr, "added"));
        } else {
            diff_instances(out, &a[i], &b[k]);
            i++;
            k++;
        }
    }
    instances_free(a, na);
    instances_free(b, nb);
    return out;
}

static json_t *diff_outputs(json_t *from, json_t *to)
{
    json_t *oa = json_object_get(from, "outputs"), *ob = json_object_get(to, "outputs");
    json_t *out = json_array();
    size_t n;
    const char **names =
        union_keys(json_is_object(oa) ? oa : NULL, json_is_object(ob) ? ob : NULL, &n);
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_object_get(oa, names[i]), *b = json_object_get(ob, names[i]);
        json_t *va = json_object_get(a, "value"), *vb = json_object_get(b, "value");
        bool sa = statediff_output_sensitive(a), sb = statediff_output_sensitive(b);
        if (a != NULL && b != NULL && sa == sb &&
            json_equal(va != NULL ? va : json_null(), vb != NULL ? vb : json_null()))
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(names[i]));
        json_object_set_new(o, "action", json_string(action_of(a, b)));
        put_values(o, a != NULL ? (va != NULL ? va : json_null()) : NULL,
                   b != NULL ? (vb != NULL ? vb : json_null()) : NULL, sa || sb);
        json_array_append_new(out, o);
    }
    free(names);
    return out;
}

json_t *statediff_compute(json_t *from, json_t *to)
{
    json_t *d = json_object();
    json_object_set_new(d, "resources", diff_resources(from, to));
    json_object_set_new(d, "outputs", diff_outputs(from, to));
    return d;
}

json_t *statediff_outputs(json_t *state)
{
    json_t *outs = json_object_get(state, "outputs"), *view = json_object();
    for (void *it = json_object_iter(outs); it != NULL; it = json_object_iter_next(outs, it)) {
        json_t *o = json_object_iter_value(it), *v = json_object_get(o, "value");
        json_t *type = json_object_get(o, "type");
        bool sensitive = statediff_output_sensitive(o);
        json_t *e = json_object();
        json_object_set(e, "value", sensitive || v == NULL ? json_null() : v);
        json_object_set(e, "type", type != NULL ? type : json_null());
        json_object_set_new(e, "sensitive", json_boolean(sensitive));
        json_object_set_new(view, json_object_iter_key(it), e);
    }
    return view;
}
