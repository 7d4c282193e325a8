/* module/gen/stack.c: loading and validating a stack description.
 *
 * Validation never stops at the first problem: every check appends its own line to the error
 * buffer, so one run shows the author everything to fix. Checks run in a fixed order (the
 * order of this file), which keeps error output byte-stable for golden tests. Messages quote
 * user strings through JSON escaping and never repeat a value that looks like a secret. */
#include <ctype.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "module/gen/gen_int.h"
#include "module/gen/stackgen.h"

const int gen_mem_mb[GEN_MEM_SIZES] = {128, 256, 512, 1024, 2048, 3072, 4096};
const int gen_mem_cpu[GEN_MEM_SIZES] = {70, 140, 280, 560, 1120, 1680, 2240};

struct vctx {
    struct buf *errors;
    json_t *root;
    bool production;
    json_t *secrets; /* names declared in secrets[], as an object used as a set */
};

static void verr(struct vctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void verr(struct vctx *c, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    buf_printf(c->errors, NULL, "%s %s: %s\n", err_infra_code(ERR_INVALID), path, msg);
}

/* A user string as a short JSON literal, safe to print. */
static char *show(const char *s)
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

static char *path_key(const char *parent, const char *key)
{
    if (hcl_is_ident(key) && !strchr(key, '-'))
        return xasprintf("%s.%s", parent, key);
    char *q = show(key);
    char *p = xasprintf("%s[%s]", parent, q);
    free(q);
    return p;
}

static char *path_idx(const char *parent, size_t i)
{
    return xasprintf("%s[%zu]", parent, i);
}

static bool match(const char *re, const char *s)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
        abort();
    bool ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

static bool check_object(struct vctx *c, json_t *v, const char *path)
{
    if (json_is_object(v))
        return true;
    verr(c, path, "must be an object");
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **gen_sorted_keys(json_t *o, size_t *n)
{
    const char **keys = xcalloc(json_object_size(o) + 1, sizeof(*keys));
    const char *k;
    json_t *v;
    *n = 0;
    json_object_foreach(o, k, v)
    {
        keys[(*n)++] = k;
    }
    qsort(keys, *n, sizeof(*keys), cmp_str);
    return keys;
}

/* Reports every key of o not in allowed (NULL-terminated), in sorted order so the report does
 * not depend on the document's key order. */
static void check_keys(struct vctx *c, json_t *o, const char *path, const char *const *allowed)
{
    size_t n;
    const char **keys = gen_sorted_keys(o, &n);
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok = ok || strcmp(*a, keys[i]) == 0;
        if (!ok) {
            char *p = path_key(path, keys[i]);
            verr(c, p, "unknown key");
            free(p);
        }
    }
    free(keys);
}

/* Field getters: each reports a wrong type (or a missing required field) and returns whether
 * a usable value is there. */
static json_t *field(struct vctx *c, json_t *o, const char *key, const char *path, bool required,
                     char **fpath)
{
    *fpath = path_key(path, key);
    json_t *v = json_object_get(o, key);
    if (!v && required)
        verr(c, *fpath, "is required");
    return v;
}

static const char *get_s(struct vctx *c, json_t *o, const char *key, const char *path,
                         bool required, char **fpath)
{
    json_t *v = field(c, o, key, path, required, fpath);
    if (!v)
        return NULL;
    if (!json_is_string(v)) {
        verr(c, *fpath, "must be a string");
        return NULL;
    }
    return json_string_value(v);
}

static bool get_i(struct vctx *c, json_t *o, const char *key, const char *path, bool required,
                  long long lo, long long hi, long long *out)
{
    char *fp;
    json_t *v = field(c, o, key, path, required, &fp);
    bool ok = false;
    if (v && !json_is_integer(v)) {
        verr(c, fp, "must be an integer");
    } else if (v) {
        long long n = json_integer_value(v);
        if (n < lo || n > hi)
            verr(c, fp, "%lld is out of range (%lld-%lld)", n, lo, hi);
        else
            ok = true;
        *out = n;
    }
    free(fp);
    return ok;
}

static void get_b(struct vctx *c, json_t *o, const char *key, const char *path)
{
    char *fp;
    json_t *v = field(c, o, key, path, false, &fp);
    if (v && !json_is_boolean(v))
        verr(c, fp, "must be true or false");
    free(fp);
}

static void check_name(struct vctx *c, const char *s, const char *fp, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (!match("^[a-z][a-z0-9-]*$", s)) {
        char *q = show(s);
        verr(c, fp, "%s must match ^[a-z][a-z0-9-]*$", q);
        free(q);
    } else if (n < min || n > max) {
        verr(c, fp, "must be %zu-%zu characters long (got %zu)", min, max, n);
    }
}

/* A required or optional name field. Returns the name when present and a string. */
static const char *get_name(struct vctx *c, json_t *o, const char *key, const char *path,
                            bool required, size_t min, size_t max)
{
    char *fp;
    const char *s = get_s(c, o, key, path, required, &fp);
    if (s)
        check_name(c, s, fp, min, max);
    free(fp);
    return s;
}

static void get_enum(struct vctx *c, json_t *o, const char *key, const char *path,
                     const char *const *values, const char *list)
{
    char *fp;
    const char *s = get_s(c, o, key, path, false, &fp);
    if (s) {
        bool ok = false;
        for (const char *const *v = values; *v; v++)
            ok = ok || strcmp(*v, s) == 0;
        if (!ok) {
            char *q = show(s);
            verr(c, fp, "%s is not one of %s", q, list);
            free(q);
        }
    }
    free(fp);
}

/* Optional array of strings; each element checked by fn when given. */
static json_t *get_str_array(struct vctx *c, json_t *o, const char *key, const char *path,
                             bool required, void (*fn)(struct vctx *, const char *, const char *))
{
    char *fp;
    json_t *v = field(c, o, key, path, required, &fp);
    if (v && !json_is_array(v)) {
        verr(c, fp, "must be an array of strings");
        v = NULL;
    } else if (v) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            char *ep = path_idx(fp, i);
            if (!json_is_string(e))
                verr(c, ep, "must be a string");
            else if (fn)
                fn(c, json_string_value(e), ep);
            free(ep);
        }
    }
    free(fp);
    return v;
}

