/* common/statejson.c: see statejson.h.
 *
 * A recursive-descent validator over the raw bytes. Nothing is allocated: the only values kept
 * are the root object's "serial" and "lineage" (and whether "encryption_version" is present).
 * Recursion depth is bounded by STATEJSON_MAX_DEPTH, so hostile input cannot exhaust the stack
 * of a worker thread. Strings are checked for well-formed UTF-8 (no overlong forms, no UTF-16
 * surrogates encoded as UTF-8, nothing above U+10FFFF) and for unescaped control characters. */
#include "common/json.h"
#include "common/statejson.h"
#include "common/utf8.h"
#include "common/util.h"

#include <stdbool.h>
#include <string.h>

#define STATEJSON_MAX_DEPTH 512

struct scan {
    const unsigned char *p, *start, *end;
    struct err *err;
    struct state_summary *out;
    bool seen_serial, seen_lineage;
};

static int fail(struct scan *s, const char *what)
{
    return err_set(s->err, ERR_INVALID, "state is not valid JSON: %s at byte %zu", what,
                   (size_t)(s->p - s->start));
}

static int fail_state(struct scan *s, const char *what)
{
    return err_set(s->err, ERR_INVALID, "not a state: %s (byte %zu)", what,
                   (size_t)(s->p - s->start));
}

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Copies the k bytes at src to dst (capacity cap, length *n) when dst is kept; sets *overflow
 * when they do not fit. */
static void put_bytes(char *dst, size_t cap, size_t *n, bool *overflow, const unsigned char *src,
                      size_t k)
{
    if (dst == NULL)
        return;
    if (*n + k >= cap) {
        *overflow = true;
        return;
    }
    memcpy(dst + *n, src, k);
    *n += k;
    dst[*n] = '\0';
}

/* Appends code point cp as UTF-8 to dst, as put_bytes. */
static void put_utf8(char *dst, size_t cap, size_t *n, bool *overflow, unsigned cp)
{
    unsigned char tmp[4];
    size_t k = utf8_encode(cp, tmp);
    if (dst != NULL && (cp == 0 || k == 0)) { /* an escaped NUL cannot be kept in a C string */
        *overflow = true;
        return;
    }
    put_bytes(dst, cap, n, overflow, tmp, k);
}

/* True when none of the 8 bytes at p ends or escapes a string or needs a closer look: each is
 * printable ASCII (0x20-0x7F) other than '"' and '\\'. Bit tricks on a 64-bit word (a byte
 * below n borrows into its top bit in x - n*ones, masked by ~x so bytes >= 0x80 do not count;
 * any false positive sits above a true one, so "any byte matches" is exact). */
static bool plain8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t w;
    memcpy(&w, p, sizeof(w));
    uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
    uint64_t bad =
        ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) | w;
    return (bad & highs) == 0;
}

/* Reads the 4 hex digits at p into *v; false when one is not a hex digit. */
static bool hex4(const unsigned char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_value(p[i]);
        if (d < 0)
            return false;
        *v = *v * 16 + (unsigned)d;
    }
    return true;
}

/* Parses the \uXXXX escape at s->p (at the backslash) into *cp and moves past it. A
 * surrogate pair becomes one code point; a lone surrogate is legal JSON syntax and is kept as
 * U+FFFD, as Go's decoder does. */
static int scan_u_escape(struct scan *s, unsigned *cp)
{
    if (s->end - s->p < 6)
        return fail(s, "truncated \\u escape");
    if (!hex4(s->p + 2, cp))
        return fail(s, "bad hex digit in \\u escape");
    s->p += 6;
    unsigned lo;
    if (*cp >= 0xD800 && *cp <= 0xDBFF && s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u' &&
        hex4(s->p + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
        s->p += 6;
    }
    if (*cp >= 0xD800 && *cp <= 0xDFFF)
        *cp = 0xFFFD;
    return 0;
}

/* Parses the escape at s->p (at the backslash) into *cp and moves past it. */
static int scan_escape(struct scan *s, unsigned *cp)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (s->end - s->p < 2)
        return fail(s, "unterminated escape");
    if (s->p[1] == 'u')
        return scan_u_escape(s, cp);
    const char *k = s->p[1] != '\0' ? strchr(from, s->p[1]) : NULL;
    if (k == NULL)
        return fail(s, "invalid escape in string");
    *cp = (unsigned char)to[k - from];
    s->p += 2;
    return 0;
}

