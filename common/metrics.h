/* common/metrics.h: counters, gauges and histograms, and their Prometheus text exposition
 * (format 0.0.4). The one metrics primitive: every part defines its metrics here and bumps them;
 * backend serves them on /metrics (docs/metrics.md lists every name).
 *
 * A metric is a static struct metric a part fills with its name, help, type and label names,
 * and registers once (metrics_register; again is a no-op) before anything is counted: a metric
 * bumped before it is registered is silently not counted, so a part used without a server
 * (statectl, unit tests) pays nothing. Registered metrics appear in the exposition at once,
 * label-less ones with 0, so every name is scrapeable before any traffic.
 *
 * Label sets are bounded at registration: a metric has at most max_series label value
 * combinations (default METRIC_SERIES_DEFAULT); past that, new combinations are counted in one
 * series whose every label is "other". Callers pass only values from fixed tables (a route's
 * name, an HTTP method from a known list, a status code), never a client's string.
 *
 * Threads: any thread may bump any metric concurrently; the hot path takes no lock (atomics,
 * and a series table read without a lock; only a new label combination takes the metric's
 * mutex). metrics_write may run concurrently with everything. */
#ifndef STATED_COMMON_METRICS_H
#define STATED_COMMON_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define METRIC_LABELS_MAX     3
#define METRIC_SERIES_DEFAULT 256
#define METRIC_BUCKETS_MAX    16

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metric_impl; /* private (metrics.c) */

struct metric {
    const char *name; /* Prometheus naming: stated_…, base units, counters end in _total */
    const char *help;
    enum metric_type type;
    const char *labels[METRIC_LABELS_MAX]; /* label names; unused slots NULL */
    const double *buckets;                 /* histograms: upper bounds, ascending (+Inf implied) */
    size_t nbuckets;                       /* at most METRIC_BUCKETS_MAX */
    unsigned max_series;                   /* 0: METRIC_SERIES_DEFAULT */
    /* metrics_register's */
    _Atomic(struct metric_impl *) impl;
    struct metric *next;
};

/* Latency buckets in seconds, from 1 ms to 10 s: HTTP requests and storage calls alike. */
#define METRICS_LATENCY_NBUCKETS 13
extern const double metrics_latency_buckets[METRICS_LATENCY_NBUCKETS];

/* Adds m to the exposition (idempotent, thread-safe). */
void metrics_register(struct metric *m);
/* fn(ctx) runs at the start of every metrics_write, on the caller's thread (a worker, never an
 * event loop): for gauges read from elsewhere (the lock store, /proc). At most 8. */
void metrics_on_collect(void (*fn)(void *ctx), void *ctx);
/* The whole exposition: runs the collectors, then every registered metric in order. */
void metrics_write(struct buf *out);
/* One metric's HELP, TYPE and samples (what metrics_write writes per metric). */
void metric_write(const struct metric *m, struct buf *out);
/* process_start_time_seconds, and process_resident_memory_bytes and process_open_fds read
 * from /proc at each scrape. */
void metrics_register_process(void);

/* Label-less metrics. */
void metric_add(struct metric *m, uint64_t n); /* counter */
#define metric_inc(m) metric_add((m), 1)
void metric_set(struct metric *m, double v);       /* gauge */
void metric_gauge_add(struct metric *m, double d); /* gauge, d may be negative */
void metric_observe(struct metric *m, double v);   /* histogram */

/* With labels: values, one per label name of m, in the same order. */
void metric_add_labels(struct metric *m, const char *const *values, uint64_t n);
void metric_set_labels(struct metric *m, const char *const *values, double v);
void metric_observe_labels(struct metric *m, const char *const *values, double v);
#define METRIC_VALUES(...)          ((const char *const[]){__VA_ARGS__})
#define metric_inc_l(m, ...)        metric_add_labels((m), METRIC_VALUES(__VA_ARGS__), 1)
#define metric_add_l(m, n, ...)     metric_add_labels((m), METRIC_VALUES(__VA_ARGS__), (n))
#define metric_set_l(m, v, ...)     metric_set_labels((m), METRIC_VALUES(__VA_ARGS__), (v))
#define metric_observe_l(m, v, ...) metric_observe_labels((m), METRIC_VALUES(__VA_ARGS__), (v))
/* Creates the series at 0 without counting: a series an alert's rate() should see from start. */
#define metric_touch_l(m, ...)      metric_add_labels((m), METRIC_VALUES(__VA_ARGS__), 0)

/* Reading back (tests, collectors): the counter or gauge value of a series, the count and sum
 * of a histogram's; 0 when the series does not exist. values is NULL for label-less metrics. */
double metric_value(const struct metric *m, const char *const *values);
uint64_t metric_hist_count(const struct metric *m, const char *const *values, double *sum);

#endif