/* Optional array of objects: returns it, or NULL when absent or not an array. */
static json_t *get_obj_array(struct vctx *c, json_t *o, const char *key, const char *path)
{
    char *fp;
    json_t *v = field(c, o, key, path, false, &fp);
    if (v && !json_is_array(v)) {
        verr(c, fp, "must be an array");
        v = NULL;
    }
    free(fp);
    return v;
}

/* Optional object member: returns it, or NULL when absent or not an object. */
static json_t *get_obj(struct vctx *c, json_t *o, const char *key, const char *path, bool required)
{
    char *fp;
    json_t *v = field(c, o, key, path, required, &fp);
    if (v && !check_object(c, v, fp))
        v = NULL;
    free(fp);
    return v;
}

/* Reports a repeated "name" among earlier elements of an array. */
static void check_unique(struct vctx *c, json_t *arr, size_t i, const char *ep, const char *what)
{
    const char *name = json_string_value(json_object_get(json_array_get(arr, i), "name"));
    if (!name)
        return;
    for (size_t j = 0; j < i; j++) {
        const char *other = json_string_value(json_object_get(json_array_get(arr, j), "name"));
        if (other && strcmp(name, other) == 0) {
            char *q = show(name);
            verr(c, ep, "%s %s is defined twice (first at index %zu)", what, q, j);
            free(q);
            return;
        }
    }
}

static void secret_ref(struct vctx *c, const char *name, const char *fp)
{
    if (!json_object_get(c->secrets, name)) {
        char *q = show(name);
        verr(c, fp, "secret %s is not declared in $.secrets", q);
        free(q);
    }
}

/* ---- credential detection ---- */

bool gen_env_name_is_secret(const char *name, const char **why)
{
    static const char *const words[] = {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY", NULL};
    char up[256];
    size_t i;
    for (i = 0; name[i] && i + 1 < sizeof(up); i++)
        up[i] = (char)toupper((unsigned char)name[i]);
    up[i] = '\0';
    for (const char *const *w = words; *w; w++)
        if (strstr(up, *w)) {
            *why = *w;
            return true;
        }
    return false;
}

bool gen_env_value_is_secret(const char *v, const char **why)
{
    /* scheme://user:password@host: a URL carrying credentials. */
    const char *s = strstr(v, "://");
    if (s) {
        const char *auth = s + 3;
        size_t end = strcspn(auth, "/?#");
        const char *at = memchr(auth, '@', end);
        if (at && memchr(auth, ':', (size_t)(at - auth))) {
            *why = "a URL with user:password";
            return true;
        }
    }
    if (strstr(v, "-----BEGIN")) {
        *why = "a PEM private key or certificate";
        return true;
    }
    if (match("^SCW[A-Z0-9]{17}$", v) || match("^(AKIA|ASIA)[A-Z0-9]{16}$", v)) {
        *why = "an access key";
        return true;
    }
    /* A long run of base64/base64url characters mixing upper case, lower case and digits is
     * what generated keys and tokens look like; UUIDs, paths, hostnames and sentences are not. */
    size_t n = strlen(v);
    bool up = false, low = false, dig = false, other = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        up = up || isupper(ch);
        low = low || islower(ch);
        dig = dig || isdigit(ch);
        other = other ||
                !(isalnum(ch) || ch == '+' || ch == '/' || ch == '=' || ch == '_' || ch == '-');
    }
    if (n >= 32 && up && low && dig && !other) {
        *why = "a generated key or token";
        return true;
    }
    return false;
}

