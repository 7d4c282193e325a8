/* common/staterewrite.c: byte-preserving rewrites of a state (statejson.h).
 *
 * Re-serialising through a JSON library would reorder keys, reformat numbers (outputs hold
 * arbitrary numbers) and break the byte-for-byte history, so the bytes are validated with
 * statejson_scan and then walked once more member by member of the root object: a minimal
 * tokenizer that only knows where a value ends (nesting depth and string boundaries). Each
 * rewrite copies spans of the input and writes only what it changes.
 *
 * Examples: restore with new serial 12 turns {"version":4,"serial":7,"x":{"serial":1}} into
 * {"version":4,"serial":12,"x":{"serial":1}} (the nested one is not the state's); the outputs
 * view of {"version":4,…,"outputs":{"a":{"value":1}},"resources":[…]} is
 * {"version":4,…,"outputs":{"a":{"value":1}},"resources":[]}; redaction is described above
 * statejson_redact. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/statediff.h"
#include "common/statejson.h"
#include "common/util.h"

/* Index just past the string starting at data[i] == '"' (escapes skipped). The input was
 * validated, so the closing quote exists. */
static size_t skip_string(const char *data, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (data[i] == '\\')
            i++;
        else if (data[i] == '"')
            return i + 1;
    }
    return len;
}

static size_t skip_ws(const char *data, size_t len, size_t i)
{
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
        i++;
    return i;
}

/* Index just past the (validated) value starting at data[i]. */
static size_t skip_value(const char *data, size_t len, size_t i)
{
    if (data[i] == '"')
        return skip_string(data, len, i);
    if (data[i] != '{' && data[i] != '[') {
        while (i < len && strchr(",}] \t\r\n", data[i]) == NULL)
            i++;
        return i;
    }
    int depth = 0;
    while (i < len) {
        char c = data[i];
        if (c == '"') {
            i = skip_string(data, len, i);
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return i + 1;
        i++;
    }
    return len;
}

/* One member of the root object: its key as written (quotes included) and its value. */
struct member {
    size_t key, key_end, value, value_end;
};

/* The first member of the root object at or after *pos (0 for the first); false after the
 * last. data must have passed statejson_scan. */
static bool next_member(const char *data, size_t len, size_t *pos, struct member *m)
{
    size_t i = *pos == 0 ? skip_ws(data, len, 0) : *pos;
    i = skip_ws(data, len, i + 1); /* past '{' or ',' */
    if (i >= len || data[i] != '"')
        return false; /* '}': the object is empty or ended */
    m->key = i;
    m->key_end = skip_string(data, len, i);
    i = skip_ws(data, len, skip_ws(data, len, m->key_end) + 1); /* past ':' */
    m->value = i;
    m->value_end = skip_value(data, len, i);
    *pos = skip_ws(data, len, m->value_end); /* at ',' or '}' */
    return true;
}

/* The next character of a (validated) JSON string at data[*i], unescaped; -1 for one outside
 * ASCII (none of the keys compared here has one). */
static int key_char(const char *data, size_t *i)
{
    static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
    unsigned char c = (unsigned char)data[(*i)++];
    if (c != '\\')
        return c < 0x80 ? c : -1;
    char e = data[(*i)++];
    if (e != 'u')
        return esc_out[strchr(esc_in, e) - esc_in];
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char h = data[(*i)++];
        v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
    }
    return v < 0x80 ? (int)v : -1;
}

/* Whether member m's key, unescaped, is key: "serial" and "seri\u0061l" are the same key to
 * every JSON reader, so to us too. */
static bool key_is(const char *data, const struct member *m, const char *key)
{
    size_t i = m->key + 1, end = m->key_end - 1;
    for (; *key != '\0'; key++)
        if (i >= end || key_char(data, &i) != (unsigned char)*key)
            return false;
    return i == end;
}

int statejson_rewrite_serial(const char *data, size_t len, uint64_t new_serial, struct buf *out,
                             struct err *err)
{
    struct state_summary sum;
    struct member m;
    char num[24];
    size_t pos = 0, copied = 0;
    int replaced = 0;

