/* backend/config.c: stated's options. One table drives parsing (defaults, then environment,
 * then command line), --help and --print-config, so the three never disagree. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "common/log.h"
#include "common/version.h"
#include "common/util.h"

enum opt_type { OPT_STR, OPT_BOOL, OPT_INT, OPT_SIZE, OPT_DURATION, OPT_ACTION };

struct opt {
    const char *name; /* flag without "--" */
    enum opt_type type;
    size_t offset;
    const char *env; /* environment variable or NULL */
    const char *def; /* default as text (NULL: unset) */
    bool secret;     /* redacted by --print-config */
    const char *help;
};

#define F(field) offsetof(struct config, field)

#define ANCHOR_RETENTION_MAX_MS (36500LL * 24 * 3600 * 1000)

static const struct opt opts[] = {
    {"listen", OPT_STR, F(listen), "STATED_LISTEN", "127.0.0.1:8080", false,
     "address and port to listen on (HOST:PORT, [IPv6]:PORT or :PORT for all addresses)"},
    {"metrics-listen", OPT_STR, F(metrics_listen), "STATED_METRICS_LISTEN", "", false,
     "also serve GET /metrics without authentication on this HOST:PORT (plain HTTP; keep it on "
     "loopback or a private network); on --listen /metrics needs the metrics or admin role"},
    {"data-dir", OPT_STR, F(data_dir), "STATED_DATA_DIR", "./data", false,
     "directory for embedded-mode states, locks and audit log"},
    {"storage", OPT_STR, F(storage), "STATED_STORAGE", "", false,
     "where states live: dir:PATH (default: the data dir) or s3://BUCKET[/PREFIX]"},
    {"s3-endpoint", OPT_STR, F(s3_endpoint), "STATED_S3_ENDPOINT", "", false,
     "S3 endpoint URL (default https://s3.REGION.scw.cloud)"},
    {"s3-region", OPT_STR, F(s3_region), "STATED_S3_REGION", "fr-par", false,
     "S3 region used for signing"},
    {"s3-credentials-file", OPT_STR, F(s3_credentials_file), "STATED_S3_CREDENTIALS_FILE", NULL,
     false,
     "file with access_key=... and secret_key=... lines (default: SCW_ACCESS_KEY/SCW_SECRET_KEY "
     "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"},
    {"s3-virtual-host", OPT_BOOL, F(s3_virtual_host), "STATED_S3_VIRTUAL_HOST", "false", false,
     "address the bucket as BUCKET.HOST instead of HOST/BUCKET"},
    {"locks", OPT_STR, F(locks), "STATED_LOCKS", "embedded", true,
     "lock and audit store: embedded, or a PostgreSQL URL/conninfo (also read from DATABASE_URL)"},
    {"lock-ttl", OPT_DURATION, F(lock_ttl_ms), "STATED_LOCK_TTL", "1h", false,
     "lock lease length after the last renewal (at most 1h)"},
    {"max-state-bytes", OPT_SIZE, F(max_state_bytes), "STATED_MAX_STATE_BYTES", "256M", false,
     "largest accepted state body (K/M/G suffixes); larger ones get 413"},
    {"tls-cert", OPT_STR, F(tls_cert), "STATED_TLS_CERT", NULL, false,
     "PEM certificate chain: serve HTTPS"},
    {"tls-key", OPT_STR, F(tls_key), "STATED_TLS_KEY", NULL, false,
     "PEM private key for --tls-cert"},
    {"http2", OPT_BOOL, F(http2), "STATED_HTTP2", "false", false,
     "also speak HTTP/2 (offered over TLS by ALPN, and to clients opening with its preface); "
     "over HTTP/2 a body above --max-state-bytes resets the stream instead of answering 413"},
    {"client-ca", OPT_STR, F(client_ca), "STATED_CLIENT_CA", NULL, false,
     "PEM CA bundle: require and verify client certificates (mTLS)"},
    {"log-format", OPT_STR, F(log_format), "STATED_LOG_FORMAT", "text", false, "text or json"},
    {"log-level", OPT_STR, F(log_level), "STATED_LOG_LEVEL", "info", false,
     "error, warn, info or debug"},
    {"idle-timeout", OPT_DURATION, F(idle_timeout_ms), "STATED_IDLE_TIMEOUT", "60s", false,
     "drop a connection idle this long: a request head not complete, no byte of a body, an "
     "answer not read (408 when a request was under way); also the keep-alive limit"},
    {"threads", OPT_INT, F(threads), "STATED_THREADS", "2", false, "HTTP event-loop threads"},
    {"workers", OPT_INT, F(workers), "STATED_WORKERS", "8", false,
     "worker threads for storage, lock and audit calls"},
    {"force-unlock", OPT_STR, F(force_unlock), "STATED_FORCE_UNLOCK", "holder-or-admin", false,
     "who may force-unlock (UNLOCK with an empty body or only an ID): holder-or-admin (the "
     "identity that took the lock, or an admin; others get 403), any (every writer) or never "
     "(423)"},
    {"no-force-unlock", OPT_BOOL, F(no_force_unlock), "STATED_NO_FORCE_UNLOCK", "false", false,
     "the same as --force-unlock=never"},
    {"audit-failure", OPT_STR, F(audit_failure), "STATED_AUDIT_FAILURE", "closed", false,
     "when an audit event cannot be made durable: closed (refuse with 503, change nothing) or "
     "open (answer anyway, log and count the lost event)"},
    {"audit-anchor-every", OPT_INT, F(audit_anchor_every), "STATED_AUDIT_ANCHOR_EVERY", "1000",
     false, "write an audit anchor (the chain head) to the object store after this many events"},
    {"audit-anchor-interval", OPT_DURATION, F(audit_anchor_interval_ms),
     "STATED_AUDIT_ANCHOR_INTERVAL", "60s", false,
     "write an audit anchor at least this often while events come (whichever comes first)"},
    {"audit-anchor-retention", OPT_DURATION, F(audit_anchor_retention_ms),
     "STATED_AUDIT_ANCHOR_RETENTION", "400d", false,
     "on a bucket with S3 Object Lock, write each anchor in COMPLIANCE mode, undeletable for this "
     "long (0: ordinary objects); given explicitly, a storage without Object Lock refuses to "
     "start"},
    {"audit-signing-key-file", OPT_STR, F(audit_signing_key_file), "STATED_AUDIT_SIGNING_KEY_FILE",
     NULL, false,
     "Ed25519 private key (PEM, openssl genpkey -algorithm ed25519): sign every audit anchor"},
    {"oidc-config", OPT_STR, F(oidc_config), "STATED_OIDC_CONFIG", NULL, false,
     "JSON file of trusted OIDC issuers and the rules that map their JWTs' claims to a role and "
     "states (docs/oidc.md)"},
    {"trusted-proxies", OPT_STR, F(trusted_proxies), "STATED_TRUSTED_PROXIES", "", false,
     "comma-separated addresses or CIDRs of proxies whose X-Forwarded-For names the client"},
    {"failed-logins-per-minute", OPT_INT, F(failed_logins_per_minute),
     "STATED_FAILED_LOGINS_PER_MINUTE", "20", false,
     "failed logins a client address may make per minute before 429 (0: no limit)"},
    {"encryption-key-file", OPT_STR, F(encryption_key_file), "STATED_ENCRYPTION_KEY_FILE", NULL,
     false,
     "encrypt objects at rest (AES-256-GCM): one base64 32-byte key per line, first encrypts "
     "(without a file, STATED_ENCRYPTION_KEY may hold the keys themselves)"},
    {"retain-snapshots", OPT_INT, F(retain_snapshots), "STATED_RETAIN_SNAPSHOTS", "0", false,
     "keep at most N snapshots per state (0: all)"},
    {"retain-days", OPT_INT, F(retain_days), "STATED_RETAIN_DAYS", "0", false,
     "drop snapshots older than D days, never the newest (0: keep)"},
    {"token-file", OPT_STR, F(token_file), "STATED_TOKEN_FILE", NULL, false,
     "static tokens, one per line: NAME ROLE PATTERN SHA256HEX"},
    {"admin-token", OPT_STR, F(admin_token), "STATED_ADMIN_TOKEN", NULL, true,
     "(environment only) bootstrap admin token: name admin, role admin, pattern **"},
    {"session-key-file", OPT_STR, F(session_key_file), "STATED_SESSION_KEY_FILE", NULL, false,
     "keys sealing console session cookies (AES-256-GCM), one base64 32-byte key per line, first "
     "seals; share it so sessions survive restarts and span instances (without a file, "
     "STATED_SESSION_KEY may hold the keys; else a random key per process)"},
    {"session-idle", OPT_DURATION, F(session_idle_ms), "STATED_SESSION_IDLE", "1h", false,
     "a console session unused this long ends"},
    {"session-max", OPT_DURATION, F(session_max_ms), "STATED_SESSION_MAX", "12h", false,
     "a console session ends this long after sign-in, however used"},
    {"webhooks", OPT_STR, F(webhooks), "STATED_WEBHOOKS", NULL, false,
     "JSON file listing webhooks told of state writes, deletes, restores, moves and lock events, "
     "signed with HMAC-SHA256 (docs/webhooks.md)"},
    {"stale-lock-after", OPT_DURATION, F(stale_lock_after_ms), "STATED_STALE_LOCK_AFTER", "30m",
     false,
     "a lock held longer than this is reported once, as a lock-stale audit event (and "
     "lock.stale webhook)"},
    {"print-config", OPT_ACTION, F(print_config), NULL, NULL, false,
     "print the effective configuration (secrets redacted) and exit"},
    {"version", OPT_ACTION, 0, NULL, NULL, false, "print the version and exit"},
    {"help", OPT_ACTION, 0, NULL, NULL, false, "print this help and exit"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* Where each option's value came from, for --print-config. */
static const char *origin[NOPTS];

static void bad(const char *name, const char *value, const char *why)
{
    if (value == NULL || value[0] == '\0')
        fprintf(stderr, "stated: invalid --%s: %s (see stated --help)\n", name, why);
    else
        fprintf(stderr, "stated: invalid value '%s' for --%s: %s (see stated --help)\n", value,
                name, why);
    exit(2);
}

static void set_value(struct config *cfg, const struct opt *o, const char *v)
{
    char *base = (char *)cfg;
    switch (o->type) {
    case OPT_STR: {
        char **p = (char **)(base + o->offset);
        free(*p);
        *p = xstrdup(v);
        break;
    }
    case OPT_BOOL: {
        bool *p = (bool *)(base + o->offset);
        if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
            strcmp(v, "on") == 0)
            *p = true;
        else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
                 strcmp(v, "off") == 0 || v[0] == '\0')
            *p = false;
        else
            bad(o->name, v, "expected true or false");
        break;
    }
    case OPT_INT: {
        char *end;
        long long n = strtoll(v, &end, 10);
        if (v[0] == '\0' || *end != '\0' || n < 0 || n > 1000000)
            bad(o->name, v, "expected a non-negative integer");
        *(int64_t *)(base + o->offset) = n;
        break;
    }
    case OPT_SIZE:
        if (parse_size(v, (uint64_t *)(base + o->offset)) != 0)
            bad(o->name, v, "expected a size such as 256M");
        break;
    case OPT_DURATION:
        if (parse_duration_ms(v, (int64_t *)(base + o->offset)) != 0)
            bad(o->name, v, "expected a duration such as 30m or 1h");
        break;
    case OPT_ACTION:
        break;
    }
}

