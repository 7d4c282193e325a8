/* common/staterewrite.c: rewrite a state's top-level serial in place (restore).
 *
 * A restored snapshot must carry a serial above the current one or clients refuse it, but
 * nothing else may change: re-serialising through a JSON library would reorder keys, reformat
 * numbers and break the byte-for-byte history. So the bytes are validated with statejson_scan
 * and then walked once more with a minimal tokenizer that only tracks nesting depth and string
 * boundaries; each number that is the value of a literal "serial" key directly in the root
 * object is replaced, and everything else is copied as is.
 *
 * Example: {"version":4,"serial":7,"x":{"serial":1}} with new serial 12 becomes
 *          {"version":4,"serial":12,"x":{"serial":1}} (the nested one is not the state's). */
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

int statejson_rewrite_serial(const char *data, size_t len, uint64_t new_serial, struct buf *out,
                             struct err *err)
{
    struct state_summary sum;
    char num[24];
    size_t i = 0, copied = 0;
    int depth = 0, replaced = 0;
    /* In the root object a string is a key when it follows '{' or ','. */
    int expect_key = 0;

    buf_reset(out);
    if (statejson_scan(data, len, &sum, err) != 0)
        return -1;
    snprintf(num, sizeof(num), "%llu", (unsigned long long)new_serial);
    while (i < len) {
        char c = data[i];
        if (c == '"') {
            size_t end = skip_string(data, len, i);
            if (depth == 1 && expect_key && end - i == 8 &&
                memcmp(data + i, "\"serial\"", 8) == 0) {
                size_t v = skip_ws(data, len, end);
                size_t vend;
                if (v >= len || data[v] != ':')
                    return err_set(err, ERR_INVALID, "malformed serial key at byte %zu", i);
                v = skip_ws(data, len, v + 1);
                vend = v;
                while (vend < len && strchr("0123456789+-.eE", data[vend]) != NULL)
                    vend++;
                if (vend == v)
                    return err_set(err, ERR_INVALID, "serial is not a number (byte %zu)", v);
                if (buf_append(out, data + copied, v - copied, err) != 0 ||
                    buf_append_str(out, num, err) != 0)
                    return -1;
                copied = vend;
                replaced++;
                end = vend;
            }
            expect_key = 0;
            i = end;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
            expect_key = depth == 1 && c == '{';
        } else if (c == '}' || c == ']') {
            depth--;
            expect_key = 0;
        } else if (c == ',') {
            expect_key = depth == 1;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            expect_key = 0;
        }
        i++;
    }
    if (replaced == 0)
        return err_set(err, ERR_INVALID, "top-level serial is not written as a plain key");
    return buf_append(out, data + copied, len - copied, err);
}
