variable "description" {
  type        = string
  description = "Description of the namespace."
  default     = null
}

variable "is_public" {
  type        = bool
  description = "Whether images can be pulled without credentials."
  default     = false
}

variable "name" {
  type        = string
  description = "Registry namespace name (unique per region)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{3,53}$", var.name))
    error_message = "name must match ^[a-z][a-z0-9-]*$ and be 4-54 characters."
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
  description = "Scaleway region (Container Registry exists in fr-par, nl-ams and pl-waw)."
  default     = "fr-par"

  validation {
    condition     = contains(["fr-par", "nl-ams", "pl-waw"], var.region)
    error_message = "region must be fr-par, nl-ams or pl-waw for Container Registry."
  }
}
