variable "cors_rules" {
  type = list(object({
    allowed_headers = optional(list(string), [])
    allowed_methods = list(string)
    allowed_origins = list(string)
    expose_headers  = optional(list(string), [])
    max_age_seconds = optional(number, 3000)
  }))
  description = "CORS rules."
  default     = []

  validation {
    condition     = alltrue(flatten([for r in var.cors_rules : [for m in r.allowed_methods : contains(["DELETE", "GET", "HEAD", "POST", "PUT"], m)]]))
    error_message = "allowed_methods may only contain GET, PUT, POST, DELETE and HEAD."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Delete every object when the bucket is destroyed (never for state or audit buckets)."
  default     = false
}

variable "lifecycle_rules" {
  type = list(object({
    abort_incomplete_multipart_upload_days = optional(number)
    enabled                                = optional(bool, true)
    expiration_days                        = optional(number)
    noncurrent_expiration_days             = optional(number)
    prefix                                 = optional(string)
    transition_days                        = optional(number)
    transition_storage_class               = optional(string, "GLACIER")
  }))
  description = "Lifecycle rules: expiration, expiration of noncurrent versions, transition to another storage class, cleanup of incomplete multipart uploads."
  default     = []

  validation {
    condition = alltrue([for r in var.lifecycle_rules : (
      (r.expiration_days == null || try(r.expiration_days >= 1, false)) &&
      (r.noncurrent_expiration_days == null || try(r.noncurrent_expiration_days >= 1, false)) &&
      (r.transition_days == null || try(r.transition_days >= 0, false)) &&
      contains(["GLACIER", "ONEZONE_IA", "STANDARD"], r.transition_storage_class)
    )])
    error_message = "Lifecycle days must be >= 1 (transition >= 0) and transition_storage_class STANDARD, GLACIER or ONEZONE_IA."
  }
}

variable "name" {
  type        = string
  description = "Bucket name (globally unique, 3-63 characters)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,62}$", var.name))
    error_message = "name must match ^[a-z][a-z0-9-]*$ and be 3-63 characters."
  }
}

variable "object_lock" {
  type = object({
    days = number
    mode = optional(string, "GOVERNANCE")
  })
  description = "Object lock default retention (needs versioning); null for no lock. Can only be enabled when the bucket is created."
  default     = null

  validation {
    condition     = var.object_lock == null || try(contains(["COMPLIANCE", "GOVERNANCE"], var.object_lock.mode) && var.object_lock.days >= 1 && var.object_lock.days <= 36500, false)
    error_message = "object_lock.mode must be GOVERNANCE or COMPLIANCE and days between 1 and 36500."
  }
}

variable "policy" {
  type        = string
  description = "Bucket policy JSON (e.g. jsonencode({...})); null for none."
  default     = null

  validation {
    condition     = var.policy == null || can(jsondecode(var.policy))
    error_message = "policy must be a JSON document."
  }
}

variable "project_id" {
  type        = string
  description = "Scaleway project ID (UUID)."

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.project_id))
    error_message = "project_id must be a lowercase UUID."
  }
}

variable "region" {
  type        = string
  description = "Scaleway region of the bucket."
  default     = "fr-par"

  validation {
    condition     = contains(["fr-par", "it-mil", "nl-ams", "pl-waw"], var.region)
    error_message = "region must be one of fr-par, it-mil, nl-ams, pl-waw."
  }
}

variable "sse_enabled" {
  type        = bool
  description = "Encrypt new objects by default with SSE (AES256)."
  default     = true
}

variable "tags" {
  type        = map(string)
  description = "Tags of the bucket."
  default     = {}
}

variable "versioning" {
  type        = bool
  description = "Keep every version of every object."
  default     = true
}
