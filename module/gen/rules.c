/* module/gen/rules.c: the rule checker behind stack validation (see gen_int.h).
 *
 * Validation never stops at the first problem: every rule appends its own line to the error
 * buffer, so one run shows the author everything to fix. Within an object the unknown keys come
 * first (sorted, so the report does not depend on the document's key order), then each row of
 * its table in order; nested objects are checked where their row stands. For example
 *     {"name": "Web", "cpu": "2", "cpus": 1, "timeout": 5}
 * against the container table gives, in this order,
 *     $.containers[0]: unknown key "cpus" (did you mean "cpu"?)
 *     $.containers[0].name: "Web" must match ^[a-z][a-z0-9-]*$
 *     $.containers[0].image: is required
 *     $.containers[0].cpu: must be an integer
 *     $.containers[0].memory: is required
 *     $.containers[0].timeout: must be 30..900 seconds (got 5)
 * A message states the rule a value breaks (the range and unit, the set of valid values) rather
 * than only that it breaks one, and a key or value within a couple of typos of a valid one names
 * that one instead (suggest.c). Messages quote user strings through JSON escaping, cut at 64
 * characters. */
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "module/gen/gen_int.h"
#include "module/gen/stackgen.h"

void gen_verr(struct gen_check *c, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    buf_printf(c->errors, NULL, "%s %s: %s\n", err_infra_code(ERR_INVALID), path, msg);
}

char *gen_show(const char *s)
{
    char cut[68];
    size_t n = strlen(s);
    snprintf(cut, sizeof(cut), "%.64s%s", s, n > 64 ? "..." : "");
    json_t *j = json_string(cut);
    char *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (!out)
        return xstrdup("\"?\"");
    char *r = xstrdup(out);
    free(out);
    return r;
}

char *gen_path_key(const char *parent, const char *key)
{
    if (hcl_is_ident(key) && !strchr(key, '-'))
        return xasprintf("%s.%s", parent, key);
    char *q = gen_show(key);
    char *p = xasprintf("%s[%s]", parent, q);
    free(q);
    return p;
}

static char *path_idx(const char *parent, size_t i)
{
    return xasprintf("%s[%zu]", parent, i);
}

bool gen_match(const char *re, const char *s)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
        abort();
    bool ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

bool gen_in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **gen_strings(json_t *v)
{
    size_t size = json_is_object(v) ? json_object_size(v) : json_array_size(v);
    const char **out = xcalloc(size + 1, sizeof(*out));
    size_t n = 0, i;
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e)
    {
        out[n++] = k;
    }
    json_array_foreach(v, i, e)
    {
        if (json_is_string(e))
            out[n++] = json_string_value(e);
    }
    return out;
}

const char **gen_sorted_keys(json_t *o, size_t *n)
{
    const char **keys = gen_strings(json_is_object(o) ? o : NULL);
    *n = 0;
    while (keys[*n])
        (*n)++;
    qsort(keys, *n, sizeof(*keys), cmp_str);
    return keys;
}

static const struct gen_rule *find_rule(const struct gen_rule *rules, const char *key)
{
    for (const struct gen_rule *r = rules; r->kind != GEN_END; r++)
        if (r->key && strcmp(r->key, key) == 0)
            return r;
    return NULL;
}

/* The keys a table knows, in its order (NULL-terminated; the caller frees the array). */
static const char **known_keys(const struct gen_rule *rules)
{
    size_t n = 0;
    for (const struct gen_rule *r = rules; r->kind != GEN_END; r++)
        n += r->key != NULL;
    const char **keys = xcalloc(n + 1, sizeof(*keys));
    n = 0;
    for (const struct gen_rule *r = rules; r->kind != GEN_END; r++)
        if (r->key)
            keys[n++] = r->key;
    return keys;
}

