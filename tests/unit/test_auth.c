/* tests/unit/test_auth.c: Authorization headers, token files, roles, and the runtime tokens
 * persisted through struct auth_persist (a plain file here). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "common/util.h"
#include "tests/unit/t.h"

static void test_auth_header(void)
{
    char *tok, *user;
    struct err e = {0};
    char *b64 = base64_encode("alice:s3cret-token", 18);
    char hdr[200];
    snprintf(hdr, sizeof(hdr), "Basic %s", b64);
    free(b64);
    CHECK_INT(auth_parse_header(hdr, &tok, &user, &e), 0);
    CHECK_STR(tok, "s3cret-token");
    CHECK_STR(user, "alice");
    free(tok);
    free(user);
    CHECK_INT(auth_parse_header("bearer   tok123  ", &tok, &user, &e), 0);
    CHECK_STR(tok, "tok123");
    CHECK_STR(user, "");
    free(tok);
    free(user);
    /* a password containing ':' keeps everything after the first one */
    b64 = base64_encode("u:a:b", 5);
    snprintf(hdr, sizeof(hdr), "Basic %s", b64);
    free(b64);
    CHECK_INT(auth_parse_header(hdr, &tok, &user, &e), 0);
    CHECK_STR(tok, "a:b");
    free(tok);
    free(user);

    b64 = base64_encode("useronly:", 9);
    char nopass[100];
    snprintf(nopass, sizeof(nopass), "Basic %s", b64);
    free(b64);
    const char *bad[] = {
        NULL, "", "Basic", "Basic !!!", "Basic dXNlcg==", "Digest x=y", "Bearer ", nopass};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_clear(&e);
        tok = user = NULL;
        CHECK_INT(auth_parse_header(bad[i], &tok, &user, &e), -1);
        CHECK_INT(e.code, ERR_AUTH);
        CHECK(tok == NULL && user == NULL);
    }
}

static void test_token_line(void)
{
    char name[AUTH_TOKEN_NAME_MAX], pattern[AUTH_PATTERN_MAX];
    enum auth_role role;
    unsigned char sha[32];
    struct err e = {0};
    char line[300];
    char hex[65];
    sha256_hex("tok", 3, hex);
    snprintf(line, sizeof(line), "  ci write team/* %s  # comment\n", hex);
    CHECK_INT(auth_parse_token_line(line, name, &role, pattern, sha, &e), 0);
    CHECK_STR(name, "ci");
    CHECK_INT(role, ROLE_WRITE);
    CHECK_STR(pattern, "team/*");
    unsigned char want[32];
    sha256_raw("tok", 3, want);
    CHECK_MEM(sha, 32, want, 32);
    CHECK_INT(auth_parse_token_line("# only a comment\n", name, &role, pattern, sha, &e), 1);
    CHECK_INT(auth_parse_token_line("   \n", name, &role, pattern, sha, &e), 1);

    const char *bad[] = {"ci write team/*", "ci owner ** 00", "c!i read ** x", "ci read ** 0123",
                         "a b c d e"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_clear(&e);
        CHECK_INT(auth_parse_token_line(bad[i], name, &role, pattern, sha, &e), -1);
        CHECK_INT(e.code, ERR_INVALID);
    }
    snprintf(line, sizeof(line), "ci read ** %.63s", hex);
    CHECK_INT(auth_parse_token_line(line, name, &role, pattern, sha, &e), -1);
}

