/* backend/http1_parse.c: the HTTP/1.1 request head and the chunked body, parsed strictly.
 *
 * A server that reads a request's framing differently from the proxy in front of it can be
 * made to see two requests where the proxy saw one (request smuggling), so the rules here are
 * RFC 9112's, without leniency where it matters:
 *
 *   request-line  method SP request-target SP "HTTP/1." DIGIT CRLF, method a token of at most
 *                 20 characters, target visible ASCII of at most HTTP1_TARGET_MAX bytes (414),
 *                 another version 505; empty lines before it are skipped
 *   fields        name ":" OWS value OWS CRLF; no space before the colon, no obs-fold, no
 *                 control characters in values; at most HTTP1_MAX_HEADERS fields and
 *                 HTTP1_HEAD_MAX bytes in all (431)
 *   framing       Transfer-Encoding only "chunked" (else 501), never with Content-Length and
 *                 never in HTTP/1.0 (400); Content-Length digits only, repeated only with the
 *                 same value (400); HTTP/1.1 needs exactly one Host (400)
 *   chunked body  hex size (at most 16 digits), extensions skipped, CRLF after every chunk,
 *                 trailers read and ignored (at most HTTP1_TRAILER_MAX bytes)
 *
 * Line ends are CRLF only: a bare CR or LF is an error. Everything here is pure (no I/O, no
 * allocation but the body buffer), so tests/fuzz/fuzz_request.c drives it directly. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "backend/backend_int.h"
#include "common/util.h"

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool http1_is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

/* Where the CRLF ending the line at p is (p <= result < end), or NULL when the line is not
 * complete yet; a bare LF or a CR not followed by LF is an error (*bad). */
static const char *line_end(const char *p, const char *end, bool *bad)
{
    for (const char *q = p; q < end; q++) {
        if (*q == '\n') {
            *bad = true; /* LF without CR */
            return NULL;
        }
        if (*q == '\r') {
            if (q + 1 == end)
                return NULL;
            if (q[1] != '\n')
                *bad = true;
            return *bad ? NULL : q;
        }
    }
    return NULL;
}

static int parse_request_line(const char *p, const char *eol, struct http1_head *h, struct err *err)
{
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    if (sp1 == NULL)
        return err_set(err, ERR_INVALID, "malformed request line");
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
    if (sp2 == NULL)
        return err_set(err, ERR_INVALID, "malformed request line");
    h->method = p;
    h->method_len = (size_t)(sp1 - p);
    h->target = sp1 + 1;
    h->target_len = (size_t)(sp2 - sp1 - 1);
    if (!http1_is_token(h->method, h->method_len) || h->method_len > HTTP1_METHOD_MAX)
        return err_set(err, ERR_INVALID, "invalid method in request line");
    if (h->target_len == 0)
        return err_set(err, ERR_INVALID, "empty request target");
    if (h->target_len > HTTP1_TARGET_MAX)
        return err_set(err, ERR_URI_TOO_LONG, "request target longer than %d bytes",
                       HTTP1_TARGET_MAX);
    for (size_t i = 0; i < h->target_len; i++) {
        unsigned char c = (unsigned char)h->target[i];
        if (c < 0x21 || c > 0x7e)
            return err_set(err, ERR_INVALID, "invalid byte 0x%02x in request target", c);
    }
    const char *v = sp2 + 1;
    size_t vlen = (size_t)(eol - v);
    if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return err_set(err, ERR_INVALID, "malformed HTTP version in request line");
    if (v[5] != '1')
        return err_set(err, ERR_VERSION, "HTTP/%c.%c is not supported: use HTTP/1.1 or HTTP/2",
                       v[5], v[7]);
    h->minor = v[7] - '0';
    return 0;
}

static int parse_field(const char *p, const char *eol, struct http1_head *h, struct err *err)
{
    if (*p == ' ' || *p == '\t')
        return err_set(err, ERR_INVALID, "folded header lines are not accepted");
    const char *colon = memchr(p, ':', (size_t)(eol - p));
    if (colon == NULL || !http1_is_token(p, (size_t)(colon - p)))
        return err_set(err, ERR_INVALID, "malformed header field");
    if (h->nheaders == HTTP1_MAX_HEADERS)
        return err_set(err, ERR_HEADERS_TOO_LARGE, "more than %d header fields", HTTP1_MAX_HEADERS);
    const char *v = colon + 1, *ve = eol;
    while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    for (const char *q = v; q < ve; q++) {
        unsigned char c = (unsigned char)*q;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return err_set(err, ERR_INVALID, "control character in header field value");
    }
    struct http1_field *f = &h->headers[h->nheaders++];
    f->name = p;
    f->name_len = (size_t)(colon - p);
    f->value = v;
    f->value_len = (size_t)(ve - v);
    return 0;
}

