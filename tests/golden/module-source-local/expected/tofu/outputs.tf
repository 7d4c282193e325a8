output "private_network_id" {
  description = "ID of the stack's private network."
  value       = module.network.private_network_id
}

output "bucket_ids" {
  description = "Bucket IDs keyed by bucket name."
  value = {
    tiny-dev-data = module.bucket_tiny_dev_data.id
  }
}

output "registry_endpoint" {
  description = "Container Registry endpoint to push images to."
  value       = module.registry.endpoint
}
