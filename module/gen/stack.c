/* module/gen/stack.c: what a stack description must be, as rule tables for the checker in
 * rules.c, and loading one.
 *
 * Most of a stack's rules are data: a row per key with its type and range, or the set its value
 * comes from. What spans several fields (cpu pairs with memory, max_scale >= min_scale, the
 * production rules, names declared elsewhere) is a GEN_CHECK row calling a function below, at
 * the point of the table where its message belongs. Tables run in a fixed order (stack, network,
 * secrets, containers, databases, buckets, monitoring, registry), which keeps error output
 * byte-stable for golden tests, and messages never repeat a value that looks like a secret. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "module/gen/gen_int.h"
#include "module/gen/stackgen.h"

const int gen_mem_mb[GEN_MEM_SIZES] = {128, 256, 512, 1024, 2048, 3072, 4096};
const int gen_mem_cpu[GEN_MEM_SIZES] = {70, 140, 280, 560, 1120, 1680, 2240};

/* ---- checks on one string value (GEN_STRING .value) ---- */

static void cidr4(struct gen_check *c, const char *s, const char *path)
{
    unsigned a, b, d, e, m;
    char tail;
    if (sscanf(s, "%u.%u.%u.%u/%u%c", &a, &b, &d, &e, &m, &tail) != 5 || a > 255 || b > 255 ||
        d > 255 || e > 255 || m > 32 || !gen_match("^[0-9./]+$", s)) {
        char *q = gen_show(s);
        gen_verr(c, path, "%s is not an IPv4 CIDR (e.g. 172.16.0.0/22)", q);
        free(q);
    }
}

/* A user's own names are only suggested, never listed: the list is theirs, and may be long. */
static void secret_declared(struct gen_check *c, const char *name, const char *path)
{
    if (json_object_get(c->secrets, name))
        return;
    const char **declared = gen_strings(c->secrets);
    char *hint = gen_suggest(name, declared, NULL);
    char *q = gen_show(name);
    gen_verr(c, path, "secret %s is not declared in $.secrets%s", q, hint);
    free(q);
    free(hint);
    free(declared);
}

/* ---- checks across fields (GEN_CHECK rows) ---- */

