/* module/gen/render.c: from a validated stack to OpenTofu or Terragrunt files.
 *
 * Both formats call the same modules with the same inputs; they differ in how one module reads
 * another's outputs (`module.network.private_network_id` in one root, versus
 * `dependency.network.outputs.private_network_id` between Terragrunt units) and in where the
 * backend, provider and common inputs live. Every collection is walked in a sorted or
 * document order and nothing depends on time or the environment, so two renders of one stack
 * are byte-identical. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file.h"
#include "common/util.h"
#include "module/gen/gen_int.h"
#include "module/gen/stackgen.h"

struct rctx {
    json_t *root, *st;
    const char *name, *env, *region, *project;
    bool tg; /* Terragrunt: references go through dependency outputs */
    bool has_network, has_secrets, has_monitoring;
};

static struct hcl_value *json_to_hcl(json_t *v)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        struct hcl_body *b;
        struct hcl_value *o = hcl_object(&b);
        size_t n;
        const char **keys = gen_sorted_keys(v, &n);
        for (size_t i = 0; i < n; i++)
            hcl_attr(b, keys[i], json_to_hcl(json_object_get(v, keys[i])));
        free(keys);
        return o;
    }
    case JSON_ARRAY: {
        struct hcl_value *t = hcl_tuple();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            hcl_tuple_add(t, json_to_hcl(e));
        }
        return t;
    }
    case JSON_STRING:
        return hcl_str(json_string_value(v));
    case JSON_INTEGER:
        return hcl_int(json_integer_value(v));
    case JSON_REAL:
        snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        return hcl_expr(num);
    case JSON_TRUE:
        return hcl_bool(true);
    case JSON_FALSE:
        return hcl_bool(false);
    case JSON_NULL:
        break;
    }
    return hcl_expr("null");
}

/* Copies the listed keys of src (those present) into body, in the given order. */
static void copy_keys(struct hcl_body *b, json_t *src, const char *const *pairs)
{
    for (const char *const *p = pairs; *p; p += 2) {
        json_t *v = json_object_get(src, *p);
        if (v)
            hcl_attr(b, p[1], json_to_hcl(v));
    }
}

/* "database-main" -> "database_main": module and dependency labels double as identifiers. */
static char *label(const char *prefix, const char *name)
{
    char *l = xasprintf("%s%s%s", prefix, *prefix ? "_" : "", name);
    for (char *p = l; *p; p++)
        if (*p == '-')
            *p = '_';
    return l;
}

/* A reference to an output of another module call (tofu) or unit (Terragrunt). */
static char *ref(const struct rctx *c, const char *unit, const char *output)
{
    return c->tg ? xasprintf("dependency.%s.outputs.%s", unit, output)
                 : xasprintf("module.%s.%s", unit, output);
}

static char *secret_ref(const struct rctx *c, const char *secret)
{
    struct buf b;
    buf_init(&b, 0);
    char *base = ref(c, "secrets", "values");
    buf_append_str(&b, base, NULL);
    free(base);
    buf_append_str(&b, "[", NULL);
    hcl_quote(&b, secret);
    buf_append_str(&b, "]", NULL);
    size_t len;
    return buf_take(&b, &len);
}

static void attr_ref(struct hcl_body *b, const char *name, const struct rctx *c, const char *unit,
                     const char *output)
{
    char *r = ref(c, unit, output);
    hcl_attr_expr(b, name, r);
    free(r);
}

static char *prefixed(const struct rctx *c, const char *suffix)
{
    return suffix ? xasprintf("%s-%s-%s", c->name, c->env, suffix)
                  : xasprintf("%s-%s", c->name, c->env);
}

/* Inputs every module takes: the project and region (Terragrunt gets them from the root). */
static void common_inputs(struct hcl_body *b, const struct rctx *c, bool with_region)
{
    if (c->tg)
        return;
    hcl_attr_expr(b, "project_id", "var.project_id");
    if (with_region)
        hcl_attr_expr(b, "region", "var.region");
}

static struct hcl_value *tags_list(const struct rctx *c)
{
    struct hcl_value *t = hcl_tuple();
    char *s = xasprintf("env:%s", c->env);
    hcl_tuple_add(t, hcl_str(s));
    free(s);
    s = xasprintf("stack:%s", c->name);
    hcl_tuple_add(t, hcl_str(s));
    free(s);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(c->st, "tags"), i, e)
    {
        hcl_tuple_add(t, hcl_str(json_string_value(e)));
    }
    return t;
}

/* ---- the inputs of each component ---- */

static void in_network(struct hcl_body *b, const struct rctx *c)
{
    json_t *n = json_object_get(c->root, "network");
    const char *subnet = gen_str(n, "ipv4_subnet", NULL);
    if (subnet)
        hcl_attr_str(b, "ipv4_subnet", subnet);
    char *name = prefixed(c, NULL);
    hcl_attr_str(b, "name", name);
    free(name);
    common_inputs(b, c, true);
    hcl_attr(b, "tags", tags_list(c));
}

