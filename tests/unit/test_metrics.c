/* tests/unit/test_metrics.c: common/metrics.h: the exposition text (HELP, TYPE, labels and
 * their escaping), histogram buckets, sum and count, the series bound, and bumps from many
 * threads at once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/metrics.h"
#include "tests/unit/t.h"

/* m's exposition as a new string. */
static char *render(const struct metric *m)
{
    struct buf b;
    buf_init(&b, 0);
    metric_write(m, &b);
    buf_append(&b, "", 1, NULL);
    return buf_take(&b, NULL);
}

static void test_counter_and_help(void)
{
    static struct metric c = {.name = "t_plain_total",
                              .help = "A help with a \\ backslash\nand a newline.",
                              .type = METRIC_COUNTER};
    metric_inc(&c); /* before registration: not counted, no crash */
    char *s = render(&c);
    CHECK_STR(s, "");
    free(s);
    metrics_register(&c);
    metrics_register(&c); /* idempotent */
    s = render(&c);
    CHECK_STR(s, "# HELP t_plain_total A help with a \\\\ backslash\\nand a newline.\n"
                 "# TYPE t_plain_total counter\n"
                 "t_plain_total 0\n");
    free(s);
    metric_inc(&c);
    metric_add(&c, 41);
    CHECK_INT(metric_value(&c, NULL), 42);
    s = render(&c);
    CHECK(strstr(s, "\nt_plain_total 42\n") != NULL);
    free(s);
}

static void test_labels_escaped(void)
{
    static struct metric c = {
        .name = "t_labels_total", .help = "h", .type = METRIC_COUNTER, .labels = {"a", "b"}};
    metrics_register(&c);
    char *s = render(&c);
    CHECK_STR(s, "# HELP t_labels_total h\n# TYPE t_labels_total counter\n"); /* no series yet */
    free(s);
    metric_inc_l(&c, "x", "y");
    metric_add_l(&c, 2, "x", "y");
    metric_inc_l(&c, "q\"uote", "back\\slash\nnl");
    metric_touch_l(&c, "z", "zero");
    CHECK_INT(metric_value(&c, METRIC_VALUES("x", "y")), 3);
    CHECK_INT(metric_value(&c, METRIC_VALUES("nope", "y")), 0);
    s = render(&c);
    CHECK_STR(s, "# HELP t_labels_total h\n# TYPE t_labels_total counter\n"
                 "t_labels_total{a=\"x\",b=\"y\"} 3\n"
                 "t_labels_total{a=\"q\\\"uote\",b=\"back\\\\slash\\nnl\"} 1\n"
                 "t_labels_total{a=\"z\",b=\"zero\"} 0\n");
    free(s);
}

static void test_gauge(void)
{
    static struct metric g = {.name = "t_gauge", .help = "g", .type = METRIC_GAUGE};
    static struct metric gl = {
        .name = "t_gauge_info", .help = "i", .type = METRIC_GAUGE, .labels = {"version"}};
    metrics_register(&g);
    metrics_register(&gl);
    metric_set(&g, 2.5);
    metric_gauge_add(&g, 1);
    metric_gauge_add(&g, -0.25);
    char *s = render(&g);
    CHECK_STR(s, "# HELP t_gauge g\n# TYPE t_gauge gauge\nt_gauge 3.25\n");
    free(s);
    metric_set_l(&gl, 1, "1.2.3");
    s = render(&gl);
    CHECK(strstr(s, "t_gauge_info{version=\"1.2.3\"} 1\n") != NULL);
    free(s);
}