static bool field_is(const struct http1_field *f, const char *name)
{
    return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

static bool value_is(const struct http1_field *f, const char *v)
{
    return f->value_len == strlen(v) && strncasecmp(f->value, v, f->value_len) == 0;
}

/* True when the comma-separated list in f holds token (case-insensitive). */
static bool list_has(const struct http1_field *f, const char *token)
{
    size_t tl = strlen(token);
    const char *p = f->value, *end = f->value + f->value_len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma != NULL ? comma : end;
        const char *s = p;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - s) == tl && strncasecmp(s, token, tl) == 0)
            return true;
        p = comma != NULL ? comma + 1 : end;
    }
    return false;
}

static int parse_length(const struct http1_field *f, uint64_t *out, struct err *err)
{
    uint64_t v = 0;
    if (f->value_len == 0 || f->value_len > 19)
        return err_set(err, ERR_INVALID, "malformed Content-Length");
    for (size_t i = 0; i < f->value_len; i++) {
        if (f->value[i] < '0' || f->value[i] > '9')
            return err_set(err, ERR_INVALID, "malformed Content-Length");
        v = v * 10 + (uint64_t)(f->value[i] - '0');
    }
    *out = v;
    return 0;
}

/* The framing and connection facts of the parsed fields. */
static int interpret(struct http1_head *h, struct err *err)
{
    int hosts = 0, lengths = 0, encodings = 0;
    uint64_t len = 0;
    h->keep_alive = h->minor == 1;
    for (size_t i = 0; i < h->nheaders; i++) {
        const struct http1_field *f = &h->headers[i];
        if (field_is(f, "host")) {
            hosts++;
        } else if (field_is(f, "content-length")) {
            if (parse_length(f, &len, err) != 0)
                return -1;
            if (lengths++ > 0 && len != h->content_length)
                return err_set(err, ERR_INVALID, "two Content-Length headers disagree");
            h->content_length = len;
        } else if (field_is(f, "transfer-encoding")) {
            encodings++;
            if (!value_is(f, "chunked"))
                return err_set(err, ERR_NOT_IMPLEMENTED,
                               "Transfer-Encoding other than chunked is not supported");
        } else if (field_is(f, "connection")) {
            if (list_has(f, "close"))
                h->keep_alive = false;
            else if (list_has(f, "keep-alive"))
                h->keep_alive = true;
        } else if (field_is(f, "expect")) {
            h->expect_continue = list_has(f, "100-continue");
        }
    }
    if (encodings > 0 && lengths > 0)
        return err_set(err, ERR_INVALID, "both Transfer-Encoding and Content-Length");
    if (encodings > 1)
        return err_set(err, ERR_INVALID, "repeated Transfer-Encoding");
    if (encodings > 0 && h->minor == 0)
        return err_set(err, ERR_INVALID, "Transfer-Encoding in an HTTP/1.0 request");
    if (h->minor == 1 && hosts != 1)
        return err_set(err, ERR_INVALID, "an HTTP/1.1 request needs exactly one Host header");
    h->chunked = encodings > 0;
    h->has_length = lengths > 0;
    return 0;
}

int http1_parse_head(const char *buf, size_t len, struct http1_head *h, struct err *err)
{
    memset(h, 0, sizeof(*h));
    const char *p = buf, *end = buf + len;
    while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
        p += 2; /* empty lines before a request are ignored (RFC 9112 §2.2) */
    bool bad = false;
    const char *eol = line_end(p, end, &bad);
    if (bad)
        return err_set(err, ERR_INVALID, "request line not ended by CRLF");
    if (eol == NULL) {
        if ((size_t)(end - p) > HTTP1_TARGET_MAX + HTTP1_METHOD_MAX + 16)
            return err_set(err, ERR_URI_TOO_LONG, "request line longer than %d bytes",
                           HTTP1_TARGET_MAX);
        return len > HTTP1_HEAD_MAX ? err_set(err, ERR_HEADERS_TOO_LARGE, "request too large") : 1;
    }
    if (parse_request_line(p, eol, h, err) != 0)
        return -1;
    for (p = eol + 2;;) {
        eol = line_end(p, end, &bad);
        if (bad)
            return err_set(err, ERR_INVALID, "header line not ended by CRLF");
        if (eol == NULL)
            return len > HTTP1_HEAD_MAX
                       ? err_set(err, ERR_HEADERS_TOO_LARGE, "request head longer than %d bytes",
                                 HTTP1_HEAD_MAX)
                       : 1;
        if (eol == p)
            break; /* the empty line that ends the head */
        if (parse_field(p, eol, h, err) != 0)
            return -1;
        p = eol + 2;
    }
    h->head_len = (size_t)(eol + 2 - buf);
    if (h->head_len > HTTP1_HEAD_MAX)
        return err_set(err, ERR_HEADERS_TOO_LARGE, "request head longer than %d bytes",
                       HTTP1_HEAD_MAX);
    return interpret(h, err);
}