    buf_reset(out);
    if (statejson_scan(data, len, &sum, err) != 0)
        return -1;
    snprintf(num, sizeof(num), "%llu", (unsigned long long)new_serial);
    while (next_member(data, len, &pos, &m)) {
        if (!key_is(data, &m, "serial"))
            continue;
        if (buf_append(out, data + copied, m.value - copied, err) != 0 ||
            buf_append_str(out, num, err) != 0)
            return -1;
        copied = m.value_end;
        replaced++;
    }
    if (replaced == 0)
        return err_set(err, ERR_INVALID, "no top-level serial"); /* statejson_scan found one */
    return buf_append(out, data + copied, len - copied, err);
}

/* What terraform_remote_state reads of a state; everything else is left out. */
static const char *const outputs_view_keys[] = {"version", "terraform_version", "serial", "lineage",
                                                "outputs"};

static bool in_outputs_view(const char *data, const struct member *m)
{
    for (size_t k = 0; k < sizeof(outputs_view_keys) / sizeof(outputs_view_keys[0]); k++)
        if (key_is(data, m, outputs_view_keys[k]))
            return true;
    return false;
}

int statejson_outputs_view(const char *data, size_t len, struct buf *out, struct err *err)
{
    struct state_summary sum;
    struct member m;
    size_t pos = 0;

    buf_reset(out);
    if (statejson_scan(data, len, &sum, err) != 0)
        return -1;
    if (sum.is_encrypted)
        return err_set(err, ERR_FORBIDDEN,
                       "the state is encrypted by OpenTofu: its outputs cannot be separated from "
                       "the rest, so an outputs-only identity may not read it");
    if (buf_append_str(out, "{", err) != 0)
        return -1;
    while (next_member(data, len, &pos, &m)) {
        if (!in_outputs_view(data, &m))
            continue;
        if (buf_append(out, data + m.key, m.value_end - m.key, err) != 0 ||
            buf_append_str(out, ",", err) != 0)
            return -1;
    }
    return buf_append_str(out, "\"resources\":[]}\n", err);
}

/* ------------------------------------------------------------------ redaction */

/* Redaction walks the members it must look into (outputs, resources[].instances[]) and copies
 * everything else as it is; the only bytes written are STATEDIFF_MASK strings, each in place of
 * one sensitive value. Example: {"outputs":{"pw":{"value":"hunter2","sensitive":true}}} becomes
 * {"outputs":{"pw":{"value":"(sensitive)","sensitive":true}}}. An instance's attributes are
 * walked only where statediff_sensitivity says a sensitive value lies below (CONTAINS) and
 * replaced where it says one is (WITHIN); a key written with escapes is unescaped first, as
 * Terraform's paths name keys by their value. */
struct redact {
    const char *data;
    size_t len, copied;
    struct buf *out;
    struct err *err;
    json_t *sens; /* the current instance's sensitive_attributes */
    struct statediff_step path[STATEDIFF_DEPTH_MAX];
    char *owned[STATEDIFF_DEPTH_MAX]; /* unescaped keys, freed when their step is popped */
    size_t n;
};

/* The next element of the array at data[*pos] == '[' (first call) or ',' (later ones). */
static bool next_element(const char *data, size_t len, size_t *pos, size_t *value, size_t *end)
{
    if (data[*pos] == ']')
        return false; /* the previous element was the last */
    size_t i = skip_ws(data, len, *pos + 1);
    if (i >= len || data[i] == ']')
        return false;
    *value = i;
    *end = skip_value(data, len, i);
    *pos = skip_ws(data, len, *end);
    return true;
}

/* Replaces data[from, to) by the mask. */
static int mask(struct redact *r, size_t from, size_t to)
{
    if (buf_append(r->out, r->data + r->copied, from - r->copied, r->err) != 0 ||
        buf_append_str(r->out, "\"" STATEDIFF_MASK "\"", r->err) != 0)
        return -1;
    r->copied = to;
    return 0;
}