static void report_at(struct gen_check *c, const char *parent, const char *key, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

/* An error for parent.key. */
static void report_at(struct gen_check *c, const char *parent, const char *key, const char *fmt,
                      ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char *path = gen_path_key(parent, key);
    gen_verr(c, path, "%s", msg);
    free(path);
}

/* The member key of o when it is an object, else NULL. */
static json_t *object_member(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_object(v) ? v : NULL;
}

/* A "name" that an earlier element of the same array already has; r->msg names the thing. */
static void unique_name(struct gen_check *c, const struct gen_target *t, const struct gen_rule *r)
{
    const char *name = json_string_value(json_object_get(t->obj, "name"));
    if (!name)
        return;
    for (size_t j = 0; j < t->index; j++) {
        const char *other = json_string_value(json_object_get(json_array_get(t->array, j), "name"));
        if (other && strcmp(name, other) == 0) {
            char *q = gen_show(name);
            gen_verr(c, t->path, "%s %s is defined twice (first at index %zu)", r->msg, q, j);
            free(q);
            return;
        }
    }
}

static void note_environment(struct gen_check *c, const struct gen_target *t,
                             const struct gen_rule *r)
{
    c->production = strcmp(gen_str(t->obj, "environment", ""), "production") == 0;
}

/* it-mil offers object storage and networks only. */
static void region_has_services(struct gen_check *c, const struct gen_target *t,
                                const struct gen_rule *r)
{
    static const char *const services[] = {"containers", "databases", "secrets",
                                           "monitoring", "registry",  NULL};
    if (strcmp(gen_str(t->obj, "region", ""), "it-mil") != 0)
        return;
    for (const char *const *s = services; *s; s++) {
        if (json_object_get(c->root, *s)) {
            report_at(c, t->path, "region",
                      "it-mil has no serverless containers, managed databases, Secret Manager, "
                      "Cockpit or Container Registry (use fr-par, nl-ams or pl-waw)");
            return;
        }
    }
}

static void record_secret(struct gen_check *c, const struct gen_target *t, const struct gen_rule *r)
{
    const char *name = json_string_value(json_object_get(t->obj, "name"));
    if (name)
        json_object_set_new(c->secrets, name, json_true());
}

/* The message names the vCPU that pairs with the memory given, and the whole table: an author
 * who got the memory wrong, not the vCPU, sees every choice at once. */
static void cpu_pairs_with_memory(struct gen_check *c, const struct gen_target *t,
                                  const struct gen_rule *r)
{
    long long cpu, mem;
    if (!gen_int_field(t, "cpu", &cpu) || !gen_int_field(t, "memory", &mem))
        return;
    for (int k = 0; k < GEN_MEM_SIZES; k++) {
        if (gen_mem_mb[k] != mem || gen_mem_cpu[k] == cpu)
            continue;
        struct buf pairs;
        buf_init(&pairs, 0);
        for (int i = 0; i < GEN_MEM_SIZES; i++)
            buf_printf(&pairs, NULL, "%s%d/%d", i ? ", " : "", gen_mem_mb[i], gen_mem_cpu[i]);
        report_at(c, t->path, "cpu",
                  "%lld mvCPU does not pair with %lld MB of memory (use %d; valid MB/mvCPU "
                  "pairs: %s)",
                  cpu, mem, gen_mem_cpu[k], pairs.data);
        buf_cleanup(&pairs);
    }
}

/* A scale bound: its default when absent; false when it is given but unusable. */
static bool scale_bound(const struct gen_target *t, const char *key, long long def, long long *out)
{
    *out = def;
    return !json_object_get(t->obj, key) || gen_int_field(t, key, out);
}

static void scale_order(struct gen_check *c, const struct gen_target *t, const struct gen_rule *r)
{
    long long lo, hi;
    if (scale_bound(t, "min_scale", 0, &lo) && scale_bound(t, "max_scale", 5, &hi) && hi < lo)
        report_at(c, t->path, "max_scale", "must be >= min_scale %lld (got %lld)", lo, hi);
}

static void production_min_scale(struct gen_check *c, const struct gen_target *t,
                                 const struct gen_rule *r)
{
    long long lo;
    if (c->production && scale_bound(t, "min_scale", 0, &lo) && lo < 2)
        report_at(c, t->path, "min_scale", "production needs min_scale >= 2 (got %lld)", lo);
}

/* One literal environment variable: a valid name, a string value that is not a credential. */
static void env_value(struct gen_check *c, const char *name, json_t *val, json_t *secret_env,
                      const char *path)
{
    const char *why;
    if (!gen_match("^[A-Za-z_][A-Za-z0-9_]*$", name))
        gen_verr(c, path, "is not a valid environment variable name");
    if (!json_is_string(val))
        gen_verr(c, path, "must be a string");
    else if (json_string_length(val) > 1000)
        gen_verr(c, path, "value is longer than 1000 characters");
    if (json_is_string(val) && json_string_length(val) > 0 && gen_env_name_is_secret(name, &why))
        gen_verr(c, path,
                 "looks like a secret (name contains %s); use secret_env and Secret Manager, not "
                 "a literal value",
                 why);
    else if (json_is_string(val) && gen_env_value_is_secret(json_string_value(val), &why))
        gen_verr(c, path,
                 "value looks like a credential (%s); use secret_env and Secret Manager, not a "
                 "literal value",
                 why);
    if (secret_env && json_object_get(secret_env, name))
        gen_verr(c, path, "is also set in secret_env");
}

static void env_values(struct gen_check *c, const struct gen_target *t, const struct gen_rule *r)
{
    json_t *env = object_member(t->obj, "env");
    json_t *secret_env = object_member(t->obj, "secret_env");
    if (!env)
        return;
    char *path = gen_path_key(t->path, "env");
    size_t n;
    const char **names = gen_sorted_keys(env, &n);
    for (size_t i = 0; i < n; i++) {
        char *kp = gen_path_key(path, names[i]);
        env_value(c, names[i], json_object_get(env, names[i]), secret_env, kp);
        free(kp);
    }
    free(names);
    free(path);
}

static void secret_env_values(struct gen_check *c, const struct gen_target *t,
                              const struct gen_rule *r)
{
    json_t *secret_env = object_member(t->obj, "secret_env");
    if (!secret_env)
        return;
    char *path = gen_path_key(t->path, "secret_env");
    size_t n;
    const char **names = gen_sorted_keys(secret_env, &n);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(secret_env, names[i]);
        char *kp = gen_path_key(path, names[i]);
        if (!gen_match("^[A-Za-z_][A-Za-z0-9_]*$", names[i]))
            gen_verr(c, kp, "is not a valid environment variable name");
        if (!json_is_string(v))
            gen_verr(c, kp, "must be the name of a secret in $.secrets");
        else
            secret_declared(c, json_string_value(v), kp);
        free(kp);
    }
    free(names);
    free(path);
}

