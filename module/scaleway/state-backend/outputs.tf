output "admin_token_secret" {
  description = "Where the bootstrap admin token is: Secret Manager secret ID, current revision and region (the token itself is never an output)."
  value = {
    id       = scaleway_secret_version.generated[local.generated_current["admin-token"]].secret_id
    region   = var.region
    revision = scaleway_secret_version.generated[local.generated_current["admin-token"]].revision
  }
}

output "alloy_config" {
  description = "Grafana Alloy configuration that scrapes stated's /metrics (through scripts/edge-forward.py when private) and pushes to Cockpit; it holds no secret (docs/observability.md)."
  value       = module.monitoring.stated_alloy_config
}

output "backend_url" {
  description = "Base URL of stated (its public endpoint); the backend address of a state NAME is <backend_url>/v1/states/NAME. With privacy = \"private\" every request needs an X-Auth-Token (scripts/edge-forward.py)."
  value       = scaleway_container.this.public_endpoint
}

output "bucket_name" {
  description = "Bucket holding states and snapshots."
  value       = module.bucket.name
}

output "cockpit_metrics_url" {
  description = "URL of the Cockpit metrics data source (mimirtool --address for loading alert rules)."
  value       = module.monitoring.metrics_url
}

output "cockpit_push_token" {
  description = "Secret key of the Cockpit token that may only push metrics (Alloy's COCKPIT_PUSH_TOKEN)."
  value       = module.monitoring.stated_push_token
  sensitive   = true
}

output "cockpit_rules_token" {
  description = "Secret key of the Cockpit token that may only write alert rules (mimirtool --key)."
  value       = module.monitoring.stated_rules_token
  sensitive   = true
}

output "container_id" {
  description = "ID of the stated container."
  value       = scaleway_container.this.id
}

output "database_instance_id" {
  description = "ID of the lock database instance."
  value       = scaleway_rdb_instance.this.id
}

output "private_access_group_id" {
  description = "IAM group whose members (their API keys) may call the container while it is private."
  value       = module.iam.group_ids["${var.name}-clients"]
}

output "privacy" {
  description = "private or public (see the privacy variable)."
  value       = var.privacy
}

output "secret_ids" {
  description = "Secret Manager IDs of every credential of stated, keyed by secret name."
  value       = module.secrets.ids
}