/* An unknown key is reported at the object holding it, which is where the fix goes. */
static void check_unknown_keys(struct gen_check *c, const struct gen_target *t)
{
    size_t n;
    const char **keys = gen_sorted_keys(t->obj, &n);
    const char **known = known_keys(t->rules);
    for (size_t i = 0; i < n; i++) {
        if (find_rule(t->rules, keys[i]))
            continue;
        char *hint = gen_suggest(keys[i], known, "known keys:");
        char *q = gen_show(keys[i]);
        gen_verr(c, t->path, "unknown key %s%s", q, hint);
        free(q);
        free(hint);
    }
    free(known);
    free(keys);
}

void gen_list_strings(struct buf *b, const char *const *list)
{
    for (const char *const *v = list; *v; v++)
        buf_printf(b, NULL, "%s%s", v == list ? "" : ", ", *v);
}

static void list_ints(struct buf *b, const int *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_printf(b, NULL, "%s%d", i ? ", " : "", v[i]);
}

/* "<value> <what> (<hint>)": the hint names the set, or the member the value is close to. */
static void report_not_in_set(struct gen_check *c, const char *path, const char *value,
                              const char *what, const char *hint)
{
    gen_verr(c, path, "%s %s%s", value, what ? what : "is not an allowed value", hint);
}

static void check_name(struct gen_check *c, const char *s, const char *path, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (!gen_match("^[a-z][a-z0-9-]*$", s)) {
        char *q = gen_show(s);
        gen_verr(c, path, "%s must match ^[a-z][a-z0-9-]*$", q);
        free(q);
    } else if (n < min || n > max) {
        gen_verr(c, path, "must be %zu..%zu characters long (got %zu)", min, max, n);
    }
}

static void check_enum(struct gen_check *c, const struct gen_rule *r, const char *s,
                       const char *path)
{
    if (gen_in_list(r->allowed, s))
        return;
    char *hint = gen_suggest(s, r->allowed, "one of");
    char *q = gen_show(s);
    report_not_in_set(c, path, q, r->msg, hint);
    free(q);
    free(hint);
}

static void check_pattern(struct gen_check *c, const struct gen_rule *r, const char *s,
                          const char *path)
{
    bool ok =
        (r->max == 0 || strlen(s) <= (size_t)r->max) && (!r->pattern || gen_match(r->pattern, s));
    if (!ok && (r->flags & GEN_QUOTED)) {
        char *q = gen_show(s);
        gen_verr(c, path, "%s %s", q, r->msg);
        free(q);
    } else if (!ok) {
        gen_verr(c, path, "%s", r->msg);
    } else if (r->value) {
        r->value(c, s, path);
    }
}

/* A string value against a GEN_STRING, GEN_NAME or GEN_ENUM rule. */
static void check_string(struct gen_check *c, const struct gen_rule *r, const char *s,
                         const char *path)
{
    if (r->kind == GEN_NAME)
        check_name(c, s, path, (size_t)r->min, (size_t)r->max);
    else if (r->kind == GEN_ENUM)
        check_enum(c, r, s, path);
    else
        check_pattern(c, r, s, path);
}

static void check_string_json(struct gen_check *c, const struct gen_rule *r, json_t *v,
                              const char *path)
{
    if (!json_is_string(v))
        gen_verr(c, path, "must be a string");
    else
        check_string(c, r, json_string_value(v), path);
}

/* Checks one element of an array, whose path is given. */
typedef void (*element_check)(struct gen_check *c, const struct gen_target *t,
                              const struct gen_rule *r, json_t *array, size_t i, const char *path);

/* An array (else the type error not_array) whose every element passes each. */
static void check_array(struct gen_check *c, const struct gen_target *t, const struct gen_rule *r,
                        json_t *v, const char *path, const char *not_array, element_check each)
{
    if (!json_is_array(v)) {
        gen_verr(c, path, "%s", not_array);
        return;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        char *ep = path_idx(path, i);
        each(c, t, r, v, i, ep);
        free(ep);
    }
}

static void string_element(struct gen_check *c, const struct gen_target *t,
                           const struct gen_rule *r, json_t *array, size_t i, const char *path)
{
    check_string_json(c, r, json_array_get(array, i), path);
}