/* ------------------------------------------------------------------ chunked bodies */

/* One step of the chunk state machine over the byte c. Data bytes are handled by the caller. */
static int chunk_meta_byte(struct http1_chunked *c, unsigned char c8, struct err *err)
{
    switch (c->state) {
    case CH_SIZE: {
        int d = hex_value(c8);
        if (d >= 0 && c->digits < 16) {
            c->left = c->left * 16 + (uint64_t)d;
            c->digits++;
            return 0;
        }
        if (d >= 0)
            return err_set(err, ERR_INVALID, "chunk size longer than 16 hex digits");
        if (c->digits == 0)
            return err_set(err, ERR_INVALID, "malformed chunk size");
        if (c8 == ';' || c8 == ' ' || c8 == '\t') {
            c->state = CH_EXT;
            return 0;
        }
        if (c8 != '\r')
            return err_set(err, ERR_INVALID, "malformed chunk size");
        c->state = CH_SIZE_LF;
        return 0;
    }
    case CH_EXT:
        if (c8 == '\r') {
            c->state = CH_SIZE_LF;
            return 0;
        }
        if ((c8 < 0x20 && c8 != '\t') || c8 == 0x7f || ++c->meta > HTTP1_TRAILER_MAX)
            return err_set(err, ERR_INVALID, "malformed chunk extension");
        return 0;
    case CH_SIZE_LF:
        if (c8 != '\n')
            return err_set(err, ERR_INVALID, "chunk size line not ended by CRLF");
        c->state = c->left > 0 ? CH_DATA : CH_TRAILER;
        c->meta = 0;
        c->line = 0;
        return 0;
    case CH_DATA_CR:
        if (c8 != '\r')
            return err_set(err, ERR_INVALID, "chunk data not followed by CRLF");
        c->state = CH_DATA_LF;
        return 0;
    case CH_DATA_LF:
        if (c8 != '\n')
            return err_set(err, ERR_INVALID, "chunk data not followed by CRLF");
        c->state = CH_SIZE;
        c->digits = 0;
        c->left = 0;
        return 0;
    case CH_TRAILER:
        /* Trailer fields are read and ignored; an empty line ends the body. */
        if (++c->meta > HTTP1_TRAILER_MAX)
            return err_set(err, ERR_HEADERS_TOO_LARGE, "chunked trailer too large");
        if (c8 == '\r') {
            c->state = CH_TRAILER_LF;
            return 0;
        }
        if ((c8 < 0x20 && c8 != '\t') || c8 == 0x7f)
            return err_set(err, ERR_INVALID, "control character in chunked trailer");
        c->line++;
        return 0;
    case CH_TRAILER_LF:
        if (c8 != '\n')
            return err_set(err, ERR_INVALID, "chunked trailer line not ended by CRLF");
        c->state = c->line == 0 ? CH_DONE : CH_TRAILER;
        c->line = 0;
        return 0;
    case CH_DATA:
    case CH_DONE:
        break;
    }
    return err_set(err, ERR_INTERNAL, "chunked decoder in an impossible state");
}

void http1_chunked_init(struct http1_chunked *c)
{
    memset(c, 0, sizeof(*c));
    c->state = CH_SIZE;
}

ssize_t http1_chunked_decode(struct http1_chunked *c, const char *in, size_t len, struct buf *out,
                             struct err *err)
{
    size_t i = 0;
    while (i < len && c->state != CH_DONE) {
        if (c->state == CH_DATA) {
            size_t n = len - i < c->left ? len - i : (size_t)c->left;
            if (buf_append(out, in + i, n, err) != 0)
                return -1; /* over the body's ceiling: ERR_TOO_LARGE */
            i += n;
            c->left -= n;
            if (c->left == 0)
                c->state = CH_DATA_CR;
            continue;
        }
        if (chunk_meta_byte(c, (unsigned char)in[i], err) != 0)
            return -1;
        i++;
    }
    return (ssize_t)i;
}
