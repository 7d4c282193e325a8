/* module/gen/report.c: the lines stackgen prints when it succeeds (see stackgen.h).
 *
 * Scripts read these lines, so their shape is fixed: the stack first, as in every line, then a
 * verb, then counts written "<n> <noun>" with the noun in the plural unless n is 1. The counts
 * are of what a render deploys, not of the keys in the document: a network is counted when
 * containers or databases imply one, monitoring only when it is enabled. */
#include <stdlib.h>

#include "module/gen/gen_int.h"
#include "module/gen/stackgen.h"

const char *gen_plural(size_t n)
{
    return n == 1 ? "" : "s";
}

/* `stack "platform" (production)` */
static void stack_prefix(const struct stack *s, struct buf *out)
{
    json_t *st = json_object_get(s->root, "stack");
    char *name = gen_show(gen_str(st, "name", ""));
    buf_printf(out, NULL, "stack %s (%s)", name, gen_str(st, "environment", ""));
    free(name);
}

struct kind_count {
    const char *noun;
    size_t n;
};

#define KINDS 7

/* Every kind a stack may hold, in validation's order; returns the total. */
static size_t count_kinds(json_t *root, struct kind_count kinds[KINDS])
{
    struct kind_count all[KINDS] = {
        {"network", gen_has_network(root)},
        {"secret", json_array_size(json_object_get(root, "secrets"))},
        {"container", json_array_size(json_object_get(root, "containers"))},
        {"database", json_array_size(json_object_get(root, "databases"))},
        {"bucket", json_array_size(json_object_get(root, "buckets"))},
        {"monitoring", gen_has_monitoring(root)},
        {"registry", json_object_get(root, "registry") != NULL},
    };
    size_t total = 0;
    for (size_t i = 0; i < KINDS; i++) {
        kinds[i] = all[i];
        total += all[i].n;
    }
    return total;
}

void stack_report_valid(const struct stack *s, struct buf *out)
{
    struct kind_count kinds[KINDS];
    size_t total = count_kinds(s->root, kinds);
    stack_prefix(s, out);
    buf_printf(out, NULL, ": valid, %zu component%s", total, gen_plural(total));
    const char *sep = ": ";
    for (size_t i = 0; i < KINDS; i++) {
        if (kinds[i].n == 0)
            continue;
        buf_printf(out, NULL, "%s%zu %s%s", sep, kinds[i].n, kinds[i].noun, gen_plural(kinds[i].n));
        sep = ", ";
    }
    buf_append_str(out, "\n", NULL);
}

void stack_report_written(const struct stack *s, const struct stack_render_opts *o, const char *dir,
                          const struct stack_written *w, struct buf *out)
{
    stack_prefix(s, out);
    buf_printf(out, NULL, ": rendered as %s in %s, %zu file%s written, %zu module%s copied",
               o->format == STACK_FORMAT_TERRAGRUNT ? "terragrunt" : "tofu", dir, w->files,
               gen_plural(w->files), w->modules, gen_plural(w->modules));
    if (o->module_source)
        buf_printf(out, NULL, " (--module-source %s)\n", o->module_source);
    else
        buf_printf(out, NULL, " (%zu file%s)\n", w->module_files, gen_plural(w->module_files));
}
