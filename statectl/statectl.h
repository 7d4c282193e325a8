/* statectl/statectl.h: the operator CLI's parts.
 *
 * statectl/main.c only wires these together. The pure parts (argument parsing, tables, snapshot
 * diffs, backend-config rendering, import key patterns) do no I/O so tests/unit/test_statectl.c
 * checks them directly; http.c is the one place that talks to stated (libcurl), storage.c the
 * one place that opens a storage itself (read-only: offline export, import's source), and
 * cmd_*.c hold one command group each. Nothing here prints or logs the token except `tokens
 * create`, which prints the new secret once. */
#ifndef STATED_STATECTL_H
#define STATED_STATECTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"

/* Loops over jansson arrays and objects, spelled out (jansson's own foreach macros hide the
 * loop from static analysers that do not read system headers). */
#define CTL_ARRAY_EACH(arr, i, v)                                                                  \
    for ((i) = 0; (i) < json_array_size(arr) && ((v) = json_array_get((arr), (i))) != NULL; (i)++)
#define CTL_OBJECT_EACH(obj, key, v)                                                               \
    for (void *it_ = json_object_iter(obj);                                                        \
         it_ != NULL && ((key) = json_object_iter_key(it_), (v) = json_object_iter_value(it_), 1); \
         it_ = json_object_iter_next((obj), it_))

/* Exit codes (docs/statectl.md). */
enum ctl_exit {
    CTL_EXIT_OK = 0,
    CTL_EXIT_ERROR = 1,       /* the server or the operation failed */
    CTL_EXIT_USAGE = 2,       /* bad command line */
    CTL_EXIT_NOT_FOUND = 3,   /* no such state, snapshot, lock or token */
    CTL_EXIT_CONFLICT = 4,    /* locked (423) or conflict (409) */
    CTL_EXIT_UNREACHABLE = 5, /* no answer from the server (connection, TLS, timeout) */
    CTL_EXIT_DENIED = 6,      /* 401/403: missing, unknown or insufficient token */
    CTL_EXIT_BROKEN = 7,      /* audit verify found a broken chain */
};

/* ------------------------------------------------------------------ command line */

enum ctl_opt {
    OPT_URL,
    OPT_TOKEN,
    OPT_CACERT,
    OPT_CERT,
    OPT_KEY,
    OPT_OUTPUT, /* --output text|json */
    OPT_HELP,
    OPT_PREFIX,
    OPT_FORCE,
    OPT_ID,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_STATE,
    OPT_FORMAT,
    OPT_OUTFILE, /* -o FILE */
    OPT_ROLE,
    OPT_STATES,
    OPT_LAYOUT,
    OPT_WITH_TOKEN,
    OPT_USERNAME,
    OPT_VERSION,
    OPT_EXPIRES,
    OPT_DEEP,
    OPT_TIMEOUT,
    OPT_DRY_RUN,
    OPT_REDACT,
    OPT_AT,
    OPT_REASON,
    OPT_FILE,     /* audit verify --file: an export, checked with no server */
    OPT_STORAGE,  /* offline export: s3://BUCKET[/PREFIX] or dir:PATH */
    OPT_DATA_DIR, /* offline export: a data dir */
    OPT_S3_ENDPOINT,
    OPT_S3_REGION,
    OPT_S3_CREDENTIALS_FILE,
    OPT_S3_VIRTUAL_HOST,
    OPT_ENCRYPTION_KEY_FILE, /* repeatable: every one is in keyfiles[] */
    OPT_TO,
    OPT_ALL_VERSIONS,
    OPT_FROM,     /* import: s3://BUCKET[/PREFIX] */
    OPT_FROM_DIR, /* import: a tree of state files */
    OPT_KEY_PATTERN,
    OPT_VERSIONS,
    OPT_FAILED,     /* webhooks deliveries --failed */
    OPT_ANCHORS,    /* audit verify --file: a directory of anchors the export must agree with */
    OPT_PUBLIC_KEY, /* audit verify --anchors: the Ed25519 public key that signed them */
    OPT__COUNT
};

struct ctl_cmd; /* one row of the command table (args.c) */

struct ctl_cmdline {
    const struct ctl_cmd *cmd; /* NULL: no command given (global --help/--version) */
    const char *pos[8];        /* positional arguments after the command words */
    int npos;
    const char *opt[OPT__COUNT]; /* value, or "1" for flags; NULL when not given */
    bool json;                   /* --output json */
    const char *keyfiles[8];     /* every --encryption-key-file, in order */
    int nkeyfiles;
};

/* Parses argv (options may come before or after the command words; "--" ends options).
 * Returns 0, or CTL_EXIT_USAGE with a one-line reason in errbuf. A --help anywhere is not an
 * error: it is returned in opt[OPT_HELP] with whatever command was recognised. */
int ctl_parse(int argc, const char *const *argv, struct ctl_cmdline *cl, char *errbuf,
              size_t errlen);
/* Usage text: the global one (cmd NULL) or one command's. */
void ctl_usage(FILE *f, const struct ctl_cmd *cmd);
const char *ctl_cmd_name(const struct ctl_cmd *cmd); /* "snapshots diff" */

/* ------------------------------------------------------------------ talking to stated */

struct ctl_conn {
    const char *url; /* base URL without trailing '/' */
    const char *token;
    const char *cacert, *cert, *key;
    long timeout_ms; /* whole request, connection included; 0: only the 10 s connect limit */
};

struct ctl_resp {
    long status;     /* 0 when there was no HTTP answer */
    struct buf body; /* the body, unless it was streamed to a FILE */
};

