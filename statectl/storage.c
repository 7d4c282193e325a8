/* statectl/storage.c: opening storage directly, for the commands that work without stated
 * (offline export) or read someone else's bucket (import --from).
 *
 * The S3 settings and the keys are taken as stated takes them (backend/config.c: the same
 * option names, and the same STATED_* variables as defaults), so the runbook can reuse a
 * server's environment as it is. Every open is read-only: objstore_s3_new does not touch the
 * bucket's versioning, store_new migrates and sweeps nothing. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "s3/s3.h"
#include "statectl/statectl_int.h"

/* An option's value, else the variable's, else fallback. */
static const char *opt_or_env(const struct ctl_cmdline *cl, enum ctl_opt o, const char *var,
                              const char *fallback)
{
    const char *v = cl->opt[o];
    if (v == NULL || v[0] == '\0')
        v = getenv(var);
    return v != NULL && v[0] != '\0' ? v : fallback;
}

struct objstore *ctl_open_s3(const struct ctl_cmdline *cl, const char *bucket, const char *prefix,
                             struct err *err)
{
    const char *region = opt_or_env(cl, OPT_S3_REGION, "STATED_S3_REGION", "fr-par");
    const char *vhost = opt_or_env(cl, OPT_S3_VIRTUAL_HOST, "STATED_S3_VIRTUAL_HOST", "false");
    const char *ep = opt_or_env(cl, OPT_S3_ENDPOINT, "STATED_S3_ENDPOINT", NULL);
    char *access = NULL, *secret = NULL;
    char *endpoint = ep != NULL ? xstrdup(ep) : xasprintf("https://s3.%s.scw.cloud", region);
    struct objstore *os = NULL;
    if (s3_credentials_find(
            opt_or_env(cl, OPT_S3_CREDENTIALS_FILE, "STATED_S3_CREDENTIALS_FILE", NULL), &access,
            &secret, err) == 0) {
        struct s3_config sc = {.endpoint = endpoint,
                               .region = region,
                               .bucket = bucket,
                               .prefix = prefix != NULL ? prefix : "",
                               .access_key = access,
                               .secret_key = secret,
                               .virtual_host =
                                   strcmp(vhost, "1") == 0 || strcmp(vhost, "true") == 0,
                               .connect_timeout_ms = 5000,
                               .timeout_ms = 120000,
                               .max_retries = 3,
                               .read_only = true};
        os = objstore_s3_new(&sc, err);
    }
    if (secret != NULL)
        memset(secret, 0, strlen(secret));
    free(access);
    free(secret);
    free(endpoint);
    return os;
}

int ctl_open_keys(const struct ctl_cmdline *cl, struct keyring **out, struct err *err)
{
    const char *file = getenv("STATED_ENCRYPTION_KEY_FILE");
    const char *inline_keys = getenv("STATED_ENCRYPTION_KEY");
    *out = NULL;
    if (cl->nkeyfiles > 0)
        *out = keyring_load_many(cl->keyfiles, (size_t)cl->nkeyfiles, err);
    else if (file != NULL && file[0] != '\0')
        *out = keyring_load(file, err);
    else if (inline_keys != NULL && inline_keys[0] != '\0')
        *out = keyring_parse(inline_keys, "STATED_ENCRYPTION_KEY", err);
    else
        return 0;
    return *out != NULL ? 0 : -1;
}
