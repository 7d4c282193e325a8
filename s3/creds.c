/* s3/creds.c: where S3 credentials come from, for stated and statectl alike. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "s3/s3.h"

/* Reads access_key=... and secret_key=... lines. */
static int read_credentials(const char *path, char **access, char **secret, struct err *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return err_set_errno(err, ERR_INVALID, errno, "--s3-credentials-file %s", path);
    char line[1024];
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *v = strchr(line, '=');
        if (v == NULL || line[0] == '#')
            continue;
        *v++ = '\0';
        char *k = line;
        while (*k == ' ')
            k++;
        k[strcspn(k, " ")] = '\0';
        while (*v == ' ')
            v++;
        if (strcmp(k, "access_key") == 0 || strcmp(k, "aws_access_key_id") == 0) {
            free(*access);
            *access = xstrdup(v);
        } else if (strcmp(k, "secret_key") == 0 || strcmp(k, "aws_secret_access_key") == 0) {
            free(*secret);
            *secret = xstrdup(v);
        }
    }
    memset(line, 0, sizeof(line));
    fclose(f);
    if (*access == NULL || *secret == NULL)
        return err_set(err, ERR_INVALID,
                       "--s3-credentials-file %s: needs access_key= and secret_key=", path);
    return 0;
}

static char *env_dup(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? xstrdup(v) : NULL;
}

int s3_credentials_find(const char *file, char **access, char **secret, struct err *err)
{
    *access = NULL;
    *secret = NULL;
    if (file != NULL && file[0] != '\0')
        return read_credentials(file, access, secret, err);
    bool scw = getenv("SCW_ACCESS_KEY") != NULL;
    *access = env_dup(scw ? "SCW_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    *secret =
        env_dup(getenv("SCW_SECRET_KEY") != NULL ? "SCW_SECRET_KEY" : "AWS_SECRET_ACCESS_KEY");
    if (*access != NULL && *secret != NULL)
        return 0;
    free(*access);
    free(*secret);
    *access = *secret = NULL;
    return err_set(err, ERR_INVALID,
                   "S3 storage needs credentials: --s3-credentials-file, or "
                   "SCW_ACCESS_KEY/SCW_SECRET_KEY, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
}
