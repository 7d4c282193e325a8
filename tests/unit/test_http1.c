/* tests/unit/test_http1.c: the HTTP/1.1 head parser and chunked decoder (backend/http1_parse.c)
 * on the framing cases request smuggling is made of, and on the limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_int.h"
#include "tests/unit/t.h"

/* Parses s and returns the status (0, 1, -1); *code gets the error code. */
static int parse(const char *s, struct http1_head *h, enum err_code *code)
{
    struct err e = {0};
    int rc = http1_parse_head(s, strlen(s), h, &e);
    *code = e.code;
    return rc;
}

static void test_valid_heads(void)
{
    struct http1_head h;
    enum err_code code;
    const char *get =
        "GET /v1/states/a?x=1 HTTP/1.1\r\nHost: h\r\nAuthorization:  Basic x \r\n\r\n";
    CHECK_INT(parse(get, &h, &code), 0);
    CHECK_INT(h.method_len, 3);
    CHECK(memcmp(h.target, "/v1/states/a?x=1", h.target_len) == 0);
    CHECK_INT(h.minor, 1);
    CHECK_INT(h.nheaders, 2);
    CHECK(memcmp(h.headers[1].value, "Basic x", h.headers[1].value_len) == 0); /* OWS trimmed */
    CHECK_INT(h.head_len, strlen(get));
    CHECK(h.keep_alive);
    CHECK(!h.has_length && !h.chunked);

    CHECK_INT(
        parse("\r\nPOST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nConnection: close\r\n\r\n",
              &h, &code),
        0);
    CHECK(h.has_length && h.content_length == 12 && !h.keep_alive);
    CHECK_INT(parse("PUT / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h, &code), 0);
    CHECK(h.keep_alive && h.minor == 0);
    CHECK_INT(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\nExpect: "
                    "100-continue\r\n\r\n",
                    &h, &code),
              0);
    CHECK(h.chunked && h.expect_continue);
    /* identical Content-Lengths are one value */
    CHECK_INT(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n",
                    &h, &code),
              0);
}

static void test_incomplete_heads(void)
{
    struct http1_head h;
    enum err_code code;
    CHECK_INT(parse("GET / HTTP/1.1\r\nHost: h\r\n", &h, &code), 1);
    CHECK_INT(parse("GET / HTTP/1.1\r", &h, &code), 1);
    CHECK_INT(parse("", &h, &code), 1);
    CHECK_INT(parse("\r\n\r\n", &h, &code), 1);
}

