output "endpoint" {
  description = "Registry endpoint to push to (rg.<region>.scw.cloud/<name>)."
  value       = scaleway_registry_namespace.this.endpoint
}

output "id" {
  description = "ID of the registry namespace."
  value       = scaleway_registry_namespace.this.id
}
