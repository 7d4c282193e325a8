/* audit/chain.c: the canonical event text, its hash chain and CSV rows, shared by both audit
 * drivers.
 *
 * The canonical text is a JSON object with a fixed key order and fixed formatting (no spaces,
 * integers in decimal, a serial above 2^63-1 as a decimal string, strings escaped as below), so the
 * same event always gives the same bytes and the same hash in both drivers. Example (wrapped here;
 * one line in the log):
 *
 *   {"seq":2,"time":"2026-11-22T02:20:13.123456Z","request_id":"r-2","actor":"ci",
 *    "username":"","remote":"127.0.0.1","action":"write","state":"prod/net","lock_id":"",
 *    "serial":7,"lineage":"…","sha256":"…","size":1234,"status":200,"detail":"",
 *    "prev":"<hash of event 1>","hash":"<sha256 of this text up to prev, then '}'>"}
 *
 * String escaping: '"' and '\' get a backslash, \b \f \n \r \t their short forms, other bytes
 * below 0x20 \u00XX; everything else is copied, except that bytes that are not valid UTF-8 are
 * replaced by U+FFFD, so every line is valid JSON whatever a client sent (a Basic username is
 * arbitrary bytes). Parsing re-serialises what it read and requires the identical text, so a
 * line is accepted only in its canonical form. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "common/json.h"
#include "common/utf8.h"
#include "common/util.h"

const char audit_csv_header[] = "seq,time,request_id,actor,username,remote,action,state,lock_id,"
                                "serial,lineage,sha256,size,status,detail,peer,issuer,subject,"
                                "jti,lock_who,lock_operation,lock_info,lock_owner,prev,hash\r\n";

void audit_event_init(struct audit_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->size = -1;
}

/* Appends s (at most cap bytes, stops at NUL) as a JSON string with quotes. */
static int put_json_str(struct buf *out, const char *s, size_t cap, struct err *err)
{
    size_t n = strnlen(s, cap);
    const unsigned char *p = (const unsigned char *)s;
    if (buf_append(out, "\"", 1, err) != 0)
        return -1;
    size_t run = 0;  /* start of the pending run of bytes copied as they are */
    size_t outn = 0; /* bytes the field has once parsed back: must fit its array again */
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        const char *esc = NULL;
        char ubuf[8];
        size_t step = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20) {
            snprintf(ubuf, sizeof(ubuf), "\\u%04x", c);
            esc = ubuf;
        } else if (c >= 0x80) {
            step = utf8_seq_len(p + i, n - i);
            if (step == 0) {
                esc = "\xef\xbf\xbd"; /* U+FFFD */
                step = 1;
            }
        }
        size_t decoded = esc && step == 1 && c >= 0x80 ? 3 : step;
        if (outn + decoded > cap - 1) {
            n = i; /* replacements grew it past its array: cut at a character boundary */
            break;
        }
        outn += decoded;
        if (esc) {
            if (buf_append(out, s + run, i - run, err) != 0 || buf_append_str(out, esc, err) != 0)
                return -1;
            i += step;
            run = i;
        } else {
            i += step;
        }
    }
    if (buf_append(out, s + run, n - run, err) != 0)
        return -1;
    return buf_append(out, "\"", 1, err);
}

static int put_key_str(struct buf *out, const char *key, const char *s, size_t cap, struct err *err)
{
    if (buf_printf(out, err, ",\"%s\":", key) != 0)
        return -1;
    return put_json_str(out, s, cap, err);
}

static int put_key_opt_int(struct buf *out, const char *key, int64_t v, struct err *err)
{
    if (v < 0)
        return buf_printf(out, err, ",\"%s\":null", key);
    return buf_printf(out, err, ",\"%s\":%lld", key, (long long)v);
}

static int put_key_serial(struct buf *out, const struct audit_event *ev, struct err *err)
{
    char v[U64_JSON_MAX];
    return buf_printf(out, err, ",\"serial\":%s",
                      ev->has_serial ? u64_json_text(ev->serial, v) : "null");
}

#define FIELD(ev, f) (ev)->f, sizeof((ev)->f)

