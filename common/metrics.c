/* common/metrics.c: see metrics.h.
 *
 * Each metric owns an open-addressing table of series keyed by the hash of its label values.
 * Slots are published with a release store once the series is complete, so a reader that finds
 * a slot finds a whole series without a lock; only inserting takes the metric's mutex. Values
 * are atomics: counters and bucket counts as integers, gauges and sums as the bits of a double
 * (added with a compare-and-swap loop). A histogram's _count is the sum of its buckets read at
 * exposition, so +Inf and _count always agree within one scrape. */
#include "common/metrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

const double metrics_latency_buckets[METRICS_LATENCY_NBUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct series {
    uint64_t hash;
    char *values[METRIC_LABELS_MAX];
    _Atomic uint64_t value;     /* counter: the count; gauge, histogram: the bits of a double */
    _Atomic uint64_t buckets[]; /* histogram: per bucket (not cumulative), then +Inf */
};

struct metric_impl {
    pthread_mutex_t mu; /* inserting */
    unsigned nlabels, cap, max;
    _Atomic(struct series *) *slots; /* cap, a power of two at least twice max */
    struct series **order;           /* insertion order, for the exposition; max + 1 */
    _Atomic unsigned n;              /* series in order */
    struct series *overflow;         /* every label "other", once max is reached */
};

static struct {
    pthread_mutex_t mu;
    struct metric *head, *tail;
    struct {
        void (*fn)(void *ctx);
        void *ctx;
    } collectors[8];
    unsigned ncollectors;
} R = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ------------------------------------------------------------------ registration */

static unsigned label_count(const struct metric *m)
{
    unsigned n = 0;
    while (n < METRIC_LABELS_MAX && m->labels[n] != NULL)
        n++;
    return n;
}

void metrics_register(struct metric *m)
{
    pthread_mutex_lock(&R.mu);
    if (atomic_load(&m->impl) != NULL) {
        pthread_mutex_unlock(&R.mu);
        return;
    }
    if (m->type == METRIC_HISTOGRAM && m->nbuckets > METRIC_BUCKETS_MAX)
        die_bug("metric %s: %zu buckets", m->name, m->nbuckets);
    struct metric_impl *im = xcalloc(1, sizeof(*im));
    pthread_mutex_init(&im->mu, NULL);
    im->nlabels = label_count(m);
    im->max = im->nlabels == 0 ? 1 : m->max_series != 0 ? m->max_series : METRIC_SERIES_DEFAULT;
    im->cap = 2;
    while (im->cap < 2 * im->max)
        im->cap *= 2;
    im->slots = xcalloc(im->cap, sizeof(*im->slots));
    im->order = xcalloc(im->max + 1, sizeof(*im->order));
    m->next = NULL;
    if (R.tail != NULL)
        R.tail->next = m;
    else
        R.head = m;
    R.tail = m;
    /* Last: a bump sees impl only once the metric is complete. */
    atomic_store_explicit(&m->impl, im, memory_order_release);
    pthread_mutex_unlock(&R.mu);
    if (im->nlabels == 0)
        metric_add_labels(m, NULL, 0); /* the one series, shown as 0 from the start */
}

void metrics_on_collect(void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&R.mu);
    if (R.ncollectors == sizeof(R.collectors) / sizeof(R.collectors[0]))
        die_bug("too many metrics collectors");
    R.collectors[R.ncollectors].fn = fn;
    R.collectors[R.ncollectors].ctx = ctx;
    R.ncollectors++;
    pthread_mutex_unlock(&R.mu);
}

/* ------------------------------------------------------------------ series */

static struct metric_impl *impl_of(const struct metric *m)
{
    return atomic_load_explicit(&m->impl, memory_order_acquire);
}

static uint64_t hash_values(unsigned n, const char *const *values)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a, each value ended by a 0 byte */
    for (unsigned i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)values[i]; *p != '\0'; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h *= 1099511628211ULL;
    }
    return h;
}

static bool same_values(const struct series *s, unsigned n, const char *const *values)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(s->values[i], values[i]) != 0)
            return false;
    return true;
}

static struct series *series_new(const struct metric *m, unsigned n, const char *const *values,
                                 uint64_t hash)
{
    size_t nb = m->type == METRIC_HISTOGRAM ? m->nbuckets + 1 : 0;
    struct series *s = xcalloc(1, sizeof(*s) + nb * sizeof(s->buckets[0]));
    s->hash = hash;
    for (unsigned i = 0; i < n; i++)
        s->values[i] = xstrdup(values[i]);
    return s;
}

/* The slot where values' series is, or the empty slot where it would go. */
static _Atomic(struct series *) *probe(struct metric_impl *im, uint64_t hash,
                                       const char *const *values, struct series **found)
{
    for (unsigned i = (unsigned)hash & (im->cap - 1);; i = (i + 1) & (im->cap - 1)) {
        struct series *s = atomic_load_explicit(&im->slots[i], memory_order_acquire);
        if (s == NULL || (s->hash == hash && same_values(s, im->nlabels, values))) {
            *found = s;
            return &im->slots[i];
        }
    }
}

