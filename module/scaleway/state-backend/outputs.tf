output "backend_url" {
  description = "Base URL of stated; the backend address of a state NAME is <backend_url>/v1/states/NAME."
  value       = module.containers.endpoints[var.name]
}

output "bucket_name" {
  description = "Bucket holding states and snapshots."
  value       = module.bucket.name
}

output "database_instance_id" {
  description = "ID of the lock database instance."
  value       = module.database.instance_id
}

output "secret_ids" {
  description = "Secret Manager IDs of the S3 keys, database password, admin token and encryption key."
  value       = module.secrets.ids
}