static void in_secrets(struct hcl_body *b, const struct rctx *c)
{
    static const char *const keys[] = {"description", "description", "path", "path", "protected",
                                       "protected",   "type",        "type", NULL};
    common_inputs(b, c, true);
    struct hcl_body *sb;
    hcl_attr(b, "secrets", hcl_object(&sb));
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(c->root, "secrets"), i, s)
    {
        struct hcl_body *o;
        hcl_attr(sb, gen_str(s, "name", ""), hcl_object(&o));
        copy_keys(o, s, keys);
    }
    hcl_attr(b, "tags", tags_list(c));
    hcl_attr_expr(b, "values",
                  c->tg ? "jsondecode(get_env(\"STACK_SECRET_VALUES\", \"{}\"))"
                        : "var.secret_values");
}

/* user_passwords (from Secret Manager) and users, both keyed by user name. */
static void database_users(struct hcl_body *b, const struct rctx *c, json_t *users)
{
    static const char *const keys[] = {"is_admin", "is_admin", "privileges", "privileges", NULL};
    struct hcl_body *pw, *ub;
    hcl_attr(b, "user_passwords", hcl_object(&pw));
    hcl_attr(b, "users", hcl_object(&ub));
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u)
    {
        const char *name = gen_str(u, "name", "");
        char *r = secret_ref(c, gen_str(u, "password_secret", ""));
        hcl_attr_expr(pw, name, r);
        free(r);
        struct hcl_body *o;
        hcl_attr(ub, name, hcl_object(&o));
        copy_keys(o, u, keys);
    }
}

static void in_database(struct hcl_body *b, const struct rctx *c, json_t *db)
{
    static const char *const top[] = {"admin_user",
                                      "admin_user",
                                      "databases",
                                      "databases",
                                      "encryption_at_rest",
                                      "encryption_at_rest",
                                      "engine",
                                      "engine",
                                      "ha",
                                      "ha",
                                      NULL};
    json_t *acl = json_object_get(db, "acl");
    if (acl)
        hcl_attr(b, "acl", json_to_hcl(acl));
    char *r = secret_ref(c, gen_str(db, "admin_password_secret", ""));
    hcl_attr_expr(b, "admin_password", r);
    free(r);
    json_t *backup = json_object_get(db, "backup");
    static const char *const bkeys[] = {"enabled",
                                        "backup_enabled",
                                        "frequency_hours",
                                        "backup_frequency_hours",
                                        "retention_days",
                                        "backup_retention_days",
                                        NULL};
    copy_keys(b, backup, bkeys);
    copy_keys(b, db, top);
    char *name = prefixed(c, gen_str(db, "name", ""));
    hcl_attr_str(b, "name", name);
    free(name);
    if (json_object_get(db, "node_type"))
        hcl_attr_str(b, "node_type", gen_str(db, "node_type", ""));
    if (c->has_network)
        attr_ref(b, "private_network_id", c, "network", "private_network_id");
    common_inputs(b, c, true);
    hcl_attr(b, "tags", tags_list(c));
    json_t *users = json_object_get(db, "users");
    if (users)
        database_users(b, c, users);
    static const char *const vkeys[] = {"size_gb", "volume_size_gb", "type", "volume_type", NULL};
    copy_keys(b, json_object_get(db, "volume"), vkeys);
}

static void in_containers(struct hcl_body *b, const struct rctx *c)
{
    static const char *const keys[] = {
        "args",      "args",      "cpu",        "cpu",        "description", "description",
        "domains",   "domains",   "env",        "env",        "https_only",  "https_only",
        "image",     "image",     "max_scale",  "max_scale",  "memory",      "memory",
        "min_scale", "min_scale", "port",       "port",       "privacy",     "privacy",
        "protocol",  "protocol",  "secret_env", "secret_env", "timeout",     "timeout",
        NULL};
    struct hcl_body *cb;
    hcl_attr(b, "containers", hcl_object(&cb));
    size_t i;
    json_t *ct;
    /* Object keys sorted by container name, attributes sorted by name: the module's order. */
    json_t *byname = json_object();
    json_array_foreach(json_object_get(c->root, "containers"), i, ct)
    {
        json_object_set(byname, gen_str(ct, "name", ""), ct);
    }
    size_t n;
    const char **names = gen_sorted_keys(byname, &n);
    for (i = 0; i < n; i++) {
        ct = json_object_get(byname, names[i]);
        struct hcl_body *o;
        hcl_attr(cb, names[i], hcl_object(&o));
        json_t *probes = json_object_get(ct, "probes");
        json_t *sorted = json_object();
        for (const char *const *p = keys; *p; p += 2)
            if (json_object_get(ct, *p))
                json_object_set(sorted, *p, json_object_get(ct, *p));
        if (json_object_get(probes, "liveness"))
            json_object_set(sorted, "liveness_probe", json_object_get(probes, "liveness"));
        if (json_object_get(probes, "startup"))
            json_object_set(sorted, "startup_probe", json_object_get(probes, "startup"));
        size_t m;
        const char **ks = gen_sorted_keys(sorted, &m);
        for (size_t k = 0; k < m; k++)
            hcl_attr(o, ks[k], json_to_hcl(json_object_get(sorted, ks[k])));
        free(ks);
        json_decref(sorted);
    }
    free(names);
    json_decref(byname);
    char *ns = prefixed(c, NULL);
    hcl_attr_str(b, "namespace_name", ns);
    free(ns);
    if (c->has_network)
        attr_ref(b, "private_network_id", c, "network", "private_network_id");
    common_inputs(b, c, true);
    if (c->has_secrets)
        attr_ref(b, "secret_values", c, "secrets", "values");
    hcl_attr(b, "tags", tags_list(c));
}