/* ---- sections ---- */

static const char *const REGIONS[] = {"fr-par", "nl-ams", "pl-waw", "it-mil", NULL};

static void v_stack(struct vctx *c, json_t *st)
{
    static const char *const keys[] = {"environment", "name", "project_id", "region", "tags", NULL};
    static const char *const envs[] = {"dev", "staging", "production", NULL};
    const char *p = "$.stack";
    check_keys(c, st, p, keys);
    get_name(c, st, "name", p, true, 1, 30);
    char *fp;
    const char *env = get_s(c, st, "environment", p, true, &fp);
    free(fp);
    if (env)
        get_enum(c, st, "environment", p, envs, "dev, staging, production");
    c->production = env && strcmp(env, "production") == 0;
    const char *region = get_s(c, st, "region", p, true, &fp);
    if (region) {
        bool known = false;
        for (const char *const *r = REGIONS; *r; r++)
            known = known || strcmp(*r, region) == 0;
        char *q = show(region);
        if (!known)
            verr(c, fp, "%s is not a Scaleway region (fr-par, nl-ams, pl-waw, it-mil)", q);
        else if (strcmp(region, "it-mil") == 0 &&
                 (json_object_get(c->root, "containers") || json_object_get(c->root, "databases") ||
                  json_object_get(c->root, "secrets") || json_object_get(c->root, "monitoring") ||
                  json_object_get(c->root, "registry")))
            verr(c, fp,
                 "it-mil has no serverless containers, managed databases, Secret Manager, "
                 "Cockpit or Container Registry (use fr-par, nl-ams or pl-waw)");
        free(q);
    }
    free(fp);
    const char *pid = get_s(c, st, "project_id", p, true, &fp);
    if (pid && !match("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", pid)) {
        char *q = show(pid);
        verr(c, fp, "%s is not a UUID (lowercase, 8-4-4-4-12 hex digits)", q);
        free(q);
    }
    free(fp);
    get_str_array(c, st, "tags", p, false, NULL);
}

static void cidr4(struct vctx *c, const char *s, const char *fp)
{
    unsigned a, b, d, e, m;
    char tail;
    if (sscanf(s, "%u.%u.%u.%u/%u%c", &a, &b, &d, &e, &m, &tail) != 5 || a > 255 || b > 255 ||
        d > 255 || e > 255 || m > 32 || !match("^[0-9./]+$", s)) {
        char *q = show(s);
        verr(c, fp, "%s is not an IPv4 CIDR (e.g. 172.16.0.0/22)", q);
        free(q);
    }
}

static void v_network(struct vctx *c, json_t *n)
{
    static const char *const keys[] = {"ipv4_subnet", NULL};
    check_keys(c, n, "$.network", keys);
    char *fp;
    const char *s = get_s(c, n, "ipv4_subnet", "$.network", false, &fp);
    if (s)
        cidr4(c, s, fp);
    free(fp);
}

static void v_secrets(struct vctx *c, json_t *arr)
{
    static const char *const keys[] = {"description", "name", "path", "protected", "type", NULL};
    static const char *const types[] = {
        "opaque",  "certificate", "key_value", "basic_credentials", "database_credentials",
        "ssh_key", NULL};
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s)
    {
        char *ep = path_idx("$.secrets", i);
        if (check_object(c, s, ep)) {
            check_keys(c, s, ep, keys);
            const char *name = get_name(c, s, "name", ep, true, 1, 63);
            if (name)
                json_object_set_new(c->secrets, name, json_true());
            check_unique(c, arr, i, ep, "secret");
            char *fp;
            get_s(c, s, "description", ep, false, &fp);
            free(fp);
            const char *path = get_s(c, s, "path", ep, false, &fp);
            if (path && path[0] != '/')
                verr(c, fp, "must start with /");
            free(fp);
            get_b(c, s, "protected", ep);
            get_enum(c, s, "type", ep, types,
                     "opaque, certificate, key_value, basic_credentials, database_credentials, "
                     "ssh_key");
        }
        free(ep);
    }
}

