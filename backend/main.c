/* backend/main.c: stated's entry point: configuration, storage, locks, audit, tokens, server. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "s3/s3.h"
#include "common/file.h"
#include "common/log.h"
#include "common/util.h"

static void fatal(const char *what, const struct err *e)
{
    fprintf(stderr, "stated: %s: %s\n", what, e->msg[0] != '\0' ? e->msg : err_text(e->code));
    exit(1);
}

static struct objstore *open_objstore(const struct config *cfg, struct err *err)
{
    if (cfg->storage == NULL || cfg->storage[0] == '\0')
        return objstore_dir_new(cfg->data_dir, err);
    char *kind = NULL, *where = NULL, *prefix = NULL;
    struct objstore *os = NULL;
    if (storage_url_parse(cfg->storage, &kind, &where, &prefix, err) != 0)
        return NULL;
    if (strcmp(kind, "dir") == 0) {
        os = objstore_dir_new(where, err);
    } else {
        char *access = NULL, *secret = NULL, *endpoint = NULL;
        if (s3_credentials_find(cfg->s3_credentials_file, &access, &secret, err) != 0)
            goto s3_out;
        endpoint = cfg->s3_endpoint != NULL && cfg->s3_endpoint[0] != '\0'
                       ? xstrdup(cfg->s3_endpoint)
                       : xasprintf("https://s3.%s.scw.cloud", cfg->s3_region);
        struct s3_config sc = {.endpoint = endpoint,
                               .region = cfg->s3_region,
                               .bucket = where,
                               .prefix = prefix != NULL ? prefix : "",
                               .access_key = access,
                               .secret_key = secret,
                               .virtual_host = cfg->s3_virtual_host,
                               .connect_timeout_ms = 5000,
                               .timeout_ms = 120000,
                               .max_retries = 3};
        os = objstore_s3_new(&sc, err);
    s3_out:
        if (secret != NULL)
            memset(secret, 0, strlen(secret));
        free(access);
        free(secret);
        free(endpoint);
    }
    free(kind);
    free(where);
    free(prefix);
    return os;
}

/* The encryption keys: from --encryption-key-file, else from STATED_ENCRYPTION_KEY (serverless
 * containers have no files for secrets: the keys come as one variable), else none. */
static struct keyring *open_keys(const struct config *cfg)
{
    struct err e = {0};
    struct keyring *keys = NULL;
    const char *inline_keys = getenv("STATED_ENCRYPTION_KEY");
    if (cfg->encryption_key_file != NULL && cfg->encryption_key_file[0] != '\0') {
        keys = keyring_load(cfg->encryption_key_file, &e);
        if (keys == NULL)
            fatal("--encryption-key-file", &e);
    } else if (inline_keys != NULL && inline_keys[0] != '\0') {
        keys = keyring_parse(inline_keys, "STATED_ENCRYPTION_KEY", &e);
        if (keys == NULL)
            fatal("STATED_ENCRYPTION_KEY", &e);
    }
    return keys;
}

/* The keys sealing console sessions: --session-key-file, else STATED_SESSION_KEY, else one
 * random key for this process only (sessions then end with it and work on this instance
 * only, which the log says once). */
static struct keyring *open_session_keys(const struct config *cfg)
{
    struct err e = {0};
    struct keyring *keys;
    const char *inline_keys = getenv("STATED_SESSION_KEY");
    if (cfg->session_key_file != NULL && cfg->session_key_file[0] != '\0') {
        if ((keys = keyring_load(cfg->session_key_file, &e)) == NULL)
            fatal("--session-key-file", &e);
        return keys;
    }
    if (inline_keys != NULL && inline_keys[0] != '\0') {
        if ((keys = keyring_parse(inline_keys, "STATED_SESSION_KEY", &e)) == NULL)
            fatal("STATED_SESSION_KEY", &e);
        return keys;
    }
    unsigned char raw[32];
    random_bytes(raw, sizeof(raw));
    char *b64 = base64_encode(raw, sizeof(raw));
    keys = keyring_parse(b64, "random session key", &e);
    memset(raw, 0, sizeof(raw));
    memset(b64, 0, strlen(b64));
    free(b64);
    if (keys == NULL)
        fatal("session key", &e);
    log_info("console sessions use a random key of this process (no --session-key-file or "
             "STATED_SESSION_KEY): they do not survive a restart nor span instances");
    return keys;
}

/* The Object Lock retention of anchors (0: none), from the storage's Object Lock, looked at
 * once here, before anything is served. The default applies only where the bucket has Object
 * Lock; an explicit --audit-anchor-retention on a storage without it stops the start. */
