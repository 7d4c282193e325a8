/* tests/fuzz/fuzz_stackgen.c: stack JSON -> validation -> HCL (both formats), in memory.
 * Invariants: no crash or leak; a stack either has errors or renders (copying the modules or
 * naming a module source); every error line starts with "INFRA_001 $"; a valid stack's report
 * is one line starting with `stack "`; rendering twice gives the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "module/gen/stackgen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_emit(const char *path, const char *d, size_t len, void *ctx, struct err *err)
{
    struct buf *b = ctx;
    if (buf_append_str(b, path, err) != 0)
        return -1;
    return buf_append(b, d, len, err);
}

static int on_copy(const char *component, void *ctx, struct err *err)
{
    return buf_append_str(ctx, component, err);
}

static void render_twice(const struct stack *s, enum stack_format f, const char *module_source)
{
    struct buf a, b;
    struct err err = {0};
    buf_init(&a, 0);
    buf_init(&b, 0);
    struct stack_render_opts o = {
        .format = f, .backend_url = "https://state.example.com", .module_source = module_source};
    struct stack_sink ka = {.emit = on_emit, .copy_module = on_copy, .ctx = &a};
    struct stack_sink kb = {.emit = on_emit, .copy_module = on_copy, .ctx = &b};
    if (stack_render(s, &o, &ka, &err) != 0 || stack_render(s, &o, &kb, &err) != 0)
        abort();
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        abort();
    buf_cleanup(&a);
    buf_cleanup(&b);
}

/* The validate report: one line, the stack first. */
static void check_report(const struct stack *s)
{
    struct buf r;
    buf_init(&r, 0);
    stack_report_valid(s, &r);
    if (r.len < 8 || strncmp(r.data, "stack \"", 7) != 0 ||
        strchr(r.data, '\n') != r.data + r.len - 1)
        abort();
    buf_cleanup(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf errors;
    buf_init(&errors, 0);
    struct stack *s = stack_load((const char *)data, size, &errors);
    if ((s == NULL) == (errors.len == 0))
        abort();
    if (errors.len && strncmp(errors.data, "INFRA_001 $", 11) != 0)
        abort();
    if (s) {
        check_report(s);
        render_twice(s, STACK_FORMAT_TOFU, NULL);
        render_twice(s, STACK_FORMAT_TERRAGRUNT, NULL);
        render_twice(s, STACK_FORMAT_TOFU, "git::https://g.example/s.git//module/scaleway?ref=v1");
        render_twice(s, STACK_FORMAT_TERRAGRUNT, "../../module/scaleway");
    }
    stack_free(s);
    buf_cleanup(&errors);
    return 0;
}