static void in_bucket(struct hcl_body *b, const struct rctx *c, json_t *bk)
{
    static const char *const keys[] = {
        "cors", "cors_rules", "force_destroy", "force_destroy", "lifecycle", "lifecycle_rules",
        "name", "name",       "object_lock",   "object_lock",   NULL};
    copy_keys(b, bk, keys);
    common_inputs(b, c, true);
    if (json_object_get(bk, "sse"))
        hcl_attr_bool(b, "sse_enabled", gen_bool(bk, "sse", true));
    struct hcl_body *t;
    hcl_attr(b, "tags", hcl_object(&t));
    hcl_attr_str(t, "environment", c->env);
    hcl_attr_str(t, "stack", c->name);
    if (json_object_get(bk, "versioning"))
        hcl_attr_bool(b, "versioning", gen_bool(bk, "versioning", true));
}

static void in_monitoring(struct hcl_body *b, const struct rctx *c)
{
    static const char *const keys[] = {"contact_emails",
                                       "contact_emails",
                                       "logs_retention_days",
                                       "logs_retention_days",
                                       "metrics_retention_days",
                                       "metrics_retention_days",
                                       NULL};
    json_t *m = json_object_get(c->root, "monitoring");
    copy_keys(b, m, keys);
    char *name = prefixed(c, NULL);
    hcl_attr_str(b, "name", name);
    free(name);
    static const char *const k2[] = {"preconfigured_alert_ids", "preconfigured_alert_ids", NULL};
    copy_keys(b, m, k2);
    common_inputs(b, c, true);
    /* stated's tokens, rules, dashboard and agent configuration (docs/observability.md): a
     * private stated is scraped through edge-forward.py, a public one at its endpoint. */
    if (gen_monitors_stated(c->root)) {
        struct hcl_body *sm;
        hcl_attr(b, "stated_metrics", hcl_object(&sm));
        const char *endpoint = gen_str(m, "stated_endpoint", NULL);
        if (endpoint) {
            hcl_attr_str(sm, "endpoint", endpoint);
            hcl_attr_bool(sm, "private", false);
        }
    }
}

static void in_registry(struct hcl_body *b, const struct rctx *c)
{
    json_t *r = json_object_get(c->root, "registry");
    if (json_object_get(r, "public"))
        hcl_attr_bool(b, "is_public", gen_bool(r, "public", false));
    char *def = prefixed(c, NULL);
    hcl_attr_str(b, "name", gen_str(r, "name", def));
    free(def);
    common_inputs(b, c, true);
}

/* ---- the list of units ---- */

enum comp {
    C_NETWORK,
    C_SECRETS,
    C_DATABASE,
    C_CONTAINERS,
    C_BUCKET,
    C_MONITORING,
    C_REGISTRY,
    C_COUNT
};

struct unit {
    enum comp comp;
    const char *component; /* module directory */
    char *label;           /* module label / dependency name: network, database_main */
    char *dir;             /* Terragrunt unit directory: network, database-main */
    json_t *item;          /* the database or bucket, else NULL */
};

bool gen_has_network(json_t *root)
{
    return json_object_get(root, "network") ||
           json_array_size(json_object_get(root, "containers")) > 0 ||
           json_array_size(json_object_get(root, "databases")) > 0;
}

bool gen_has_monitoring(json_t *root)
{
    json_t *m = json_object_get(root, "monitoring");
    return m && gen_bool(m, "enabled", true);
}

bool gen_monitors_stated(json_t *root)
{
    return gen_has_monitoring(root) &&
           gen_bool(json_object_get(root, "monitoring"), "stated", false);
}

