/* tests/fuzz/fuzz_request.c: everything stated parses out of a request before any storage is
 * touched, fed the same bytes: the HTTP/1.1 head and a chunked body after it, the path as a
 * state URL, query parameters, the Authorization header, a lock body, Content-MD5 and the admin
 * API's times. None may crash, read out of bounds or accept what its rules refuse. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "backend/backend_int.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_head(const char *s, size_t n)
{
    struct http1_head h;
    struct err e = {0};
    int rc = http1_parse_head(s, n, &h, &e);
    if (rc < 0 && e.code == ERR_OK)
        abort();
    if (rc != 0)
        return;
    if (h.head_len > n || h.head_len > HTTP1_HEAD_MAX || h.nheaders > HTTP1_MAX_HEADERS ||
        !http1_is_token(h.method, h.method_len) || h.target_len > HTTP1_TARGET_MAX ||
        (h.chunked && h.has_length) || h.minor < 0 || h.minor > 9)
        abort();
    if (!h.chunked)
        return;
    struct http1_chunked c;
    struct buf body;
    http1_chunked_init(&c);
    buf_init(&body, 4096);
    ssize_t used = http1_chunked_decode(&c, s + h.head_len, n - h.head_len, &body, &e);
    if ((used < 0 && e.code == ERR_OK) || (used >= 0 && (size_t)used > n - h.head_len) ||
        body.len > 4096)
        abort();
    buf_cleanup(&body);
}

static void check_fields(const char *s, size_t n)
{
    struct state_path sp;
    struct err e = {0};
    if (state_path_parse(s, &sp, &e) == 0 && state_name_check(sp.name, strlen(sp.name), &e) != 0)
        abort(); /* a parsed path always names a valid state */
    const char *keys[] = {"ID", "id", "since", "prefix", "force"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        free(backend_query_param(s, keys[i]));
    char *token = NULL, *user = NULL;
    if (auth_parse_header(s, &token, &user, &e) == 0 && (token == NULL || user == NULL))
        abort();
    free(token);
    free(user);
    struct lock_body lb;
    err_clear(&e);
    if (lock_body_parse(s, n, &lb, &e) == 0 && (lb.id[0] == '\0' || strlen(lb.id) >= LOCK_ID_MAX))
        abort();
    char md5[25];
    err_clear(&e);
    ops_check_content_md5(s, s, n, md5, &e);
    int64_t us;
    time_parse_rfc3339(s, &us);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Private copies: one without a terminator (the head parser takes a length), one with. */
    char *raw = malloc(size ? size : 1), *text = malloc(size + 1);
    if (size > 0)
        memcpy(raw, data, size);
    memcpy(text, data, size);
    text[size] = '\0';
    check_head(raw, size);
    check_fields(text, strlen(text));
    free(raw);
    free(text);
    return 0;
}
