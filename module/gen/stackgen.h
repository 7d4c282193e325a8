/* module/gen/stackgen.h: the stack generator's API: an HCL emitter that writes `terraform
 * fmt`-clean text, and the stack description loader, validator and renderer.
 *
 * The emitter builds a small tree (bodies of attributes and blocks, values that are
 * expressions, objects or tuples) and prints it in one pass, so `=` alignment can look at a
 * whole run of attributes before printing the first. Nothing here does I/O except
 * stackgen_render_dir, which writes the output tree. */
#ifndef STATED_MODULE_GEN_STACKGEN_H
#define STATED_MODULE_GEN_STACKGEN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/hcl.h" /* hcl_quote: string literals */

/* ---- HCL emitter ---- */

struct hcl_body;  /* attributes, blocks and blank lines, in order */
struct hcl_value; /* an expression, an object or a tuple */

struct hcl_body *hcl_body_new(void);
void hcl_body_free(struct hcl_body *b); /* NULL-safe; frees everything reachable */

/* Values. Each is owned by whatever it is attached to (an attribute, an object, a tuple). */
struct hcl_value *hcl_expr(const char *expr); /* verbatim, single line: var.x, true, 42 */
struct hcl_value *hcl_str(const char *s);     /* a quoted, escaped string literal */
struct hcl_value *hcl_int(long long v);
struct hcl_value *hcl_bool(bool v);
struct hcl_value *hcl_object(struct hcl_body **body); /* *body receives the object's body */
struct hcl_value *hcl_tuple(void);
void hcl_tuple_add(struct hcl_value *tuple, struct hcl_value *v);

/* Body items. Attribute names that are not HCL identifiers are quoted (object keys). */
void hcl_attr(struct hcl_body *b, const char *name, struct hcl_value *v);
void hcl_attr_str(struct hcl_body *b, const char *name, const char *s);
void hcl_attr_expr(struct hcl_body *b, const char *name, const char *expr);
void hcl_attr_int(struct hcl_body *b, const char *name, long long v);
void hcl_attr_bool(struct hcl_body *b, const char *name, bool v);
/* A nested block `type "l1" "l2" { }` (labels may be NULL); returns its body. */
struct hcl_body *hcl_block(struct hcl_body *b, const char *type, const char *l1, const char *l2);
/* Forces a blank line here (consecutive blanks collapse; leading/trailing ones are dropped). */
void hcl_blank(struct hcl_body *b);
/* A `# text` comment line (text must be one line). */
void hcl_comment(struct hcl_body *b, const char *text);

/* True when s is an HCL identifier (letter or _, then letters, digits, _ and -). */
bool hcl_is_ident(const char *s);
/* Appends the body, formatted as `terraform fmt` would, at indentation level 0. */
void hcl_render(const struct hcl_body *b, struct buf *out);

/* ---- stacks ---- */

struct stack; /* a validated stack description */

/* Parses and validates a stack description. Every problem is appended to *errors as one line
 * "INFRA_001 <json path>: <message>\n", all of them in document order; returns NULL when there
 * is at least one. The caller frees the result with stack_free (NULL-safe). */
struct stack *stack_load(const char *json, size_t len, struct buf *errors);
void stack_free(struct stack *s);

enum stack_format { STACK_FORMAT_TOFU, STACK_FORMAT_TERRAGRUNT };

struct stack_render_opts {
    enum stack_format format;
    const char *backend_url; /* http(s)://host[:port][/prefix], no trailing slash, no userinfo */
    const char *modules_dir; /* directory holding the <component>/ module sources */
    /* NULL: copy each used module to DIR/modules and call it there (a self-contained tree).
     * Else call the modules where they are, as PREFIX/<component>: a path relative to DIR
     * starting with ./ or ../, or a remote source such as
     * git::https://host/stated.git//module/scaleway?ref=v1.2.0 (see gen_module_source). */
    const char *module_source;
};

/* Checks a backend base URL (scheme http/https, a host, no credentials, no query, no `${`).
 * Returns 0, or -1 with ERR_INVALID and the reason. */
int stack_backend_url_check(const char *url, struct err *err);

/* Checks a --module-source prefix: not empty, no white space or control characters, no
 * trailing /, no ?query on a local path. Returns 0, or -1 with ERR_INVALID and the reason. */
int stack_module_source_check(const char *prefix, struct err *err);

/* Renders the configuration as a map from relative path to file content: calls emit(path,
 * data, len, ctx) for every generated file in a fixed order, and, unless o->module_source is
 * set, copy(component, ctx) for every module component the output uses. Pure: no I/O of its
 * own. */
struct stack_sink {
    int (*emit)(const char *path, const char *data, size_t len, void *ctx, struct err *err);
    int (*copy_module)(const char *component, void *ctx, struct err *err);
    void *ctx;
};
int stack_render(const struct stack *s, const struct stack_render_opts *o,
                 const struct stack_sink *sink, struct err *err);

/* What stackgen_render_dir wrote, for the command's report. */
struct stack_written {
    size_t files;        /* generated files written */
    size_t modules;      /* module directories copied */
    size_t module_files; /* files copied into them */
    /* When not NULL, receives one line per write as it happens (so also the writes before a
     * failure): "wrote DIR/main.tf" per generated file, "copied DIR/modules/network/ (5 files)"
     * per module. */
    struct buf *log;
};

/* Writes the rendering to directory dir (created if needed): every generated file, and, without
 * o->module_source, each used module copied from o->modules_dir to dir/modules/<component>/.
 * *written (NULL to ignore) counts and logs the writes; it starts zeroed. */
int stackgen_render_dir(const struct stack *s, const struct stack_render_opts *o, const char *dir,
                        struct stack_written *written, struct err *err);

/* ---- reports of success (report.c) ----
 *
 * One line each, stable wording for scripts: the stack as `stack "<name>" (<environment>)`,
 * then what happened, counts as "<n> <noun>". */

/* Appends validate's line, counting what a render would deploy:
 *     stack "platform" (production): valid, 9 components: 1 network, 2 secrets,
 *     3 containers, 1 database, 2 buckets, 1 monitoring, 1 registry
 * (one line; kinds absent from the stack are left out). */
void stack_report_valid(const struct stack *s, struct buf *out);
/* Appends render's last line:
 *     stack "platform" (production): rendered as tofu in out/prod, 6 files written,
 *     5 modules copied (25 files)
 * or, with o->module_source, "0 modules copied (--module-source PREFIX)". */
void stack_report_written(const struct stack *s, const struct stack_render_opts *o, const char *dir,
                          const struct stack_written *w, struct buf *out);

#endif