static int64_t anchor_retention(const struct config *cfg, struct objstore *os)
{
    bool locked = false;
    struct err e = {0};
    if (cfg->audit_anchor_retention_ms == 0)
        return 0;
    if (os->ops->object_lock != NULL && os->ops->object_lock(os, &locked, &e) != 0) {
        if (cfg->audit_anchor_retention_set)
            fatal("--audit-anchor-retention", &e);
        log_warn("audit anchors are ordinary objects: cannot read the bucket's Object Lock "
                 "configuration (%s)",
                 e.msg);
        return 0;
    }
    if (locked) {
        int64_t s = cfg->audit_anchor_retention_ms / 1000;
        log_info("audit anchors are written under S3 Object Lock (COMPLIANCE) for %lld%s",
                 (long long)(s % 86400 == 0 ? s / 86400 : s), s % 86400 == 0 ? "d" : "s");
        return cfg->audit_anchor_retention_ms;
    }
    if (cfg->audit_anchor_retention_set) {
        err_set(&e, ERR_INVALID,
                "the %s has no S3 Object Lock: create the bucket with it (aws s3api "
                "create-bucket --object-lock-enabled-for-bucket, or the Scaleway console) or "
                "drop the option",
                os->ops->object_lock != NULL ? "bucket" : "embedded storage");
        fatal("--audit-anchor-retention", &e);
    }
    log_info("audit anchors are ordinary objects (the storage has no S3 Object Lock): protect "
             "audit/anchors/ with a bucket policy");
    return 0;
}

/* The anchor writer; the signing key is kept in ops for verify to check anchors with. */
static struct anchorer *start_anchors(const struct config *cfg, struct objstore *os,
                                      struct auditlog *al, struct ops *o)
{
    static char instance[64];
    char host[48] = "";
    struct err e = {0};
    gethostname(host, sizeof(host) - 1);
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.'))
            *p = '-';
    snprintf(instance, sizeof(instance), "%s-%ld", host[0] ? host : "stated", (long)getpid());
    if (cfg->audit_signing_key_file != NULL &&
        (o->audit_key = audit_key_load(cfg->audit_signing_key_file, true, &e)) == NULL)
        fatal("--audit-signing-key-file", &e);
    struct anchorer_config ac = {.os = os,
                                 .audit = al,
                                 .every = (uint64_t)cfg->audit_anchor_every,
                                 .interval_ms = cfg->audit_anchor_interval_ms,
                                 .instance = instance,
                                 .signing_key = o->audit_key,
                                 .retention_ms = anchor_retention(cfg, store_objstore(o->store))};
    struct anchorer *an = anchorer_start(&ac, &e);
    if (an == NULL && e.code != ERR_OK)
        fatal("audit anchors", &e);
    return an;
}

/* Locks and audit live together: under the data dir (embedded), or in one PostgreSQL. */
static bool locks_in_postgres(const struct config *cfg)
{
    return strcmp(cfg->locks, "embedded") != 0 && cfg->locks[0] != '\0';
}

static void open_locks_and_audit(const struct config *cfg, struct lockstore **ls,
                                 struct auditlog **al)
{
    struct err e = {0};
    int64_t ttl_us = cfg->lock_ttl_ms * 1000;
    if (!locks_in_postgres(cfg)) {
        *ls = lockstore_embedded_new(cfg->data_dir, ttl_us, &e);
        if (*ls == NULL)
            fatal("locks", &e);
        *al = auditlog_jsonl_new(cfg->data_dir, &e);
    } else {
        *ls = lockstore_pg_new(cfg->locks, ttl_us, &e);
        if (*ls == NULL)
            fatal("locks (PostgreSQL)", &e);
        *al = auditlog_pg_new(cfg->locks, &e);
    }
    if (*al == NULL)
        fatal("audit log", &e);
}

/* auth's documents (runtime tokens without PostgreSQL, their last uses) live in the state
 * storage, so every instance on it shares them: config/DOC.json. */
static int auth_doc_load(void *ctx, const char *doc, struct buf *out, struct err *err)
{
    char key[64];
    snprintf(key, sizeof(key), "config/%s.json", doc);
    return store_get_blob(ctx, key, out, err);
}

static int auth_doc_save(void *ctx, const char *doc, const void *data, size_t len, struct err *err)
{
    char key[64];
    snprintf(key, sizeof(key), "config/%s.json", doc);
    return store_put_blob(ctx, key, data, len, err);
}

