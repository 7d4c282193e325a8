/* common/util.c: see util.h. */
#define _GNU_SOURCE /* timegm */
#include "common/util.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <ctype.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(size_t size)
{
    fprintf(stderr, "stated: out of memory allocating %zu bytes\n", size);
    abort();
}

void *xmalloc(size_t size)
{
    if (size == 0)
        oom(0);
    void *p = malloc(size);
    if (p == NULL)
        oom(size);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    if (n == 0 || size == 0 || n > SIZE_MAX / size)
        oom(n * size);
    void *p = calloc(n, size);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t size)
{
    if (size == 0)
        oom(0);
    void *q = realloc(p, size);
    if (q == NULL)
        oom(size);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void hex_encode(const unsigned char *in, size_t len, char *out)
{
    static const char hex_digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hex_decode(const char *hex, unsigned char *out, size_t n)
{
    if (strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value((unsigned char)hex[2 * i]),
            lo = hex_value((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi * 16 + lo);
    }
    return 0;
}

void sha256_raw(const void *data, size_t len, unsigned char out[32])
{
    SHA256(data, len, out);
}

void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    SHA256(data, len, md);
    hex_encode(md, 32, out);
}

void md5_base64(const void *data, size_t len, char out[25])
{
    unsigned char md[16];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL);
    EVP_EncodeBlock((unsigned char *)out, md, 16);
}

char *base64_encode(const void *data, size_t len)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int base64_decode(const char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
    size_t o = 0, cap = *outlen;
    unsigned acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < inlen; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad > 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (pad > 2 || (inlen % 4 != 0 && pad > 0) || bits >= 6)
        return -1;
    *outlen = o;
    return 0;
}

bool ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    const volatile unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < alen; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}

void random_bytes(void *out, size_t len)
{
    if (RAND_bytes(out, (int)len) != 1) {
        fprintf(stderr, "stated: RAND_bytes failed\n");
        abort();
    }
}

void random_token(char out[44])
{
    unsigned char raw[32];
    char b64[48];
    random_bytes(raw, sizeof(raw));
    EVP_EncodeBlock((unsigned char *)b64, raw, 32); /* 44 chars, one '=' of padding */
    for (int i = 0; i < 43; i++)
        out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    out[43] = '\0';
}

int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void time_format_rfc3339(int64_t us, char out[32])
{
    time_t sec = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    if (frac < 0) {
        frac += 1000000;
        sec -= 1;
    }
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%06ldZ", frac);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

int time_parse_rfc3339(const char *s, int64_t *us)
{
    const char *p = s;
    int Y, M, D, h = 0, m = 0, sec = 0;
    long frac_us = 0;
    int64_t offset_s = 0;
    if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D))
        return -1;
    if (*p != '\0') {
        if (*p != 'T' && *p != 't' && *p != ' ')
            return -1;
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m) || *p++ != ':' ||
            digits(&p, 2, &sec))
            return -1;
        if (*p == '.') {
            p++;
            int nd = 0;
            while (isdigit((unsigned char)*p)) {
                if (nd < 6)
                    frac_us = frac_us * 10 + (*p - '0');
                nd++;
                p++;
            }
            if (nd == 0)
                return -1;
            for (; nd < 6; nd++)
                frac_us *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om;
            p++;
            if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om))
                return -1;
            offset_s = sign * (oh * 3600 + om * 60);
        } else {
            return -1;
        }
        if (*p != '\0')
            return -1;
    }
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -1;
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    *us = ((int64_t)t - offset_s) * 1000000 + frac_us;
    return 0;
}

int state_name_check(const char *name, size_t len, struct err *err)
{
    if (len == 0)
        return err_set(err, ERR_INVALID, "state name is empty");
    if (len >= STATE_NAME_MAX)
        return err_set(err, ERR_INVALID, "state name longer than %d bytes", STATE_NAME_MAX - 1);
    size_t seg_start = 0;
    int segments = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '/') {
            unsigned char c = (unsigned char)name[i];
            if (!(isalnum(c) || c == '.' || c == '_' || c == '-'))
                return err_set(err, ERR_INVALID,
                               "state name may only contain A-Z a-z 0-9 . _ - and '/' "
                               "(byte 0x%02x at offset %zu)",
                               c, i);
            continue;
        }
        size_t seg_len = i - seg_start;
        const char *seg = name + seg_start;
        if (seg_len == 0)
            return err_set(err, ERR_INVALID, "state name has an empty segment");
        if (seg_len > 128)
            return err_set(err, ERR_INVALID, "state name segment longer than 128 characters");
        if ((seg_len == 1 && seg[0] == '.') || (seg_len == 2 && seg[0] == '.' && seg[1] == '.'))
            return err_set(err, ERR_INVALID, "state name segment may not be '.' or '..'");
        if (++segments > 8)
            return err_set(err, ERR_INVALID, "state name has more than 8 segments");
        if (i == len && seg_len == 4 && memcmp(seg, "lock", 4) == 0)
            return err_set(err, ERR_INVALID, "state name may not end with the segment 'lock'");
        seg_start = i + 1;
    }
    return 0;
}

bool pattern_match(const char *pattern, const char *name)
{
    /* Iterative glob with one backtrack point per star kind (as fnmatch without brackets). */
    const char *p = pattern, *n = name;
    const char *star_p = NULL, *star_n = NULL;
    bool star_any = false;
    while (*n != '\0') {
        if (p[0] == '*' && p[1] == '*') {
            star_any = true;
            p += 2;
            star_p = p;
            star_n = n;
        } else if (*p == '*') {
            star_any = false;
            p++;
            star_p = p;
            star_n = n;
        } else if (*p == *n) {
            p++;
            n++;
        } else if (star_p != NULL && (star_any || *star_n != '/')) {
            p = star_p;
            n = ++star_n;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

int parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mult = 1024 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mult = 1024ULL * 1024 * 1024, end++;
    if (*end == 'i' || *end == 'B')
        end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
    if (*end != '\0' || v > UINT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

int parse_duration_ms(const char *s, int64_t *out_ms)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -1;
    long long v = strtoll(s, &end, 10);
    int64_t mult = 1000;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60 * 1000;
    else if (strcmp(end, "h") == 0)
        mult = 3600 * 1000;
    else if (strcmp(end, "d") == 0)
        mult = 24 * 3600 * 1000;
    else
        return -1;
    if (v < 0 || v > INT64_MAX / mult)
        return -1;
    *out_ms = v * mult;
    return 0;
}
