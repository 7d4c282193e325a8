# bootstrap.sh reads these five outputs; none of them is a secret.
output "admin_token_secret_id" {
  description = "Secret Manager secret holding stated's bootstrap admin token."
  value       = module.stated.admin_token_secret.id
}

output "admin_token_revision" {
  description = "Current revision of that secret."
  value       = module.stated.admin_token_secret.revision
}

output "backend_url" {
  description = "Base URL of the deployed stated: a state NAME lives at <url>/v1/states/NAME."
  value       = module.stated.backend_url
}

output "privacy" {
  description = "private (clients need an X-Auth-Token: edge-forward.py) or public."
  value       = module.stated.privacy
}

output "region" {
  description = "Region of stated and of its secrets."
  value       = var.region
}
