/* common/utf8.c: see utf8.h. */
#include "common/utf8.h"

#include <stdio.h>
#include <string.h>

size_t utf8_seq_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    size_t need;
    /* The second byte's range depends on the first (RFC 3629 §4); later ones are 80-BF. */
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlong 3-byte forms */
        else if (c == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90; /* no overlong 4-byte forms */
        else if (c == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        return 0; /* 80-C1 (continuation bytes, overlong 2-byte leads) and F5-FF */
    }
    if (avail < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return need;
}

bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq_len(p + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

/* utf8_sanitize and utf8_escape: each byte that starts no well-formed sequence becomes repl
 * ('?') or, with hex, its "\xHH" text. */
static void replace_invalid(char *dst, size_t cap, const char *s, bool hex)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s), o = 0;
    while (left > 0) {
        size_t k = utf8_seq_len(p, left);
        size_t out = k != 0 ? k : hex ? 4 : 1;
        if (o + out >= cap)
            break;
        if (k != 0)
            memmove(dst + o, p, k); /* dst may be s: never ahead of p */
        else if (hex)
            snprintf(dst + o, cap - o, "\\x%02x", *p);
        else
            dst[o] = '?';
        o += out;
        p += k != 0 ? k : 1;
        left -= k != 0 ? k : 1;
    }
    dst[o] = '\0';
}

void utf8_sanitize(char *dst, size_t cap, const char *s)
{
    replace_invalid(dst, cap, s, false);
}

void utf8_escape(char *dst, size_t cap, const char *s)
{
    replace_invalid(dst, cap, s, true);
}

size_t utf8_encode(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}
