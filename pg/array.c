/* pg/array.c: PostgreSQL array literals in text form, for passing many rows' values of one
 * column as a single parameter (e.g. unnest($1::text[])).
 *
 * The text form quotes every element, so no value can be read as NULL, a delimiter or a
 * nested array: inside double quotes only " and \ need a backslash. */
#include "pg/pg.h"

#include <string.h>

#include "common/buf.h"

int pgconn_array_add(struct buf *arr, bool first, const char *value, struct err *err)
{
    if (!first && buf_append(arr, ",", 1, err) != 0)
        return -1;
    if (!value)
        return buf_append_str(arr, "NULL", err);
    if (buf_append(arr, "\"", 1, err) != 0)
        return -1;
    for (const char *s = value; *s;) {
        size_t plain = strcspn(s, "\"\\");
        if (buf_append(arr, s, plain, err) != 0)
            return -1;
        s += plain;
        if (*s) {
            char esc[2] = {'\\', *s++};
            if (buf_append(arr, esc, 2, err) != 0)
                return -1;
        }
    }
    return buf_append(arr, "\"", 1, err);
}
