variable "applications" {
  type = map(object({
    api_key            = optional(bool, false)
    api_key_expires_at = optional(string)
    description        = optional(string)
    permission_sets    = list(string)
  }))
  description = "IAM applications keyed by name, each with the permission sets it needs on the project (e.g. ObjectStorageObjectsRead) and whether it gets an API key."
  default     = {}

  validation {
    condition     = alltrue([for name, a in var.applications : can(regex("^[a-z][a-z0-9-]{0,62}$", name))])
    error_message = "Application names must match ^[a-z][a-z0-9-]*$."
  }

  validation {
    condition     = alltrue([for a in var.applications : length(a.permission_sets) > 0 && !contains(a.permission_sets, "AllProductsFullAccess")])
    error_message = "Every application needs at least one permission set, and AllProductsFullAccess is not least privilege."
  }

  validation {
    condition     = alltrue([for a in var.applications : a.api_key_expires_at == null || can(formatdate("YYYY", a.api_key_expires_at))])
    error_message = "api_key_expires_at must be an RFC 3339 timestamp."
  }
}

variable "groups" {
  type = map(object({
    application_ids     = optional(list(string), [])
    description         = optional(string)
    external_membership = optional(bool, false)
    permission_sets     = list(string)
    user_ids            = optional(list(string), [])
  }))
  description = "IAM groups keyed by name, each with the permission sets its members get on the project and its members (user and application UUIDs); external_membership = true leaves the members to be managed outside OpenTofu/Terraform."
  default     = {}

  validation {
    condition     = alltrue([for name, g in var.groups : can(regex("^[a-z][a-z0-9-]{0,62}$", name))])
    error_message = "Group names must match ^[a-z][a-z0-9-]*$."
  }

  validation {
    condition     = alltrue([for g in var.groups : length(g.permission_sets) > 0 && !contains(g.permission_sets, "AllProductsFullAccess")])
    error_message = "Every group needs at least one permission set, and AllProductsFullAccess is not least privilege."
  }

  validation {
    condition = alltrue(flatten([for g in var.groups : [
      for id in concat(g.application_ids, g.user_ids) : can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", id))
    ]]))
    error_message = "Group members must be lowercase user or application UUIDs."
  }
}

variable "organization_id" {
  type        = string
  description = "Organization ID (UUID); null uses the provider's default organization."
  default     = null

  validation {
    condition     = var.organization_id == null || can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.organization_id))
    error_message = "organization_id must be a lowercase UUID."
  }
}

variable "project_id" {
  type        = string
  description = "Project (UUID) every policy is limited to."

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.project_id))
    error_message = "project_id must be a lowercase UUID."
  }
}

variable "tags" {
  type        = list(string)
  description = "Tags set on applications, groups and policies."
  default     = []
}
