/* common/log.c: see log.h. */
#include "common/log.h"
#include "common/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum log_level log_min_level = LOG_INFO;
static enum log_format log_fmt = LOG_TEXT;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_setup(enum log_level level, enum log_format format)
{
    log_min_level = level;
    log_fmt = format;
}

int log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

/* Appends src JSON-escaped to dst[*o] (cap bytes, kept NUL-terminated, cut to fit). src is
 * well-formed UTF-8 (utf8_sanitize), so the line is JSON whatever the client sent. */
static void json_escape_into(char *dst, size_t cap, size_t *o, const char *src)
{
    for (const unsigned char *p = (const unsigned char *)src; *p != '\0' && *o + 7 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            dst[(*o)++] = '\\';
            dst[(*o)++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            *o += (size_t)snprintf(dst + *o, cap - *o, "\\u%04x", *p);
        } else {
            dst[(*o)++] = (char)*p;
        }
    }
    dst[*o] = '\0';
}

/* Appends "s" (sanitized, escaped, quoted) to dst[*o]. */
static void json_string_into(char *dst, size_t cap, size_t *o, const char *s)
{
    char clean[2048];
    utf8_sanitize(clean, sizeof(clean), s);
    if (*o + 2 < cap)
        dst[(*o)++] = '"';
    json_escape_into(dst, cap, o, clean);
    if (*o + 2 < cap)
        dst[(*o)++] = '"';
    dst[*o] = '\0';
}

/* Rewrites control characters (newlines above all) in s as \xHH, in place, cutting what no
 * longer fits in cap. */
static void escape_controls(char *s, size_t cap)
{
    size_t n = strlen(s), extra = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            extra += 3;
    if (extra == 0)
        return;
    char tmp[2048];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < sizeof(tmp); i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "\\x%02x", c);
        else
            tmp[o++] = (char)c;
    }
    tmp[o] = '\0';
    snprintf(s, cap, "%s", tmp);
}

/* The JSON record: {"ts","level","msg"} then the fields that apply, into line. */
static int json_record(char *line, size_t cap, const char *ts, enum log_level level,
                       const char *msg, const struct log_field *f, size_t n)
{
    size_t o = (size_t)snprintf(line, cap, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts,
                                level_names[level]);
    json_string_into(line, cap, &o, msg);
    for (size_t i = 0; i < n && o + 40 < cap; i++) {
        if (f[i].is_int ? f[i].n < 0 : f[i].s == NULL || f[i].s[0] == '\0')
            continue;
        o += (size_t)snprintf(line + o, cap - o, ",\"%s\":", f[i].key);
        if (f[i].is_int)
            o += (size_t)snprintf(line + o, cap - o, "%lld", f[i].n);
        else
            json_string_into(line, cap, &o, f[i].s);
    }
    if (o + 2 >= cap) /* cut: end the object on its last complete field */
        return -1;
    return (int)(o + (size_t)snprintf(line + o, cap - o, "}\n"));
}

static void log_vwrite(enum log_level level, const struct log_field *f, size_t nf, const char *fmt,
                       va_list ap)
{
    char msg[2048], line[8192], ts[40];
    struct timeval tv;
    struct tm tm;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", (long)(tv.tv_usec / 1000));

    int len;
    /* Values in a message may come from clients: no line of the log may be forged by one. */
    escape_controls(msg, sizeof(msg));
    if (log_fmt == LOG_JSON) {
        len = json_record(line, sizeof(line), ts, level, msg, f, nf);
        if (len < 0) /* fields too long for a line: the message alone */
            len = json_record(line, sizeof(line), ts, level, msg, NULL, 0);
    } else {
        len = snprintf(line, sizeof(line), "%s %-5s %s\n", ts, level_names[level], msg);
    }
    if (len < 0)
        return;
    if ((size_t)len >= sizeof(line))
        len = (int)sizeof(line) - 1, line[len - 1] = '\n';
    /* One write(2) per record keeps lines from different threads whole. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)len);
    (void)w;
}

void log_fields(enum log_level level, const struct log_field *fields, size_t n, const char *fmt,
                ...)
{
    if (level > log_min_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, fields, n, fmt, ap);
    va_end(ap);
}

void log_write(enum log_level level, const char *fmt, ...)
{
    if (level > log_min_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, NULL, 0, fmt, ap);
    va_end(ap);
}

void log_die_bug(const char *file, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_write(LOG_ERROR, "BUG at %s:%d: %s", file, line, msg);
    abort();
}
