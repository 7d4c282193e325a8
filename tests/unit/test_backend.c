/* tests/unit/test_backend.c: the server's pure functions (paths, queries, lock bodies, lock
 * info, Authorization headers, token files, roles) and the token store over a real local
 * directory store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend/backend.h"
#include "common/util.h"
#include "tests/unit/t.h"

static void test_state_path(void)
{
    struct state_path sp;
    struct err e = {0};
    CHECK_INT(state_path_parse("/v1/states/team/app", &sp, &e), 0);
    CHECK_STR(sp.name, "team/app");
    CHECK(!sp.lock_url);
    CHECK_INT(state_path_parse("/v1/states/team/app/lock", &sp, &e), 0);
    CHECK_STR(sp.name, "team/app");
    CHECK(sp.lock_url);
    CHECK_INT(state_path_parse("/v1/states/a.b_c-d", &sp, &e), 0);
    CHECK_STR(sp.name, "a.b_c-d");

    const char *bad[] = {"/v1/states/",
                         "/v1/states/lock",
                         "/v1/states/a/lock/lock",
                         "/v1/states/a/../b",
                         "/v1/states/./a",
                         "/v1/states/a//b",
                         "/v1/states/a/",
                         "/v1/states/a%2Fb",
                         "/v1/states/a b",
                         "/v1/states/1/2/3/4/5/6/7/8/9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_clear(&e);
        if (state_path_parse(bad[i], &sp, &e) != -1 || e.code != ERR_INVALID)
            CHECK_STR(bad[i], "(should be refused with ERR_INVALID)");
    }
    err_clear(&e);
    CHECK_INT(state_path_parse("/v1/other/x", &sp, &e), -1);
    CHECK_INT(e.code, ERR_NOT_FOUND);
}

static void check_param(const char *q, const char *key, const char *want)
{
    char *v = backend_query_param(q, key);
    if (want == NULL)
        CHECK(v == NULL);
    else
        CHECK_STR(v != NULL ? v : "(null)", want);
    free(v);
}

static void test_query_param(void)
{
    check_param(NULL, "ID", NULL);
    check_param("", "ID", NULL);
    check_param("ID=abc", "ID", "abc");
    check_param("a=1&ID=x%2Fy%3Az&b=2", "ID", "x/y:z");
    check_param("id=lower", "ID", NULL); /* case-sensitive, as the clients send "ID" */
    check_param("ID=first&ID=second", "ID", "first");
    check_param("ID=", "ID", "");
    check_param("ID", "ID", "");
    check_param("ID=a+b%20c", "ID", "a b c");
    check_param("ID=bad%zz%4", "ID", "bad%zz%4");
    check_param("I%44=enc", "ID", "enc");
    check_param("deep=1", "deep", "1");
}

static void test_lock_body(void)
{
    struct lock_body lb;
    struct err e = {0};
    const char *tf = "{\"ID\":\"5b8c2a0e-8f5c-1a2b-9c3d-0123456789ab\",\"Operation\":"
                     "\"OperationTypeApply\",\"Info\":\"\",\"Who\":\"alice@host\",\"Version\":"
                     "\"1.10.6\",\"Created\":\"2026-08-22T11:19:02.123456789Z\",\"Path\":\"\"}";
    CHECK_INT(lock_body_parse(tf, strlen(tf), &lb, &e), 0);
    CHECK_STR(lb.id, "5b8c2a0e-8f5c-1a2b-9c3d-0123456789ab");
    CHECK(!lb.zero_fields);

    const char *ot = "{\"ID\":\"x\",\"Operation\":\"\",\"Info\":\"\",\"Who\":\"\",\"Version\":\"\","
                     "\"Created\":\"0001-01-01T00:00:00Z\",\"Path\":\"\"}";
    CHECK_INT(lock_body_parse(ot, strlen(ot), &lb, &e), 0);
    CHECK(lb.zero_fields);
    CHECK_INT(lock_body_parse("{\"ID\":\"only\"}", 13, &lb, &e), 0);
    CHECK(lb.zero_fields);
    CHECK_INT(lock_body_parse("{\"id\":\"lower\"}", 14, &lb, &e), 0);
    CHECK_STR(lb.id, "lower");

    char big[400];
    snprintf(big, sizeof(big), "{\"ID\":\"%0255d\"}", 0);
    CHECK_INT(lock_body_parse(big, strlen(big), &lb, &e), 0);
    snprintf(big, sizeof(big), "{\"ID\":\"%0256d\"}", 0);
    const char *bad[] = {"",
                         "   ",
                         "{}",
                         "[]",
                         "{\"ID\":\"\"}",
                         "{\"ID\":5}",
                         "{\"ID\":null}",
                         "not json",
                         "{\"ID\":\"a\"} trailing",
                         "{\"ID\":\"a\\u0000b\"}",
                         big};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_clear(&e);
        if (lock_body_parse(bad[i], strlen(bad[i]), &lb, &e) != -1 || e.code != ERR_INVALID)
            CHECK_STR(bad[i], "(should be refused with ERR_INVALID)");
    }
    err_clear(&e);
    CHECK_INT(lock_body_parse(NULL, 0, &lb, &e), -1);
}