/* The webhooks are checked before anything is served: a bad file stops the start. */
static struct webhooks *start_webhooks(const struct config *cfg, struct auditlog *al,
                                       struct lockstore *ls)
{
    struct err e = {0};
    struct webhook_list *l = NULL;
    if (cfg->webhooks != NULL && cfg->webhooks[0] != '\0') {
        struct buf b;
        buf_init(&b, 1 << 20);
        if (file_read(cfg->webhooks, &b, &e) != 0)
            fatal("--webhooks", &e);
        l = webhooks_parse(b.data, b.len, true, &e);
        buf_cleanup(&b);
        if (l == NULL)
            fatal("--webhooks", &e);
    }
    struct webhooks *wh = webhooks_start(l, al, ls, cfg->data_dir, cfg->stale_lock_after_ms, &e);
    if (wh == NULL)
        fatal("webhooks", &e);
    return wh;
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct err e = {0};
    config_parse(&cfg, argc, argv);
    if (cfg.print_config) {
        config_print(&cfg);
        config_cleanup(&cfg);
        return 0;
    }
    log_setup((enum log_level)log_level_parse(cfg.log_level),
              strcmp(cfg.log_format, "json") == 0 ? LOG_JSON : LOG_TEXT);

    /* Mode 0700: states and audit logs are not for other local users. */
    if (file_mkdir_p(cfg.data_dir, 0700, ERR_INVALID, &e) != 0)
        fatal("--data-dir", &e);
    struct keyring *keys = open_keys(&cfg);
    struct objstore *os = open_objstore(&cfg, &e);
    if (os == NULL)
        fatal("storage", &e);
    struct store_config sc = {.max_state_bytes = cfg.max_state_bytes,
                              .retain_snapshots = (unsigned)cfg.retain_snapshots,
                              .retain_days = (unsigned)cfg.retain_days,
                              .keys = keys};
    struct store *st = store_new(os, &sc, &e);
    if (st == NULL)
        fatal("storage", &e);

    struct lockstore *ls;
    struct auditlog *al;
    open_locks_and_audit(&cfg, &ls, &al);

    struct server srv = {.cfg = &cfg,
                         .ops = {.store = st,
                                 .locks = ls,
                                 .audit = al,
                                 .max_state_bytes = cfg.max_state_bytes,
                                 .audit_closed = cfg.audit_closed,
                                 .force_unlock = cfg.force_unlock_policy}};
    srv.session_keys = open_session_keys(&cfg);
    if (net_cidrs_parse(cfg.trusted_proxies, &srv.trusted_proxies, &e) != 0)
        fatal("trusted proxies", &e); /* config_parse checked it already */

    struct auth_persist docs = {.load = auth_doc_load, .save = auth_doc_save, .ctx = st};
    struct auth_config ac = {.persist = &docs,
                             .pg_conninfo = locks_in_postgres(&cfg) ? cfg.locks : NULL,
                             .admin_token = cfg.admin_token,
                             .token_file = cfg.token_file,
                             .oidc_config = cfg.oidc_config,
                             .failed_logins_per_minute = (unsigned)cfg.failed_logins_per_minute,
                             .on_failures = backend_audit_failed_logins,
                             .ctx = &srv};
    if (auth_init(&ac, &e) != 0)
        fatal("tokens", &e);
    log_info("storage %s, locks %s, audit %s, lock ttl %llds, max state %llu bytes%s",
             store_objstore(st)->ops->kind, ls->ops->kind, al->ops->kind,
             (long long)(cfg.lock_ttl_ms / 1000), (unsigned long long)cfg.max_state_bytes,
             keys != NULL ? ", encrypted at rest" : "");
    srv.webhooks = start_webhooks(&cfg, al, ls);
    struct anchorer *anchors = start_anchors(&cfg, os, al, &srv.ops);
    backend_metrics_init(&srv);
    server_set_metrics_routes(backend_metrics_routes, backend_metrics_nroutes);
    int rc = server_run(&srv, backend_routes, backend_nroutes, &e);
    if (rc < 0)
        fatal("server", &e);
    if (rc > 0)
        return 0; /* requests still running after the drain timeout: exit without freeing */
    webhooks_stop(srv.webhooks);
    anchorer_stop(anchors);
    audit_key_free(srv.ops.audit_key);
    auth_shutdown();
    net_cidrs_cleanup(&srv.trusted_proxies);
    al->ops->free(al);
    ls->ops->free(ls);
    store_free(st);
    keyring_free(keys);
    keyring_free(srv.session_keys);
    config_cleanup(&cfg);
    return 0;
}