/* The value of member key in the object at data[obj]; false when absent. dup is set when the
 * key appears more than once (then no reader agrees on its value). */
static bool member_value(const char *data, size_t len, size_t obj, const char *key,
                         struct member *found, bool *dup)
{
    struct member m;
    size_t pos = obj;
    int n = 0;
    while (next_member(data, len, &pos, &m))
        if (key_is(data, &m, key) && n++ == 0)
            *found = m;
    *dup = n > 1;
    return n > 0;
}

/* The JSON value at data[from, to) as a jansson value (NULL when it cannot be read). */
static json_t *value_at(const char *data, size_t from, size_t to)
{
    return json_loadb(data + from, to - from, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
}

/* statediff_is_wrapper for the object at data[obj], asked of a stand-in with its two members
 * (the value's content does not matter, only the type's kind). */
static bool is_wrapper_at(const char *data, size_t len, size_t obj)
{
    struct member m, kept[2];
    size_t pos = obj;
    int n = 0;
    while (next_member(data, len, &pos, &m))
        if (n++ < 2)
            kept[n - 1] = m;
    if (n != 2)
        return false;
    json_t *o = json_object();
    for (int k = 0; k < 2; k++) {
        json_t *key = value_at(data, kept[k].key, kept[k].key_end);
        char c = data[kept[k].value];
        if (json_is_string(key))
            json_object_set_new(o, json_string_value(key),
                                c == '"'   ? json_string("")
                                : c == '[' ? json_array()
                                           : json_null());
        json_decref(key);
    }
    bool w = statediff_is_wrapper(o);
    json_decref(o);
    return w;
}

static int push_key(struct redact *r, const struct member *m, bool wrapped)
{
    struct statediff_step *s = &r->path[r->n];
    const char *k = r->data + m->key + 1;
    size_t klen = m->key_end - m->key - 2;
    r->owned[r->n] = NULL;
    if (memchr(k, '\\', klen) != NULL) {
        json_t *j = value_at(r->data, m->key, m->key_end);
        if (!json_is_string(j)) {
            json_decref(j);
            return err_set(r->err, ERR_INVALID, "unreadable key in attributes");
        }
        klen = json_string_length(j);
        r->owned[r->n] = xstrndup(json_string_value(j), klen);
        k = r->owned[r->n];
        json_decref(j);
    }
    *s = (struct statediff_step){.key = k, .key_len = klen};
    s->unwrap = wrapped && klen == 5 && memcmp(k, "value", 5) == 0;
    r->n++;
    return 0;
}

static void pop(struct redact *r)
{
    r->n--;
    free(r->owned[r->n]);
    r->owned[r->n] = NULL;
}

/* The attribute value at data[v, end), its path in r->path. */
static int redact_value(struct redact *r, size_t v, size_t end)
{
    enum statediff_sens s = statediff_sensitivity(r->sens, r->path, r->n);
    if (s == STATEDIFF_CLEAR)
        return 0;
    /* A sensitive value, a scalar a sensitive path runs below (the shapes disagree), or a
     * subtree too deep to follow: all masked whole. */
    if (s == STATEDIFF_WITHIN || r->n == STATEDIFF_DEPTH_MAX ||
        (r->data[v] != '{' && r->data[v] != '['))
        return mask(r, v, end);
    size_t pos = v, ev, eend;
    int rc = 0;
    if (r->data[v] == '{') {
        bool wrapped = is_wrapper_at(r->data, r->len, v);
        struct member m;
        while (rc == 0 && next_member(r->data, r->len, &pos, &m)) {
            if ((rc = push_key(r, &m, wrapped)) != 0)
                break;
            rc = redact_value(r, m.value, m.value_end);
            pop(r);
        }
        return rc;
    }
    for (size_t i = 0; rc == 0 && next_element(r->data, r->len, &pos, &ev, &eend); i++) {
        r->path[r->n++] = (struct statediff_step){.index = i, .is_index = true};
        r->owned[r->n - 1] = NULL;
        rc = redact_value(r, ev, eend);
        r->n--;
    }
    return rc;
}

/* One resource instance: its attributes against its own sensitive_attributes. */
static int redact_instance(struct redact *r, size_t inst)
{
    struct member sa, at;
    bool dup_sa, dup_at;
    if (r->data[inst] != '{' ||
        !member_value(r->data, r->len, inst, "sensitive_attributes", &sa, &dup_sa))
        return 0;
    if (!member_value(r->data, r->len, inst, "attributes", &at, &dup_at))
        return 0;
    if (dup_sa || dup_at)
        return err_set(r->err, ERR_INVALID, "an instance has a duplicate key: not redacted");
    r->sens = value_at(r->data, sa.value, sa.value_end);
    if (r->sens == NULL)
        return err_set(r->err, ERR_INVALID, "unreadable sensitive_attributes: not redacted");
    int rc = redact_value(r, at.value, at.value_end);
    json_decref(r->sens);
    r->sens = NULL;
    return rc;
}

static int redact_resources(struct redact *r, size_t arr)
{
    size_t pos = arr, res, res_end;
    while (r->data[arr] == '[' && next_element(r->data, r->len, &pos, &res, &res_end)) {
        struct member insts;
        bool dup;
        if (r->data[res] != '{' || !member_value(r->data, r->len, res, "instances", &insts, &dup) ||
            r->data[insts.value] != '[')
            continue;
        if (dup)
            return err_set(r->err, ERR_INVALID, "a resource has two \"instances\": not redacted");
        size_t ip = insts.value, iv, iend;
        while (next_element(r->data, r->len, &ip, &iv, &iend))
            if (redact_instance(r, iv) != 0)
                return -1;
    }
    return 0;
}

/* Whether the output object at data[obj] is sensitive, by statediff_output_sensitive asked of
 * a stand-in holding only its "sensitive" member. */
static int output_is_sensitive(struct redact *r, size_t obj, bool *sensitive)
{
    struct member s;
    bool dup;
    *sensitive = false;
    if (!member_value(r->data, r->len, obj, "sensitive", &s, &dup))
        return 0;
    if (dup)
        return err_set(r->err, ERR_INVALID, "an output has two \"sensitive\": not redacted");
    json_t *o = json_object();
    json_t *flag = value_at(r->data, s.value, s.value_end);
    json_object_set_new(o, "sensitive", flag != NULL ? flag : json_true());
    *sensitive = statediff_output_sensitive(o);
    json_decref(o);
    return 0;
}

/* Every sensitive output loses its "value". */
static int redact_outputs(struct redact *r, size_t obj)
{
    struct member o, v;
    size_t pos = obj;
    while (r->data[obj] == '{' && next_member(r->data, r->len, &pos, &o)) {
        bool sensitive;
        if (r->data[o.value] != '{')
            continue;
        if (output_is_sensitive(r, o.value, &sensitive) != 0)
            return -1;
        size_t vp = o.value;
        while (sensitive && next_member(r->data, r->len, &vp, &v))
            if (key_is(r->data, &v, "value") && mask(r, v.value, v.value_end) != 0)
                return -1;
    }
    return 0;
}

int statejson_redact(const char *data, size_t len, struct buf *out, struct err *err)
{
    struct state_summary sum;
    struct member m;
    size_t pos = 0;
    struct redact r = {.data = data, .len = len, .out = out, .err = err};

    buf_reset(out);
    if (statejson_scan(data, len, &sum, err) != 0)
        return -1;
    if (sum.is_encrypted)
        return err_set(err, ERR_INVALID,
                       "the state is encrypted by OpenTofu: stated cannot see its sensitive values "
                       "to redact them");
    while (next_member(data, len, &pos, &m)) {
        int rc = 0;
        if (key_is(data, &m, "outputs"))
            rc = redact_outputs(&r, m.value);
        else if (key_is(data, &m, "resources"))
            rc = redact_resources(&r, m.value);
        if (rc != 0) {
            buf_reset(out);
            return -1;
        }
    }
    return buf_append(out, data + r.copied, len - r.copied, err);
}