/* The keys written only when not empty, in their order in the text. */
#define OPTIONAL_FIELD(f)                                                                          \
    {                                                                                              \
#f, offsetof(struct audit_event, f), sizeof(((struct audit_event *)0)->f)                  \
    }
static const struct {
    const char *key;
    size_t off, size;
} optional_fields[] = {
    OPTIONAL_FIELD(peer),      OPTIONAL_FIELD(issuer),     OPTIONAL_FIELD(subject),
    OPTIONAL_FIELD(jti),       OPTIONAL_FIELD(lock_who),   OPTIONAL_FIELD(lock_operation),
    OPTIONAL_FIELD(lock_info), OPTIONAL_FIELD(lock_owner),
};
#define N_OPTIONAL (sizeof(optional_fields) / sizeof(optional_fields[0]))
#define N_REQUIRED 17

static int put_optional(struct buf *out, const struct audit_event *ev, struct err *err)
{
    for (size_t i = 0; i < N_OPTIONAL; i++) {
        const char *v = (const char *)ev + optional_fields[i].off;
        if (v[0] != '\0' &&
            put_key_str(out, optional_fields[i].key, v, optional_fields[i].size, err) != 0)
            return -1;
    }
    return 0;
}

int audit_event_canonical(const struct audit_event *ev, uint64_t seq, const char prev[65],
                          struct buf *out, char hash_out[65], struct err *err)
{
    size_t start = out->len;
    char t[32];
    time_format_rfc3339(ev->time_us, t);
    if (buf_printf(out, err, "{\"seq\":%llu,\"time\":\"%s\"", (unsigned long long)seq, t) != 0 ||
        put_key_str(out, "request_id", FIELD(ev, request_id), err) != 0 ||
        put_key_str(out, "actor", FIELD(ev, actor), err) != 0 ||
        put_key_str(out, "username", FIELD(ev, username), err) != 0 ||
        put_key_str(out, "remote", FIELD(ev, remote), err) != 0 ||
        put_key_str(out, "action", FIELD(ev, action), err) != 0 ||
        put_key_str(out, "state", FIELD(ev, state), err) != 0 ||
        put_key_str(out, "lock_id", FIELD(ev, lock_id), err) != 0 ||
        put_key_serial(out, ev, err) != 0 ||
        put_key_str(out, "lineage", FIELD(ev, lineage), err) != 0 ||
        put_key_str(out, "sha256", FIELD(ev, sha256), err) != 0 ||
        put_key_opt_int(out, "size", ev->size, err) != 0 ||
        buf_printf(out, err, ",\"status\":%d",
                   ev->status >= 0 && ev->status <= 999 ? ev->status : 0) != 0 ||
        put_key_str(out, "detail", FIELD(ev, detail), err) != 0 ||
        put_optional(out, ev, err) != 0 || put_key_str(out, "prev", prev, 65, err) != 0)
        return -1;
    /* The hash covers the text up to prev, closed with '}'. */
    if (buf_append(out, "}", 1, err) != 0)
        return -1;
    char h[65];
    sha256_hex(out->data + start, out->len - start, h);
    out->len--; /* drop the '}' again */
    if (buf_printf(out, err, ",\"hash\":\"%s\"}", h) != 0)
        return -1;
    if (hash_out)
        memcpy(hash_out, h, 65);
    return 0;
}

/* ------------------------------------------------------------------ parsing */

