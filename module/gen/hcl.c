/* module/gen/hcl.c: an emitter whose output `terraform fmt` leaves unchanged.
 *
 * The formatter's rules that matter here, as observed on terraform 1.x:
 *   - two spaces per nesting level;
 *   - in a run of consecutive single-line attributes of one body, the `=` signs are aligned one
 *     space after the longest name; a comment line, a blank line, a block or an attribute whose
 *     value spans several lines ends the run, and such a multi-line attribute is not aligned
 *     with its neighbours at all. For example
 *         a    = 1
 *         bbbb = 2
 *         c = {
 *           d = 3
 *         }
 *         ee = 4
 *   - a tuple of objects puts each element on its own lines, each followed by a comma.
 * Blank lines are kept as written, so the emitter puts exactly one around every block. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "module/gen/stackgen.h"

enum value_kind { V_EXPR, V_OBJECT, V_TUPLE };

struct hcl_value {
    enum value_kind kind;
    char *expr;               /* V_EXPR */
    struct hcl_body *body;    /* V_OBJECT */
    struct hcl_value **elems; /* V_TUPLE */
    size_t n, cap;
};

enum item_kind { I_ATTR, I_BLOCK, I_BLANK, I_COMMENT };

struct item {
    enum item_kind kind;
    char *name;   /* attribute name as printed (quoted when needed), block type, comment text */
    char *labels; /* block labels as printed, "" when none */
    struct hcl_value *value;
    struct hcl_body *body;
};

struct hcl_body {
    struct item *items;
    size_t n, cap;
};

static void value_free(struct hcl_value *v);

struct hcl_body *hcl_body_new(void)
{
    return xcalloc(1, sizeof(struct hcl_body));
}

void hcl_body_free(struct hcl_body *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        free(b->items[i].name);
        free(b->items[i].labels);
        value_free(b->items[i].value);
        hcl_body_free(b->items[i].body);
    }
    free(b->items);
    free(b);
}

static void value_free(struct hcl_value *v)
{
    if (!v)
        return;
    free(v->expr);
    hcl_body_free(v->body);
    for (size_t i = 0; i < v->n; i++)
        value_free(v->elems[i]);
    free(v->elems);
    free(v);
}

static struct hcl_value *value_new(enum value_kind kind)
{
    struct hcl_value *v = xcalloc(1, sizeof(*v));
    v->kind = kind;
    return v;
}

struct hcl_value *hcl_expr(const char *expr)
{
    struct hcl_value *v = value_new(V_EXPR);
    v->expr = xstrdup(expr);
    return v;
}

static char *buf_to_str(struct buf *b)
{
    size_t len;
    return buf_take(b, &len);
}

static char *quoted(const char *s)
{
    struct buf b;
    buf_init(&b, 0);
    hcl_quote(&b, s);
    return buf_to_str(&b);
}

struct hcl_value *hcl_str(const char *s)
{
    struct hcl_value *v = value_new(V_EXPR);
    v->expr = quoted(s);
    return v;
}

struct hcl_value *hcl_int(long long n)
{
    struct hcl_value *v = value_new(V_EXPR);
    v->expr = xasprintf("%lld", n);
    return v;
}

struct hcl_value *hcl_bool(bool t)
{
    return hcl_expr(t ? "true" : "false");
}

struct hcl_value *hcl_object(struct hcl_body **body)
{
    struct hcl_value *v = value_new(V_OBJECT);
    v->body = hcl_body_new();
    *body = v->body;
    return v;
}

struct hcl_value *hcl_tuple(void)
{
    return value_new(V_TUPLE);
}

void hcl_tuple_add(struct hcl_value *t, struct hcl_value *v)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 4;
        t->elems = xrealloc(t->elems, t->cap * sizeof(*t->elems));
    }
    t->elems[t->n++] = v;
}

static struct item *item_add(struct hcl_body *b, enum item_kind kind)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 8;
        b->items = xrealloc(b->items, b->cap * sizeof(*b->items));
    }
    struct item *it = &b->items[b->n++];
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    return it;
}

