# The outputs of examples/bootstrap/outputs.tf, with the same names.
output "admin_token_secret_id" {
  description = "Stand-in secret holding the admin token."
  value       = terraform_data.secret_version["admin-token"].output.secret_id
}

output "admin_token_revision" {
  description = "Its revision."
  value       = terraform_data.secret_version["admin-token"].output.revision
}

output "backend_url" {
  description = "Where stated answers."
  value       = terraform_data.container.output.public_endpoint
}

output "privacy" {
  description = "private or public."
  value       = terraform_data.container.output.privacy
}

output "region" {
  description = "Region."
  value       = var.region
}
