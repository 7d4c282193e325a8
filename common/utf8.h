/* common/utf8.h: UTF-8 checked and written the same way everywhere.
 *
 * Everything a client sends may end up in JSON (a state body, lock info, a Basic username in
 * an audit line or a state's metadata), and JSON text must be well-formed UTF-8 (RFC 8259 §8.1).
 * "Well-formed" is RFC 3629's table: no overlong forms, no UTF-16 surrogates (U+D800-U+DFFF)
 * encoded as UTF-8, nothing above U+10FFFF. */
#ifndef STATED_COMMON_UTF8_H
#define STATED_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1-4) of the well-formed sequence that starts at p, with avail bytes readable there;
 * 0 when p does not start one. */
size_t utf8_seq_len(const unsigned char *p, size_t avail);
/* True when all n bytes of s are well-formed UTF-8 (NUL bytes included, as U+0000). */
bool utf8_valid(const char *s, size_t n);
/* Copies the NUL-terminated s into dst (cap bytes, always NUL-terminated), each byte that does
 * not start a well-formed sequence replaced by '?', cut at a character boundary when it does
 * not fit. dst may be s itself. */
void utf8_sanitize(char *dst, size_t cap, const char *s);
/* The same, each such byte written as the four characters "\xHH" (for showing a name a
 * client sent); dst must not be s. */
void utf8_escape(char *dst, size_t cap, const char *s);
/* Writes code point cp as UTF-8 to out and returns its length (1-4); 0 for a surrogate or a
 * value above U+10FFFF, which have no UTF-8 form. */
size_t utf8_encode(uint32_t cp, unsigned char out[4]);

#endif