static void duration(struct vctx *c, json_t *o, const char *key, const char *path)
{
    char *fp;
    const char *s = get_s(c, o, key, path, false, &fp);
    if (s && !match("^[1-9][0-9]{0,3}(ms|s|m)$", s)) {
        char *q = show(s);
        verr(c, fp, "%s is not a duration such as 10s or 500ms", q);
        free(q);
    }
    free(fp);
}

static void v_probe(struct vctx *c, json_t *probes, const char *key, const char *path)
{
    static const char *const keys[] = {"failure_threshold", "interval", "path", "timeout", NULL};
    char *pp = path_key(path, key);
    json_t *pr = get_obj(c, probes, key, path, false);
    if (pr) {
        check_keys(c, pr, pp, keys);
        long long n;
        get_i(c, pr, "failure_threshold", pp, false, 1, 100, &n);
        duration(c, pr, "interval", pp);
        duration(c, pr, "timeout", pp);
        char *fp;
        const char *hp = get_s(c, pr, "path", pp, false, &fp);
        if (hp && hp[0] != '/')
            verr(c, fp, "must start with /");
        free(fp);
    }
    free(pp);
}

static void hostname(struct vctx *c, const char *s, const char *fp)
{
    if (strlen(s) > 253 ||
        !match("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", s)) {
        char *q = show(s);
        verr(c, fp, "%s is not a lowercase DNS hostname", q);
        free(q);
    }
}

static void v_env(struct vctx *c, json_t *ct, const char *ep, json_t *secret_env)
{
    char *fp;
    json_t *env = get_obj(c, ct, "env", ep, false);
    fp = path_key(ep, "env");
    size_t n;
    if (env) {
        const char **names = gen_sorted_keys(env, &n);
        for (size_t i = 0; i < n; i++) {
            json_t *val = json_object_get(env, names[i]);
            char *kp = path_key(fp, names[i]);
            const char *why;
            if (!match("^[A-Za-z_][A-Za-z0-9_]*$", names[i]))
                verr(c, kp, "is not a valid environment variable name");
            if (!json_is_string(val))
                verr(c, kp, "must be a string");
            else if (json_string_length(val) > 1000)
                verr(c, kp, "value is longer than 1000 characters");
            if (json_is_string(val) && json_string_length(val) > 0 &&
                gen_env_name_is_secret(names[i], &why))
                verr(c, kp,
                     "looks like a secret (name contains %s); use secret_env and Secret "
                     "Manager, not a literal value",
                     why);
            else if (json_is_string(val) && gen_env_value_is_secret(json_string_value(val), &why))
                verr(c, kp,
                     "value looks like a credential (%s); use secret_env and Secret Manager, "
                     "not a literal value",
                     why);
            if (secret_env && json_object_get(secret_env, names[i]))
                verr(c, kp, "is also set in secret_env");
            free(kp);
        }
        free(names);
    }
    free(fp);
    if (secret_env) {
        fp = path_key(ep, "secret_env");
        const char **names = gen_sorted_keys(secret_env, &n);
        for (size_t i = 0; i < n; i++) {
            const char *k = names[i];
            json_t *v = json_object_get(secret_env, k);
            char *kp = path_key(fp, k);
            if (!match("^[A-Za-z_][A-Za-z0-9_]*$", k))
                verr(c, kp, "is not a valid environment variable name");
            if (!json_is_string(v))
                verr(c, kp, "must be the name of a secret in $.secrets");
            else
                secret_ref(c, json_string_value(v), kp);
            free(kp);
        }
        free(names);
        free(fp);
    }
}