static void object_element(struct gen_check *c, const struct gen_target *t,
                           const struct gen_rule *r, json_t *array, size_t i, const char *path)
{
    json_t *e = json_array_get(array, i);
    struct gen_target sub = {
        .obj = e, .path = path, .rules = r->fields, .array = array, .index = i, .parent = t};
    if (!json_is_object(e))
        gen_verr(c, path, "must be an object");
    else
        gen_check_rules(c, &sub);
}

static bool int_passes(const struct gen_rule *r, long long n)
{
    if (!r->ints)
        return n >= r->min && n <= r->max;
    for (size_t i = 0; i < r->nints; i++)
        if (r->ints[i] == n)
            return true;
    return false;
}

static void check_int(struct gen_check *c, const struct gen_rule *r, json_t *v, const char *path)
{
    if (!json_is_integer(v)) {
        gen_verr(c, path, "must be an integer");
        return;
    }
    long long n = json_integer_value(v);
    if (int_passes(r, n))
        return;
    const char *sep = r->unit ? " " : "", *unit = r->unit ? r->unit : "";
    if (!r->ints) {
        gen_verr(c, path, "must be %lld..%lld%s%s (got %lld)", r->min, r->max, sep, unit, n);
        return;
    }
    struct buf hint;
    char value[32];
    buf_init(&hint, 0);
    buf_append_str(&hint, " (one of ", NULL);
    list_ints(&hint, r->ints, r->nints);
    buf_printf(&hint, NULL, "%s%s)", sep, unit);
    snprintf(value, sizeof(value), "%lld", n);
    report_not_in_set(c, path, value, r->msg, hint.data);
    buf_cleanup(&hint);
}

static void check_object(struct gen_check *c, const struct gen_target *t, const struct gen_rule *r,
                         json_t *v, const char *path)
{
    struct gen_target sub = {.obj = v, .path = path, .rules = r->fields, .parent = t};
    if (!json_is_object(v))
        gen_verr(c, path, "must be an object");
    else if (r->fields)
        gen_check_rules(c, &sub);
}

void gen_check_value(struct gen_check *c, const struct gen_target *t, const struct gen_rule *r,
                     json_t *v, const char *path)
{
    switch (r->kind) {
    case GEN_STRING:
    case GEN_NAME:
    case GEN_ENUM:
        if (r->flags & GEN_LIST)
            check_array(c, t, r, v, path, "must be an array of strings", string_element);
        else
            check_string_json(c, r, v, path);
        break;
    case GEN_INT:
        check_int(c, r, v, path);
        break;
    case GEN_BOOL:
        if (!json_is_boolean(v))
            gen_verr(c, path, "must be true or false");
        break;
    case GEN_OBJECT:
        check_object(c, t, r, v, path);
        break;
    case GEN_OBJECTS:
        check_array(c, t, r, v, path, "must be an array", object_element);
        break;
    case GEN_CHECK:
    case GEN_END:
        break;
    }
}

static void check_field(struct gen_check *c, const struct gen_target *t, const struct gen_rule *r)
{
    char *path = gen_path_key(t->path, r->key);
    json_t *v = json_object_get(t->obj, r->key);
    if (v)
        gen_check_value(c, t, r, v, path);
    else if (r->flags & GEN_REQUIRED)
        gen_verr(c, path, "is required");
    free(path);
}

void gen_check_rules(struct gen_check *c, const struct gen_target *t)
{
    check_unknown_keys(c, t);
    for (const struct gen_rule *r = t->rules; r->kind != GEN_END; r++) {
        if (r->key)
            check_field(c, t, r);
        else
            r->check(c, t, r);
    }
}

bool gen_int_field(const struct gen_target *t, const char *key, long long *out)
{
    const struct gen_rule *r = find_rule(t->rules, key);
    json_t *v = json_object_get(t->obj, key);
    if (!r || !json_is_integer(v))
        return false;
    *out = json_integer_value(v);
    return int_passes(r, *out);
}
