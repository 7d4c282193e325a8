output "access_keys" {
  description = "Access key IDs (not secret) of the created API keys, keyed by application name."
  value       = { for name, k in scaleway_iam_api_key.this : name => k.access_key }
}

output "api_keys" {
  description = "Access and secret keys of the created API keys, keyed by application name."
  value       = { for name, k in scaleway_iam_api_key.this : name => { access_key = k.access_key, secret_key = k.secret_key } }
  sensitive   = true
}

output "application_ids" {
  description = "Application IDs keyed by application name."
  value       = { for name, a in scaleway_iam_application.this : name => a.id }
}

output "group_ids" {
  description = "Group IDs keyed by group name."
  value       = { for name, g in scaleway_iam_group.this : name => g.id }
}
