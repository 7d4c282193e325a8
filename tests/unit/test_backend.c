/* tests/unit/test_backend.c: the server's pure functions (paths, queries, lock bodies, lock
 * info, error responses). */
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
    RUN(test_respond);
    return t_report();
}