static void test_lock_holder_info_json(void)
{
    struct lock_holder h = {.id = "abc", .created_us = 1795314767000000LL};
    char good[] = "{\"ID\":\"abc\",\"Who\":\"w\",\"Created\":\"2026-08-22T11:19:02Z\"}";
    h.info_json = good;
    char *s = lock_holder_info_json(&h);
    CHECK_STR(s, good); /* verbatim */
    free(s);

    /* Created missing, empty or not RFC 3339: synthesised from the lease; ID forced. */
    const char *cases[] = {"{\"ID\":\"abc\",\"Who\":\"w\"}",
                           "{\"ID\":\"abc\",\"Created\":\"\"}",
                           "{\"ID\":\"abc\",\"Created\":\"2026-08-22\"}",
                           "{\"ID\":\"\",\"Created\":\"2026-08-22T11:19:02Z\"}",
                           "garbage",
                           "[1]",
                           NULL};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *copy = cases[i] != NULL ? xstrdup(cases[i]) : NULL;
        h.info_json = copy;
        s = lock_holder_info_json(&h);
        json_error_t je;
        json_t *o = json_loads(s, 0, &je);
        CHECK(json_is_object(o));
        CHECK_STR(json_string_value(json_object_get(o, "ID")), "abc");
        const char *c = json_string_value(json_object_get(o, "Created"));
        int64_t us = 0;
        CHECK(c != NULL && time_parse_rfc3339(c, &us) == 0 && us == h.created_us);
        json_decref(o);
        free(s);
        free(copy);
    }
}

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
    struct auth_identity wr = {.name = "w", .role = ROLE_WRITE, .pattern = "team/**"};
    struct auth_identity ad = {.name = "a", .role = ROLE_ADMIN, .pattern = "nothing"};
    CHECK(auth_allows(&rd, ROLE_READ, "team/app"));
    CHECK(!auth_allows(&rd, ROLE_READ, "team/app/prod")); /* '*' stops at '/' */
    CHECK(!auth_allows(&rd, ROLE_WRITE, "team/app"));
    CHECK(!auth_allows(&rd, ROLE_READ, "other"));
    CHECK(auth_allows(&wr, ROLE_WRITE, "team/app/prod"));
    CHECK(auth_allows(&wr, ROLE_READ, "team/x"));
    CHECK(!auth_allows(&wr, ROLE_ADMIN, NULL));
    CHECK(auth_allows(&ad, ROLE_ADMIN, NULL));
    CHECK(auth_allows(&ad, ROLE_WRITE, "anything/at/all"));
    CHECK_INT(auth_role_parse("read"), ROLE_READ);
    CHECK_INT(auth_role_parse("admin"), ROLE_ADMIN);
    CHECK_INT(auth_role_parse("root"), -1);
    CHECK_STR(auth_role_name(ROLE_WRITE), "write");
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

static void test_token_store(void)
{
    struct err e = {0};
    const char *dir = t_tempdir();
    char *root = xasprintf("%s/store", dir);
    struct objstore *os = objstore_dir_new(root, &e);
    CHECK(os != NULL);
    struct store_config sc = {.max_state_bytes = 1 << 20};
    struct store *st = os != NULL ? store_new(os, &sc, &e) : NULL;
    CHECK(st != NULL);
    if (st == NULL) {
        free(root);
        return;
    }
    /* no token source at all: refused */
    CHECK_INT(auth_init(st, NULL, NULL, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);

    /* a token file */
    char *tf = xasprintf("%s/tokens", dir);
    char hex[65];
    sha256_hex("filetoken-0123456789", 20, hex);
    FILE *f = fopen(tf, "w");
    fprintf(f, "# static tokens\nreader read team/* %s\n", hex);
    fclose(f);
    CHECK_INT(auth_init(st, "admin-secret-0123456789", tf, &e), 0);

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
    CHECK_INT(store_get_blob(st, "config/tokens.json", &b, &e), 0);
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
    CHECK_INT(auth_init(st, NULL, NULL, &e), 0);
    h = xasprintf("Bearer %s", secret);
    CHECK_INT(auth_authenticate(h, &id, &e), 0);
    CHECK_STR(id.name, "ci");
    free(h);
    auth_shutdown();
    store_free(st);
    free(tf);
    free(root);
}

static void test_respond(void)
{
    struct backend_req r;
    memset(&r, 0, sizeof(r));
    buf_init(&r.resp, 0);
    snprintf(r.request_id, sizeof(r.request_id), "t1");
    struct err e = {0};
    err_set(&e, ERR_UNAVAILABLE, "connect to 10.0.0.1 failed");
    respond_err(&r, &e, NULL);
    CHECK_INT(r.status, 503);
    CHECK_STR(r.resp.data, "{\"code\":\"INFRA_005\",\"message\":\"storage or lock service "
                           "unavailable, retry later\"}");
    bool retry = false;
    for (size_t i = 0; i < r.nheaders; i++)
        if (strcmp(r.headers[i].name, "retry-after") == 0 && strcmp(r.headers[i].value, "2") == 0)
            retry = true;
    CHECK(retry);
    for (size_t i = 0; i < r.nheaders; i++) {
        free(r.headers[i].name);
        free(r.headers[i].value);
    }
    free(r.headers);
    r.headers = NULL;
    r.nheaders = 0;
    respond_error(&r, ERR_AUTH, "no credentials");
    CHECK_INT(r.status, 401);
    CHECK_STR(r.resp.data, "{\"code\":\"INFRA_003\",\"message\":\"no credentials\"}");
    CHECK_STR(r.headers[r.nheaders - 1].name, "www-authenticate");
    for (size_t i = 0; i < r.nheaders; i++) {
        free(r.headers[i].name);
        free(r.headers[i].value);
    }
    free(r.headers);
    buf_cleanup(&r.resp);
}

int main(void)
{
    RUN(test_state_path);
    RUN(test_query_param);
    RUN(test_lock_body);
    RUN(test_lock_holder_info_json);
    RUN(test_auth_header);
    RUN(test_token_line);
    RUN(test_roles);
    RUN(test_token_store);
    RUN(test_respond);
    return t_report();
}