static void test_roles(void)
{
    struct auth_identity rd = {.name = "r", .role = ROLE_READ, .pattern = "team/*"};
    struct auth_identity pl = {.name = "p", .role = ROLE_PLAN, .pattern = "team/**"};
    struct auth_identity wr = {.name = "w", .role = ROLE_WRITE, .pattern = "team/**"};
    struct auth_identity ad = {.name = "a", .role = ROLE_ADMIN, .pattern = "nothing"};
    struct auth_identity ou = {.name = "o", .role = ROLE_OUTPUTS, .pattern = "team/*"};
    struct auth_identity me = {.name = "m", .role = ROLE_METRICS, .pattern = "**"};
    CHECK(auth_allows(&rd, AUTH_READ, "team/app"));
    CHECK(!auth_allows(&rd, AUTH_READ, "team/app/prod")); /* '*' stops at '/' */
    CHECK(!auth_allows(&rd, AUTH_LOCK, "team/app"));
    CHECK(!auth_allows(&rd, AUTH_WRITE, "team/app"));
    CHECK(!auth_allows(&rd, AUTH_READ, "other"));
    CHECK(auth_allows(&pl, AUTH_LOCK, "team/app"));
    CHECK(auth_allows(&pl, AUTH_READ, "team/app"));
    CHECK(!auth_allows(&pl, AUTH_WRITE, "team/app"));
    CHECK(auth_allows(&wr, AUTH_WRITE, "team/app/prod"));
    CHECK(auth_allows(&wr, AUTH_READ, "team/x"));
    CHECK(!auth_allows(&wr, AUTH_ADMIN, NULL));
    CHECK(auth_allows(&ad, AUTH_ADMIN, NULL));
    CHECK(auth_allows(&ad, AUTH_WRITE, "anything/at/all"));
    CHECK(auth_allows(&ou, AUTH_READ_OUTPUTS, "team/app"));
    CHECK(!auth_allows(&ou, AUTH_READ, "team/app"));
    CHECK(!auth_allows(&ou, AUTH_LOCK, "team/app"));
    CHECK(!auth_allows(&ou, AUTH_READ_OUTPUTS, "other/app"));
    CHECK(auth_allows(&me, AUTH_METRICS, NULL));
    CHECK(!auth_allows(&me, AUTH_READ, "team/app"));
    CHECK(!auth_allows(&rd, AUTH_METRICS, NULL));
    const char *names[] = {"read", "plan", "write", "admin", "outputs", "metrics"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        CHECK_STR(auth_role_name((enum auth_role)auth_role_parse(names[i])), names[i]);
    CHECK_INT(auth_role_parse("root"), -1);
    char owner[AUTH_OWNER_MAX];
    auth_owner(&wr, owner);
    CHECK_STR(owner, "w");
    struct auth_identity jwt = {.name = "gitlab:platform/net@main", .subject = "project_path:x"};
    auth_owner(&jwt, owner);
    CHECK_STR(owner, "gitlab:platform/net@main sub=project_path:x");
}

static int count_cb(void *ctx, const struct auth_token_info *t)
{
    (void)t;
    (*(int *)ctx)++;
    return 0;
}

static char *basic(const char *user, const char *token)
{
    char up[200];
    snprintf(up, sizeof(up), "%s:%s", user, token);
    char *b = base64_encode(up, strlen(up));
    char *h = xasprintf("Basic %s", b);
    free(b);
    return h;
}

/* auth's documents as files DIR/DOC.json of the test's directory. */
static char *doc_path(void *ctx, const char *doc)
{
    return xasprintf("%s/%s.json", (const char *)ctx, doc);
}

static int file_load(void *ctx, const char *doc, struct buf *out, struct err *err)
{
    char *path = doc_path(ctx, doc);
    FILE *f = fopen(path, "r");
    free(path);
    if (f == NULL)
        return err_set(err, ERR_NOT_FOUND, "no %s file", doc);
    char chunk[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = buf_append(out, chunk, n, err);
    fclose(f);
    return rc;
}

static int file_save(void *ctx, const char *doc, const void *data, size_t len, struct err *err)
{
    char *path = doc_path(ctx, doc);
    FILE *f = fopen(path, "w");
    free(path);
    if (f == NULL || fwrite(data, 1, len, f) != len) {
        if (f != NULL)
            fclose(f);
        return err_set(err, ERR_WRITE, "cannot write the %s file", doc);
    }
    return fclose(f) == 0 ? 0 : err_set(err, ERR_WRITE, "cannot close the %s file", doc);
}

static int authn(const char *header, const char *remote, struct auth_identity *id, struct err *e)
{
    err_clear(e);
    struct auth_request q = {.authorization = header, .remote = remote};
    return auth_authenticate(&q, id, e);
}

static int create(const char *name, const char *role, const char *pattern, int64_t expires_us,
                  char secret[44], struct err *e)
{
    err_clear(e);
    struct auth_token_spec spec = {
        .name = name, .role = role, .pattern = pattern, .expires_us = expires_us};
    return auth_token_create(&spec, secret, e);
}

/* The failure reports auth's thread hands over. */
static struct {
    int n;
    struct auth_failures last;
} reports;

static void on_failures(void *ctx, const struct auth_failures *f)
{
    (void)ctx;
    reports.n++;
    reports.last = *f;
}

static struct auth_persist persist_in(char *dir)
{
    return (struct auth_persist){.load = file_load, .save = file_save, .ctx = dir};
}

static void test_token_store(void)
{
    struct err e = {0};
    char *dir = xstrdup(t_tempdir());
    struct auth_persist st = persist_in(dir);
    struct auth_config cfg = {.persist = &st};
    /* no token source at all: refused */
    CHECK_INT(auth_init(&cfg, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);

    /* a token file */
    char *tf = xasprintf("%s/tokens", dir);
    char hex[65];
    sha256_hex("filetoken-0123456789", 20, hex);
    FILE *f = fopen(tf, "w");
    fprintf(f, "# static tokens\nreader read team/* %s\n", hex);
    fclose(f);
    cfg.admin_token = "admin-secret-0123456789";
    cfg.token_file = tf;
    CHECK_INT(auth_init(&cfg, &e), 0);

    struct auth_identity id;
    char *h = basic("bob", "filetoken-0123456789");
    CHECK_INT(authn(h, "127.0.0.1", &id, &e), 0);
    CHECK_STR(id.name, "reader");
    CHECK_STR(id.username, "bob");
    CHECK_INT(id.role, ROLE_READ);
    free(h);
    CHECK_INT(authn("Bearer admin-secret-0123456789", "127.0.0.1", &id, &e), 0);
    CHECK_STR(id.name, "admin");
    CHECK_INT(id.role, ROLE_ADMIN);
    CHECK_INT(authn("Bearer wrong", "127.0.0.1", &id, &e), -1);
    CHECK_INT(e.code, ERR_AUTH);
    CHECK_INT(authn(NULL, "127.0.0.1", &id, &e), -1);
    /* A JWT without --oidc-config says so. */
    CHECK_INT(authn("Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "127.0.0.1", &id, &e), -1);
    CHECK(strstr(e.msg, "--oidc-config") != NULL);

    /* runtime tokens: created, used, listed, persisted (hash only), revoked */
    char secret[44], scratch[44], secret2[44];
    CHECK_INT(create("ci", "write", "team/**", 0, secret, &e), 0);
    CHECK_INT(strlen(secret), 43);
    CHECK_INT(create("ci", "read", "**", 0, scratch, &e), -1);
    CHECK_INT(create("admin", "read", "**", 0, scratch, &e), -1); /* env name */
    CHECK_INT(create("bad name", "read", "**", 0, scratch, &e), -1);
    CHECK_INT(create("x", "root", "**", 0, scratch, &e), -1);
    CHECK_INT(create("deploy", "plan", "prod/*", 0, secret2, &e), 0);
    h = xasprintf("Bearer %s", secret2);
    CHECK_INT(authn(h, "127.0.0.1", &id, &e), 0);
    CHECK_STR(id.name, "deploy");
    CHECK_STR(id.pattern, "prod/*");
    CHECK_INT(id.role, ROLE_PLAN);

    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(file_load(dir, "tokens", &b, &e), 0);
    CHECK(b.data != NULL && strstr(b.data, secret2) == NULL);
    char hex2[65];
    sha256_hex(secret2, strlen(secret2), hex2);
    CHECK(b.data != NULL && strstr(b.data, hex2) != NULL);
    buf_cleanup(&b);

    int n = 0;
    CHECK_INT(auth_token_list(count_cb, &n, &e), 0);
    CHECK_INT(n, 4); /* admin, reader, ci, deploy */

    CHECK_INT(auth_token_revoke("deploy", &e), 0);
    CHECK_INT(authn(h, "127.0.0.1", &id, &e), -1);
    err_clear(&e);
    CHECK_INT(auth_token_revoke("deploy", &e), -1);
    CHECK_INT(e.code, ERR_NOT_FOUND);
    err_clear(&e);
    CHECK_INT(auth_token_revoke("reader", &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    free(h);

    /* a restart sees the runtime token */
    auth_shutdown();
    cfg.admin_token = NULL;
    cfg.token_file = NULL;
    CHECK_INT(auth_init(&cfg, &e), 0);
    h = xasprintf("Bearer %s", secret);
    CHECK_INT(authn(h, "127.0.0.1", &id, &e), 0);
    CHECK_STR(id.name, "ci");
    free(h);
    auth_shutdown();
    free(tf);
    free(dir);
}

struct seen {
    int64_t last_used_us, expires_us;
    char from[64];
};

static int find_cb(void *ctx, const struct auth_token_info *t)
{
    struct seen *s = ctx;
    if (strcmp(t->name, "short") == 0) {
        s->last_used_us = t->last_used_us;
        s->expires_us = t->expires_us;
        snprintf(s->from, sizeof(s->from), "%s", t->last_used_from);
    }
    return 0;
}

/* Expiry: an expired token is refused by name; the last use is listed at once and stored by
 * the next flush (here: shutdown), so a restart still shows it. */
static void test_expiry_and_last_use(void)
{
    struct err e = {0};
    char *dir = xstrdup(t_tempdir());
    struct auth_persist st = persist_in(dir);
    struct auth_config cfg = {.persist = &st, .admin_token = "admin-secret-0123456789"};
    CHECK_INT(auth_init(&cfg, &e), 0);
    int64_t soon;
    CHECK_INT(auth_parse_expiry("2s", now_us(), &soon, &e), 0);
    char secret[44];
    CHECK_INT(create("short", "read", "**", soon, secret, &e), 0);
    char *h = xasprintf("Bearer %s", secret);
    struct auth_identity id;
    CHECK_INT(authn(h, "192.0.2.10", &id, &e), 0);
    struct seen s = {0};
    CHECK_INT(auth_token_list(find_cb, &s, &e), 0);
    CHECK(s.last_used_us > 0);
    CHECK_STR(s.from, "192.0.2.10");
    CHECK(s.expires_us == soon);
    auth_shutdown(); /* writes the last use */
    CHECK_INT(auth_init(&cfg, &e), 0);
    memset(&s, 0, sizeof(s));
    CHECK_INT(auth_token_list(find_cb, &s, &e), 0);
    CHECK_STR(s.from, "192.0.2.10");
    struct timespec ts = {2, 100 * 1000000};
    nanosleep(&ts, NULL);
    double expired = t_metric("stated_auth_failures_total{reason=\"expired\"}");
    CHECK_INT(authn(h, "192.0.2.10", &id, &e), -1);
    CHECK_INT(e.code, ERR_AUTH);
    CHECK(strstr(e.msg, "token 'short' expired at 20") != NULL);
    CHECK_INT(t_metric("stated_auth_failures_total{reason=\"expired\"}"), expired + 1);
    free(h);
    auth_shutdown();
    /* Durations and times. */
    err_clear(&e);
    int64_t t, now = now_us();
    CHECK_INT(auth_parse_expiry("30d", now, &t, &e), 0);
    CHECK(t == now + 30LL * 86400 * 1000000);
    CHECK_INT(auth_parse_expiry("2999-01-01T00:00:00Z", now, &t, &e), 0);
    CHECK_INT(auth_parse_expiry("2001-01-01T00:00:00Z", now, &t, &e), -1);
    CHECK(strstr(e.msg, "in the past") != NULL);
    err_clear(&e);
    CHECK_INT(auth_parse_expiry("0s", now, &t, &e), -1);
    err_clear(&e);
    CHECK_INT(auth_parse_expiry("soon", now, &t, &e), -1);
    err_clear(&e);
    free(dir);
}

/* Past the limit an address gets ERR_RATE_LIMITED, good credentials included; other addresses
 * are not affected; the minute's failures are one report with the count. */
static void test_failed_login_limit(void)
{
    struct err e = {0};
    char *dir = xstrdup(t_tempdir());
    struct auth_persist st = persist_in(dir);
    struct auth_config cfg = {.persist = &st,
                              .admin_token = "admin-secret-0123456789",
                              .failed_logins_per_minute = 3,
                              .on_failures = on_failures};
    memset(&reports, 0, sizeof(reports));
    CHECK_INT(auth_init(&cfg, &e), 0);
    double unknown = t_metric("stated_auth_failures_total{reason=\"unknown\"}");
    double limited = t_metric("stated_auth_failures_total{reason=\"rate_limited\"}");
    struct auth_identity id;
    for (int i = 0; i < 3; i++) {
        CHECK_INT(authn("Bearer nope", "198.51.100.7", &id, &e), -1);
        CHECK_INT(e.code, ERR_AUTH);
    }
    CHECK_INT(authn("Bearer nope", "198.51.100.7", &id, &e), -1);
    CHECK_INT(e.code, ERR_RATE_LIMITED);
    CHECK_INT(authn("Bearer admin-secret-0123456789", "198.51.100.7", &id, &e), -1);
    CHECK_INT(e.code, ERR_RATE_LIMITED);
    CHECK_INT(authn("Bearer admin-secret-0123456789", "198.51.100.8", &id, &e), 0);
    /* Counted by reason: the three unknown tokens, then the two refusals. */
    CHECK_INT(t_metric("stated_auth_failures_total{reason=\"unknown\"}"), unknown + 3);
    CHECK_INT(t_metric("stated_auth_failures_total{reason=\"rate_limited\"}"), limited + 2);
    CHECK_INT(reports.n, 0); /* the minute is not over */
    auth_shutdown();         /* reports what is open */
    CHECK_INT(reports.n, 1);
    CHECK_STR(reports.last.remote, "198.51.100.7");
    CHECK_INT(reports.last.count, 5);
    CHECK_INT(reports.last.refused, 2);
    CHECK_STR(reports.last.reason, "-: unknown token");
    free(dir);
}

/* No credentials and credentials that are not Basic or Bearer are told apart; a 403 of the
 * server's is counted with them. */
static void test_failure_reasons(void)
{
    struct err e = {0};
    char *dir = xstrdup(t_tempdir());
    struct auth_persist st = persist_in(dir);
    struct auth_config cfg = {.persist = &st, .admin_token = "admin-secret-0123456789"};
    CHECK_INT(auth_init(&cfg, &e), 0);
    struct auth_identity id;
    double missing = t_metric("stated_auth_failures_total{reason=\"missing\"}");
    double malformed = t_metric("stated_auth_failures_total{reason=\"malformed\"}");
    double forbidden = t_metric("stated_auth_failures_total{reason=\"forbidden\"}");
    double jwt = t_metric("stated_auth_failures_total{reason=\"jwt_invalid\"}");
    CHECK_INT(authn(NULL, "198.51.100.9", &id, &e), -1);
    CHECK_INT(authn("Digest x", "198.51.100.9", &id, &e), -1);
    CHECK_INT(authn("Bearer a.b.c", "198.51.100.9", &id, &e), -1); /* a JWT, no issuer */
    auth_count_forbidden();
    CHECK_INT(t_metric("stated_auth_failures_total{reason=\"missing\"}"), missing + 1);
    CHECK_INT(t_metric("stated_auth_failures_total{reason=\"malformed\"}"), malformed + 1);
    CHECK_INT(t_metric("stated_auth_failures_total{reason=\"jwt_invalid\"}"), jwt + 1);
    CHECK_INT(t_metric("stated_auth_failures_total{reason=\"forbidden\"}"), forbidden + 1);
    auth_shutdown();
    free(dir);
}

int main(void)
{
    RUN(test_auth_header);
    RUN(test_token_line);
    RUN(test_roles);
    RUN(test_token_store);
    RUN(test_expiry_and_last_use);
    RUN(test_failed_login_limit);
    RUN(test_failure_reasons);
    return t_report();
}