static bool is_hash(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static int get_str(json_t *o, const char *key, char *dst, size_t cap, struct err *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return err_set(err, ERR_INVALID, "audit event: \"%s\" missing or not a string", key);
    size_t n = json_string_length(v);
    if (n >= cap || strlen(json_string_value(v)) != n)
        return err_set(err, ERR_INVALID, "audit event: \"%s\" too long", key);
    memcpy(dst, json_string_value(v), n + 1);
    return 0;
}

static int get_serial(json_t *o, struct audit_event *ev, struct err *err)
{
    json_t *v = json_object_get(o, "serial");
    ev->has_serial = !json_is_null(v);
    if (ev->has_serial && !u64_from_json(v, &ev->serial))
        return err_set(err, ERR_INVALID,
                       "audit event: \"serial\" must be an unsigned 64-bit integer or null");
    return 0;
}

static int get_opt_int(json_t *o, const char *key, int64_t *dst, struct err *err)
{
    json_t *v = json_object_get(o, key);
    if (json_is_null(v)) {
        *dst = -1;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return err_set(err, ERR_INVALID,
                       "audit event: \"%s\" must be a non-negative integer "
                       "or null",
                       key);
    *dst = json_integer_value(v);
    return 0;
}

/* The optional fields present in o, each a non-empty string; how many there were in *n. */
static int get_optional(json_t *o, struct audit_event *ev, size_t *n, struct err *err)
{
    *n = 0;
    for (size_t i = 0; i < N_OPTIONAL; i++) {
        if (json_object_get(o, optional_fields[i].key) == NULL)
            continue;
        char *dst = (char *)ev + optional_fields[i].off;
        if (get_str(o, optional_fields[i].key, dst, optional_fields[i].size, err) != 0)
            return -1;
        if (dst[0] == '\0')
            return err_set(err, ERR_INVALID, "audit event: \"%s\" present but empty",
                           optional_fields[i].key);
        (*n)++;
    }
    return 0;
}

/* The event's fields out of the parsed object o, with its chain fields: seq, prev and hash. */
static int read_fields(json_t *o, struct audit_event *ev, uint64_t *seq, char prev[65],
                       char hash[65], struct err *err)
{
    json_t *s = json_object_get(o, "seq"), *st = json_object_get(o, "status");
    char t[40];
    size_t optional;
    if (get_optional(o, ev, &optional, err) != 0)
        return -1;
    if (json_object_size(o) != N_REQUIRED + optional)
        return err_set(err, ERR_INVALID, "audit event has %zu keys, not %zu (unknown keys?)",
                       json_object_size(o), (size_t)N_REQUIRED + optional);
    if (!json_is_integer(s) || json_integer_value(s) < 1)
        return err_set(err, ERR_INVALID, "audit event: \"seq\" must be a positive integer");
    if (!json_is_integer(st) || json_integer_value(st) < 0 || json_integer_value(st) > 999)
        return err_set(err, ERR_INVALID, "audit event: \"status\" must be an HTTP status");
    *seq = (uint64_t)json_integer_value(s);
    ev->status = (int)json_integer_value(st);
    if (get_str(o, "time", t, sizeof(t), err) ||
        get_str(o, "request_id", FIELD(ev, request_id), err) ||
        get_str(o, "actor", FIELD(ev, actor), err) ||
        get_str(o, "username", FIELD(ev, username), err) ||
        get_str(o, "remote", FIELD(ev, remote), err) ||
        get_str(o, "action", FIELD(ev, action), err) ||
        get_str(o, "state", FIELD(ev, state), err) ||
        get_str(o, "lock_id", FIELD(ev, lock_id), err) || get_serial(o, ev, err) ||
        get_str(o, "lineage", FIELD(ev, lineage), err) ||
        get_str(o, "sha256", FIELD(ev, sha256), err) || get_opt_int(o, "size", &ev->size, err) ||
        get_str(o, "detail", FIELD(ev, detail), err) || get_str(o, "prev", prev, 65, err) ||
        get_str(o, "hash", hash, 65, err))
        return -1;
    if (!is_hash(prev) || !is_hash(hash))
        return err_set(err, ERR_INVALID,
                       "audit event: prev and hash must be 64 lowercase hex digits");
    if (time_parse_rfc3339(t, &ev->time_us) != 0)
        return err_set(err, ERR_INVALID, "audit event: bad time");
    return 0;
}

/* Re-serialises the event and demands the same bytes as line: this checks the key order, the
 * formatting and the hash at once. */
static int check_canonical(const struct audit_event *ev, uint64_t seq, const char prev[65],
                           const char hash[65], const char *line, size_t len, struct err *err)
{
    struct buf b;
    char want[65];
    buf_init(&b, 0);
    int rc = audit_event_canonical(ev, seq, prev, &b, want, err);
    bool same = rc == 0 && b.len == len && memcmp(b.data, line, len) == 0;
    buf_cleanup(&b);
    if (rc != 0)
        return -1;
    if (strcmp(want, hash) != 0)
        return err_set(err, ERR_INVALID, "hash mismatch: the event's text was changed");
    if (!same)
        return err_set(err, ERR_INVALID, "event text is not in canonical form");
    return 0;
}

int audit__parse(const char *line, size_t len, bool check, struct audit_event *ev, uint64_t *seq,
                 char prev[65], char hash[65], struct err *err)
{
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return err_set(err, ERR_INVALID, "audit event is not a JSON object: %s", je.text);
    }
    struct audit_event tmp;
    uint64_t sq = 0;
    char p[65] = "", h[65] = "";
    audit_event_init(&tmp);
    int rc = read_fields(o, &tmp, &sq, p, h, err);
    json_decref(o);
    if (rc != 0 || (check && check_canonical(&tmp, sq, p, h, line, len, err) != 0))
        return -1;
    *ev = tmp;
    if (seq)
        *seq = sq;
    if (prev)
        memcpy(prev, p, 65);
    if (hash)
        memcpy(hash, h, 65);
    return 0;
}

int audit_event_parse(const char *line, size_t len, struct audit_event *ev, uint64_t *seq,
                      char prev[65], char hash[65], struct err *err)
{
    return audit__parse(line, len, true, ev, seq, prev, hash, err);
}

/* ------------------------------------------------------------------ CSV */

/* RFC 4180: a field with a comma, quote, CR or LF is quoted and its quotes doubled. A text
 * field a client controls that starts with = + - @ or a tab would be run as a formula by
 * spreadsheet programs, so it gets a leading apostrophe (and quotes) first. A text field that
 * starts with an apostrophe gets one too, so a reader (audit_event_csv_parse) takes exactly
 * one leading apostrophe off every text field that has one and gets the event back. */
#define CSV_PROTECTED "=+-@\t\r'"
static int put_csv(struct buf *out, const char *s, size_t cap, bool text, struct err *err)
{
    size_t n = strnlen(s, cap);
    bool formula = text && n > 0 && strchr(CSV_PROTECTED, s[0]) != NULL;
    bool quote = formula || strpbrk(s, ",\"\r\n") != NULL;
    if (!quote)
        return buf_append(out, s, n, err);
    if (buf_append_str(out, formula ? "\"'" : "\"", err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' && buf_append(out, "\"", 1, err) != 0)
            return -1;
        if (buf_append(out, &s[i], 1, err) != 0)
            return -1;
    }
    return buf_append(out, "\"", 1, err);
}

int audit_event_csv(const struct audit_event *ev, uint64_t seq, const char prev[65],
                    const char hash[65], struct buf *out, struct err *err)
{
    char t[32], serial[24] = "", size[24] = "";
    time_format_rfc3339(ev->time_us, t);
    if (ev->has_serial)
        snprintf(serial, sizeof(serial), "%llu", (unsigned long long)ev->serial);
    if (ev->size >= 0)
        snprintf(size, sizeof(size), "%lld", (long long)ev->size);
    if (buf_printf(out, err, "%llu,%s,", (unsigned long long)seq, t) != 0 ||
        put_csv(out, FIELD(ev, request_id), true, err) || buf_append(out, ",", 1, err) ||
        put_csv(out, FIELD(ev, actor), true, err) || buf_append(out, ",", 1, err) ||
        put_csv(out, FIELD(ev, username), true, err) || buf_append(out, ",", 1, err) ||
        put_csv(out, FIELD(ev, remote), true, err) || buf_append(out, ",", 1, err) ||
        put_csv(out, FIELD(ev, action), true, err) || buf_append(out, ",", 1, err) ||
        put_csv(out, FIELD(ev, state), true, err) || buf_append(out, ",", 1, err) ||
        put_csv(out, FIELD(ev, lock_id), true, err) || buf_printf(out, err, ",%s,", serial) != 0 ||
        put_csv(out, FIELD(ev, lineage), true, err) || buf_append(out, ",", 1, err) ||
        put_csv(out, FIELD(ev, sha256), false, err) ||
        buf_printf(out, err, ",%s,%d,", size, ev->status) != 0 ||
        put_csv(out, FIELD(ev, detail), true, err))
        return -1;
    for (size_t i = 0; i < N_OPTIONAL; i++) {
        const char *v = (const char *)ev + optional_fields[i].off;
        if (buf_append(out, ",", 1, err) != 0 ||
            put_csv(out, v, optional_fields[i].size, true, err))
            return -1;
    }
    return buf_printf(out, err, ",%s,%s\r\n", prev ? prev : "", hash ? hash : "");
}

/* Splits one CSV record (its line end removed) into fields, RFC 4180: *n gets their number,
 * each decoded into dst, NUL-terminated, at off[i]. ERR_INVALID on a stray quote or more than
 * max fields. */
static int csv_split(const char *rec, size_t len, struct buf *dst, size_t off[], size_t max,
                     size_t *n, struct err *err)
{
    size_t i = 0;
    *n = 0;
    for (;;) {
        if (*n == max)
            return err_set(err, ERR_INVALID, "CSV row has more than %zu fields", max);
        off[(*n)++] = dst->len;
        if (i < len && rec[i] == '"') {
            for (i++;; i++) {
                if (i >= len)
                    return err_set(err, ERR_INVALID, "CSV field %zu: unterminated quote", *n);
                if (rec[i] == '"' && !(i + 1 < len && rec[i + 1] == '"'))
                    break;
                if (rec[i] == '"')
                    i++; /* a doubled quote stands for one */
                if (buf_append(dst, &rec[i], 1, err) != 0)
                    return -1;
            }
            i++;
            if (i < len && rec[i] != ',')
                return err_set(err, ERR_INVALID, "CSV field %zu: text after its closing quote", *n);
        } else {
            size_t start = i;
            while (i < len && rec[i] != ',')
                i++;
            if (memchr(rec + start, '"', i - start) != NULL)
                return err_set(err, ERR_INVALID, "CSV field %zu: quote in an unquoted field", *n);
            if (buf_append(dst, rec + start, i - start, err) != 0)
                return -1;
        }
        if (buf_append(dst, "", 1, err) != 0)
            return -1;
        if (i >= len)
            return 0;
        i++; /* the comma */
    }
}

/* A text column back into its field: the apostrophe put_csv adds comes off again. */
static int csv_text(const char *v, const char *col, char *dst, size_t cap, struct err *err)
{
    if (v[0] == '\'')
        v++;
    if (strlen(v) >= cap)
        return err_set(err, ERR_INVALID, "CSV column %s too long", col);
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

/* An unsigned decimal column; "" is "not applicable" (*has false). */
static int csv_u64(const char *v, const char *col, uint64_t *dst, bool *has, struct err *err)
{
    *has = v[0] != '\0';
    *dst = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9' || p - v >= 20 || *dst > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return err_set(err, ERR_INVALID, "CSV column %s: not an unsigned integer", col);
        *dst = *dst * 10 + (uint64_t)(*p - '0');
    }
    return 0;
}

/* Column order of audit_csv_header: N_REQUIRED - 2 event columns, the optional ones, then prev
 * and hash. */
#define CSV_COLS (N_REQUIRED - 2 + N_OPTIONAL + 2)

static int csv_fields(const char *const c[CSV_COLS], struct audit_event *ev, uint64_t *seq,
                      struct err *err)
{
    static const struct {
        int col;
        const char *name;
        size_t off, size;
    } text[] = {
#define TEXT_COL(i, f)                                                                             \
    {i, #f, offsetof(struct audit_event, f), sizeof(((struct audit_event *)0)->f)}
        TEXT_COL(2, request_id), TEXT_COL(3, actor),    TEXT_COL(4, username),
        TEXT_COL(5, remote),     TEXT_COL(6, action),   TEXT_COL(7, state),
        TEXT_COL(8, lock_id),    TEXT_COL(10, lineage), TEXT_COL(14, detail),
#undef TEXT_COL
    };
    uint64_t size, status;
    bool has, has_size;
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
        if (csv_text(c[text[i].col], text[i].name, (char *)ev + text[i].off, text[i].size, err))
            return -1;
    for (size_t i = 0; i < N_OPTIONAL; i++)
        if (csv_text(c[N_REQUIRED - 2 + i], optional_fields[i].key,
                     (char *)ev + optional_fields[i].off, optional_fields[i].size, err) != 0)
            return -1;
    if (csv_u64(c[0], "seq", seq, &has, err) != 0 || !has || *seq == 0)
        return err_set(err, ERR_INVALID, "CSV column seq: not a positive integer");
    if (time_parse_rfc3339(c[1], &ev->time_us) != 0)
        return err_set(err, ERR_INVALID, "CSV column time: not RFC 3339");
    if (csv_u64(c[9], "serial", &ev->serial, &ev->has_serial, err) != 0 ||
        csv_u64(c[12], "size", &size, &has_size, err) != 0 ||
        csv_u64(c[13], "status", &status, &has, err) != 0)
        return -1;
    if (!has || status > 999 || (has_size && size > INT64_MAX))
        return err_set(err, ERR_INVALID, "CSV columns size or status out of range");
    ev->size = has_size ? (int64_t)size : -1;
    ev->status = (int)status;
    return csv_text(c[11], "sha256", FIELD(ev, sha256), err);
}

int audit_event_csv_parse(const char *row, size_t len, struct audit_event *ev, uint64_t *seq,
                          char prev[65], char hash[65], struct err *err)
{
    while (len > 0 && (row[len - 1] == '\n' || row[len - 1] == '\r'))
        len--;
    struct buf d;
    size_t off[CSV_COLS], n;
    const char *c[CSV_COLS];
    buf_init(&d, 0);
    audit_event_init(ev);
    int rc = csv_split(row, len, &d, off, CSV_COLS, &n, err);
    if (rc == 0 && n != CSV_COLS)
        rc = err_set(err, ERR_INVALID, "CSV row has %zu fields, not %zu", n, (size_t)CSV_COLS);
    for (size_t i = 0; rc == 0 && i < CSV_COLS; i++)
        c[i] = d.data + off[i];
    if (rc == 0)
        rc = csv_fields(c, ev, seq, err);
    if (rc == 0 && (!is_hash(c[CSV_COLS - 2]) || !is_hash(c[CSV_COLS - 1])))
        rc = err_set(err, ERR_INVALID, "CSV columns prev and hash must be 64 lowercase hex digits");
    if (rc == 0) {
        memcpy(prev, c[CSV_COLS - 2], 65);
        memcpy(hash, c[CSV_COLS - 1], 65);
    }
    buf_cleanup(&d);
    return rc;
}

/* ------------------------------------------------------------------ the chain rule */

void audit__chain_init(struct audit__chain *c)
{
    c->want = 1;
    memcpy(c->prev, AUDIT_ZERO_HASH, 65);
}

int audit__chain_step(struct audit__chain *c, uint64_t seq, const char prev[65],
                      const char hash[65], struct audit_verify_result *res)
{
    if (seq != c->want) {
        res->first_broken = c->want;
        snprintf(res->reason, sizeof(res->reason),
                 "event %llu expected, found %llu (events removed or reordered)",
                 (unsigned long long)c->want, (unsigned long long)seq);
        return -1;
    }
    if (strcmp(prev, c->prev) != 0) {
        res->first_broken = seq;
        snprintf(res->reason, sizeof(res->reason),
                 "event %llu does not chain to event %llu (removed or reordered)",
                 (unsigned long long)seq, (unsigned long long)seq - 1);
        return -1;
    }
    if (audit__anchor_step(res->anchors, seq, hash, res) != 0)
        return -1;
    memcpy(c->prev, hash, 65);
    c->want = seq + 1;
    res->last_seq = seq;
    return 0;
}

void audit__verify_reset(struct audit_verify_result *res)
{
    const struct audit_anchors *keep = res->anchors;
    memset(res, 0, sizeof(*res));
    res->anchors = keep;
}