bool hcl_is_ident(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

/* Literal keywords would be read as values, not names, in an object key position. */
static bool is_keyword(const char *s)
{
    static const char *const kw[] = {"true", "false", "null", "for", "in", "if", NULL};
    for (const char *const *k = kw; *k; k++)
        if (strcmp(*k, s) == 0)
            return true;
    return false;
}

void hcl_attr(struct hcl_body *b, const char *name, struct hcl_value *v)
{
    struct item *it = item_add(b, I_ATTR);
    it->name = hcl_is_ident(name) && !is_keyword(name) ? xstrdup(name) : quoted(name);
    it->value = v;
}

void hcl_attr_str(struct hcl_body *b, const char *name, const char *s)
{
    hcl_attr(b, name, hcl_str(s));
}

void hcl_attr_expr(struct hcl_body *b, const char *name, const char *expr)
{
    hcl_attr(b, name, hcl_expr(expr));
}

void hcl_attr_int(struct hcl_body *b, const char *name, long long v)
{
    hcl_attr(b, name, hcl_int(v));
}

void hcl_attr_bool(struct hcl_body *b, const char *name, bool v)
{
    hcl_attr(b, name, hcl_bool(v));
}

struct hcl_body *hcl_block(struct hcl_body *b, const char *type, const char *l1, const char *l2)
{
    struct item *it = item_add(b, I_BLOCK);
    struct buf lb;
    buf_init(&lb, 0);
    const char *labels[2] = {l1, l2};
    for (int i = 0; i < 2; i++) {
        if (!labels[i])
            continue;
        buf_append_str(&lb, " ", NULL);
        hcl_quote(&lb, labels[i]);
    }
    it->name = xstrdup(type);
    it->labels = buf_to_str(&lb);
    it->body = hcl_body_new();
    return it->body;
}

void hcl_blank(struct hcl_body *b)
{
    item_add(b, I_BLANK);
}

void hcl_comment(struct hcl_body *b, const char *text)
{
    item_add(b, I_COMMENT)->name = xstrdup(text);
}

static bool value_is_single_line(const struct hcl_value *v)
{
    switch (v->kind) {
    case V_EXPR:
        return true;
    case V_OBJECT:
        return v->body->n == 0;
    case V_TUPLE:
        for (size_t i = 0; i < v->n; i++)
            if (v->elems[i]->kind != V_EXPR)
                return false;
        return true;
    }
    return true;
}

static void indent(struct buf *out, int level)
{
    for (int i = 0; i < level; i++)
        buf_append_str(out, "  ", NULL);
}

static void render_body(const struct hcl_body *b, int level, struct buf *out);

static void render_value(const struct hcl_value *v, int level, struct buf *out)
{
    switch (v->kind) {
    case V_EXPR:
        buf_append_str(out, v->expr, NULL);
        break;
    case V_OBJECT:
        if (v->body->n == 0) {
            buf_append_str(out, "{}", NULL);
            break;
        }
        buf_append_str(out, "{\n", NULL);
        render_body(v->body, level + 1, out);
        indent(out, level);
        buf_append_str(out, "}", NULL);
        break;
    case V_TUPLE:
        if (value_is_single_line(v)) {
            buf_append_str(out, "[", NULL);
            for (size_t i = 0; i < v->n; i++) {
                if (i)
                    buf_append_str(out, ", ", NULL);
                buf_append_str(out, v->elems[i]->expr, NULL);
            }
            buf_append_str(out, "]", NULL);
            break;
        }
        buf_append_str(out, "[\n", NULL);
        for (size_t i = 0; i < v->n; i++) {
            indent(out, level + 1);
            render_value(v->elems[i], level + 1, out);
            buf_append_str(out, ",\n", NULL);
        }
        indent(out, level);
        buf_append_str(out, "]", NULL);
        break;
    }
}

static bool is_aligned_attr(const struct item *it)
{
    return it->kind == I_ATTR && value_is_single_line(it->value);
}

static void render_body(const struct hcl_body *b, int level, struct buf *out)
{
    bool wrote = false, want_blank = false;
    for (size_t i = 0; i < b->n; i++) {
        const struct item *it = &b->items[i];
        if (it->kind == I_BLANK) {
            want_blank = wrote;
            continue;
        }
        if (it->kind == I_BLOCK && wrote)
            want_blank = true;
        if (want_blank)
            buf_append_str(out, "\n", NULL);
        want_blank = false;
        wrote = true;
        indent(out, level);
        switch (it->kind) {
        case I_COMMENT:
            buf_printf(out, NULL, "# %s\n", it->name);
            break;
        case I_BLOCK:
            buf_printf(out, NULL, "%s%s {\n", it->name, it->labels);
            render_body(it->body, level + 1, out);
            indent(out, level);
            buf_append_str(out, "}\n", NULL);
            want_blank = true;
            break;
        case I_ATTR: {
            size_t width = strlen(it->name);
            if (is_aligned_attr(it)) {
                /* The run this attribute belongs to: back to its start, on to its end. */
                size_t s = i, e = i;
                while (s > 0 && is_aligned_attr(&b->items[s - 1]))
                    s--;
                while (e + 1 < b->n && is_aligned_attr(&b->items[e + 1]))
                    e++;
                for (size_t k = s; k <= e; k++)
                    if (strlen(b->items[k].name) > width)
                        width = strlen(b->items[k].name);
            }
            buf_printf(out, NULL, "%-*s = ", (int)width, it->name);
            render_value(it->value, level, out);
            buf_append_str(out, "\n", NULL);
            break;
        }
        case I_BLANK:
            break;
        }
    }
}

void hcl_render(const struct hcl_body *b, struct buf *out)
{
    render_body(b, 0, out);
}
