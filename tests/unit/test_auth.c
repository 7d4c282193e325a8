/* tests/unit/test_auth.c: Authorization headers, token files, roles, and the runtime tokens
 * persisted through struct auth_persist (a plain file here). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    char name[AUTH_NAME_MAX], pattern[AUTH_PATTERN_MAX];
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

/* The runtime tokens document in a file of the test's directory. */
static int file_load(void *ctx, struct buf *out, struct err *err)
{
    FILE *f = fopen(ctx, "r");
    if (f == NULL)
        return err_set(err, ERR_NOT_FOUND, "no tokens file");
    char chunk[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = buf_append(out, chunk, n, err);
    fclose(f);
    return rc;
}

static int file_save(void *ctx, const void *data, size_t len, struct err *err)
{
    FILE *f = fopen(ctx, "w");
    if (f == NULL || fwrite(data, 1, len, f) != len) {
        if (f != NULL)
            fclose(f);
        return err_set(err, ERR_WRITE, "cannot write the tokens file");
    }
    return fclose(f) == 0 ? 0 : err_set(err, ERR_WRITE, "cannot close the tokens file");
}

static void test_token_store(void)
{
    struct err e = {0};
    const char *dir = t_tempdir();
    char *doc = xasprintf("%s/tokens.json", dir);
    struct auth_persist st = {.load = file_load, .save = file_save, .ctx = doc};
    /* no token source at all: refused */
    CHECK_INT(auth_init(&st, NULL, NULL, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);

    /* a token file */
    char *tf = xasprintf("%s/tokens", dir);
    char hex[65];
    sha256_hex("filetoken-0123456789", 20, hex);
    FILE *f = fopen(tf, "w");
    fprintf(f, "# static tokens\nreader read team/* %s\n", hex);
    fclose(f);
    CHECK_INT(auth_init(&st, "admin-secret-0123456789", tf, &e), 0);

    struct auth_identity id;
    char *h = basic("bob", "filetoken-0123456789");
    CHECK_INT(auth_authenticate(h, &id, &e), 0);
    CHECK_STR(id.name, "reader");
    CHECK_STR(id.username, "bob");
    CHECK_INT(id.role, ROLE_READ);
    free(h);
    CHECK_INT(auth_authenticate("Bearer admin-secret-0123456789", &id, &e), 0);
    CHECK_STR(id.name, "admin");
    CHECK_INT(id.role, ROLE_ADMIN);
    err_clear(&e);
    CHECK_INT(auth_authenticate("Bearer wrong", &id, &e), -1);
    CHECK_INT(e.code, ERR_AUTH);
    err_clear(&e);
    CHECK_INT(auth_authenticate(NULL, &id, &e), -1);
    err_clear(&e);

    /* runtime tokens: created, used, listed, persisted (hash only), revoked */
    char secret[44];
    CHECK_INT(auth_token_create("ci", "write", "team/**", secret, &e), 0);
    CHECK_INT(strlen(secret), 43);
    char scratch[44];
    CHECK_INT(auth_token_create("ci", "read", "**", scratch, &e), -1);
    err_clear(&e);
    CHECK_INT(auth_token_create("admin", "read", "**", scratch, &e), -1); /* env name */
    err_clear(&e);
    CHECK_INT(auth_token_create("bad name", "read", "**", scratch, &e), -1);
    err_clear(&e);
    CHECK_INT(auth_token_create("x", "root", "**", scratch, &e), -1);
    err_clear(&e);
    char secret2[44];
    CHECK_INT(auth_token_create("deploy", "write", "prod/*", secret2, &e), 0);
    h = xasprintf("Bearer %s", secret2);
    CHECK_INT(auth_authenticate(h, &id, &e), 0);
    CHECK_STR(id.name, "deploy");
    CHECK_STR(id.pattern, "prod/*");

    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(file_load(doc, &b, &e), 0);
    CHECK(b.data != NULL && strstr(b.data, secret2) == NULL);
    char hex2[65];
    sha256_hex(secret2, strlen(secret2), hex2);
    CHECK(b.data != NULL && strstr(b.data, hex2) != NULL);
    buf_cleanup(&b);

    int n = 0;
    CHECK_INT(auth_token_list(count_cb, &n, &e), 0);
    CHECK_INT(n, 4); /* admin, reader, ci, deploy */

    CHECK_INT(auth_token_revoke("deploy", &e), 0);
    err_clear(&e);
    CHECK_INT(auth_authenticate(h, &id, &e), -1);
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
    CHECK_INT(auth_init(&st, NULL, NULL, &e), 0);
    h = xasprintf("Bearer %s", secret);
    CHECK_INT(auth_authenticate(h, &id, &e), 0);
    CHECK_STR(id.name, "ci");
    free(h);
    auth_shutdown();
    free(tf);
    free(doc);
}

int main(void)
{
    RUN(test_auth_header);
    RUN(test_token_line);
    RUN(test_roles);
    RUN(test_token_store);
    return t_report();
}
