output "ids" {
  description = "Secret IDs keyed by secret name."
  value       = { for name, s in scaleway_secret.this : name => s.id }
}

output "values" {
  description = "Secret values keyed by secret name, for modules that inject them (containers, database)."
  value       = { for name, v in scaleway_secret_version.this : name => v.data }
  sensitive   = true
}