static size_t list_units(struct rctx *c, struct unit *u, size_t max)
{
    size_t n = 0;
    json_t *dbs = json_object_get(c->root, "databases");
    json_t *cts = json_object_get(c->root, "containers");
    c->has_network = gen_has_network(c->root);
    c->has_secrets = json_array_size(json_object_get(c->root, "secrets")) > 0;
    c->has_monitoring = gen_has_monitoring(c->root);
#define ADD(cp, comp_name, lbl, d, it)                                                             \
    do {                                                                                           \
        if (n < max)                                                                               \
            u[n++] = (struct unit){cp, comp_name, lbl, d, it};                                     \
    } while (0)
    if (c->has_network)
        ADD(C_NETWORK, "network", xstrdup("network"), xstrdup("network"), NULL);
    if (c->has_secrets)
        ADD(C_SECRETS, "secrets", xstrdup("secrets"), xstrdup("secrets"), NULL);
    size_t i;
    json_t *e;
    json_array_foreach(dbs, i, e)
    {
        ADD(C_DATABASE, "database", label("database", gen_str(e, "name", "")),
            xasprintf("database-%s", gen_str(e, "name", "")), e);
    }
    if (json_array_size(cts) > 0)
        ADD(C_CONTAINERS, "containers", xstrdup("containers"), xstrdup("containers"), NULL);
    json_array_foreach(json_object_get(c->root, "buckets"), i, e)
    {
        ADD(C_BUCKET, "bucket", label("bucket", gen_str(e, "name", "")),
            xasprintf("bucket-%s", gen_str(e, "name", "")), e);
    }
    if (c->has_monitoring)
        ADD(C_MONITORING, "monitoring", xstrdup("monitoring"), xstrdup("monitoring"), NULL);
    if (json_object_get(c->root, "registry"))
        ADD(C_REGISTRY, "registry", xstrdup("registry"), xstrdup("registry"), NULL);
#undef ADD
    return n;
}

static void unit_inputs(struct hcl_body *b, const struct rctx *c, const struct unit *u)
{
    switch (u->comp) {
    case C_NETWORK:
        in_network(b, c);
        break;
    case C_SECRETS:
        in_secrets(b, c);
        break;
    case C_DATABASE:
        in_database(b, c, u->item);
        break;
    case C_CONTAINERS:
        in_containers(b, c);
        break;
    case C_BUCKET:
        in_bucket(b, c, u->item);
        break;
    case C_MONITORING:
        in_monitoring(b, c);
        break;
    case C_REGISTRY:
        in_registry(b, c);
        break;
    case C_COUNT:
        break;
    }
}

/* ---- output helpers ---- */

static int emit_body(const struct stack_sink *k, const char *path, struct hcl_body *b,
                     struct err *err)
{
    struct buf out;
    buf_init(&out, 0);
    hcl_render(b, &out);
    hcl_body_free(b);
    int rc = k->emit(path, out.data ? out.data : "", out.len, k->ctx, err);
    buf_cleanup(&out);
    return rc;
}

static void header(struct hcl_body *b, const struct rctx *c, const char *what)
{
    char *line = xasprintf("%s for stack %s (%s), generated by stackgen: edit the stack "
                           "description and render again.",
                           what, c->name, c->env);
    hcl_comment(b, line);
    free(line);
}

/* The state's address as an HCL literal; a Terragrunt root appends the unit's path, so each
 * unit has a state of its own (e.g. shop/dev/network). */
static char *state_address(const struct rctx *c, const struct stack_render_opts *o)
{
    struct buf q;
    size_t len;
    char *url = xasprintf("%s/v1/states/%s/%s", o->backend_url, c->name, c->env);
    buf_init(&q, 0);
    buf_append_str(&q, "\"", NULL);
    hcl_escape(&q, url);
    buf_append_str(&q, c->tg ? "/${path_relative_to_include()}\"" : "\"", NULL);
    free(url);
    return buf_take(&q, &len);
}

static void backend_attrs(struct hcl_body *b, const char *quoted_url)
{
    hcl_attr_expr(b, "address", quoted_url);
    hcl_attr_expr(b, "lock_address", quoted_url);
    hcl_attr_str(b, "lock_method", "LOCK");
    hcl_attr_expr(b, "unlock_address", quoted_url);
    hcl_attr_str(b, "unlock_method", "UNLOCK");
}

static void required_providers(struct hcl_body *t)
{
    hcl_attr_str(t, "required_version", ">= 1.5.0");
    hcl_blank(t);
    struct hcl_body *rp = hcl_block(t, "required_providers", NULL, NULL), *sc;
    hcl_attr(rp, "scaleway", hcl_object(&sc));
    hcl_attr_str(sc, "source", "scaleway/scaleway");
    hcl_attr_str(sc, "version", "~> 2.0");
}

/* ---- OpenTofu root ---- */

static int emit_backend_tf(const struct rctx *c, const struct stack_render_opts *o,
                           const struct stack_sink *k, struct err *err)
{
    struct hcl_body *f = hcl_body_new();
    header(f, c, "Backend");
    hcl_comment(f, "Credentials: TF_HTTP_USERNAME and TF_HTTP_PASSWORD (a stated token).");
    struct hcl_body *t = hcl_block(f, "terraform", NULL, NULL);
    char *address = state_address(c, o);
    backend_attrs(hcl_block(t, "backend", "http", NULL), address);
    free(address);
    return emit_body(k, "backend.tf", f, err);
}

static int emit_versions_tf(const struct stack_sink *k, struct err *err)
{
    struct hcl_body *f = hcl_body_new();
    required_providers(hcl_block(f, "terraform", NULL, NULL));
    return emit_body(k, "versions.tf", f, err);
}

