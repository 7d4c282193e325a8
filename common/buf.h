/* common/buf.h: a growable byte buffer with a ceiling.
 *
 * The ceiling is set at init (as curl's dynbuf): an append that would pass it fails with
 * ERR_TOO_LARGE and frees the buffer, so a state above --max-state-bytes never grows memory
 * further. Data is always NUL-terminated (one extra byte, not counted in len), so text can be
 * handed to string functions; binary content may still contain NULs. */
#ifndef STATED_COMMON_BUF_H
#define STATED_COMMON_BUF_H

#include <stddef.h>

#include "common/err.h"

struct buf {
    char *data; /* NULL until the first append */
    size_t len, cap;
    size_t max; /* ceiling for len; 0 means no ceiling */
};

void buf_init(struct buf *b, size_t max);
/* Frees the storage and leaves b empty (same max); NULL-safe on b->data. */
void buf_cleanup(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps the storage */
int buf_append(struct buf *b, const void *data, size_t len, struct err *err);
int buf_append_str(struct buf *b, const char *s, struct err *err);
int buf_printf(struct buf *b, struct err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Ensures room for `extra` more bytes without changing len. */
int buf_reserve(struct buf *b, size_t extra, struct err *err);
/* Hands the storage to the caller (free() it) and leaves b empty. Never NULL: an empty buffer
 * gives a malloc'd "". */
char *buf_take(struct buf *b, size_t *len);

/* An immutable, reference-counted byte string: one copy of an object shared by a cache and
 * the responses being sent from it, released by whichever thread drops the last reference.
 * data is NUL-terminated like a buf's. */
struct blob {
    _Atomic size_t refs;
    size_t len;
    char *data;
};
/* Takes b's storage (no copy) into a new blob with one reference; b is left empty. */
struct blob *blob_from_buf(struct buf *b);
struct blob *blob_ref(struct blob *bl); /* returns bl */
void blob_unref(struct blob *bl);       /* NULL-safe */

#endif