static void v_containers(struct vctx *c, json_t *arr)
{
    static const char *const keys[] = {
        "args",    "cpu",       "description", "domains",    "env",     "https_only",
        "image",   "max_scale", "memory",      "min_scale",  "name",    "port",
        "privacy", "probes",    "protocol",    "secret_env", "timeout", NULL};
    static const char *const protocols[] = {"http1", "h2c", NULL};
    static const char *const privacies[] = {"public", "private", NULL};
    size_t i;
    json_t *ct;
    json_array_foreach(arr, i, ct)
    {
        char *ep = path_idx("$.containers", i);
        if (!check_object(c, ct, ep)) {
            free(ep);
            continue;
        }
        check_keys(c, ct, ep, keys);
        get_name(c, ct, "name", ep, true, 1, 34);
        check_unique(c, arr, i, ep, "container");
        char *fp;
        const char *image = get_s(c, ct, "image", ep, true, &fp);
        if (image && !match("^[a-z0-9][A-Za-z0-9._/:@-]*$", image))
            verr(c, fp, "is not a container image reference (registry/name:tag)");
        free(fp);
        long long cpu = 0, mem = 0, lo = 0, hi = 5, t;
        bool has_cpu = get_i(c, ct, "cpu", ep, true, 1, 1000000, &cpu);
        int mi = -1;
        fp = path_key(ep, "memory");
        if (get_i(c, ct, "memory", ep, true, LLONG_MIN, LLONG_MAX, &mem)) {
            for (int k = 0; k < GEN_MEM_SIZES; k++)
                if (gen_mem_mb[k] == mem)
                    mi = k;
            if (mi < 0)
                verr(c, fp,
                     "%lld is not a Scaleway memory size (128, 256, 512, 1024, 2048, 3072, 4096)",
                     mem);
        }
        free(fp);
        if (has_cpu && mi >= 0 && cpu != gen_mem_cpu[mi]) {
            fp = path_key(ep, "cpu");
            verr(c, fp, "%lld mvCPU does not pair with %lld MB of memory (use %d)", cpu, mem,
                 gen_mem_cpu[mi]);
            free(fp);
        }
        bool lo_ok = get_i(c, ct, "min_scale", ep, false, 0, 10, &lo);
        bool hi_ok = get_i(c, ct, "max_scale", ep, false, 1, 100, &hi);
        if (!json_object_get(ct, "min_scale"))
            lo_ok = true, lo = 0;
        if (!json_object_get(ct, "max_scale"))
            hi_ok = true, hi = 5;
        if (lo_ok && hi_ok && hi < lo) {
            fp = path_key(ep, "max_scale");
            verr(c, fp, "%lld is below min_scale %lld", hi, lo);
            free(fp);
        }
        if (c->production && lo_ok && lo < 2) {
            fp = path_key(ep, "min_scale");
            verr(c, fp, "production needs min_scale >= 2 (got %lld)", lo);
            free(fp);
        }
        get_i(c, ct, "timeout", ep, false, 30, 900, &t);
        get_i(c, ct, "port", ep, false, 1, 65535, &t);
        get_enum(c, ct, "protocol", ep, protocols, "http1, h2c");
        get_enum(c, ct, "privacy", ep, privacies, "public, private");
        get_s(c, ct, "description", ep, false, &fp);
        free(fp);
        get_b(c, ct, "https_only", ep);
        get_str_array(c, ct, "args", ep, false, NULL);
        get_str_array(c, ct, "domains", ep, false, hostname);
        json_t *secret_env = get_obj(c, ct, "secret_env", ep, false);
        v_env(c, ct, ep, secret_env);
        json_t *probes = get_obj(c, ct, "probes", ep, false);
        if (probes) {
            static const char *const pkeys[] = {"liveness", "startup", NULL};
            char *pp = path_key(ep, "probes");
            check_keys(c, probes, pp, pkeys);
            v_probe(c, probes, "liveness", pp);
            v_probe(c, probes, "startup", pp);
            free(pp);
        }
        free(ep);
    }
}

static void db_name_ok(struct vctx *c, const char *s, const char *fp)
{
    check_name(c, s, fp, 1, 63);
}

