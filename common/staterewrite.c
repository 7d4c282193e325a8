/* common/staterewrite.c: byte-preserving rewrites of a state (statejson.h).
 *
 * Re-serialising through a JSON library would reorder keys, reformat numbers (outputs hold
 * arbitrary numbers) and break the byte-for-byte history, so the bytes are validated with
 * statejson_scan and then walked once more member by member of the root object: a minimal
 * tokenizer that only knows where a value ends (nesting depth and string boundaries). Each
 * rewrite copies spans of the input and writes only what it changes.
 *
 * Examples: restore with new serial 12 turns {"version":4,"serial":7,"x":{"serial":1}} into
 * {"version":4,"serial":12,"x":{"serial":1}} (the nested one is not the state's); the outputs
 * view of {"version":4,…,"outputs":{"a":{"value":1}},"resources":[…]} is
 * {"version":4,…,"outputs":{"a":{"value":1}},"resources":[]}. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/statejson.h"

/* Index just past the string starting at data[i] == '"' (escapes skipped). The input was
 * validated, so the closing quote exists. */
static size_t skip_string(const char *data, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (data[i] == '\\')
            i++;
        else if (data[i] == '"')
            return i + 1;
    }
    return len;
}

static size_t skip_ws(const char *data, size_t len, size_t i)
{
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
        i++;
    return i;
}

/* Index just past the (validated) value starting at data[i]. */
static size_t skip_value(const char *data, size_t len, size_t i)
{
    if (data[i] == '"')
        return skip_string(data, len, i);
    if (data[i] != '{' && data[i] != '[') {
        while (i < len && strchr(",}] \t\r\n", data[i]) == NULL)
            i++;
        return i;
    }
    int depth = 0;
    while (i < len) {
        char c = data[i];
        if (c == '"') {
            i = skip_string(data, len, i);
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return i + 1;
        i++;
    }
    return len;
}

/* One member of the root object: its key as written (quotes included) and its value. */
struct member {
    size_t key, key_end, value, value_end;
};

/* The first member of the root object at or after *pos (0 for the first); false after the
 * last. data must have passed statejson_scan. */
static bool next_member(const char *data, size_t len, size_t *pos, struct member *m)
{
    size_t i = *pos == 0 ? skip_ws(data, len, 0) : *pos;
    i = skip_ws(data, len, i + 1); /* past '{' or ',' */
    if (i >= len || data[i] != '"')
        return false; /* '}': the object is empty or ended */
    m->key = i;
    m->key_end = skip_string(data, len, i);
    i = skip_ws(data, len, skip_ws(data, len, m->key_end) + 1); /* past ':' */
    m->value = i;
    m->value_end = skip_value(data, len, i);
    *pos = skip_ws(data, len, m->value_end); /* at ',' or '}' */
    return true;
}

/* The next character of a (validated) JSON string at data[*i], unescaped; -1 for one outside
 * ASCII (none of the keys compared here has one). */
static int key_char(const char *data, size_t *i)
{
    static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
    unsigned char c = (unsigned char)data[(*i)++];
    if (c != '\\')
        return c < 0x80 ? c : -1;
    char e = data[(*i)++];
    if (e != 'u')
        return esc_out[strchr(esc_in, e) - esc_in];
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char h = data[(*i)++];
        v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
    }
    return v < 0x80 ? (int)v : -1;
}

/* Whether member m's key, unescaped, is key: "serial" and "seri\u0061l" are the same key to
 * every JSON reader, so to us too. */
static bool key_is(const char *data, const struct member *m, const char *key)
{
    size_t i = m->key + 1, end = m->key_end - 1;
    for (; *key != '\0'; key++)
        if (i >= end || key_char(data, &i) != (unsigned char)*key)
            return false;
    return i == end;
}

int statejson_rewrite_serial(const char *data, size_t len, uint64_t new_serial, struct buf *out,
                             struct err *err)
{
    struct state_summary sum;
    struct member m;
    char num[24];
    size_t pos = 0, copied = 0;
    int replaced = 0;

    buf_reset(out);
    if (statejson_scan(data, len, &sum, err) != 0)
        return -1;
    snprintf(num, sizeof(num), "%llu", (unsigned long long)new_serial);
    while (next_member(data, len, &pos, &m)) {
        if (!key_is(data, &m, "serial"))
            continue;
        if (buf_append(out, data + copied, m.value - copied, err) != 0 ||
            buf_append_str(out, num, err) != 0)
            return -1;
        copied = m.value_end;
        replaced++;
    }
    if (replaced == 0)
        return err_set(err, ERR_INVALID, "no top-level serial"); /* statejson_scan found one */
    return buf_append(out, data + copied, len - copied, err);
}

/* What terraform_remote_state reads of a state; everything else is left out. */
static const char *const outputs_view_keys[] = {"version", "terraform_version", "serial", "lineage",
                                                "outputs"};

static bool in_outputs_view(const char *data, const struct member *m)
{
    for (size_t k = 0; k < sizeof(outputs_view_keys) / sizeof(outputs_view_keys[0]); k++)
        if (key_is(data, m, outputs_view_keys[k]))
            return true;
    return false;
}

int statejson_outputs_view(const char *data, size_t len, struct buf *out, struct err *err)
{
    struct state_summary sum;
    struct member m;
    size_t pos = 0;

    buf_reset(out);
    if (statejson_scan(data, len, &sum, err) != 0)
        return -1;
    if (sum.is_encrypted)
        return err_set(err, ERR_FORBIDDEN,
                       "the state is encrypted by OpenTofu: its outputs cannot be separated from "
                       "the rest, so an outputs-only identity may not read it");
    if (buf_append_str(out, "{", err) != 0)
        return -1;
    while (next_member(data, len, &pos, &m)) {
        if (!in_outputs_view(data, &m))
            continue;
        if (buf_append(out, data + m.key, m.value_end - m.key, err) != 0 ||
            buf_append_str(out, ",", err) != 0)
            return -1;
    }
    return buf_append_str(out, "\"resources\":[]}\n", err);
}