void config_usage(FILE *out)
{
    fprintf(out,
            "usage: stated [OPTION...]\n\n"
            "Terraform/OpenTofu HTTP state server. Options (environment variable, default):\n\n");
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &opts[i];
        if (strcmp(o->name, "admin-token") == 0) {
            fprintf(out, "  %-24s %s\n", "STATED_ADMIN_TOKEN", o->help);
            continue;
        }
        const char *arg = o->type == OPT_BOOL || o->type == OPT_ACTION ? "" : "=VALUE";
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s%s", o->name, arg);
        fprintf(out, "  %-24s %s", flag, o->help);
        if (o->env != NULL || (o->def != NULL && o->def[0] != '\0')) {
            fprintf(out, " [");
            if (o->env != NULL)
                fprintf(out, "%s", o->env);
            if (o->def != NULL && o->def[0] != '\0')
                fprintf(out, "%sdefault %s", o->env != NULL ? ", " : "", o->def);
            fprintf(out, "]");
        }
        fputc('\n', out);
    }
    fprintf(out, "\nBoolean flags also take --flag=true|false. Exit status 2 on a bad option.\n");
}

static const struct opt *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

static const char *const force_unlock_names[] = {
    [FORCE_UNLOCK_HOLDER_OR_ADMIN] = "holder-or-admin",
    [FORCE_UNLOCK_ANY] = "any",
    [FORCE_UNLOCK_NEVER] = "never",
};