static int emit_providers_tf(const struct rctx *c, const struct stack_sink *k, struct err *err)
{
    struct hcl_body *f = hcl_body_new();
    header(f, c, "Provider");
    hcl_comment(f, "Credentials: SCW_ACCESS_KEY and SCW_SECRET_KEY.");
    struct hcl_body *b = hcl_block(f, "provider", "scaleway", NULL);
    hcl_attr_expr(b, "project_id", "var.project_id");
    hcl_attr_expr(b, "region", "var.region");
    hcl_attr_expr(b, "zone", "\"${var.region}-1\"");
    return emit_body(k, "providers.tf", f, err);
}

static void string_variable(struct hcl_body *f, const char *name, const char *description,
                            const char *def)
{
    struct hcl_body *b = hcl_block(f, "variable", name, NULL);
    hcl_attr_expr(b, "type", "string");
    hcl_attr_str(b, "description", description);
    hcl_attr_str(b, "default", def);
}

static int emit_variables_tf(const struct rctx *c, const struct stack_sink *k, struct err *err)
{
    struct hcl_body *f = hcl_body_new();
    string_variable(f, "project_id", "Scaleway project ID (UUID).", c->project);
    string_variable(f, "region", "Scaleway region.", c->region);
    if (c->has_secrets) {
        struct hcl_body *b = hcl_block(f, "variable", "secret_values", NULL);
        hcl_attr_expr(b, "type", "map(string)");
        hcl_attr_str(b, "description",
                     "Secret values keyed by secret name; pass them as TF_VAR_secret_values, "
                     "never in a file.");
        hcl_attr_expr(b, "default", "{}");
        hcl_attr_bool(b, "sensitive", true);
    }
    return emit_body(k, "variables.tf", f, err);
}

static int emit_main_tf(const struct rctx *c, const struct stack_render_opts *o,
                        const struct unit *u, size_t n, const struct stack_sink *k, struct err *err)
{
    struct hcl_body *f = hcl_body_new();
    header(f, c, "Modules");
    for (size_t i = 0; i < n; i++) {
        struct hcl_body *b = hcl_block(f, "module", u[i].label, NULL);
        char *src = gen_module_source(o->module_source, u[i].component, false);
        hcl_attr_str(b, "source", src);
        free(src);
        hcl_blank(b);
        unit_inputs(b, c, &u[i]);
    }
    return emit_body(k, "main.tf", f, err);
}

/* What outputs.tf passes on from each kind of unit: one output per unit, or, for the kinds a
 * stack may have several of, one map keyed by database or bucket name. */
static const struct {
    const char *name, *description;
    const char *unit_output; /* the module output it reads */
    bool keyed;
} outputs[] = {
    [C_NETWORK] = {"private_network_id", "ID of the stack's private network.", "private_network_id",
                   false},
    [C_SECRETS] = {"secret_ids", "Secret Manager IDs keyed by secret name.", "ids", false},
    [C_DATABASE] = {"database_instance_ids", "Database instance IDs keyed by database name.",
                    "instance_id", true},
    [C_CONTAINERS] = {"container_endpoints", "Container endpoints keyed by container name.",
                      "endpoints", false},
    [C_BUCKET] = {"bucket_ids", "Bucket IDs keyed by bucket name.", "id", true},
    [C_MONITORING] = {"alert_manager_url", "URL of the Cockpit alert manager.", "alert_manager_url",
                      false},
    [C_REGISTRY] = {"registry_endpoint", "Container Registry endpoint to push images to.",
                    "endpoint", false},
};

static int emit_outputs_tf(const struct rctx *c, const struct unit *u, size_t n,
                           const struct stack_sink *k, struct err *err)
{
    struct hcl_body *f = hcl_body_new();
    struct hcl_body *maps[C_COUNT] = {NULL}; /* the value of each keyed output, once created */
    for (size_t i = 0; i < n; i++) {
        enum comp comp = u[i].comp;
        if (outputs[comp].keyed && maps[comp]) {
            attr_ref(maps[comp], gen_str(u[i].item, "name", ""), c, u[i].label,
                     outputs[comp].unit_output);
            continue;
        }
        struct hcl_body *b = hcl_block(f, "output", outputs[comp].name, NULL);
        hcl_attr_str(b, "description", outputs[comp].description);
        if (!outputs[comp].keyed) {
            attr_ref(b, "value", c, u[i].label, outputs[comp].unit_output);
            continue;
        }
        hcl_attr(b, "value", hcl_object(&maps[comp]));
        attr_ref(maps[comp], gen_str(u[i].item, "name", ""), c, u[i].label,
                 outputs[comp].unit_output);
    }
    if (gen_monitors_stated(c->root)) {
        static const struct {
            const char *name, *description;
            bool sensitive;
        } so[] = {
            {"stated_alloy_config",
             "Grafana Alloy configuration that scrapes stated and pushes to Cockpit (no secret).",
             false},
            {"stated_push_token", "Cockpit token that may only push metrics (COCKPIT_PUSH_TOKEN).",
             true},
            {"stated_rules_token", "Cockpit token that may only write alert rules (mimirtool).",
             true},
        };
        for (size_t i = 0; i < sizeof(so) / sizeof(so[0]); i++) {
            struct hcl_body *b = hcl_block(f, "output", so[i].name, NULL);
            hcl_attr_str(b, "description", so[i].description);
            if (so[i].sensitive)
                hcl_attr_bool(b, "sensitive", true);
            attr_ref(b, "value", c, "monitoring", so[i].name);
        }
    }
    return emit_body(k, "outputs.tf", f, err);
}

