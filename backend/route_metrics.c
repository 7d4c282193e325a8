/* backend/route_metrics.c: the server's own metrics (requests by route, in flight, build, the
 * lock gauges) and the /metrics answer (common/metrics.h's exposition; docs/metrics.md).
 *
 * The lock gauges come from the lock store, so every instance sharing it reports the same
 * numbers; they are read at most every LOCK_STATS_MS, by the scrape that finds them older (on
 * its worker, never a loop), so scrapers cost the database one cheap query per interval
 * whatever their number. A scrape is not audited: Prometheus asks every 15 s, which would
 * drown the trail; stated_http_requests_total{route="metrics"} counts scrapes, and failed
 * logins are reported by auth as for any route. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "common/version.h"

#define LOCK_STATS_MS 2000

static struct metric m_build = {.name = "stated_build_info",
                                .help = "The running release of stated (always 1).",
                                .type = METRIC_GAUGE,
                                .labels = {"version"}};
static struct metric m_requests = {
    .name = "stated_http_requests_total",
    .help =
        "HTTP requests answered, by method, route (a fixed name, never a state's) and status code.",
    .type = METRIC_COUNTER,
    .labels = {"method", "route", "code"},
    .max_series = 1024};
static struct metric m_duration = {
    .name = "stated_http_request_duration_seconds",
    .help = "Time from a request's arrival to its answer being ready, by "
            "route, in seconds.",
    .type = METRIC_HISTOGRAM,
    .labels = {"route"},
    .buckets = metrics_latency_buckets,
    .nbuckets = METRICS_LATENCY_NBUCKETS};
static struct metric m_in_flight = {.name = "stated_http_requests_in_flight",
                                    .help = "Requests received and not yet answered.",
                                    .type = METRIC_GAUGE};
static struct metric m_locks_held = {.name = "stated_locks_held",
                                     .help = "Live leases in the lock store (every instance's).",
                                     .type = METRIC_GAUGE};
static struct metric m_lock_age = {.name = "stated_lock_oldest_age_seconds",
                                   .help =
                                       "Age of the oldest live lease in the lock store, in seconds "
                                       "(0 when none).",
                                   .type = METRIC_GAUGE};

static struct {
    pthread_mutex_t mu;
    struct lockstore *ls;
    int64_t read_ms; /* mono_ms of the last reading, 0: never */
    bool failing;
} L = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Collector: refreshes the lock gauges when the last reading is LOCK_STATS_MS old. A failure
 * keeps the last values (the storage or PostgreSQL metrics say why) and is logged once. */
static void collect_locks(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&L.mu);
    int64_t now = mono_ms();
    if (L.read_ms == 0 || now - L.read_ms >= LOCK_STATS_MS) {
        struct lock_stats st = {0};
        struct err e = {0};
        if (L.ls->ops->stats(L.ls, &st, &e) == 0) {
            metric_set(&m_locks_held, (double)st.held);
            metric_set(&m_lock_age, (double)st.oldest_age_us / 1e6);
            L.read_ms = now;
            if (L.failing)
                log_info("metrics: lock store readable again");
            L.failing = false;
        } else if (!L.failing) {
            L.failing = true;
            log_warn("metrics: cannot read the lock store: %s", e.msg);
        }
    }
    pthread_mutex_unlock(&L.mu);
}

void backend_metrics_init(struct server *srv)
{
    metrics_register(&m_build);
    metrics_register(&m_requests);
    metrics_register(&m_duration);
    metrics_register(&m_in_flight);
    metrics_register(&m_locks_held);
    metrics_register(&m_lock_age);
    metric_set_l(&m_build, 1, STATED_VERSION);
    ops_metrics_register();
    metrics_register_process();
    L.ls = srv->ops.locks;
    metrics_on_collect(collect_locks, NULL);
}

void backend_metrics_in_flight(int n)
{
    metric_set(&m_in_flight, n);
}

/* The method as a label: one of the methods stated knows, else "other" (a client chooses it). */
static const char *method_label(const char *m)
{
    static const char *const known[] = {"GET",  "HEAD",   "POST",    "PUT",  "DELETE",
                                        "LOCK", "UNLOCK", "OPTIONS", "PATCH"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return "other";
}

void backend_metrics_request(const struct backend_req *r)
{
    const char *route = r->route != NULL ? r->route : "other";
    /* Three digits without snprintf: this runs for every request, on the loops too. */
    int st = r->status >= 100 && r->status <= 599 ? r->status : 0;
    char code[4] = {(char)('0' + st / 100), (char)('0' + st / 10 % 10), (char)('0' + st % 10), 0};
    metric_inc_l(&m_requests, method_label(r->method), route, code);
    metric_observe_l(&m_duration, (double)(mono_us() - r->start_us) / 1e6, route);
    if (r->status == 403 && r->authenticated)
        auth_count_forbidden();
}

void route_metrics_answer(struct backend_req *r)
{
    if (strcmp(r->method, "GET") != 0) {
        struct err e = {0};
        err_set(&e, ERR_METHOD, "only GET on /metrics");
        respond_err(r, &e, "GET");
        return;
    }
    struct buf out;
    buf_init(&out, 0);
    metrics_write(&out);
    respond_take(r, 200, "text/plain; version=0.0.4; charset=utf-8", &out);
}