static void resolve_force_unlock(struct config *cfg)
{
    size_t n = sizeof(force_unlock_names) / sizeof(force_unlock_names[0]), i;
    for (i = 0; i < n && strcmp(cfg->force_unlock, force_unlock_names[i]) != 0; i++)
        ;
    if (i == n)
        bad("force-unlock", cfg->force_unlock, "expected holder-or-admin, any or never");
    cfg->force_unlock_policy =
        cfg->no_force_unlock ? FORCE_UNLOCK_NEVER : (enum force_unlock_policy)i;
}

static void validate(struct config *cfg)
{
    resolve_force_unlock(cfg);
    if (strcmp(cfg->audit_failure, "closed") != 0 && strcmp(cfg->audit_failure, "open") != 0)
        bad("audit-failure", cfg->audit_failure, "expected closed or open");
    cfg->audit_closed = strcmp(cfg->audit_failure, "closed") == 0;
    if (cfg->audit_anchor_every < 1)
        bad("audit-anchor-every", "", "must be at least 1");
    if (cfg->audit_anchor_interval_ms < 1000)
        bad("audit-anchor-interval", "", "must be at least 1s");
    if (cfg->audit_anchor_retention_ms != 0 &&
        (cfg->audit_anchor_retention_ms < 1000 ||
         cfg->audit_anchor_retention_ms > ANCHOR_RETENTION_MAX_MS))
        bad("audit-anchor-retention", "", "must be 0 (off), or between 1s and 36500d");
    if (cfg->lock_ttl_ms <= 0 || cfg->lock_ttl_ms > LOCK_TTL_MAX_US / 1000)
        bad("lock-ttl", "", "must be above 0 and at most 1h");
    if (cfg->max_state_bytes < 1024)
        bad("max-state-bytes", "", "must be at least 1K");
    if (cfg->idle_timeout_ms < 100 || cfg->idle_timeout_ms > 3600 * 1000)
        bad("idle-timeout", "", "must be between 100ms and 1h");
    if (cfg->threads < 1 || cfg->threads > 64)
        bad("threads", "", "must be 1-64");
    if (cfg->workers < 1 || cfg->workers > 1024)
        bad("workers", "", "must be 1-1024");
    if (strcmp(cfg->log_format, "text") != 0 && strcmp(cfg->log_format, "json") != 0)
        bad("log-format", cfg->log_format, "expected text or json");
    if (log_level_parse(cfg->log_level) < 0)
        bad("log-level", cfg->log_level, "expected error, warn, info or debug");
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
        bad(cfg->tls_cert == NULL ? "tls-cert" : "tls-key", "",
            "--tls-cert and --tls-key go together");
    if (cfg->client_ca != NULL && cfg->tls_cert == NULL)
        bad("client-ca", cfg->client_ca, "needs --tls-cert and --tls-key");
    if (cfg->listen[0] == '\0' || strrchr(cfg->listen, ':') == NULL)
        bad("listen", cfg->listen, "expected HOST:PORT");
    if (cfg->metrics_listen[0] != '\0' && strrchr(cfg->metrics_listen, ':') == NULL)
        bad("metrics-listen", cfg->metrics_listen, "expected HOST:PORT");
    if (strcmp(cfg->locks, "embedded") != 0 && strncmp(cfg->locks, "postgres://", 11) != 0 &&
        strncmp(cfg->locks, "postgresql://", 13) != 0 && strchr(cfg->locks, '=') == NULL)
        bad("locks", NULL,
            "expected embedded, a postgres:// URL or a libpq conninfo (host=... dbname=...)");
    if (cfg->session_idle_ms < 1000 || cfg->session_idle_ms > cfg->session_max_ms)
        bad("session-idle", "", "must be at least 1s and at most --session-max");
    if (cfg->session_max_ms > 30LL * 24 * 3600 * 1000)
        bad("session-max", "", "must be at most 30d");
    if (cfg->data_dir[0] == '\0')
        bad("data-dir", cfg->data_dir, "must not be empty");
    struct net_cidrs proxies;
    struct err e = {0};
    if (net_cidrs_parse(cfg->trusted_proxies, &proxies, &e) != 0)
        bad("trusted-proxies", cfg->trusted_proxies, e.msg);
    net_cidrs_cleanup(&proxies);
}

