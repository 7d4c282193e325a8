output "private_network_id" {
  description = "ID of the stack's private network."
  value       = module.network.private_network_id
}

output "secret_ids" {
  description = "Secret Manager IDs keyed by secret name."
  value       = module.secrets.ids
}

output "database_instance_ids" {
  description = "Database instance IDs keyed by database name."
  value = {
    main = module.database_main.instance_id
  }
}

output "container_endpoints" {
  description = "Container endpoints keyed by container name."
  value       = module.containers.endpoints
}

output "bucket_ids" {
  description = "Bucket IDs keyed by bucket name."
  value = {
    shop-staging-assets = module.bucket_shop_staging_assets.id
  }
}
