/* s3/url.c: parsing of --storage values. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "store/store.h"

/* S3 bucket names: 3-63 characters of [a-z0-9.-], starting and ending with a letter or digit
 * (the rules every S3 implementation shares; Scaleway follows them). */
static bool bucket_name_ok(const char *b, size_t n)
{
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return false;
    }
    return b[0] != '.' && b[0] != '-' && b[n - 1] != '.' && b[n - 1] != '-';
}

int storage_url_parse(const char *url, char **kind, char **path_or_bucket, char **prefix,
                      struct err *err)
{
    *kind = *path_or_bucket = *prefix = NULL;
    if (!url || !url[0])
        return err_set(err, ERR_INVALID, "empty --storage value");
    if (strncmp(url, "s3://", 5) == 0) {
        const char *b = url + 5;
        size_t blen = strcspn(b, "/");
        if (!bucket_name_ok(b, blen))
            return err_set(err, ERR_INVALID,
                           "--storage: bad bucket name in s3:// URL (3-63 of a-z 0-9 . -)");
        const char *p = b + blen;
        while (*p == '/')
            p++;
        size_t plen = strlen(p);
        while (plen > 0 && p[plen - 1] == '/')
            plen--;
        for (size_t i = 0; i + 1 < plen; i++)
            if (p[i] == '/' && p[i + 1] == '/')
                return err_set(err, ERR_INVALID, "--storage: empty segment in S3 prefix");
        *kind = xstrdup("s3");
        *path_or_bucket = xstrndup(b, blen);
        *prefix = xstrndup(p, plen);
        return 0;
    }
    const char *path = url;
    if (strncmp(url, "dir:", 4) == 0)
        path = url + 4;
    else if (strstr(url, "://"))
        return err_set(err, ERR_INVALID, "--storage: unknown scheme (use dir:PATH or s3://BUCKET)");
    if (!path[0])
        return err_set(err, ERR_INVALID, "--storage: empty directory path");
    *kind = xstrdup("dir");
    *path_or_bucket = xstrdup(path);
    *prefix = xstrdup("");
    return 0;
}
