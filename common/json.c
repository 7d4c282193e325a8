/* common/json.c: see json.h. */
#include "common/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

bool u64_parse_decimal(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || (n > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

json_t *u64_to_json(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char s[U64_JSON_MAX];
    snprintf(s, sizeof(s), "%" PRIu64, v);
    return json_string(s);
}

bool u64_from_json(const json_t *j, uint64_t *out)
{
    if (json_is_integer(j)) {
        json_int_t v = json_integer_value(j);
        if (v < 0)
            return false;
        *out = (uint64_t)v;
        return true;
    }
    if (!json_is_string(j))
        return false;
    return u64_parse_decimal(json_string_value(j), json_string_length(j), out);
}

char *u64_json_text(uint64_t v, char out[U64_JSON_MAX])
{
    if (v <= (uint64_t)INT64_MAX)
        snprintf(out, U64_JSON_MAX, "%" PRIu64, v);
    else
        snprintf(out, U64_JSON_MAX, "\"%" PRIu64 "\"", v);
    return out;
}
