output "backend_url" {
  description = "Base URL of the deployed stated: point backend \"http\" at <url>/v1/states/NAME."
  value       = module.stated.backend_url
}

output "bucket_name" {
  description = "State bucket."
  value       = module.stated.bucket_name
}