/* One request. path starts with "/" ("/v1/...", "/healthz"). body may be NULL. When sink is
 * non-NULL and the answer is 200, the body is written to it as it arrives (exports, snapshot
 * bytes) and progress is shown on stderr when `progress` is set. Returns 0 when an HTTP answer
 * came (any status; the caller maps it), -1 when the server was unreachable or c->timeout_ms
 * ran out (err holds why). */
int ctl_request(const struct ctl_conn *c, const char *method, const char *path, const char *body,
                FILE *sink, bool progress, struct ctl_resp *r, struct err *err);
void ctl_resp_cleanup(struct ctl_resp *r);
/* Percent-encodes a query value (caller frees). */
char *ctl_query_escape(const char *s);
/* Maps a non-2xx answer to an exit code and prints "statectl: INFRA_00x: message" on stderr,
 * taking code and message from the server's JSON error body when it has one. `what` names
 * the operation ("restore prod/net"). */
int ctl_report_http(const struct ctl_resp *r, const char *what);
/* Parses a 2xx JSON body; prints an error and returns NULL when it is not JSON. */
json_t *ctl_resp_json(const struct ctl_resp *r);

/* ------------------------------------------------------------------ tables */

struct ctl_table {
    int ncols;
    const char *head[12];
    char **cells; /* rows * ncols, malloc'd strings */
    size_t rows, cap;
};
void ctl_table_init(struct ctl_table *t, int ncols, const char *const *head);
/* Appends a row of ncols strings (copied; NULL prints as "-"). */
void ctl_table_add(struct ctl_table *t, const char *const *row);
/* Columns left-aligned, separated by two spaces, trailing blanks trimmed. */
void ctl_table_render(const struct ctl_table *t, struct buf *out);
void ctl_table_cleanup(struct ctl_table *t);

/* ------------------------------------------------------------------ snapshot diff */

/* Appends the diff as the admin API sends it (GET /v1/diff/NAME: "resources" and "outputs"
 * lists, common/statediff.h) for people: one line per resource instance or output, marked +, -
 * or ~, and under a changed instance one line per attribute with old → new values; sensitive
 * values as "(sensitive)". "No differences…" when both lists are empty. */
void ctl_diff_render(json_t *diff, struct buf *out);

/* ------------------------------------------------------------------ backend-config */

enum ctl_bc_format { CTL_BC_HCL, CTL_BC_FLAGS, CTL_BC_TERRAGRUNT, CTL_BC_ENV };
enum ctl_bc_layout { CTL_BC_DEFAULT, CTL_BC_GITLAB };

struct ctl_bc {
    const char *url;  /* server base URL */
    const char *name; /* state name, already checked */
    enum ctl_bc_format format;
    enum ctl_bc_layout layout;
    const char *username; /* NULL: placeholder */
    const char *token;    /* NULL: placeholder (only --with-token fills it) */
};
void ctl_backend_config_render(const struct ctl_bc *bc, struct buf *out);

/* ------------------------------------------------------------------ health */

/* Reads a 200 answer to GET /healthz. Returns 0 when it is stated's health document (a JSON
 * object whose "status" is "ok") and writes a one-line summary to line: "ok", or for a deep
 * check "ok: storage s3, locks postgres, audit postgres". Returns -1 when it is not, with the
 * reason in line (another server may answer 200 on that port). */
int ctl_health_summary(const struct ctl_resp *r, char *line, size_t len);

/* ------------------------------------------------------------------ commands */

/* Each returns an exit code. */
int ctl_cmd_states_list(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_states_outputs(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_states_show(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_states_delete(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_states_move(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_snapshots_list(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_snapshots_show(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_snapshots_diff(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_snapshots_restore(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_snapshots_delete(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_locks_list(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_locks_force_unlock(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_audit_export(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_audit_verify(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_webhooks_list(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_webhooks_deliveries(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_webhooks_redeliver(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_tokens_create(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_tokens_list(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_tokens_revoke(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_backend_config(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_health(const struct ctl_conn *c, const struct ctl_cmdline *cl);

int ctl_cmd_offline_export(const struct ctl_conn *c, const struct ctl_cmdline *cl);
int ctl_cmd_import(const struct ctl_conn *c, const struct ctl_cmdline *cl);

/* ------------------------------------------------------------------ import key patterns */

/* The default --key-pattern: Terragrunt's layout, one key per unit path. */
#define CTL_KEY_PATTERN_DEFAULT "{name}/terraform.tfstate"
/* 0 when pattern holds {name} exactly once; else ERR_INVALID with the reason. */
int ctl_key_pattern_check(const char *pattern, struct err *err);
/* The state name an object key (or a file's path under --from-dir) maps to: the part of key
 * that {name} stands for. A key under "env:/WORKSPACE/" (where terraform's backend "s3" keeps
 * the states of workspaces other than default) maps to NAME.WORKSPACE. Returns 0 with name
 * set; 1 when the key does not fit the pattern (not a state: ignored); -1 when it fits but
 * gives no valid state name (name holds what it gave, err says why). */
int ctl_key_to_name(const char *pattern, const char *key, char *name, size_t cap, struct err *err);

/* Runs the parsed command (main.c's body, reachable from tests). */
int ctl_run(const struct ctl_cmd *cmd, const struct ctl_conn *c, const struct ctl_cmdline *cl);

/* Shared by the commands: prints a JSON value (pretty) on stdout. */
void ctl_print_json(json_t *v);
/* Reports a bad command line or argument found before any request: prints
 * "statectl: INFRA_001: <message>" on stderr, the code being ERR_INVALID's in common/err.h,
 * and returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Validates a state name locally (ctl_usage_error on failure). */
int ctl_check_name(const char *name);
/* "2026-11-22T02:20:13Z" from an RFC 3339 string with fractions, for tables. */
void ctl_short_time(const char *rfc3339, char out[32]);

#endif