static void production_ha(struct gen_check *c, const struct gen_target *t, const struct gen_rule *r)
{
    if (c->production && !json_is_true(json_object_get(t->obj, "ha")))
        report_at(c, t->path, "ha", "production needs a high-availability database (ha: true)");
}

/* Backups default to enabled, kept 7 days; an out-of-range retention still counts here. */
static void production_backups(struct gen_check *c, const struct gen_target *t,
                               const struct gen_rule *r)
{
    if (!c->production)
        return;
    json_t *backup = object_member(t->obj, "backup");
    json_t *days = json_object_get(backup, "retention_days");
    long long kept = json_is_integer(days) ? json_integer_value(days) : 7;
    char *path = gen_path_key(t->path, "backup");
    if (json_is_false(json_object_get(backup, "enabled")))
        report_at(c, path, "enabled", "production needs database backups");
    else if (kept < 30)
        report_at(c, path, "retention_days", "production needs backups kept >= 30 days (got %lld)",
                  kept);
    free(path);
}

static void volume_size(struct gen_check *c, const struct gen_target *t, const struct gen_rule *r)
{
    long long gb;
    if (!gen_int_field(t, "size_gb", &gb))
        return;
    if (gb % 5)
        report_at(c, t->path, "size_gb", "must be a multiple of 5 GB (got %lld)", gb);
    else if (strcmp(gen_str(t->obj, "type", ""), "lssd") == 0)
        report_at(c, t->path, "size_gb",
                  "must not be set with an lssd volume (its size follows the node type)");
}

static const char *const PRIVILEGE_LEVELS[] = {"readonly", "readwrite", "all", "none", NULL};
static const struct gen_rule privilege_level = {
    .kind = GEN_ENUM, .allowed = PRIVILEGE_LEVELS, .msg = "is not a privilege level"};

/* Each privilege names a database of the instance (the user's parent) and a known level. */
static void user_privileges(struct gen_check *c, const struct gen_target *t,
                            const struct gen_rule *r)
{
    json_t *priv = object_member(t->obj, "privileges");
    const char **listed = gen_strings(json_object_get(t->parent->obj, "databases"));
    char *path = gen_path_key(t->path, "privileges");
    size_t n;
    const char **names = gen_sorted_keys(priv, &n);
    for (size_t i = 0; i < n; i++) {
        char *kp = gen_path_key(path, names[i]);
        if (!gen_in_list(listed, names[i])) {
            char *hint = gen_suggest(names[i], listed, NULL);
            gen_verr(c, kp, "database is not listed in databases%s", hint);
            free(hint);
        }
        gen_check_value(c, t, &privilege_level, json_object_get(priv, names[i]), kp);
        free(kp);
    }
    free(names);
    free(listed);
    free(path);
}

static void lock_needs_versioning(struct gen_check *c, const struct gen_target *t,
                                  const struct gen_rule *r)
{
    if (object_member(t->obj, "object_lock") &&
        json_is_false(json_object_get(t->obj, "versioning")))
        report_at(c, t->path, "versioning", "object_lock needs versioning");
}

static void production_monitoring(struct gen_check *c, const struct gen_target *t,
                                  const struct gen_rule *r)
{
    json_t *m = json_object_get(t->obj, "monitoring");
    if (!c->production || (m && !json_is_object(m)))
        return;
    char *path = gen_path_key(t->path, "monitoring");
    if (!m)
        gen_verr(c, path, "production needs monitoring enabled");
    else if (json_is_false(json_object_get(m, "enabled")))
        report_at(c, path, "enabled", "production needs monitoring enabled");
    free(path);
}