static size_t retention_opt(void)
{
    const char *name = "audit-anchor-retention";
    return (size_t)(find_opt(name, strlen(name)) - opts);
}

void config_parse(struct config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NOPTS; i++) {
        origin[i] = "default";
        if (opts[i].def != NULL)
            set_value(cfg, &opts[i], opts[i].def);
    }
    for (size_t i = 0; i < NOPTS; i++) {
        const char *v = opts[i].env != NULL ? getenv(opts[i].env) : NULL;
        /* DATABASE_URL is the conventional name on platforms that inject a database. */
        if (v == NULL && strcmp(opts[i].name, "locks") == 0) {
            v = getenv("DATABASE_URL");
            if (v != NULL && v[0] != '\0')
                origin[i] = "env DATABASE_URL";
        } else if (v != NULL) {
            origin[i] = opts[i].env;
        }
        if (v != NULL && (v[0] != '\0' || opts[i].type == OPT_STR))
            set_value(cfg, &opts[i], v);
        else if (v != NULL)
            origin[i] = "default";
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "stated: unexpected argument '%s' (see stated --help)\n", arg);
            exit(2);
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = find_opt(name, nlen);
        if (o == NULL || strcmp(o->name, "admin-token") == 0) {
            fprintf(stderr, "stated: unknown option '--%.*s' (see stated --help)\n", (int)nlen,
                    name);
            exit(2);
        }
        size_t idx = (size_t)(o - opts);
        if (o->type == OPT_ACTION) {
            if (strcmp(o->name, "help") == 0) {
                config_usage(stdout);
                exit(0);
            }
            if (strcmp(o->name, "version") == 0) {
                printf("stated %s\n", STATED_VERSION);
                exit(0);
            }
            cfg->print_config = true;
            continue;
        }
        const char *v;
        if (eq != NULL)
            v = eq + 1;
        else if (o->type == OPT_BOOL)
            v = "true";
        else if (a + 1 < argc)
            v = argv[++a];
        else
            bad(o->name, "", "a value is required");
        set_value(cfg, o, v);
        origin[idx] = "flag";
    }
    cfg->audit_anchor_retention_set = strcmp(origin[retention_opt()], "default") != 0;
    validate(cfg);
}