/* Parses a string starting at the opening quote. When dst is non-NULL the unescaped text is
 * written there (NUL-terminated) and *overflow is set when it did not fit in cap bytes. */
static int scan_string(struct scan *s, char *dst, size_t cap, bool *overflow)
{
    size_t n = 0;
    if (dst != NULL)
        dst[0] = '\0';
    s->p++; /* opening quote */
    while (s->p < s->end) {
        if (dst == NULL) {
            /* Most of a large state is long plain strings: skip them a word at a time. */
            while (s->end - s->p >= 8 && plain8(s->p))
                s->p += 8;
            if (s->p >= s->end)
                break;
        }
        unsigned char c = *s->p;
        if (c == '"') {
            s->p++;
            return 0;
        }
        if (c < 0x20)
            return fail(s, "unescaped control character in string");
        if (c == '\\') {
            unsigned cp = 0;
            if (scan_escape(s, &cp) != 0)
                return -1;
            put_utf8(dst, cap, &n, overflow, cp);
            continue;
        }
        size_t k = utf8_seq_len(s->p, (size_t)(s->end - s->p));
        if (k == 0)
            return fail(s, "invalid UTF-8 in string");
        put_bytes(dst, cap, &n, overflow, s->p, k);
        s->p += k;
    }
    return fail(s, "unterminated string");
}

/* Parses a number. When serial is non-NULL the number must be a non-negative integer that fits
 * in 64 bits; it is stored there. */
