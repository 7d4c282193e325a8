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