static void v_databases(struct vctx *c, json_t *arr)
{
    static const char *const keys[] = {"acl",        "admin_password_secret",
                                       "admin_user", "backup",
                                       "databases",  "encryption_at_rest",
                                       "engine",     "ha",
                                       "name",       "node_type",
                                       "users",      "volume",
                                       NULL};
    static const char *const vtypes[] = {"lssd", "bssd", "sbs_5k", "sbs_15k", NULL};
    static const char *const perms[] = {"readonly", "readwrite", "all", "none", NULL};
    size_t i;
    json_t *db;
    json_array_foreach(arr, i, db)
    {
        char *ep = path_idx("$.databases", i), *fp;
        if (!check_object(c, db, ep)) {
            free(ep);
            continue;
        }
        check_keys(c, db, ep, keys);
        get_name(c, db, "name", ep, true, 1, 40);
        check_unique(c, arr, i, ep, "database");
        const char *engine = get_s(c, db, "engine", ep, false, &fp);
        if (engine && !match("^(PostgreSQL|MySQL)-[0-9]+$", engine)) {
            char *q = show(engine);
            verr(c, fp, "%s is not an engine such as PostgreSQL-16 or MySQL-8", q);
            free(q);
        }
        free(fp);
        const char *nt = get_s(c, db, "node_type", ep, false, &fp);
        if (nt && !match("^([Dd][Bb])-[A-Za-z0-9-]+$", nt)) {
            char *q = show(nt);
            verr(c, fp, "%s is not a node type such as DB-DEV-S or DB-GP-XS", q);
            free(q);
        }
        free(fp);
        get_b(c, db, "ha", ep);
        get_b(c, db, "encryption_at_rest", ep);
        const char *au = get_s(c, db, "admin_user", ep, false, &fp);
        if (au && !match("^[a-z][a-z0-9_]{0,62}$", au))
            verr(c, fp, "must match ^[a-z][a-z0-9_]*$");
        free(fp);
        const char *aps = get_s(c, db, "admin_password_secret", ep, true, &fp);
        if (aps)
            secret_ref(c, aps, fp);
        free(fp);
        if (c->production && !json_is_true(json_object_get(db, "ha"))) {
            fp = path_key(ep, "ha");
            verr(c, fp, "production needs a high-availability database (ha: true)");
            free(fp);
        }
        json_t *backup = get_obj(c, db, "backup", ep, false);
        char *bp = path_key(ep, "backup");
        long long ret = 7, n;
        bool enabled = true;
        if (backup) {
            static const char *const bkeys[] = {"enabled", "frequency_hours", "retention_days",
                                                NULL};
            check_keys(c, backup, bp, bkeys);
            get_b(c, backup, "enabled", bp);
            enabled = !json_is_false(json_object_get(backup, "enabled"));
            get_i(c, backup, "frequency_hours", bp, false, 1, 24, &n);
            get_i(c, backup, "retention_days", bp, false, 1, 365, &ret);
        }
        if (c->production && !enabled) {
            fp = path_key(bp, "enabled");
            verr(c, fp, "production needs database backups");
            free(fp);
        } else if (c->production && ret < 30) {
            fp = path_key(bp, "retention_days");
            verr(c, fp, "production needs backups kept >= 30 days (got %lld)", ret);
            free(fp);
        }
        free(bp);
        json_t *vol = get_obj(c, db, "volume", ep, false);
        if (vol) {
            static const char *const vkeys[] = {"size_gb", "type", NULL};
            char *vp = path_key(ep, "volume");
            check_keys(c, vol, vp, vkeys);
            get_enum(c, vol, "type", vp, vtypes, "lssd, bssd, sbs_5k, sbs_15k");
            const char *vt = json_string_value(json_object_get(vol, "type"));
            if (get_i(c, vol, "size_gb", vp, false, 5, 10000, &n)) {
                fp = path_key(vp, "size_gb");
                if (n % 5)
                    verr(c, fp, "%lld is not a multiple of 5", n);
                else if (vt && strcmp(vt, "lssd") == 0)
                    verr(c, fp,
                         "must not be set with an lssd volume (its size follows the node type)");
                free(fp);
            }
            free(vp);
        }
        json_t *dbs = get_str_array(c, db, "databases", ep, false, db_name_ok);
        json_t *users = get_obj_array(c, db, "users", ep);
        size_t u;
        json_t *user;
        char *up = path_key(ep, "users");
        json_array_foreach(users, u, user)
        {
            static const char *const ukeys[] = {"is_admin", "name", "password_secret", "privileges",
                                                NULL};
            char *uep = path_idx(up, u);
            if (check_object(c, user, uep)) {
                check_keys(c, user, uep, ukeys);
                get_name(c, user, "name", uep, true, 1, 63);
                check_unique(c, users, u, uep, "user");
                get_b(c, user, "is_admin", uep);
                const char *ps = get_s(c, user, "password_secret", uep, true, &fp);
                if (ps)
                    secret_ref(c, ps, fp);
                free(fp);
                json_t *priv = get_obj(c, user, "privileges", uep, false);
                char *pp = path_key(uep, "privileges");
                size_t np;
                const char **pnames = gen_sorted_keys(priv, &np);
                for (size_t pi = 0; pi < np; pi++) {
                    const char *k = pnames[pi];
                    json_t *v = json_object_get(priv, k);
                    char *kp = path_key(pp, k);
                    bool known = false;
                    size_t d;
                    json_t *dn;
                    json_array_foreach(dbs, d, dn)
                    {
                        known =
                            known || (json_is_string(dn) && strcmp(json_string_value(dn), k) == 0);
                    }
                    if (!known)
                        verr(c, kp, "database is not listed in databases");
                    bool okp = false;
                    for (const char *const *pm = perms; json_is_string(v) && *pm; pm++)
                        okp = okp || strcmp(*pm, json_string_value(v)) == 0;
                    if (!okp)
                        verr(c, kp, "must be one of readonly, readwrite, all, none");
                    free(kp);
                }
                free(pnames);
                free(pp);
            }
            free(uep);
        }
        free(up);
        json_t *acl = get_obj_array(c, db, "acl", ep);
        size_t a;
        json_t *rule;
        char *ap = path_key(ep, "acl");
        json_array_foreach(acl, a, rule)
        {
            static const char *const akeys[] = {"description", "ip", NULL};
            char *aep = path_idx(ap, a);
            if (check_object(c, rule, aep)) {
                check_keys(c, rule, aep, akeys);
                const char *ip = get_s(c, rule, "ip", aep, true, &fp);
                if (ip)
                    cidr4(c, ip, fp);
                free(fp);
                get_s(c, rule, "description", aep, false, &fp);
                free(fp);
            }
            free(aep);
        }
        free(ap);
        free(ep);
    }
}