static int scan_number(struct scan *s, uint64_t *serial)
{
    const unsigned char *begin = s->p;
    bool negative = false, integral = true;
    if (*s->p == '-') {
        negative = true;
        s->p++;
    }
    if (s->p >= s->end || *s->p < '0' || *s->p > '9')
        return fail(s, "invalid number");
    if (*s->p == '0') {
        s->p++;
    } else {
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    const unsigned char *int_end = s->p;
    if (s->p < s->end && *s->p == '.') {
        integral = false;
        s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            return fail(s, "invalid number: digit expected after '.'");
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        integral = false;
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            return fail(s, "invalid number: digit expected in exponent");
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    if (serial == NULL)
        return 0;
    s->p = begin;
    if (negative)
        return fail_state(s, "\"serial\" must be a non-negative integer");
    if (!integral)
        return fail_state(s, "\"serial\" must be a non-negative integer (no fraction or exponent)");
    /* The digits are JSON's: no sign, no leading zero. */
    if (!u64_parse_decimal((const char *)begin, (size_t)(int_end - begin), serial))
        return fail_state(s, "\"serial\" is too large (above 2^64-1, 18446744073709551615)");
    s->p = int_end;
    return 0;
}

static int scan_literal(struct scan *s, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return fail(s, "invalid literal");
    s->p += n;
    return 0;
}

static int scan_value(struct scan *s, int depth);

/* Root-level keys we care about; others are validated and skipped. */
enum root_key { KEY_OTHER, KEY_SERIAL, KEY_LINEAGE, KEY_ENCRYPTION_VERSION };

static enum root_key classify_key(const char *k, bool overflow)
{
    if (overflow)
        return KEY_OTHER;
    if (strcmp(k, "serial") == 0)
        return KEY_SERIAL;
    if (strcmp(k, "lineage") == 0)
        return KEY_LINEAGE;
    if (strcmp(k, "encryption_version") == 0)
        return KEY_ENCRYPTION_VERSION;
    return KEY_OTHER;
}

static int scan_root_member(struct scan *s, enum root_key key)
{
    switch (key) {
    case KEY_SERIAL:
        if (s->seen_serial)
            return fail_state(s, "duplicate \"serial\"");
        s->seen_serial = true;
        if (*s->p != '-' && (*s->p < '0' || *s->p > '9'))
            return fail_state(s, "\"serial\" must be a number");
        return scan_number(s, &s->out->serial);
    case KEY_LINEAGE: {
        bool overflow = false;
        if (s->seen_lineage)
            return fail_state(s, "duplicate \"lineage\"");
        s->seen_lineage = true;
        if (*s->p != '"')
            return fail_state(s, "\"lineage\" must be a string");
        if (scan_string(s, s->out->lineage, sizeof(s->out->lineage), &overflow) != 0)
            return -1;
        if (overflow)
            return fail_state(s, "\"lineage\" longer than 128 bytes or contains NUL");
        return 0;
    }
    case KEY_ENCRYPTION_VERSION:
        s->out->is_encrypted = 1;
        return scan_value(s, 1);
    default:
        return scan_value(s, 1);
    }
}

static int scan_container(struct scan *s, int depth)
{
    bool is_object = *s->p == '{';
    unsigned char close = is_object ? '}' : ']';
    if (depth >= STATEJSON_MAX_DEPTH)
        return fail(s, "nesting deeper than 512 levels");
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    for (;;) {
        enum root_key key = KEY_OTHER;
        skip_ws(s);
        if (s->p >= s->end)
            return fail(s, "unexpected end of input");
        if (is_object) {
            char name[24] = "";
            bool overflow = false;
            if (*s->p != '"')
                return fail(s, "object key expected");
            if (scan_string(s, depth == 0 ? name : NULL, sizeof(name), &overflow) != 0)
                return -1;
            if (depth == 0)
                key = classify_key(name, overflow);
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':')
                return fail(s, "':' expected");
            s->p++;
            skip_ws(s);
            if (s->p >= s->end)
                return fail(s, "unexpected end of input");
        }
        if (depth == 0 && is_object) {
            if (scan_root_member(s, key) != 0)
                return -1;
        } else if (scan_value(s, depth + 1) != 0) {
            return -1;
        }
        skip_ws(s);
        if (s->p >= s->end)
            return fail(s, "unexpected end of input");
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p == close) {
            s->p++;
            return 0;
        }
        return fail(s, is_object ? "',' or '}' expected" : "',' or ']' expected");
    }
}

static int scan_value(struct scan *s, int depth)
{
    skip_ws(s);
    if (s->p >= s->end)
        return fail(s, "unexpected end of input");
    switch (*s->p) {
    case '{':
    case '[':
        return scan_container(s, depth);
    case '"':
        return scan_string(s, NULL, 0, NULL);
    case 't':
        return scan_literal(s, "true");
    case 'f':
        return scan_literal(s, "false");
    case 'n':
        return scan_literal(s, "null");
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            return scan_number(s, NULL);
        return fail(s, "unexpected character");
    }
}

int statejson_scan(const char *data, size_t len, struct state_summary *out, struct err *err)
{
    struct scan s = {.p = (const unsigned char *)data,
                     .start = (const unsigned char *)data,
                     .end = (const unsigned char *)data + len,
                     .err = err,
                     .out = out};
    memset(out, 0, sizeof(*out));
    if (data == NULL || len == 0)
        return err_set(err, ERR_INVALID, "state body is empty");
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return fail_state(&s, "the body must be a JSON object");
    if (scan_container(&s, 0) != 0)
        return -1;
    skip_ws(&s);
    if (s.p != s.end)
        return fail(&s, "trailing data after the JSON object");
    if (!s.seen_serial)
        return err_set(err, ERR_INVALID, "not a state: no top-level \"serial\"");
    if (!s.seen_lineage)
        return err_set(err, ERR_INVALID, "not a state: no top-level \"lineage\"");
    return 0;
}
