/* common/util.h: allocation, hashing, encoding, time and name helpers every part uses. */
#ifndef STATED_COMMON_UTIL_H
#define STATED_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Allocation that cannot fail: abort with a message on OOM, on zero size and on overflow (as
 * tmux's xmalloc.c), so error paths are for real errors only. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Lowercase hex SHA-256 of data into out[65]. */
void sha256_hex(const void *data, size_t len, char out[65]);
void sha256_raw(const void *data, size_t len, unsigned char out[32]);
/* Standard base64 (with padding) of MD5(data) into out[25]: what Content-MD5 carries. */
void md5_base64(const void *data, size_t len, char out[25]);
void hex_encode(const unsigned char *in, size_t len, char *out /* 2*len+1 */);
/* The value of one hex digit of either case, or -1. */
int hex_value(int c);
/* Decodes exactly 2*n hex digits (either case; hex must be that long) into out[n]. -1 when
 * the length or a digit is wrong. */
int hex_decode(const char *hex, unsigned char *out, size_t n);

/* Standard base64 with padding. base64_encode returns a new string (caller frees).
 * base64_decode writes at most *outlen bytes to out and sets *outlen; -1 on bad input. */
char *base64_encode(const void *data, size_t len);
int base64_decode(const char *in, size_t inlen, unsigned char *out, size_t *outlen);

/* Constant-time equality of two equal-length byte strings (false when lengths differ; the
 * length itself is not secret). */
bool ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Fills out with cryptographically random bytes (OpenSSL RAND_bytes); aborts on failure. */
void random_bytes(void *out, size_t len);
/* A random token: 32 random bytes as 43 base64url characters, NUL-terminated in out[44]. */
void random_token(char out[44]);

/* Microseconds since the epoch (CLOCK_REALTIME) and a monotonic clock in milliseconds and in
 * microseconds (durations). */
int64_t now_us(void);
int64_t mono_ms(void);
int64_t mono_us(void);
/* RFC 3339 UTC with microseconds: "2026-11-22T02:20:13.123456Z"; out needs 32 bytes. */
void time_format_rfc3339(int64_t us, char out[32]);
/* Parses RFC 3339 (fractional seconds and a numeric offset or Z allowed, or a plain date
 * YYYY-MM-DD meaning midnight UTC). -1 when malformed. */
int time_parse_rfc3339(const char *s, int64_t *us);

/* State names (DESIGN.md "The client protocol"): 1-8 segments of [A-Za-z0-9._-]{1,128} joined
 * by '/', never "." or "..", last segment never "lock". Returns 0 or -1 with ERR_INVALID and a
 * message saying which rule failed. */
#define STATE_NAME_MAX 1040
int state_name_check(const char *name, size_t len, struct err *err);

/* Glob match for token state patterns: '*' matches any run of characters except '/', "**"
 * matches anything including '/', every other byte matches itself. "*" alone is not "**":
 * use "**" for every state. */
bool pattern_match(const char *pattern, const char *name);

/* Parses a size with an optional K/M/G suffix (powers of 1024) or a duration with an optional
 * ms/s/m/h/d suffix (seconds when bare). -1 when malformed. */
int parse_size(const char *s, uint64_t *out);
int parse_duration_ms(const char *s, int64_t *out_ms);

/* Edits from a to b: insertions, deletions, replacements and swaps of adjacent bytes
 * (common/suggest.c). */
size_t word_edit_distance(const char *a, const char *b);
/* The candidate (NULL-terminated list) close enough to s to be what was meant: at most 2
 * edits and at most a third of s's length, always allowing 1; the first of equally close
 * ones. NULL when there is none. Borrowed from candidates. */
const char *word_nearest(const char *s, const char *const *candidates);

#endif
