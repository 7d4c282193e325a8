output "bucket_ids" {
  description = "Bucket IDs keyed by bucket name."
  value = {
    tiny-dev-data = module.bucket_tiny_dev_data.id
  }
}
