# Cockpit for one project: custom metrics and logs data sources with their retention, the alert
# manager with e-mail contact points, and Scaleway's preconfigured alert rules. With
# stated_metrics set, also what monitoring stated takes (docs/observability.md): a Cockpit token
# that may only push metrics (the agent's), one that may only write alert rules (to load
# stated.rules.yml), and the agent's configuration; the dashboard and the rules ship as
# files, since the provider has no resource for either.
locals {
  stated = var.stated_metrics == null ? [] : [var.stated_metrics]
  # The container's endpoint, as a host name whatever form it is given in.
  stated_host = var.stated_metrics == null ? "" : trimsuffix(trimprefix(trimprefix(try(trimspace(var.stated_metrics.endpoint), ""), "https://"), "http://"), "/")
  stated_alloy = var.stated_metrics == null ? null : templatefile("${path.module}/stated.alloy.tftpl", {
    address         = var.stated_metrics.private ? "127.0.0.1:${var.stated_metrics.forwarder_port}" : "${local.stated_host}:443"
    private         = var.stated_metrics.private
    push_url        = scaleway_cockpit_source.metrics.push_url
    scheme          = var.stated_metrics.private ? "http" : "https"
    scrape_interval = var.stated_metrics.scrape_interval
  })
}

resource "scaleway_cockpit_source" "logs" {
  name           = "${var.name}-logs"
  project_id     = var.project_id
  region         = var.region
  retention_days = var.logs_retention_days
  type           = "logs"
}

resource "scaleway_cockpit_source" "metrics" {
  name           = "${var.name}-metrics"
  project_id     = var.project_id
  region         = var.region
  retention_days = var.metrics_retention_days
  type           = "metrics"
}

resource "scaleway_cockpit_alert_manager" "this" {
  preconfigured_alert_ids = var.preconfigured_alert_ids
  project_id              = var.project_id
  region                  = var.region

  dynamic "contact_points" {
    for_each = var.contact_emails
    content {
      email = contact_points.value
    }
  }
}

# The agent's token: push metrics, nothing else (write_logs defaults to true and is turned off).
resource "scaleway_cockpit_token" "stated_push" {
  count = length(local.stated)

  name       = "${var.name}-stated-push"
  project_id = var.project_id
  region     = var.region

  scopes {
    query_logs          = false
    query_metrics       = false
    query_traces        = false
    setup_alerts        = false
    setup_logs_rules    = false
    setup_metrics_rules = false
    write_logs          = false
    write_metrics       = true
    write_traces        = false
  }
}

# The token that loads stated.rules.yml into the metrics data source (mimirtool): rules
# only, it can neither read nor push metrics.
resource "scaleway_cockpit_token" "stated_rules" {
  count = length(local.stated)

  name       = "${var.name}-stated-rules"
  project_id = var.project_id
  region     = var.region

  scopes {
    query_logs          = false
    query_metrics       = false
    query_traces        = false
    setup_alerts        = false
    setup_logs_rules    = false
    setup_metrics_rules = true
    write_logs          = false
    write_metrics       = false
    write_traces        = false
  }
}
