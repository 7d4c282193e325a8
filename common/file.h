/* common/file.h: the durable file primitives of the embedded drivers (states, locks, audit).
 *
 * A file that must survive a crash is replaced whole, never edited: the new content goes to a
 * temp file in the same directory, which is fsync'ed, renamed over the old one, and the
 * directory fsync'ed, so a reader or a crash sees the old file or the new one, never a mix,
 * and a rename reported done cannot be lost. Temp files are named ".~tmp.<16 hex>"; the owner
 * of a directory removes the ones a crash left (file_remove_stale_temps) before writing.
 *
 * Failures are recorded with the caller's code: ERR_WRITE for a state write, ERR_UNAVAILABLE
 * for a service (locks, audit), ERR_INVALID at start-up. */
#ifndef STATED_COMMON_FILE_H
#define STATED_COMMON_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/err.h"

#define FILE_TEMP_PREFIX ".~tmp."

/* How file_write_atomic writes. */
struct file_write_opts {
    mode_t mode;        /* of the new file: 0600 for locks, 0640 for states */
    bool durable;       /* fsync the file and the directory (false: data that can be rebuilt) */
    enum err_code code; /* what a failure is recorded as */
    struct stat *st;    /* when not NULL, receives the new file's stat */
};

/* Replaces path with the bytes of a followed by those of b (blen may be 0), atomically. */
int file_write_atomic(const char *path, const void *a, size_t alen, const void *b, size_t blen,
                      const struct file_write_opts *how, struct err *err);
/* A new file's content on its way to path, for writers that share the fsyncs (group commit):
 * file_temp_write, then file_temp_sync, file_temp_install and fsync_dir(dir), then
 * file_temp_cleanup, which removes the temp file unless it was installed. */
struct file_temp {
    char *path, *tmp, *dir; /* the target, the temp file beside it, their directory */
    int fd;                 /* the temp file's, until installed */
    enum err_code code;
    bool installed;
};

/* Creates the temp file beside path and writes a then b (how->st gets its stat); no fsync.
 * Call file_temp_cleanup afterwards, also on failure. */
int file_temp_write(struct file_temp *t, const char *path, const void *a, size_t alen,
                    const void *b, size_t blen, const struct file_write_opts *how, struct err *err);
/* Like file_temp_write, but the temp file is a hard link to the existing file src: no bytes are
 * written (file_temp_sync then has nothing to do; src must already be durable). */
int file_temp_link(struct file_temp *t, const char *src, const char *path, enum err_code code,
                   struct err *err);
/* fsync(2) of the temp file's bytes. */
int file_temp_sync(struct file_temp *t, struct err *err);
/* Closes the temp file and renames it over path; durable once fsync_dir(t->dir) returns. */
int file_temp_install(struct file_temp *t, struct err *err);
void file_temp_cleanup(struct file_temp *t);
/* Appends the whole file at path to out (under out's ceiling); "-" is standard input, as on
 * command lines. ERR_NOT_FOUND when it cannot be opened, ERR_INTERNAL when reading fails. */
int file_read(const char *path, struct buf *out, struct err *err);
/* write(2) until all len bytes are written or an error other than EINTR: 0 or -1 (errno). */
int file_write_all(int fd, const void *data, size_t len);
/* fsync(2) of a directory, so a rename or a new entry in it is durable. */
int fsync_dir(const char *dir, enum err_code code, struct err *err);
/* mkdir -p with mode: creates dir and the parents missing, each made durable by an fsync of
 * its parent. A non-directory in the way is ERR_INVALID; other failures are `code`. */
int file_mkdir_p(const char *dir, mode_t mode, enum err_code code, struct err *err);
/* Removes the temp files that interrupted writes left under dir (recursively when asked); they
 * hold nothing anyone acknowledged. Call it before the first write of the directory's owner.
 * Returns how many were removed. */
unsigned file_remove_stale_temps(const char *dir, bool recursive);

#endif