static void test_refused_heads(void)
{
    static const struct {
        const char *head;
        enum err_code code;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
         ERR_INVALID},
        {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
         ERR_INVALID},
        {"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
         "chunked\r\n\r\n",
         ERR_INVALID},
        {"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
         ERR_NOT_IMPLEMENTED},
        {"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", ERR_INVALID},
        {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", ERR_INVALID},
        {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1,1\r\n\r\n", ERR_INVALID},
        {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", ERR_INVALID},
        {"GET / HTTP/1.1\r\n\r\n", ERR_INVALID},                         /* no Host */
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ERR_INVALID},   /* two */
        {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", ERR_INVALID},             /* space before ':' */
        {"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", ERR_INVALID},   /* obs-fold */
        {"GET / HTTP/1.1\nHost: h\n\n", ERR_INVALID},                    /* bare LF */
        {"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", ERR_INVALID},        /* bare CR */
        {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n", ERR_INVALID}, /* control byte */
        {"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", ERR_INVALID},
        {"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n", ERR_INVALID},
        {"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", ERR_INVALID}, /* not a token */
        {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", ERR_VERSION},
        {"GET / HTTP/1.x\r\nHost: h\r\n\r\n", ERR_INVALID},
        {"GET / FTP/1.1\r\nHost: h\r\n\r\n", ERR_INVALID},
        {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http1_head h;
        enum err_code code;
        int rc = parse(cases[i].head, &h, &code);
        if (rc != -1 || code != cases[i].code) {
            printf("  case %zu: rc %d code %s\n", i, rc, err_name(code));
            CHECK_INT(i, -1);
        }
    }
}

static void test_limits(void)
{
    struct http1_head h;
    enum err_code code;
    char *line = xmalloc(HTTP1_TARGET_MAX + 64);
    snprintf(line, HTTP1_TARGET_MAX + 64, "GET /%0*d HTTP/1.1\r\n", HTTP1_TARGET_MAX, 0);
    CHECK_INT(parse(line, &h, &code), -1);
    CHECK_INT(code, ERR_URI_TOO_LONG);
    free(line);
    /* not complete yet, and already longer than any acceptable request line */
    line = xmalloc(HTTP1_TARGET_MAX + 200);
    snprintf(line, HTTP1_TARGET_MAX + 200, "GET /%0*d", HTTP1_TARGET_MAX + 100, 0);
    CHECK_INT(parse(line, &h, &code), -1);
    CHECK_INT(code, ERR_URI_TOO_LONG);
    free(line);
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "GET / HTTP/1.1\r\nHost: h\r\n", NULL);
    for (int i = 0; i < HTTP1_MAX_HEADERS; i++)
        buf_printf(&b, NULL, "X-%d: v\r\n", i);
    buf_append_str(&b, "\r\n", NULL);
    CHECK_INT(parse(b.data, &h, &code), -1);
    CHECK_INT(code, ERR_HEADERS_TOO_LARGE);
    buf_reset(&b);
    buf_append_str(&b, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ", NULL);
    for (int i = 0; i < HTTP1_HEAD_MAX; i++)
        buf_append(&b, "v", 1, NULL);
    CHECK_INT(parse(b.data, &h, &code), -1); /* still incomplete, and too large */
    CHECK_INT(code, ERR_HEADERS_TOO_LARGE);
    buf_cleanup(&b);
}

/* Decodes s in pieces of step bytes; returns the decoder's final state, or -1 on error. */
static int decode(const char *s, size_t step, struct buf *out, enum err_code *code)
{
    struct http1_chunked c;
    struct err e = {0};
    http1_chunked_init(&c);
    size_t len = strlen(s);
    for (size_t off = 0; off < len && c.state != CH_DONE; off += step) {
        size_t n = len - off < step ? len - off : step;
        ssize_t used = http1_chunked_decode(&c, s + off, n, out, &e);
        if (used < 0) {
            *code = e.code;
            return -1;
        }
    }
    return (int)c.state;
}

static void test_chunked(void)
{
    struct buf out;
    enum err_code code = ERR_OK;
    const char *ok = "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: y\r\n\r\n";
    for (size_t step = 1; step <= 7; step += 3) {
        buf_init(&out, 0);
        CHECK_INT(decode(ok, step, &out, &code), CH_DONE);
        CHECK_STR(out.data, "hello 0123456789");
        buf_cleanup(&out);
    }
    static const char *bad[] = {
        "zz\r\nhello\r\n0\r\n\r\n",        /* not hex */
        "5\r\nhelloXX0\r\n\r\n",           /* data not followed by CRLF */
        "5\nhello\r\n0\r\n\r\n",           /* LF without CR */
        "11111111111111111\r\n",           /* 17 hex digits */
        "\r\n",                            /* no size */
        "-1\r\n",                          /* sign */
        "0\r\nX\x01: y\r\n\r\n",           /* control byte in a trailer */
        "5;ext\x7f\r\nhello\r\n0\r\n\r\n", /* control byte in an extension */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf_init(&out, 0);
        code = ERR_OK;
        if (decode(bad[i], 2, &out, &code) != -1 || code != ERR_INVALID) {
            printf("  bad chunked case %zu accepted\n", i);
            CHECK_INT(i, -1);
        }
        buf_cleanup(&out);
    }
    /* over the body's ceiling: 413, and what follows the last chunk is not consumed */
    buf_init(&out, 8);
    CHECK_INT(decode("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 64, &out, &code), -1);
    CHECK_INT(code, ERR_TOO_LARGE);
    buf_cleanup(&out);
    struct http1_chunked c;
    struct err e = {0};
    buf_init(&out, 0);
    http1_chunked_init(&c);
    const char *two = "0\r\n\r\nGET / HTTP/1.1\r\n";
    CHECK_INT(http1_chunked_decode(&c, two, strlen(two), &out, &e), 5);
    CHECK_INT(c.state, CH_DONE);
    buf_cleanup(&out);
}

int main(void)
{
    RUN(test_valid_heads);
    RUN(test_incomplete_heads);
    RUN(test_refused_heads);
    RUN(test_limits);
    RUN(test_chunked);
    return t_report();
}