static struct series *series_insert(const struct metric *m, struct metric_impl *im, uint64_t hash,
                                    const char *const *values)
{
    pthread_mutex_lock(&im->mu);
    struct series *s;
    _Atomic(struct series *) *slot = probe(im, hash, values, &s);
    if (s == NULL && atomic_load(&im->n) < im->max) {
        s = series_new(m, im->nlabels, values, hash);
        im->order[atomic_load(&im->n)] = s;
        atomic_fetch_add(&im->n, 1);
        atomic_store_explicit(slot, s, memory_order_release);
    } else if (s == NULL) {
        if (im->overflow == NULL) {
            const char *other[METRIC_LABELS_MAX] = {"other", "other", "other"};
            im->overflow = series_new(m, im->nlabels, other, 0);
        }
        s = im->overflow;
    }
    pthread_mutex_unlock(&im->mu);
    return s;
}

/* The series of values (NULL for a label-less metric), created when new; NULL when m is not
 * registered. */
static struct series *series_get(const struct metric *m, const char *const *values)
{
    struct metric_impl *im = impl_of(m);
    if (im == NULL)
        return NULL;
    static const char *const none[1] = {""};
    if (values == NULL)
        values = none;
    uint64_t hash = hash_values(im->nlabels, values);
    struct series *s;
    probe(im, hash, values, &s);
    return s != NULL ? s : series_insert(m, im, hash, values);
}

static double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static void add_double(_Atomic uint64_t *a, double d)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old, double_bits(bits_double(old) + d),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* ------------------------------------------------------------------ bumping */

void metric_add_labels(struct metric *m, const char *const *values, uint64_t n)
{
    struct series *s = series_get(m, values);
    if (s != NULL && n != 0)
        atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void metric_set_labels(struct metric *m, const char *const *values, double v)
{
    struct series *s = series_get(m, values);
    if (s != NULL)
        atomic_store_explicit(&s->value, double_bits(v), memory_order_relaxed);
}

void metric_observe_labels(struct metric *m, const char *const *values, double v)
{
    struct series *s = series_get(m, values);
    if (s == NULL)
        return;
    size_t b = 0;
    while (b < m->nbuckets && v > m->buckets[b])
        b++;
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    add_double(&s->value, v);
}

void metric_add(struct metric *m, uint64_t n)
{
    metric_add_labels(m, NULL, n);
}

void metric_set(struct metric *m, double v)
{
    metric_set_labels(m, NULL, v);
}

void metric_gauge_add(struct metric *m, double d)
{
    struct series *s = series_get(m, NULL);
    if (s != NULL)
        add_double(&s->value, d);
}

void metric_observe(struct metric *m, double v)
{
    metric_observe_labels(m, NULL, v);
}

/* A lookup that never creates a series (reading back). */
static struct series *series_find(const struct metric *m, const char *const *values)
{
    struct metric_impl *im = impl_of(m);
    if (im == NULL)
        return NULL;
    static const char *const none[1] = {""};
    struct series *s;
    probe(im, hash_values(im->nlabels, values != NULL ? values : none),
          values != NULL ? values : none, &s);
    return s;
}

double metric_value(const struct metric *m, const char *const *values)
{
    struct series *s = series_find(m, values);
    if (s == NULL)
        return 0;
    uint64_t v = atomic_load(&s->value);
    return m->type == METRIC_COUNTER ? (double)v : bits_double(v);
}

uint64_t metric_hist_count(const struct metric *m, const char *const *values, double *sum)
{
    struct series *s = series_find(m, values);
    uint64_t n = 0;
    if (sum != NULL)
        *sum = s != NULL ? bits_double(atomic_load(&s->value)) : 0;
    for (size_t b = 0; s != NULL && b <= m->nbuckets; b++)
        n += atomic_load(&s->buckets[b]);
    return n;
}

/* ------------------------------------------------------------------ exposition */

/* A sample value as Prometheus parses it: the shortest text that reads back the same. */
static void format_double(char out[40], double v)
{
    if (isnan(v)) {
        strcpy(out, "NaN");
    } else if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(out, 40, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, 40, "%.17g", v);
    }
}

/* HELP text escapes backslash and newline; label values also the double quote. */
static void append_escaped(struct buf *out, const char *s, bool quote)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            buf_append_str(out, "\\\\", NULL);
        else if (*s == '\n')
            buf_append_str(out, "\\n", NULL);
        else if (*s == '"' && quote)
            buf_append_str(out, "\\\"", NULL);
        else
            buf_append(out, s, 1, NULL);
    }
}