/* "stated": true brings stated's alert rules, whose alerts must reach someone; stated_endpoint
 * only says how the agent reaches that stated. */
static void stated_monitoring(struct gen_check *c, const struct gen_target *t,
                              const struct gen_rule *r)
{
    bool stated = json_is_true(json_object_get(t->obj, "stated"));
    if (!stated) {
        if (json_object_get(t->obj, "stated_endpoint"))
            report_at(c, t->path, "stated_endpoint", "needs \"stated\": true");
        return;
    }
    if (json_is_false(json_object_get(t->obj, "enabled")))
        report_at(c, t->path, "enabled", "\"stated\": true needs monitoring enabled");
    json_t *emails = json_object_get(t->obj, "contact_emails");
    if (!emails || (json_is_array(emails) && json_array_size(emails) == 0))
        report_at(c, t->path, "contact_emails",
                  "\"stated\": true needs at least one address (stated's alerts go there)");
}

/* ---- the tables, leaf objects first ---- */

static const char *const ENVIRONMENTS[] = {"dev", "staging", "production", NULL};
static const char *const REGIONS[] = {"fr-par", "nl-ams", "pl-waw", "it-mil", NULL};
static const char *const SECRET_TYPES[] = {
    "opaque",  "certificate", "key_value", "basic_credentials", "database_credentials",
    "ssh_key", NULL};
static const char *const PROTOCOLS[] = {"http1", "h2c", NULL};
static const char *const PRIVACIES[] = {"public", "private", NULL};
static const char *const VOLUME_TYPES[] = {"lssd", "bssd", "sbs_5k", "sbs_15k", NULL};
static const char *const LOCK_MODES[] = {"GOVERNANCE", "COMPLIANCE", NULL};
static const char *const STORAGE_CLASSES[] = {"STANDARD", "GLACIER", "ONEZONE_IA", NULL};
static const char *const METHODS[] = {"GET", "PUT", "POST", "DELETE", "HEAD", NULL};

#define UUID_RE     "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
#define DURATION_RE "^[1-9][0-9]{0,3}(ms|s|m)$"
#define HOSTNAME_RE "^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
#define EMAIL_RE    "^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$"

static const struct gen_rule stack_section[] = {
    {.key = "name", .kind = GEN_NAME, .flags = GEN_REQUIRED, .min = 1, .max = 30},
    {.key = "environment",
     .kind = GEN_ENUM,
     .flags = GEN_REQUIRED,
     .allowed = ENVIRONMENTS,
     .msg = "is not an environment"},
    {.kind = GEN_CHECK, .check = note_environment},
    {.key = "region",
     .kind = GEN_ENUM,
     .flags = GEN_REQUIRED,
     .allowed = REGIONS,
     .msg = "is not a Scaleway region"},
    {.kind = GEN_CHECK, .check = region_has_services},
    {.key = "project_id",
     .kind = GEN_STRING,
     .flags = GEN_REQUIRED | GEN_QUOTED,
     .pattern = UUID_RE,
     .msg = "is not a UUID (lowercase, 8-4-4-4-12 hex digits)"},
    {.key = "tags", .kind = GEN_STRING, .flags = GEN_LIST},
    {.kind = GEN_END},
};

static const struct gen_rule network_section[] = {
    {.key = "ipv4_subnet", .kind = GEN_STRING, .value = cidr4},
    {.kind = GEN_END},
};

static const struct gen_rule secret_rules[] = {
    {.key = "name", .kind = GEN_NAME, .flags = GEN_REQUIRED, .min = 1, .max = 63},
    {.kind = GEN_CHECK, .check = record_secret},
    {.kind = GEN_CHECK, .check = unique_name, .msg = "secret"},
    {.key = "description", .kind = GEN_STRING},
    {.key = "path", .kind = GEN_STRING, .pattern = "^/", .msg = "must start with /"},
    {.key = "protected", .kind = GEN_BOOL},
    {.key = "type", .kind = GEN_ENUM, .allowed = SECRET_TYPES, .msg = "is not a secret type"},
    {.kind = GEN_END},
};