static int render_tofu(const struct rctx *c, const struct stack_render_opts *o,
                       const struct unit *u, size_t n, const struct stack_sink *k, struct err *err)
{
    if (emit_backend_tf(c, o, k, err) || emit_versions_tf(k, err) || emit_providers_tf(c, k, err) ||
        emit_variables_tf(c, k, err) || emit_main_tf(c, o, u, n, k, err))
        return -1;
    return emit_outputs_tf(c, u, n, k, err);
}

/* ---- Terragrunt tree ---- */

static void mock_outputs(struct hcl_body *d, const struct rctx *c, enum comp comp)
{
    struct hcl_body *m;
    hcl_attr(d, "mock_outputs", hcl_object(&m));
    const char *mock_id = "fr-par/11111111-1111-1111-1111-111111111111";
    switch (comp) {
    case C_NETWORK:
        hcl_attr_str(m, "private_network_id", mock_id);
        hcl_attr_str(m, "vpc_id", mock_id);
        break;
    case C_SECRETS: {
        struct hcl_body *ids, *vals;
        hcl_attr(m, "ids", hcl_object(&ids));
        hcl_attr(m, "values", hcl_object(&vals));
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(c->root, "secrets"), i, s)
        {
            hcl_attr_str(ids, gen_str(s, "name", ""), mock_id);
            hcl_attr_str(vals, gen_str(s, "name", ""), "mock");
        }
        break;
    }
    default:
        hcl_attr_str(m, "instance_id", mock_id);
        break;
    }
    struct hcl_value *cmds = hcl_tuple();
    hcl_tuple_add(cmds, hcl_str("init"));
    hcl_tuple_add(cmds, hcl_str("plan"));
    hcl_tuple_add(cmds, hcl_str("validate"));
    hcl_attr(d, "mock_outputs_allowed_terraform_commands", cmds);
}

static void dependency(struct hcl_body *f, const struct rctx *c, const struct unit *dep)
{
    struct hcl_body *d = hcl_block(f, "dependency", dep->label, NULL);
    char *p = xasprintf("../%s", dep->dir);
    hcl_attr_str(d, "config_path", p);
    free(p);
    hcl_blank(d);
    mock_outputs(d, c, dep->comp);
}

/* The root terragrunt.hcl: the backend every unit's state uses, the provider and the inputs
 * every module takes. */
static int emit_terragrunt_root(const struct rctx *c, const struct stack_render_opts *o,
                                const struct stack_sink *k, struct err *err)
{
    struct hcl_body *f = hcl_body_new(), *b, *obj;
    header(f, c, "Terragrunt root");
    hcl_comment(f, "Credentials: TF_HTTP_USERNAME and TF_HTTP_PASSWORD (a stated token), SCW_*,");
    hcl_comment(f, "and secret values as JSON in STACK_SECRET_VALUES.");
    b = hcl_block(f, "remote_state", NULL, NULL);
    hcl_attr_str(b, "backend", "http");
    hcl_attr(b, "config", hcl_object(&obj));
    char *address = state_address(c, o);
    backend_attrs(obj, address);
    free(address);
    hcl_attr(b, "generate", hcl_object(&obj));
    hcl_attr_str(obj, "if_exists", "overwrite");
    hcl_attr_str(obj, "path", "backend.tf");

    b = hcl_block(f, "generate", "provider", NULL);
    char *prov = xasprintf("provider \"scaleway\" {\n  project_id = \"%s\"\n  region     = \"%s\"\n"
                           "  zone       = \"%s-1\"\n}\n",
                           c->project, c->region, c->region);
    hcl_attr_str(b, "contents", prov);
    free(prov);
    hcl_attr_str(b, "if_exists", "overwrite_terragrunt");
    hcl_attr_str(b, "path", "providers.tf");

    hcl_attr(f, "inputs", hcl_object(&obj));
    hcl_attr_str(obj, "project_id", c->project);
    hcl_attr_str(obj, "region", c->region);
    return emit_body(k, "terragrunt.hcl", f, err);
}

/* Containers and databases read the network and secrets; containers also wait for the
 * databases they talk to. */
static bool depends_on(const struct unit *unit, const struct unit *other)
{
    if (unit->comp != C_DATABASE && unit->comp != C_CONTAINERS)
        return false;
    return other->comp == C_NETWORK || other->comp == C_SECRETS ||
           (unit->comp == C_CONTAINERS && other->comp == C_DATABASE);
}

