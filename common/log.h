/* common/log.h: the server's diagnostic log (stderr), text or JSON lines.
 *
 * Logging is not the audit trail (audit/). Never pass a token, a password, a key or state
 * content to these functions. The macros test the level before evaluating their arguments.
 * Thread-safe: each record is written with one write(2). */
#ifndef STATED_COMMON_LOG_H
#define STATED_COMMON_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_TEXT, LOG_JSON };

extern enum log_level log_min_level;

void log_setup(enum log_level level, enum log_format format);
/* Parses "error|warn|info|debug"; -1 when unknown. */
int log_level_parse(const char *s);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