static void test_histogram(void)
{
    static const double b[] = {0.1, 1, 10};
    static struct metric h = {.name = "t_seconds",
                              .help = "h",
                              .type = METRIC_HISTOGRAM,
                              .labels = {"route"},
                              .buckets = b,
                              .nbuckets = 3};
    metrics_register(&h);
    metric_observe_l(&h, 0.05, "r");
    metric_observe_l(&h, 0.1, "r"); /* on a bound: in that bucket (le is <=) */
    metric_observe_l(&h, 5, "r");
    metric_observe_l(&h, 50, "r");
    double sum = 0;
    CHECK_INT(metric_hist_count(&h, METRIC_VALUES("r"), &sum), 4);
    CHECK(sum > 55.149 && sum < 55.151);
    char *s = render(&h);
    CHECK_STR(s, "# HELP t_seconds h\n# TYPE t_seconds histogram\n"
                 "t_seconds_bucket{route=\"r\",le=\"0.1\"} 2\n"
                 "t_seconds_bucket{route=\"r\",le=\"1\"} 2\n"
                 "t_seconds_bucket{route=\"r\",le=\"10\"} 3\n"
                 "t_seconds_bucket{route=\"r\",le=\"+Inf\"} 4\n"
                 "t_seconds_sum{route=\"r\"} 55.15\n"
                 "t_seconds_count{route=\"r\"} 4\n");
    free(s);
}

static void test_series_bound(void)
{
    static struct metric c = {.name = "t_bounded_total",
                              .help = "h",
                              .type = METRIC_COUNTER,
                              .labels = {"k"},
                              .max_series = 2};
    metrics_register(&c);
    metric_inc_l(&c, "a");
    metric_inc_l(&c, "b");
    metric_inc_l(&c, "c"); /* over the bound: counted as other */
    metric_inc_l(&c, "d");
    metric_inc_l(&c, "a"); /* known: still its own */
    char *s = render(&c);
    CHECK_STR(s, "# HELP t_bounded_total h\n# TYPE t_bounded_total counter\n"
                 "t_bounded_total{k=\"a\"} 2\n"
                 "t_bounded_total{k=\"b\"} 1\n"
                 "t_bounded_total{k=\"other\"} 2\n");
    free(s);
}

static struct metric cc = {
    .name = "t_conc_total", .help = "h", .type = METRIC_COUNTER, .labels = {"k"}};
static struct metric ch = {.name = "t_conc_seconds",
                           .help = "h",
                           .type = METRIC_HISTOGRAM,
                           .buckets = (const double[]){1},
                           .nbuckets = 1};
#define THREADS 8
#define ROUNDS  20000

static void *bump(void *arg)
{
    char key[16];
    for (int i = 0; i < ROUNDS; i++) {
        snprintf(key, sizeof(key), "k%d", i % 16); /* new series created concurrently too */
        metric_inc_l(&cc, key);
        metric_observe(&ch, 0.5);
    }
    (void)arg;
    return NULL;
}

/* Bumps from many threads lose nothing, and an exposition may run meanwhile. */
static void test_concurrency(void)
{
    metrics_register(&cc);
    metrics_register(&ch);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, bump, NULL);
    for (int i = 0; i < 5; i++)
        free(render(&cc));
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    double total = 0;
    char key[16];
    for (int i = 0; i < 16; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        total += metric_value(&cc, METRIC_VALUES(key));
    }
    CHECK_INT(total, THREADS * ROUNDS);
    double sum = 0;
    CHECK_INT(metric_hist_count(&ch, NULL, &sum), THREADS * ROUNDS);
    CHECK_INT(sum, THREADS * ROUNDS / 2);
}

/* The whole exposition holds every registered metric, process metrics included. */
static void test_write_all(void)
{
    metrics_register_process();
    struct buf b;
    buf_init(&b, 0);
    metrics_write(&b);
    buf_append(&b, "", 1, NULL);
    CHECK(strstr(b.data, "# TYPE t_plain_total counter\n") != NULL);
    CHECK(strstr(b.data, "# TYPE t_seconds histogram\n") != NULL);
    CHECK(strstr(b.data, "\nprocess_open_fds ") != NULL);
    CHECK(strstr(b.data, "\nprocess_resident_memory_bytes ") != NULL);
    CHECK(strstr(b.data, "\nprocess_start_time_seconds 1") != NULL);
    buf_cleanup(&b);
}

int main(void)
{
    RUN(test_counter_and_help);
    RUN(test_labels_escaped);
    RUN(test_gauge);
    RUN(test_histogram);
    RUN(test_series_bound);
    RUN(test_concurrency);
    RUN(test_write_all);
    return t_report();
}
