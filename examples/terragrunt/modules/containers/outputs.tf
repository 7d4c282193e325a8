output "container_ids" {
  description = "Container IDs keyed by container name."
  value       = { for name, c in scaleway_container.this : name => c.id }
}

output "endpoints" {
  description = "Public endpoints keyed by container name."
  value       = { for name, c in scaleway_container.this : name => c.public_endpoint }
}

output "namespace_id" {
  description = "ID of the container namespace."
  value       = scaleway_container_namespace.this.id
}
