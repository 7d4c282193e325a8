/* common/buf.c: see buf.h. */
#include "common/buf.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void buf_cleanup(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t extra, struct err *err)
{
    if (extra > SIZE_MAX / 2 - b->len || (b->max != 0 && b->len + extra > b->max)) {
        buf_cleanup(b);
        return err_set(err, ERR_TOO_LARGE, "buffer would exceed %zu bytes", b->max);
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap < 256 ? 256 : b->cap;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *data, size_t len, struct err *err)
{
    if (buf_reserve(b, len, err) != 0)
        return -1;
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int buf_append_str(struct buf *b, const char *s, struct err *err)
{
    return buf_append(b, s, strlen(s), err);
}

int buf_printf(struct buf *b, struct err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return err_set(err, ERR_INTERNAL, "buf_printf: bad format");
    if (buf_reserve(b, (size_t)n, err) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *buf_take(struct buf *b, size_t *len)
{
    char *p = b->data != NULL ? b->data : xstrdup("");
    if (len != NULL)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

struct blob *blob_from_buf(struct buf *b)
{
    struct blob *bl = xmalloc(sizeof(*bl));
    atomic_init(&bl->refs, 1);
    bl->data = buf_take(b, &bl->len);
    return bl;
}

struct blob *blob_ref(struct blob *bl)
{
    atomic_fetch_add_explicit(&bl->refs, 1, memory_order_relaxed);
    return bl;
}

void blob_unref(struct blob *bl)
{
    if (bl == NULL || atomic_fetch_sub_explicit(&bl->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(bl->data);
    free(bl);
}