static void method(struct vctx *c, const char *s, const char *fp)
{
    static const char *const m[] = {"GET", "PUT", "POST", "DELETE", "HEAD", NULL};
    for (const char *const *p = m; *p; p++)
        if (strcmp(*p, s) == 0)
            return;
    char *q = show(s);
    verr(c, fp, "%s is not one of GET, PUT, POST, DELETE, HEAD", q);
    free(q);
}

static void v_buckets(struct vctx *c, json_t *arr)
{
    static const char *const keys[] = {"cors",        "force_destroy", "lifecycle",  "name",
                                       "object_lock", "sse",           "versioning", NULL};
    static const char *const classes[] = {"STANDARD", "GLACIER", "ONEZONE_IA", NULL};
    static const char *const modes[] = {"GOVERNANCE", "COMPLIANCE", NULL};
    size_t i;
    json_t *b;
    json_array_foreach(arr, i, b)
    {
        char *ep = path_idx("$.buckets", i), *fp;
        long long n;
        if (!check_object(c, b, ep)) {
            free(ep);
            continue;
        }
        check_keys(c, b, ep, keys);
        get_name(c, b, "name", ep, true, 3, 63);
        check_unique(c, arr, i, ep, "bucket");
        get_b(c, b, "versioning", ep);
        get_b(c, b, "sse", ep);
        get_b(c, b, "force_destroy", ep);
        json_t *lock = get_obj(c, b, "object_lock", ep, false);
        if (lock) {
            static const char *const lkeys[] = {"days", "mode", NULL};
            char *lp = path_key(ep, "object_lock");
            check_keys(c, lock, lp, lkeys);
            get_enum(c, lock, "mode", lp, modes, "GOVERNANCE, COMPLIANCE");
            get_i(c, lock, "days", lp, true, 1, 36500, &n);
            if (json_is_false(json_object_get(b, "versioning"))) {
                fp = path_key(ep, "versioning");
                verr(c, fp, "object_lock needs versioning");
                free(fp);
            }
            free(lp);
        }
        json_t *lc = get_obj_array(c, b, "lifecycle", ep);
        char *lcp = path_key(ep, "lifecycle");
        size_t k;
        json_t *r;
        json_array_foreach(lc, k, r)
        {
            static const char *const rkeys[] = {"abort_incomplete_multipart_upload_days",
                                                "enabled",
                                                "expiration_days",
                                                "noncurrent_expiration_days",
                                                "prefix",
                                                "transition_days",
                                                "transition_storage_class",
                                                NULL};
            char *rp = path_idx(lcp, k);
            if (check_object(c, r, rp)) {
                check_keys(c, r, rp, rkeys);
                get_i(c, r, "abort_incomplete_multipart_upload_days", rp, false, 1, 36500, &n);
                get_b(c, r, "enabled", rp);
                get_i(c, r, "expiration_days", rp, false, 1, 36500, &n);
                get_i(c, r, "noncurrent_expiration_days", rp, false, 1, 36500, &n);
                get_s(c, r, "prefix", rp, false, &fp);
                free(fp);
                get_i(c, r, "transition_days", rp, false, 0, 36500, &n);
                get_enum(c, r, "transition_storage_class", rp, classes,
                         "STANDARD, GLACIER, ONEZONE_IA");
            }
            free(rp);
        }
        free(lcp);
        json_t *cors = get_obj_array(c, b, "cors", ep);
        char *cp = path_key(ep, "cors");
        json_array_foreach(cors, k, r)
        {
            static const char *const ckeys[] = {"allowed_headers", "allowed_methods",
                                                "allowed_origins", "expose_headers",
                                                "max_age_seconds", NULL};
            char *rp = path_idx(cp, k);
            if (check_object(c, r, rp)) {
                check_keys(c, r, rp, ckeys);
                get_str_array(c, r, "allowed_headers", rp, false, NULL);
                get_str_array(c, r, "allowed_methods", rp, true, method);
                get_str_array(c, r, "allowed_origins", rp, true, NULL);
                get_str_array(c, r, "expose_headers", rp, false, NULL);
                get_i(c, r, "max_age_seconds", rp, false, 0, 86400, &n);
            }
            free(rp);
        }
        free(cp);
        free(ep);
    }
}

