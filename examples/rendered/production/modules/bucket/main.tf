# An Object Storage bucket with versioning, lifecycle rules, CORS, default server-side
# encryption, an optional object lock (default retention) and an optional bucket policy.
# Object lock can only be turned on at creation and needs versioning, hence the precondition.
resource "scaleway_object_bucket" "this" {
  force_destroy       = var.force_destroy
  name                = var.name
  object_lock_enabled = var.object_lock != null
  project_id          = var.project_id
  region              = var.region
  tags                = var.tags

  dynamic "cors_rule" {
    for_each = var.cors_rules
    content {
      allowed_headers = cors_rule.value.allowed_headers
      allowed_methods = cors_rule.value.allowed_methods
      allowed_origins = cors_rule.value.allowed_origins
      expose_headers  = cors_rule.value.expose_headers
      max_age_seconds = cors_rule.value.max_age_seconds
    }
  }

  dynamic "lifecycle_rule" {
    for_each = var.lifecycle_rules
    content {
      abort_incomplete_multipart_upload_days = lifecycle_rule.value.abort_incomplete_multipart_upload_days
      enabled                                = lifecycle_rule.value.enabled
      prefix                                 = lifecycle_rule.value.prefix

      dynamic "expiration" {
        for_each = lifecycle_rule.value.expiration_days == null ? [] : [lifecycle_rule.value.expiration_days]
        content {
          days = expiration.value
        }
      }

      dynamic "noncurrent_version_expiration" {
        for_each = lifecycle_rule.value.noncurrent_expiration_days == null ? [] : [lifecycle_rule.value.noncurrent_expiration_days]
        content {
          noncurrent_days = noncurrent_version_expiration.value
        }
      }

      dynamic "transition" {
        for_each = lifecycle_rule.value.transition_days == null ? [] : [lifecycle_rule.value]
        content {
          days          = transition.value.transition_days
          storage_class = transition.value.transition_storage_class
        }
      }
    }
  }

  versioning {
    enabled = var.versioning || var.object_lock != null
  }

  lifecycle {
    precondition {
      condition     = var.object_lock == null || var.versioning
      error_message = "object_lock needs versioning = true."
    }
  }
}

resource "scaleway_object_bucket_server_side_encryption_configuration" "this" {
  count = var.sse_enabled ? 1 : 0

  bucket     = scaleway_object_bucket.this.name
  project_id = var.project_id
  region     = var.region

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "scaleway_object_bucket_lock_configuration" "this" {
  count = var.object_lock == null ? 0 : 1

  bucket     = scaleway_object_bucket.this.name
  project_id = var.project_id
  region     = var.region

  rule {
    default_retention {
      days = var.object_lock.days
      mode = var.object_lock.mode
    }
  }
}

resource "scaleway_object_bucket_policy" "this" {
  count = var.policy == null ? 0 : 1

  bucket     = scaleway_object_bucket.this.name
  policy     = var.policy
  project_id = var.project_id
  region     = var.region
}