static const struct gen_rule probe_rules[] = {
    {.key = "failure_threshold", .kind = GEN_INT, .min = 1, .max = 100},
    {.key = "interval",
     .kind = GEN_STRING,
     .flags = GEN_QUOTED,
     .pattern = DURATION_RE,
     .msg = "is not a duration such as 10s or 500ms"},
    {.key = "timeout",
     .kind = GEN_STRING,
     .flags = GEN_QUOTED,
     .pattern = DURATION_RE,
     .msg = "is not a duration such as 10s or 500ms"},
    {.key = "path", .kind = GEN_STRING, .pattern = "^/", .msg = "must start with /"},
    {.kind = GEN_END},
};

static const struct gen_rule probes_rules[] = {
    {.key = "liveness", .kind = GEN_OBJECT, .fields = probe_rules},
    {.key = "startup", .kind = GEN_OBJECT, .fields = probe_rules},
    {.kind = GEN_END},
};

static const struct gen_rule container_rules[] = {
    {.key = "name", .kind = GEN_NAME, .flags = GEN_REQUIRED, .min = 1, .max = 34},
    {.kind = GEN_CHECK, .check = unique_name, .msg = "container"},
    {.key = "image",
     .kind = GEN_STRING,
     .flags = GEN_REQUIRED,
     .pattern = "^[a-z0-9][A-Za-z0-9._/:@-]*$",
     .msg = "is not a container image reference (registry/name:tag)"},
    {.key = "cpu",
     .kind = GEN_INT,
     .flags = GEN_REQUIRED,
     .min = 1,
     .max = 1000000,
     .unit = "mvCPU"},
    {.key = "memory",
     .kind = GEN_INT,
     .flags = GEN_REQUIRED,
     .ints = gen_mem_mb,
     .nints = GEN_MEM_SIZES,
     .unit = "MB",
     .msg = "is not a Scaleway memory size"},
    {.kind = GEN_CHECK, .check = cpu_pairs_with_memory},
    {.key = "min_scale", .kind = GEN_INT, .min = 0, .max = 10, .unit = "instances"},
    {.key = "max_scale", .kind = GEN_INT, .min = 1, .max = 100, .unit = "instances"},
    {.kind = GEN_CHECK, .check = scale_order},
    {.kind = GEN_CHECK, .check = production_min_scale},
    {.key = "timeout", .kind = GEN_INT, .min = 30, .max = 900, .unit = "seconds"},
    {.key = "port", .kind = GEN_INT, .min = 1, .max = 65535},
    {.key = "protocol", .kind = GEN_ENUM, .allowed = PROTOCOLS, .msg = "is not a protocol"},
    {.key = "privacy", .kind = GEN_ENUM, .allowed = PRIVACIES, .msg = "is not a privacy setting"},
    {.key = "description", .kind = GEN_STRING},
    {.key = "https_only", .kind = GEN_BOOL},
    {.key = "args", .kind = GEN_STRING, .flags = GEN_LIST},
    {.key = "domains",
     .kind = GEN_STRING,
     .flags = GEN_LIST | GEN_QUOTED,
     .max = 253,
     .pattern = HOSTNAME_RE,
     .msg = "is not a lowercase DNS hostname"},
    {.key = "secret_env", .kind = GEN_OBJECT},
    {.key = "env", .kind = GEN_OBJECT},
    {.kind = GEN_CHECK, .check = env_values},
    {.kind = GEN_CHECK, .check = secret_env_values},
    {.key = "probes", .kind = GEN_OBJECT, .fields = probes_rules},
    {.kind = GEN_END},
};

static const struct gen_rule backup_rules[] = {
    {.key = "enabled", .kind = GEN_BOOL},
    {.key = "frequency_hours", .kind = GEN_INT, .min = 1, .max = 24, .unit = "hours"},
    {.key = "retention_days", .kind = GEN_INT, .min = 1, .max = 365, .unit = "days"},
    {.kind = GEN_END},
};

static const struct gen_rule volume_rules[] = {
    {.key = "type", .kind = GEN_ENUM, .allowed = VOLUME_TYPES, .msg = "is not a volume type"},
    {.key = "size_gb", .kind = GEN_INT, .min = 5, .max = 10000, .unit = "GB"},
    {.kind = GEN_CHECK, .check = volume_size},
    {.kind = GEN_END},
};