static int emit_terragrunt_unit(const struct rctx *c, const struct stack_render_opts *o,
                                const struct unit *u, size_t n, size_t i,
                                const struct stack_sink *k, struct err *err)
{
    struct hcl_body *f = hcl_body_new(), *b, *obj;
    header(f, c, "Terragrunt unit");
    b = hcl_block(f, "include", "root", NULL);
    hcl_attr_expr(b, "path", "find_in_parent_folders()");
    b = hcl_block(f, "terraform", NULL, NULL);
    char *src = gen_module_source(o->module_source, u[i].component, true);
    hcl_attr_str(b, "source", src);
    free(src);
    for (size_t j = 0; j < n; j++)
        if (depends_on(&u[i], &u[j]))
            dependency(f, c, &u[j]);
    hcl_attr(f, "inputs", hcl_object(&obj));
    unit_inputs(obj, c, &u[i]);
    char *path = xasprintf("%s/terragrunt.hcl", u[i].dir);
    int rc = emit_body(k, path, f, err);
    free(path);
    return rc;
}

static int render_terragrunt(const struct rctx *c, const struct stack_render_opts *o,
                             const struct unit *u, size_t n, const struct stack_sink *k,
                             struct err *err)
{
    if (emit_terragrunt_root(c, o, k, err))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (emit_terragrunt_unit(c, o, u, n, i, k, err))
            return -1;
    return 0;
}

/* Each module directory once, in the order of first use. */
static int copy_modules(const struct unit *u, size_t n, const struct stack_sink *k, struct err *err)
{
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen = seen || strcmp(u[j].component, u[i].component) == 0;
        if (!seen && k->copy_module(u[i].component, k->ctx, err))
            return -1;
    }
    return 0;
}

int stack_render(const struct stack *s, const struct stack_render_opts *o,
                 const struct stack_sink *k, struct err *err)
{
    if (stack_backend_url_check(o->backend_url, err) ||
        (o->module_source && stack_module_source_check(o->module_source, err)))
        return -1;
    struct rctx c = {.root = s->root, .tg = o->format == STACK_FORMAT_TERRAGRUNT};
    c.st = json_object_get(s->root, "stack");
    c.name = gen_str(c.st, "name", "");
    c.env = gen_str(c.st, "environment", "");
    c.region = gen_str(c.st, "region", "");
    c.project = gen_str(c.st, "project_id", "");
    struct unit u[64];
    size_t n = list_units(&c, u, sizeof(u) / sizeof(u[0]));
    int rc = c.tg ? render_terragrunt(&c, o, u, n, k, err) : render_tofu(&c, o, u, n, k, err);
    if (rc == 0 && !o->module_source)
        rc = copy_modules(u, n, k, err);
    for (size_t i = 0; i < n; i++) {
        free(u[i].label);
        free(u[i].dir);
    }
    return rc;
}

int stack_backend_url_check(const char *url, struct err *err)
{
    const char *rest;
    if (strncmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        rest = url + 8;
    else
        return err_set(err, ERR_INVALID, "backend URL must start with http:// or https://");
    if (!*rest || *rest == '/')
        return err_set(err, ERR_INVALID, "backend URL has no host");
    for (const char *p = rest; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '@')
            return err_set(err, ERR_INVALID,
                           "backend URL must not carry credentials (use TF_HTTP_USERNAME and "
                           "TF_HTTP_PASSWORD)");
        if (ch == '?' || ch == '#')
            return err_set(err, ERR_INVALID, "backend URL must not have a query or fragment");
        if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '{' || ch == '}')
            return err_set(err, ERR_INVALID, "backend URL contains a character it may not");
    }
    if (url[strlen(url) - 1] == '/')
        return err_set(err, ERR_INVALID, "backend URL must not end with /");
    return 0;
}

/* ---- module sources ----
 *
 * A source is a local path (it starts with ./ or ../ and is relative to the directory of the
 * file that names it) or a remote address that go-getter fetches, where "//" separates what is
 * downloaded from the subdirectory used and a ?query (git's ?ref=) comes last:
 *     git::https://host/stated.git//module/scaleway/containers?ref=v1.2.0
 * Terragrunt splits terraform.source at the first "//" of its path the same way and copies what
 * comes before it whole into its cache, so a local path needs a "//" there too; modules calling
 * their siblings (../network) keep working because the whole tree is copied. From one prefix,
 * taken relative to DIR when it is a local path, the renderer writes
 *     --module-source                    tofu main.tf, then a Terragrunt unit
 *     (none: the copy in DIR/modules)    ./modules/containers
 *                                        ../modules//containers
 *     ../../module/scaleway              ../../module/scaleway/containers
 *                                        ../../../module/scaleway//containers
 *     git::https://h/s.git//module/scaleway?ref=v1
 *                                        git::https://h/s.git//module/scaleway/containers?ref=v1
 *     git::https://h/modules.git?ref=v1  git::https://h/modules.git//containers?ref=v1
 * (remote sources come out the same in both formats). A Terragrunt unit sits one directory
 * below DIR, hence the extra ../ for local paths. */

static bool is_local_path(const char *s)
{
    return strncmp(s, "./", 2) == 0 || strncmp(s, "../", 3) == 0;
}

