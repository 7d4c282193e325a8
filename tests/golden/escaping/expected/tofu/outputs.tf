output "private_network_id" {
  description = "ID of the stack's private network."
  value       = module.network.private_network_id
}

output "secret_ids" {
  description = "Secret Manager IDs keyed by secret name."
  value       = module.secrets.ids
}

output "container_endpoints" {
  description = "Container endpoints keyed by container name."
  value       = module.containers.endpoints
}
