/* s3/s3.h: the S3 driver of the object store. The whole API of s3/.
 *
 * An objstore (store/store.h) over an S3-compatible bucket (Scaleway Object Storage, Ceph RGW):
 * libcurl with one connection per worker thread, every request signed with AWS Signature
 * Version 4 by s3/sigv4.c over OpenSSL, retries with backoff and jitter on 5xx, 429, SlowDown
 * and connection errors. Like every objstore function, nothing here may run on an event loop
 * thread. */
#ifndef STATED_S3_H
#define STATED_S3_H

#include <stdbool.h>

#include "common/err.h"
#include "store/store.h"

struct s3_config {
    const char *endpoint; /* "https://s3.fr-par.scw.cloud" or "http://127.0.0.1:7480" */
    const char *region;   /* "fr-par" */
    const char *bucket;   /* bucket name */
    const char *prefix; /* key prefix inside the bucket, without leading/trailing '/'; may be "" */
    const char *access_key; /* never logged */
    const char *secret_key; /* never logged */
    bool virtual_host;      /* bucket.host addressing instead of host/bucket */
    long connect_timeout_ms, timeout_ms;
    int max_retries; /* retries on 5xx, 429, SlowDown and connection errors */
    bool read_only;  /* a reader of someone's bucket (statectl offline export, import): the
                        bucket's versioning is left as it is */
};
/* S3 driver. Checks credentials and the bucket at start (a wrong secret key is reported here
 * with a clear message) and, unless read_only, turns bucket versioning on when it may,
 * logging when it can't. */
struct objstore *objstore_s3_new(const struct s3_config *cfg, struct err *err);

/* The S3 credentials every program takes the same way: from file when given (access_key= and
 * secret_key= lines, or aws_access_key_id= and aws_secret_access_key=), else from
 * SCW_ACCESS_KEY/SCW_SECRET_KEY, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. *access and
 * *secret get malloc'd strings (wipe the secret before freeing it). ERR_INVALID when none. */
int s3_credentials_find(const char *file, char **access, char **secret, struct err *err);

#endif