/* True when the first len bytes of s hold a "//" that is not the one of "scheme://". */
static bool has_subdir(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == '/' && s[i + 1] == '/' && (i == 0 || s[i - 1] != ':'))
            return true;
    return false;
}

char *gen_module_source(const char *prefix, const char *component, bool terragrunt)
{
    const char *p = prefix ? prefix : "./modules";
    size_t base = strcspn(p, "?"); /* the query, if any, goes after the component */
    bool local = is_local_path(p);
    const char *up = "";
    if (terragrunt && local) {
        up = "../";
        if (p[1] == '/') { /* "./x" from DIR is "../x" from a unit */
            p += 2;
            base -= 2;
        }
    }
    const char *sep = has_subdir(p, base) || (local && !terragrunt) ? "/" : "//";
    return xasprintf("%s%.*s%s%s%s", up, (int)base, p, sep, component, p + base);
}

int stack_module_source_check(const char *prefix, struct err *err)
{
    size_t base = strcspn(prefix, "?");
    if (base == 0)
        return err_set(err, ERR_INVALID, "module source must not be empty");
    for (const unsigned char *p = (const unsigned char *)prefix; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return err_set(err, ERR_INVALID,
                           "module source contains a space or a control character");
    if (prefix[base - 1] == '/')
        return err_set(err, ERR_INVALID, "module source must not end with /");
    if (prefix[base] && is_local_path(prefix))
        return err_set(err, ERR_INVALID, "a local module source takes no ?query");
    return 0;
}

/* ---- writing a directory ---- */

struct dir_ctx {
    const char *dir, *modules_dir;
    struct stack_written *written;
};

/* Writes one generated file, creating its directory; a file is replaced whole, so an
 * interrupted render never leaves half a file. */
static int write_file(const char *path, const char *data, size_t len, struct err *err)
{
    char *slash = strrchr(path, '/');
    if (slash) {
        char *d = xstrndup(path, (size_t)(slash - path));
        int rc = file_mkdir_p(d, 0755, ERR_WRITE, err);
        free(d);
        if (rc)
            return -1;
    }
    struct file_write_opts how = {.mode = 0644, .durable = false, .code = ERR_WRITE};
    return file_write_atomic(path, data, len, NULL, 0, &how, err);
}

static int on_emit(const char *path, const char *data, size_t len, void *ctx, struct err *err)
{
    struct dir_ctx *d = ctx;
    char *full = xasprintf("%s/%s", d->dir, path);
    int rc = write_file(full, data, len, err);
    if (rc == 0) {
        d->written->files++;
        if (d->written->log)
            buf_printf(d->written->log, NULL, "wrote %s\n", full);
    }
    free(full);
    return rc;
}

/* Copies the module's regular *.tf and README.md files, and the files its HCL reads with
 * file() or templatefile() (*.tftpl, *.json, *.yml: monitoring's dashboard, alert rules and
 * agent template); no subdirectories: modules are flat. */
static int on_copy(const char *component, void *ctx, struct err *err)
{
    struct dir_ctx *d = ctx;
    char *src = xasprintf("%s/%s", d->modules_dir, component);
    DIR *dh = opendir(src);
    if (!dh) {
        err_set_errno(err, ERR_NOT_FOUND, errno, "module sources %s (use --modules-dir)", src);
        free(src);
        return -1;
    }
    int rc = 0;
    size_t copied = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dh))) {
        size_t l = strlen(de->d_name);
        static const char *const exts[] = {".tf", ".tftpl", ".json", ".yml", NULL};
        bool want = strcmp(de->d_name, "README.md") == 0;
        for (const char *const *e = exts; *e && !want; e++)
            want = l > strlen(*e) && strcmp(de->d_name + l - strlen(*e), *e) == 0;
        if (!want || de->d_name[0] == '.')
            continue;
        char *from = xasprintf("%s/%s", src, de->d_name);
        char *to = xasprintf("%s/modules/%s/%s", d->dir, component, de->d_name);
        struct buf b;
        buf_init(&b, 0);
        rc = file_read(from, &b, err);
        if (rc == 0)
            rc = write_file(to, b.data ? b.data : "", b.len, err);
        copied += rc == 0;
        buf_cleanup(&b);
        free(from);
        free(to);
    }
    closedir(dh);
    free(src);
    d->written->modules++;
    d->written->module_files += copied;
    if (d->written->log)
        buf_printf(d->written->log, NULL, "copied %s/modules/%s/ (%zu file%s)\n", d->dir, component,
                   copied, gen_plural(copied));
    return rc;
}

int stackgen_render_dir(const struct stack *s, const struct stack_render_opts *o, const char *dir,
                        struct stack_written *written, struct err *err)
{
    struct stack_written ignored = {0};
    struct dir_ctx d = {
        .dir = dir, .modules_dir = o->modules_dir, .written = written ? written : &ignored};
    struct stack_sink k = {.emit = on_emit, .copy_module = on_copy, .ctx = &d};
    if (file_mkdir_p(dir, 0755, ERR_WRITE, err))
        return -1;
    return stack_render(s, o, &k, err);
}
