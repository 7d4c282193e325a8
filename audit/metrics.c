/* audit/metrics.c: what the audit trail counts (docs/metrics.md), whichever driver holds it. */
#include "audit/audit_int.h"
#include "common/metrics.h"

static struct metric m_events = {
    .name = "stated_audit_events_total", .help = "Audit events appended.", .type = METRIC_COUNTER};
static struct metric m_errors = {
    .name = "stated_audit_append_errors_total",
    .help = "Audit appends that failed: events not appended, and group commits (fdatasync) of "
            "events already written that failed.",
    .type = METRIC_COUNTER};

static struct metric m_conflicts = {
    .name = "stated_audit_append_conflicts_total",
    .help = "Batches of audit events refused because another instance appended first (each then "
            "written on the locked path).",
    .type = METRIC_COUNTER};

void audit__metrics_register(void)
{
    metrics_register(&m_events);
    metrics_register(&m_errors);
    metrics_register(&m_conflicts);
}

void audit__count_conflict(void)
{
    metric_inc(&m_conflicts);
}

void audit_count_append(bool ok)
{
    metric_inc(ok ? &m_events : &m_errors);
}
