output "bucket_ids" {
  description = "Bucket IDs keyed by bucket name."
  value = {
    infra-dev-states = module.bucket_infra_dev_states.id
  }
}

output "alert_manager_url" {
  description = "URL of the Cockpit alert manager."
  value       = module.monitoring.alert_manager_url
}

output "stated_alloy_config" {
  description = "Grafana Alloy configuration that scrapes stated and pushes to Cockpit (no secret)."
  value       = module.monitoring.stated_alloy_config
}

output "stated_push_token" {
  description = "Cockpit token that may only push metrics (COCKPIT_PUSH_TOKEN)."
  sensitive   = true
  value       = module.monitoring.stated_push_token
}

output "stated_rules_token" {
  description = "Cockpit token that may only write alert rules (mimirtool)."
  sensitive   = true
  value       = module.monitoring.stated_rules_token
}