/* name{labels[,le="…"]} value\n; suffix is "_bucket" and the like, le NULL when none. */
static void write_sample(struct buf *out, const struct metric *m, const char *suffix,
                         const struct series *s, unsigned nlabels, const char *le,
                         const char *value)
{
    buf_append_str(out, m->name, NULL);
    buf_append_str(out, suffix, NULL);
    if (nlabels > 0 || le != NULL) {
        buf_append_str(out, "{", NULL);
        for (unsigned i = 0; i < nlabels; i++) {
            buf_printf(out, NULL, "%s%s=\"", i > 0 ? "," : "", m->labels[i]);
            append_escaped(out, s->values[i], true);
            buf_append_str(out, "\"", NULL);
        }
        if (le != NULL)
            buf_printf(out, NULL, "%sle=\"%s\"", nlabels > 0 ? "," : "", le);
        buf_append_str(out, "}", NULL);
    }
    buf_printf(out, NULL, " %s\n", value);
}

static void write_histogram(struct buf *out, const struct metric *m, const struct series *s,
                            unsigned nlabels)
{
    char v[40], le[40];
    uint64_t cum = 0;
    for (size_t b = 0; b <= m->nbuckets; b++) {
        cum += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
        format_double(le, b < m->nbuckets ? m->buckets[b] : INFINITY);
        snprintf(v, sizeof(v), "%llu", (unsigned long long)cum);
        write_sample(out, m, "_bucket", s, nlabels, le, v);
    }
    format_double(v, bits_double(atomic_load_explicit(&s->value, memory_order_relaxed)));
    write_sample(out, m, "_sum", s, nlabels, NULL, v);
    snprintf(v, sizeof(v), "%llu", (unsigned long long)cum);
    write_sample(out, m, "_count", s, nlabels, NULL, v);
}

static void write_series(struct buf *out, const struct metric *m, const struct series *s,
                         unsigned nlabels)
{
    char v[40];
    uint64_t raw = atomic_load_explicit(&s->value, memory_order_relaxed);
    if (m->type == METRIC_HISTOGRAM) {
        write_histogram(out, m, s, nlabels);
        return;
    }
    if (m->type == METRIC_COUNTER)
        snprintf(v, sizeof(v), "%llu", (unsigned long long)raw);
    else
        format_double(v, bits_double(raw));
    write_sample(out, m, "", s, nlabels, NULL, v);
}

void metric_write(const struct metric *m, struct buf *out)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    struct metric_impl *im = impl_of(m);
    if (im == NULL)
        return;
    buf_printf(out, NULL, "# HELP %s ", m->name);
    append_escaped(out, m->help, false);
    buf_printf(out, NULL, "\n# TYPE %s %s\n", m->name, types[m->type]);
    pthread_mutex_lock(&im->mu); /* order and overflow are written under it */
    unsigned n = atomic_load(&im->n);
    for (unsigned i = 0; i < n; i++)
        write_series(out, m, im->order[i], im->nlabels);
    if (im->overflow != NULL)
        write_series(out, m, im->overflow, im->nlabels);
    pthread_mutex_unlock(&im->mu);
}

void metrics_write(struct buf *out)
{
    pthread_mutex_lock(&R.mu);
    unsigned nc = R.ncollectors;
    struct metric *head = R.head;
    pthread_mutex_unlock(&R.mu);
    for (unsigned i = 0; i < nc; i++)
        R.collectors[i].fn(R.collectors[i].ctx);
    /* Registered metrics are never removed, and a new one is linked after its impl is set: the
     * list can be walked without the registry's mutex. */
    for (const struct metric *m = head; m != NULL; m = m->next)
        metric_write(m, out);
}

/* ------------------------------------------------------------------ process metrics */

static struct metric m_start = {.name = "process_start_time_seconds",
                                .help =
                                    "Start time of the process since the Unix epoch, in seconds.",
                                .type = METRIC_GAUGE};
static struct metric m_rss = {.name = "process_resident_memory_bytes",
                              .help = "Resident memory size in bytes.",
                              .type = METRIC_GAUGE};
static struct metric m_fds = {
    .name = "process_open_fds", .help = "Number of open file descriptors.", .type = METRIC_GAUGE};
static void collect_process(void *ctx)
{
    (void)ctx;
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    metric_set(&m_rss, (double)rss * (double)sysconf(_SC_PAGESIZE));
    unsigned fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        while (readdir(d) != NULL)
            fds++;
        closedir(d);
        fds = fds >= 3 ? fds - 3 : 0; /* ".", ".." and the directory's own descriptor */
    }
    metric_set(&m_fds, fds);
}

void metrics_register_process(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    metrics_register(&m_start);
    metrics_register(&m_rss);
    metrics_register(&m_fds);
    metric_set(&m_start, (double)now_us() / 1e6);
    metrics_on_collect(collect_process, NULL);
}
