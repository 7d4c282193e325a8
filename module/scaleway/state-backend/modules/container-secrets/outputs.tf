output "variables" {
  description = "Names of the secret environment variables set on the container."
  value       = sort(keys(var.secret_env))
}
