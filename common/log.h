/* common/log.h: the server's diagnostic log (stderr), text or JSON lines.
 *
 * Text: "TS LEVEL message". JSON: one object per line, {"ts","level","msg"} and, for records
 * written with log_fields, the fields after them (the request line: docs/metrics.md lists
 * them); every string is well-formed UTF-8 and escaped, so each line parses on its own.
 *
 * Logging is not the audit trail (audit/). Never pass a token, a password, a key or state
 * content to these functions. The macros test the level before evaluating their arguments.
 * Thread-safe: each record is written with one write(2). */
#ifndef STATED_COMMON_LOG_H
#define STATED_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_TEXT, LOG_JSON };

extern enum log_level log_min_level;

void log_setup(enum log_level level, enum log_format format);
/* Parses "error|warn|info|debug"; -1 when unknown. */
int log_level_parse(const char *s);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A field of a structured record: a string (left out when NULL or "") or an integer (left out
 * when negative). */
struct log_field {
    const char *key;
    const char *s;
    long long n;
    bool is_int;
};
#define LOG_STR(k, v) ((struct log_field){.key = (k), .s = (v)})
#define LOG_INT(k, v) ((struct log_field){.key = (k), .n = (long long)(v), .is_int = true})
/* A record with fields: the text format shows only the message (fields are for machines and
 * say again what it says); JSON adds them after "msg". */
void log_fields(enum log_level level, const struct log_field *fields, size_t n, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));

#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)                                                                              \
    do {                                                                                           \
        if (log_min_level >= LOG_WARN)                                                             \
            log_write(LOG_WARN, __VA_ARGS__);                                                      \
    } while (0)
#define log_info(...)                                                                              \
    do {                                                                                           \
        if (log_min_level >= LOG_INFO)                                                             \
            log_write(LOG_INFO, __VA_ARGS__);                                                      \
    } while (0)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_min_level >= LOG_DEBUG)                                                            \
            log_write(LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)

/* Logs at LOG_ERROR with file:line and aborts: for broken invariants only. */
#define die_bug(...) log_die_bug(__FILE__, __LINE__, __VA_ARGS__)
void log_die_bug(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#endif