static const struct gen_rule user_rules[] = {
    {.key = "name", .kind = GEN_NAME, .flags = GEN_REQUIRED, .min = 1, .max = 63},
    {.kind = GEN_CHECK, .check = unique_name, .msg = "user"},
    {.key = "is_admin", .kind = GEN_BOOL},
    {.key = "password_secret", .kind = GEN_STRING, .flags = GEN_REQUIRED, .value = secret_declared},
    {.key = "privileges", .kind = GEN_OBJECT},
    {.kind = GEN_CHECK, .check = user_privileges},
    {.kind = GEN_END},
};

static const struct gen_rule acl_rules[] = {
    {.key = "ip", .kind = GEN_STRING, .flags = GEN_REQUIRED, .value = cidr4},
    {.key = "description", .kind = GEN_STRING},
    {.kind = GEN_END},
};

static const struct gen_rule database_rules[] = {
    {.key = "name", .kind = GEN_NAME, .flags = GEN_REQUIRED, .min = 1, .max = 40},
    {.kind = GEN_CHECK, .check = unique_name, .msg = "database"},
    {.key = "engine",
     .kind = GEN_STRING,
     .flags = GEN_QUOTED,
     .pattern = "^(PostgreSQL|MySQL)-[0-9]+$",
     .msg = "is not an engine such as PostgreSQL-16 or MySQL-8"},
    {.key = "node_type",
     .kind = GEN_STRING,
     .flags = GEN_QUOTED,
     .pattern = "^([Dd][Bb])-[A-Za-z0-9-]+$",
     .msg = "is not a node type such as DB-DEV-S or DB-GP-XS"},
    {.key = "ha", .kind = GEN_BOOL},
    {.key = "encryption_at_rest", .kind = GEN_BOOL},
    {.key = "admin_user",
     .kind = GEN_STRING,
     .pattern = "^[a-z][a-z0-9_]{0,62}$",
     .msg = "must match ^[a-z][a-z0-9_]*$"},
    {.key = "admin_password_secret",
     .kind = GEN_STRING,
     .flags = GEN_REQUIRED,
     .value = secret_declared},
    {.kind = GEN_CHECK, .check = production_ha},
    {.key = "backup", .kind = GEN_OBJECT, .fields = backup_rules},
    {.kind = GEN_CHECK, .check = production_backups},
    {.key = "volume", .kind = GEN_OBJECT, .fields = volume_rules},
    {.key = "databases", .kind = GEN_NAME, .flags = GEN_LIST, .min = 1, .max = 63},
    {.key = "users", .kind = GEN_OBJECTS, .fields = user_rules},
    {.key = "acl", .kind = GEN_OBJECTS, .fields = acl_rules},
    {.kind = GEN_END},
};

static const struct gen_rule object_lock_rules[] = {
    {.key = "mode", .kind = GEN_ENUM, .allowed = LOCK_MODES, .msg = "is not an object lock mode"},
    {.key = "days", .kind = GEN_INT, .flags = GEN_REQUIRED, .min = 1, .max = 36500, .unit = "days"},
    {.kind = GEN_END},
};

static const struct gen_rule lifecycle_rules[] = {
    {.key = "abort_incomplete_multipart_upload_days",
     .kind = GEN_INT,
     .min = 1,
     .max = 36500,
     .unit = "days"},
    {.key = "enabled", .kind = GEN_BOOL},
    {.key = "expiration_days", .kind = GEN_INT, .min = 1, .max = 36500, .unit = "days"},
    {.key = "noncurrent_expiration_days", .kind = GEN_INT, .min = 1, .max = 36500, .unit = "days"},
    {.key = "prefix", .kind = GEN_STRING},
    {.key = "transition_days", .kind = GEN_INT, .min = 0, .max = 36500, .unit = "days"},
    {.key = "transition_storage_class",
     .kind = GEN_ENUM,
     .allowed = STORAGE_CLASSES,
     .msg = "is not a storage class"},
    {.kind = GEN_END},
};

static const struct gen_rule cors_rules[] = {
    {.key = "allowed_headers", .kind = GEN_STRING, .flags = GEN_LIST},
    {.key = "allowed_methods",
     .kind = GEN_ENUM,
     .flags = GEN_LIST | GEN_REQUIRED,
     .allowed = METHODS,
     .msg = "is not a CORS method"},
    {.key = "allowed_origins", .kind = GEN_STRING, .flags = GEN_LIST | GEN_REQUIRED},
    {.key = "expose_headers", .kind = GEN_STRING, .flags = GEN_LIST},
    {.key = "max_age_seconds", .kind = GEN_INT, .min = 0, .max = 86400, .unit = "seconds"},
    {.kind = GEN_END},
};

