/* statectl/statectl_int.h: helpers shared by the cmd_*.c files only. */
#ifndef STATED_STATECTL_INT_H
#define STATED_STATECTL_INT_H

#include "statectl/statectl.h"

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

#endif
