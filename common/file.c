/* common/file.c: see file.h. */
#include "common/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

int file_read(const char *path, struct buf *out, struct err *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (f == NULL)
        return err_set_errno(err, ERR_NOT_FOUND, errno, "cannot read %s", path);
    char chunk[8192];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = buf_append(out, chunk, n, err);
    if (rc == 0 && ferror(f))
        rc = err_set(err, ERR_INTERNAL, "cannot read %s", path);
    if (!is_stdin)
        fclose(f);
    return rc;
}

int file_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fsync_dir(const char *dir, enum err_code code, struct err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_set_errno(err, code, errno, "open directory %s", dir);
    int rc = 0;
    if (fsync(fd) != 0)
        rc = err_set_errno(err, code, errno, "fsync directory %s", dir);
    close(fd);
    return rc;
}

/* The directory part of path ("." when it has none); a new string. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

/* Writes both parts and, when asked, the stat. */
static int write_parts(struct file_temp *t, const void *a, size_t alen, const void *b, size_t blen,
                       const struct file_write_opts *how, struct err *err)
{
    if (file_write_all(t->fd, a, alen) != 0 || (blen > 0 && file_write_all(t->fd, b, blen) != 0))
        return err_set_errno(err, how->code, errno, "write %s", t->tmp);
    if (how->st != NULL && fstat(t->fd, how->st) != 0)
        return err_set_errno(err, how->code, errno, "fstat %s", t->tmp);
    return 0;
}

/* Names the temp file beside path (nothing created yet). */
static void temp_name(struct file_temp *t, const char *path, enum err_code code)
{
    unsigned char rnd[8];
    char rndhex[17];
    random_bytes(rnd, sizeof(rnd));
    hex_encode(rnd, sizeof(rnd), rndhex);
    t->path = xstrdup(path);
    t->dir = dir_of(path);
    t->tmp = xasprintf("%s/" FILE_TEMP_PREFIX "%s", t->dir, rndhex);
    t->code = code;
    t->installed = false;
    t->fd = -1;
}

int file_temp_write(struct file_temp *t, const char *path, const void *a, size_t alen,
                    const void *b, size_t blen, const struct file_write_opts *how, struct err *err)
{
    temp_name(t, path, how->code);
    t->fd = open(t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, how->mode);
    if (t->fd < 0)
        return err_set_errno(err, how->code, errno, "create %s", t->tmp);
    return write_parts(t, a, alen, b, blen, how, err);
}

int file_temp_link(struct file_temp *t, const char *src, const char *path, enum err_code code,
                   struct err *err)
{
    temp_name(t, path, code);
    if (link(src, t->tmp) != 0) {
        int e = errno;
        free(t->tmp);
        t->tmp = NULL; /* nothing to remove */
        return err_set_errno(err, e == ENOENT ? ERR_NOT_FOUND : code, e, "link %s", src);
    }
    return 0;
}

int file_temp_sync(struct file_temp *t, struct err *err)
{
    if (t->fd >= 0 && fsync(t->fd) != 0)
        return err_set_errno(err, t->code, errno, "fsync %s", t->tmp);
    return 0;
}

int file_temp_install(struct file_temp *t, struct err *err)
{
    int rc = t->fd >= 0 ? close(t->fd) : 0;
    t->fd = -1;
    if (rc != 0)
        return err_set_errno(err, t->code, errno, "close %s", t->tmp);
    if (rename(t->tmp, t->path) != 0)
        return err_set_errno(err, t->code, errno, "rename to %s", t->path);
    t->installed = true;
    return 0;
}

void file_temp_cleanup(struct file_temp *t)
{
    if (t->fd >= 0)
        close(t->fd);
    if (t->tmp && !t->installed)
        unlink(t->tmp);
    free(t->tmp);
    free(t->dir);
    free(t->path);
    *t = (struct file_temp){.fd = -1};
}

int file_write_atomic(const char *path, const void *a, size_t alen, const void *b, size_t blen,
                      const struct file_write_opts *how, struct err *err)
{
    struct file_temp t;
    int rc = file_temp_write(&t, path, a, alen, b, blen, how, err);
    if (rc == 0 && how->durable)
        rc = file_temp_sync(&t, err);
    if (rc == 0)
        rc = file_temp_install(&t, err);
    if (rc == 0 && how->durable)
        rc = fsync_dir(t.dir, how->code, err);
    file_temp_cleanup(&t);
    return rc;
}

int file_mkdir_p(const char *dir, mode_t mode, enum err_code code, struct err *err)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode)
                   ? 0
                   : err_set(err, ERR_INVALID, "a file is in the way of directory %s", dir);
    if (errno == ENOTDIR)
        return err_set(err, ERR_INVALID, "a file is in the way of directory %s", dir);
    if (errno != ENOENT)
        return err_set_errno(err, code, errno, "stat %s", dir);
    char *parent = dir_of(dir);
    int rc = strcmp(parent, dir) == 0 ? 0 : file_mkdir_p(parent, mode, code, err);
    if (rc == 0 && mkdir(dir, mode) != 0 && errno != EEXIST)
        rc = err_set_errno(err, errno == ENOTDIR ? ERR_INVALID : code, errno, "mkdir %s", dir);
    else if (rc == 0)
        rc = fsync_dir(parent, code, err);
    free(parent);
    return rc;
}

unsigned file_remove_stale_temps(const char *dir, bool recursive)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    unsigned removed = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        char *path = xasprintf("%s/%s", dir, n);
        struct stat st;
        if (lstat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode) && recursive)
                removed += file_remove_stale_temps(path, true);
            else if (S_ISREG(st.st_mode) &&
                     strncmp(n, FILE_TEMP_PREFIX, strlen(FILE_TEMP_PREFIX)) == 0 &&
                     unlink(path) == 0)
                removed++;
        }
        free(path);
    }
    closedir(d);
    return removed;
}