static void email(struct vctx *c, const char *s, const char *fp)
{
    if (!match("^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$", s)) {
        char *q = show(s);
        verr(c, fp, "%s is not an e-mail address", q);
        free(q);
    }
}

static void v_monitoring(struct vctx *c, json_t *m)
{
    static const char *const keys[] = {"contact_emails",          "enabled",
                                       "logs_retention_days",     "metrics_retention_days",
                                       "preconfigured_alert_ids", NULL};
    long long n;
    if (m) {
        const char *p = "$.monitoring";
        check_keys(c, m, p, keys);
        get_b(c, m, "enabled", p);
        get_i(c, m, "logs_retention_days", p, false, 1, 365, &n);
        get_i(c, m, "metrics_retention_days", p, false, 1, 365, &n);
        get_str_array(c, m, "contact_emails", p, false, email);
        get_str_array(c, m, "preconfigured_alert_ids", p, false, NULL);
    }
    if (c->production && (!m || json_is_false(json_object_get(m, "enabled"))))
        verr(c, m ? "$.monitoring.enabled" : "$.monitoring", "production needs monitoring enabled");
}

static void v_registry(struct vctx *c, json_t *r)
{
    static const char *const keys[] = {"name", "public", NULL};
    check_keys(c, r, "$.registry", keys);
    get_name(c, r, "name", "$.registry", false, 4, 54);
    get_b(c, r, "public", "$.registry");
}

struct stack *stack_load(const char *text, size_t len, struct buf *errors)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        buf_printf(errors, NULL, "%s $: invalid JSON at line %d, column %d: %s\n",
                   err_infra_code(ERR_INVALID), je.line, je.column, je.text);
        return NULL;
    }
    struct vctx c = {.errors = errors, .root = root, .secrets = json_object()};
    size_t before = errors->len;
    if (check_object(&c, root, "$")) {
        static const char *const keys[] = {"buckets",    "containers", "databases",
                                           "monitoring", "network",    "registry",
                                           "secrets",    "stack",      NULL};
        check_keys(&c, root, "$", keys);
        json_t *st = get_obj(&c, root, "stack", "$", true);
        if (st)
            v_stack(&c, st);
        json_t *v = get_obj(&c, root, "network", "$", false);
        if (v)
            v_network(&c, v);
        if ((v = get_obj_array(&c, root, "secrets", "$")))
            v_secrets(&c, v);
        if ((v = get_obj_array(&c, root, "containers", "$")))
            v_containers(&c, v);
        if ((v = get_obj_array(&c, root, "databases", "$")))
            v_databases(&c, v);
        if ((v = get_obj_array(&c, root, "buckets", "$")))
            v_buckets(&c, v);
        v = get_obj(&c, root, "monitoring", "$", false);
        if (v || json_object_get(root, "monitoring") == NULL)
            v_monitoring(&c, v);
        if ((v = get_obj(&c, root, "registry", "$", false)))
            v_registry(&c, v);
    }
    json_decref(c.secrets);
    /* verr appends through c.errors, which cppcheck cannot follow. */
    /* cppcheck-suppress knownConditionTrueFalse */
    if (errors->len != before) {
        json_decref(root);
        return NULL;
    }
    struct stack *s = xcalloc(1, sizeof(*s));
    s->root = root;
    return s;
}

void stack_free(struct stack *s)
{
    if (!s)
        return;
    json_decref(s->root);
    free(s);
}

const char *gen_str(const json_t *o, const char *key, const char *def)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : def;
}

long long gen_int(const json_t *o, const char *key, long long def)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

bool gen_bool(const json_t *o, const char *key, bool def)
{
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}