static const struct gen_rule bucket_rules[] = {
    {.key = "name", .kind = GEN_NAME, .flags = GEN_REQUIRED, .min = 3, .max = 63},
    {.kind = GEN_CHECK, .check = unique_name, .msg = "bucket"},
    {.key = "versioning", .kind = GEN_BOOL},
    {.key = "sse", .kind = GEN_BOOL},
    {.key = "force_destroy", .kind = GEN_BOOL},
    {.key = "object_lock", .kind = GEN_OBJECT, .fields = object_lock_rules},
    {.kind = GEN_CHECK, .check = lock_needs_versioning},
    {.key = "lifecycle", .kind = GEN_OBJECTS, .fields = lifecycle_rules},
    {.key = "cors", .kind = GEN_OBJECTS, .fields = cors_rules},
    {.kind = GEN_END},
};

static const struct gen_rule monitoring_section[] = {
    {.key = "enabled", .kind = GEN_BOOL},
    {.key = "logs_retention_days", .kind = GEN_INT, .min = 1, .max = 365, .unit = "days"},
    {.key = "metrics_retention_days", .kind = GEN_INT, .min = 1, .max = 365, .unit = "days"},
    {.key = "contact_emails",
     .kind = GEN_STRING,
     .flags = GEN_LIST | GEN_QUOTED,
     .pattern = EMAIL_RE,
     .msg = "is not an e-mail address"},
    {.key = "preconfigured_alert_ids", .kind = GEN_STRING, .flags = GEN_LIST},
    {.key = "stated", .kind = GEN_BOOL},
    {.key = "stated_endpoint",
     .kind = GEN_STRING,
     .flags = GEN_QUOTED,
     .max = 253,
     .pattern = HOSTNAME_RE,
     .msg = "is not a lowercase DNS hostname (the public stated container's endpoint)"},
    {.kind = GEN_CHECK, .check = stated_monitoring},
    {.kind = GEN_END},
};

static const struct gen_rule registry_section[] = {
    {.key = "name", .kind = GEN_NAME, .min = 4, .max = 54},
    {.key = "public", .kind = GEN_BOOL},
    {.kind = GEN_END},
};

static const struct gen_rule stack_rules[] = {
    {.key = "stack", .kind = GEN_OBJECT, .flags = GEN_REQUIRED, .fields = stack_section},
    {.key = "network", .kind = GEN_OBJECT, .fields = network_section},
    {.key = "secrets", .kind = GEN_OBJECTS, .fields = secret_rules},
    {.key = "containers", .kind = GEN_OBJECTS, .fields = container_rules},
    {.key = "databases", .kind = GEN_OBJECTS, .fields = database_rules},
    {.key = "buckets", .kind = GEN_OBJECTS, .fields = bucket_rules},
    {.key = "monitoring", .kind = GEN_OBJECT, .fields = monitoring_section},
    {.kind = GEN_CHECK, .check = production_monitoring},
    {.key = "registry", .kind = GEN_OBJECT, .fields = registry_section},
    {.kind = GEN_END},
};

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
    if (gen_match("^SCW[A-Z0-9]{17}$", v) || gen_match("^(AKIA|ASIA)[A-Z0-9]{16}$", v)) {
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

/* ---- loading ---- */

struct stack *stack_load(const char *text, size_t len, struct buf *errors)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        buf_printf(errors, NULL, "%s $: invalid JSON at line %d, column %d: %s\n",
                   err_infra_code(ERR_INVALID), je.line, je.column, je.text);
        return NULL;
    }
    struct gen_check c = {.errors = errors, .root = root, .secrets = json_object()};
    struct gen_target top = {.obj = root, .path = "$", .rules = stack_rules};
    size_t before = errors->len;
    if (json_is_object(root))
        gen_check_rules(&c, &top);
    else
        gen_verr(&c, "$", "must be an object");
    json_decref(c.secrets);
    /* gen_verr appends through c.errors, which cppcheck cannot follow. */
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
