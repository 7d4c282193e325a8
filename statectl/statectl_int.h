/* statectl/statectl_int.h: helpers shared by the cmd_*.c files only. */
#ifndef STATED_STATECTL_INT_H
#define STATED_STATECTL_INT_H

#include "statectl/statectl.h"
#include "store/store.h"

/* One request whose 2xx answer is JSON: *out gets a new reference. Errors are printed on
 * stderr (prefixed with `what`); the exit code is returned (0 on success). */
int ctl_call_json(const struct ctl_conn *c, const char *method, const char *path, const char *body,
                  const char *what, json_t **out);
/* Renders the table on stdout and cleans it up. */
void ctl_print_table(struct ctl_table *t);
/* The string member key of object o, or "" (borrowed). */
const char *ctl_jstr(json_t *o, const char *key);
/* The non-negative integer member key of o as text, or "-". Exact up to 2^64-1: stated sends
 * a value above 2^63-1 as a decimal string (common/json.h), which is read as well. */
void ctl_jnum(json_t *o, const char *key, char out[32]);

/* An S3 objstore over bucket and prefix, for reading only (the bucket's versioning is left
 * alone), configured from the S3 options or stated's STATED_S3_* variables (statectl/storage.c). */
struct objstore *ctl_open_s3(const struct ctl_cmdline *cl, const char *bucket, const char *prefix,
                             struct err *err);
/* The encryption keys: every --encryption-key-file, else STATED_ENCRYPTION_KEY_FILE, else
 * STATED_ENCRYPTION_KEY; *out NULL when none is given (not an error). */
int ctl_open_keys(const struct ctl_cmdline *cl, struct keyring **out, struct err *err);

#endif