/* A conninfo may carry a password; an S3 credential never appears here. */
static void print_value(const struct config *cfg, const struct opt *o)
{
    const char *base = (const char *)cfg;
    switch (o->type) {
    case OPT_STR: {
        const char *v = *(char *const *)(base + o->offset);
        if (v == NULL)
            printf("(unset)");
        else if (o->secret && strcmp(v, "embedded") != 0)
            printf("(set, redacted)");
        else
            printf("%s", v);
        break;
    }
    case OPT_BOOL:
        printf("%s", *(const bool *)(base + o->offset) ? "true" : "false");
        break;
    case OPT_INT:
        printf("%lld", (long long)*(const int64_t *)(base + o->offset));
        break;
    case OPT_SIZE:
        printf("%llu", (unsigned long long)*(const uint64_t *)(base + o->offset));
        break;
    case OPT_DURATION:
        printf("%lldms", (long long)*(const int64_t *)(base + o->offset));
        break;
    case OPT_ACTION:
        break;
    }
}

void config_print(const struct config *cfg)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].type == OPT_ACTION)
            continue;
        printf("%-20s = ", opts[i].name);
        print_value(cfg, &opts[i]);
        printf("    # %s\n", origin[i]);
    }
}

void config_cleanup(struct config *cfg)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].type == OPT_STR) {
            char **p = (char **)((char *)cfg + opts[i].offset);
            free(*p);
            *p = NULL;
        }
    }
}
