/* auth/tokens_doc.c: runtime tokens as one JSON document in the state storage (auth_int.h),
 * for servers without PostgreSQL.
 *
 *   tokens       {"version":1,"tokens":[{"name":…,"role":…,"pattern":…,"sha256":…,
 *                  "created":RFC3339[,"expires":RFC3339]}]}
 *   token-usage  {"version":1,"uses":{"NAME":{"time":RFC3339,"remote":…}}}
 *
 * Changes are read-modify-write of the whole document: re-read first, so that tokens created
 * by other instances on the same storage are kept. Two instances changing it at the same
 * instant may lose one change (not every S3 implementation has conditional writes); with more
 * than one instance, run them on PostgreSQL, where changes are transactions. The change
 * counter is a hash of the document's bytes. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth/auth_int.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"

#define DOC_MAX (16 * 1024 * 1024)

struct doc_store {
    struct token_store base;
    const struct auth_persist *persist;
    pthread_mutex_t mu; /* one change at a time in this process */
};

static struct doc_store *ds(struct token_store *ts)
{
    return (struct doc_store *)ts;
}

/* The document named doc, parsed; NULL with ERR_NOT_FOUND when there is none yet. With hash,
 * its change counter too (0 when there is none). */
static json_t *read_doc(struct doc_store *d, const char *doc, uint64_t *hash, struct err *err)
{
    struct buf b;
    buf_init(&b, DOC_MAX);
    if (hash != NULL)
        *hash = 0;
    if (d->persist->load(d->persist->ctx, doc, &b, err) != 0) {
        buf_cleanup(&b);
        return NULL;
    }
    if (hash != NULL) {
        unsigned char sha[32];
        sha256_raw(b.data, b.len, sha);
        memcpy(hash, sha, sizeof(*hash));
    }
    json_error_t je;
    json_t *root = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
    buf_cleanup(&b);
    if (!json_is_object(root)) {
        json_decref(root);
        err_set(err, ERR_INTERNAL, "the %s document in the storage is not valid JSON", doc);
        return NULL;
    }
    return root;
}

/* The document, or an empty one when there is none yet. */
static json_t *read_or_new(struct doc_store *d, const char *doc, const char *key, struct err *err)
{
    struct err e = {0};
    json_t *root = read_doc(d, doc, NULL, &e);
    if (root == NULL && e.code != ERR_NOT_FOUND) {
        *err = e;
        return NULL;
    }
    if (root == NULL)
        root = json_pack("{s:i,s:o}", "version", 1, key,
                         strcmp(key, "tokens") == 0 ? json_array() : json_object());
    return root;
}

static int write_doc(struct doc_store *d, const char *doc, json_t *root, struct err *err)
{
    char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    if (s == NULL)
        return err_set(err, ERR_INTERNAL, "cannot serialise the %s document", doc);
    int rc = d->persist->save(d->persist->ctx, doc, s, strlen(s), err);
    free(s);
    return rc;
}

static int64_t time_field(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    int64_t us = 0;
    if (s != NULL && time_parse_rfc3339(s, &us) != 0)
        us = 0;
    return us;
}

static bool parse_entry(json_t *e, struct token *t)
{
    const char *name = json_string_value(json_object_get(e, "name"));
    const char *role = json_string_value(json_object_get(e, "role"));
    const char *pattern = json_string_value(json_object_get(e, "pattern"));
    const char *sha = json_string_value(json_object_get(e, "sha256"));
    if (name == NULL || role == NULL || pattern == NULL || sha == NULL || !auth__name_ok(name) ||
        auth_role_parse(role) < 0 || !auth__pattern_ok(pattern) || hex_decode(sha, t->sha, 32) != 0)
        return false;
    snprintf(t->name, sizeof(t->name), "%s", name);
    snprintf(t->pattern, sizeof(t->pattern), "%s", pattern);
    t->role = (enum auth_role)auth_role_parse(role);
    t->source = "store";
    t->created_us = time_field(e, "created");
    t->expires_us = time_field(e, "expires");
    return true;
}

static void apply_uses(json_t *usage, struct token *v, size_t n)
{
    json_t *uses = json_object_get(usage, "uses");
    for (size_t i = 0; i < n; i++) {
        json_t *u = json_object_get(uses, v[i].name);
        const char *from = json_string_value(json_object_get(u, "remote"));
        v[i].last_used_us = time_field(u, "time");
        snprintf(v[i].last_used_from, sizeof(v[i].last_used_from), "%s", from ? from : "");
    }
}

