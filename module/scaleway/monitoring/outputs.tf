output "alert_manager_url" {
  description = "URL of the alert manager."
  value       = scaleway_cockpit_alert_manager.this.alert_manager_url
}

output "logs_push_url" {
  description = "Push URL of the logs data source."
  value       = scaleway_cockpit_source.logs.push_url
}

output "metrics_push_url" {
  description = "Push URL of the metrics data source."
  value       = scaleway_cockpit_source.metrics.push_url
}

output "metrics_url" {
  description = "URL of the metrics data source (the Prometheus API Grafana and mimirtool use)."
  value       = scaleway_cockpit_source.metrics.url
}

output "stated_alert_rules" {
  description = "Prometheus alert rules for stated (stated.rules.yml), to load with mimirtool; null without stated_metrics."
  value       = var.stated_metrics == null ? null : file("${path.module}/stated.rules.yml")
}

output "stated_alloy_config" {
  description = "Grafana Alloy configuration that scrapes stated and pushes to the metrics data source (no secret in it: Alloy reads STATED_METRICS_TOKEN and COCKPIT_PUSH_TOKEN from its environment); null without stated_metrics."
  value       = local.stated_alloy
}

output "stated_dashboard" {
  description = "Grafana dashboard JSON for stated (stated.dashboard.json), to import in Cockpit's Grafana; null without stated_metrics."
  value       = var.stated_metrics == null ? null : file("${path.module}/stated.dashboard.json")
}

output "stated_push_token" {
  description = "Secret key of the Cockpit token that may only push metrics (Alloy's COCKPIT_PUSH_TOKEN); null without stated_metrics."
  value       = one(scaleway_cockpit_token.stated_push[*].secret_key)
  sensitive   = true
}

output "stated_rules_token" {
  description = "Secret key of the Cockpit token that may only write alert rules (mimirtool --key); null without stated_metrics."
  value       = one(scaleway_cockpit_token.stated_rules[*].secret_key)
  sensitive   = true
}
