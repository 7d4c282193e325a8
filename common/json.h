/* common/json.h: unsigned 64-bit integers in the JSON stated writes and reads.
 *
 * A state's serial is a uint64 (Terraform's type), but JSON parsers keep integers in a
 * double (JavaScript: exact up to 2^53) or an int64 (jansson: json_int_t, which refuses a
 * larger number outright, so one such value makes a whole document unreadable). stated
 * therefore writes one representation everywhere (state metadata, the audit's canonical
 * event text, the admin API): a JSON number while the value fits in int64, a decimal string
 * above that, e.g.
 *
 *     "serial":9223372036854775807        "serial":"9223372036854775808"
 *
 * Readers accept both. Values up to 2^63-1 are written exactly as they were before this rule,
 * so existing metadata and audit chains read and verify unchanged. */
#ifndef STATED_COMMON_JSON_H
#define STATED_COMMON_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* Room for the text form of any value, quotes and NUL included. */
#define U64_JSON_MAX 24

/* A new jansson value for v: an integer when v <= INT64_MAX, else a decimal string. */
json_t *u64_to_json(uint64_t v);
/* The value of j: an integer >= 0, or a string of decimal digits (no sign, no leading zero,
 * at most 2^64-1). false for anything else (NULL, negative, real, other text). */
bool u64_from_json(const json_t *j, uint64_t *out);
/* The same representation as text, for JSON written by hand: "42" or "\"18446744073709551615\"".
 * Returns out. */
char *u64_json_text(uint64_t v, char out[U64_JSON_MAX]);
/* Parses exactly n bytes of canonical decimal digits ("0", or no leading zero) into *out;
 * false when they are not digits or the value is over 2^64-1. */
bool u64_parse_decimal(const char *s, size_t n, uint64_t *out);

#endif