static int doc_load(struct token_store *ts, struct token **v, size_t *n, uint64_t *epoch,
                    struct err *err)
{
    struct doc_store *d = ds(ts);
    struct err e = {0};
    *v = NULL;
    *n = 0;
    json_t *root = read_doc(d, "tokens", epoch, &e);
    if (root == NULL) {
        if (e.code == ERR_NOT_FOUND)
            return 0;
        *err = e;
        return -1;
    }
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(root, "tokens"), i, entry)
    {
        struct token t = {0};
        if (!parse_entry(entry, &t)) {
            log_warn("auth: skipping malformed runtime token entry %zu", i);
            continue;
        }
        *v = xrealloc(*v, (*n + 1) * sizeof(**v));
        (*v)[(*n)++] = t;
    }
    json_decref(root);
    json_t *usage = read_doc(d, "token-usage", NULL, &e);
    apply_uses(usage, *v, *n); /* none yet, or unreadable: uses unknown, not an error */
    json_decref(usage);
    return 0;
}

static int doc_epoch(struct token_store *ts, uint64_t *epoch, struct err *err)
{
    struct err e = {0};
    json_t *root = read_doc(ds(ts), "tokens", epoch, &e);
    json_decref(root);
    if (root == NULL && e.code != ERR_NOT_FOUND) {
        *err = e;
        return -1;
    }
    return 0;
}

static json_t *entry_json(const struct token *t)
{
    char hex[65], created[32];
    hex_encode(t->sha, 32, hex);
    time_format_rfc3339(t->created_us, created);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", t->name, "role", auth_role_name(t->role),
                          "pattern", t->pattern, "sha256", hex, "created", created);
    if (t->expires_us != 0) {
        char expires[32];
        time_format_rfc3339(t->expires_us, expires);
        json_object_set_new(o, "expires", json_string(expires));
    }
    return o;
}

/* The index of the entry named name in the tokens array, or -1. */
static long find_entry(json_t *arr, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return (long)i;
    }
    return -1;
}

static int doc_create(struct token_store *ts, const struct token *t, struct err *err)
{
    struct doc_store *d = ds(ts);
    pthread_mutex_lock(&d->mu);
    int rc = -1;
    json_t *root = read_or_new(d, "tokens", "tokens", err);
    json_t *arr = json_object_get(root, "tokens");
    if (root == NULL) {
        /* err set */
    } else if (!json_is_array(arr)) {
        err_set(err, ERR_INTERNAL, "the tokens document has no token list");
    } else if (find_entry(arr, t->name) >= 0) {
        err_set(err, ERR_INVALID, "a token named '%s' already exists", t->name);
    } else {
        json_array_append_new(arr, entry_json(t));
        rc = write_doc(d, "tokens", root, err);
    }
    json_decref(root);
    pthread_mutex_unlock(&d->mu);
    return rc;
}

static int doc_revoke(struct token_store *ts, const char *name, struct err *err)
{
    struct doc_store *d = ds(ts);
    pthread_mutex_lock(&d->mu);
    int rc = -1;
    struct err e = {0};
    json_t *root = read_doc(d, "tokens", NULL, &e);
    long i = root != NULL ? find_entry(json_object_get(root, "tokens"), name) : -1;
    if (root == NULL && e.code != ERR_NOT_FOUND) {
        *err = e;
    } else if (i < 0) {
        err_set(err, ERR_NOT_FOUND, "no runtime token named '%s'", name);
    } else {
        json_array_remove(json_object_get(root, "tokens"), (size_t)i);
        rc = write_doc(d, "tokens", root, err);
    }
    json_decref(root);
    pthread_mutex_unlock(&d->mu);
    return rc;
}

static int doc_record_uses(struct token_store *ts, const struct token_use *u, size_t n,
                           struct err *err)
{
    struct doc_store *d = ds(ts);
    pthread_mutex_lock(&d->mu);
    json_t *root = read_or_new(d, "token-usage", "uses", err);
    json_t *uses = json_object_get(root, "uses");
    int rc = -1;
    if (json_is_object(uses)) {
        for (size_t i = 0; i < n; i++) {
            if (time_field(json_object_get(uses, u[i].name), "time") >= u[i].us)
                continue; /* another instance saw a later use */
            char t[32];
            time_format_rfc3339(u[i].us, t);
            json_object_set_new(uses, u[i].name,
                                json_pack("{s:s,s:s}", "time", t, "remote", u[i].remote));
        }
        rc = write_doc(d, "token-usage", root, err);
    } else if (root != NULL) {
        err_set(err, ERR_INTERNAL, "the token-usage document has no \"uses\" object");
    }
    json_decref(root);
    pthread_mutex_unlock(&d->mu);
    return rc;
}

static void doc_free(struct token_store *ts)
{
    if (ts == NULL)
        return;
    pthread_mutex_destroy(&ds(ts)->mu);
    free(ts);
}

static const struct token_store_ops doc_ops = {
    .load = doc_load,
    .epoch = doc_epoch,
    .create = doc_create,
    .revoke = doc_revoke,
    .record_uses = doc_record_uses,
    .free = doc_free,
    .source = "store",
    .poll_ms = 10000,
    .flush_ms = 60000,
};

struct token_store *tokens_doc_new(const struct auth_persist *persist)
{
    struct doc_store *d = xcalloc(1, sizeof(*d));
    d->base.ops = &doc_ops;
    d->persist = persist;
    pthread_mutex_init(&d->mu, NULL);
    return &d->base;
}
