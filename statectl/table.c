/* statectl/table.c: aligned text tables for people (scripts use --output json). */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "statectl/statectl.h"

void ctl_table_init(struct ctl_table *t, int ncols, const char *const *head)
{
    memset(t, 0, sizeof(*t));
    if (ncols < 1 || ncols > (int)(sizeof(t->head) / sizeof(t->head[0])))
        die_bug("table with %d columns", ncols);
    t->ncols = ncols;
    for (int i = 0; i < ncols; i++)
        t->head[i] = head[i];
}

void ctl_table_add(struct ctl_table *t, const char *const *row)
{
    if (t->rows == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->cells = xrealloc(t->cells, t->cap * (size_t)t->ncols * sizeof(char *));
    }
    for (int i = 0; i < t->ncols; i++)
        t->cells[t->rows * (size_t)t->ncols + (size_t)i] =
            xstrdup(row[i] != NULL && row[i][0] != '\0' ? row[i] : "-");
    t->rows++;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void render_row(const struct ctl_table *t, const char *const *row, const size_t *w,
                       struct buf *out)
{
    struct err e = {0};
    size_t start = out->len;
    for (int i = 0; i < t->ncols; i++) {
        buf_append_str(out, row[i], &e);
        if (i + 1 < t->ncols)
            for (size_t k = width(row[i]); k < w[i] + 2; k++)
                buf_append(out, " ", 1, &e);
    }
    while (out->len > start && out->data[out->len - 1] == ' ')
        out->len--;
    buf_append(out, "\n", 1, &e);
}

void ctl_table_render(const struct ctl_table *t, struct buf *out)
{
    size_t w[12] = {0};
    for (int i = 0; i < t->ncols; i++) {
        w[i] = width(t->head[i]);
        for (size_t r = 0; r < t->rows; r++) {
            size_t cw = width(t->cells[r * (size_t)t->ncols + (size_t)i]);
            if (cw > w[i])
                w[i] = cw;
        }
    }
    render_row(t, t->head, w, out);
    for (size_t r = 0; r < t->rows; r++)
        render_row(t, (const char *const *)&t->cells[r * (size_t)t->ncols], w, out);
}

void ctl_table_cleanup(struct ctl_table *t)
{
    for (size_t i = 0; i < t->rows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}
