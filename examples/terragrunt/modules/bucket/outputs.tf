output "endpoint" {
  description = "S3 endpoint of the bucket's region."
  value       = "https://s3.${var.region}.scw.cloud"
}

output "id" {
  description = "ID of the bucket."
  value       = scaleway_object_bucket.this.id
}

output "name" {
  description = "Name of the bucket."
  value       = scaleway_object_bucket.this.name
}
