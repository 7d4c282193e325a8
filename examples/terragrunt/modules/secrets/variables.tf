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
  description = "Scaleway region (Secret Manager exists in fr-par, nl-ams and pl-waw)."
  default     = "fr-par"

  validation {
    condition     = contains(["fr-par", "nl-ams", "pl-waw"], var.region)
    error_message = "region must be fr-par, nl-ams or pl-waw for Secret Manager."
  }
}

variable "secrets" {
  type = map(object({
    description = optional(string)
    path        = optional(string, "/")
    protected   = optional(bool, false)
    type        = optional(string, "opaque")
  }))
  description = "Secrets keyed by name."
  default     = {}

  validation {
    condition     = alltrue([for name, s in var.secrets : can(regex("^[a-z][a-z0-9-]{0,254}$", name))])
    error_message = "Secret names must match ^[a-z][a-z0-9-]*$."
  }

  validation {
    condition     = alltrue([for s in var.secrets : contains(["basic_credentials", "certificate", "database_credentials", "key_value", "opaque", "ssh_key"], s.type)])
    error_message = "type must be opaque, certificate, key_value, basic_credentials, database_credentials or ssh_key."
  }

  validation {
    condition     = alltrue([for s in var.secrets : startswith(s.path, "/")])
    error_message = "path must start with /."
  }
}

variable "tags" {
  type        = list(string)
  description = "Tags set on every secret."
  default     = []
}

variable "values" {
  type        = map(string)
  description = "Secret values keyed by secret name; a secret without a value gets no version (set it out of band)."
  default     = {}
  sensitive   = true
}
