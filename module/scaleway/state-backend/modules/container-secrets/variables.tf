variable "container_id" {
  type        = string
  description = "ID of the serverless container (REGION/UUID as the provider writes it, or a bare UUID)."

  validation {
    condition     = can(regex("^([a-z]{2}-[a-z]{3}/)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.container_id))
    error_message = "container_id must be a container UUID, optionally prefixed with its region (fr-par/...)."
  }
}

variable "region" {
  type        = string
  description = "Region of the container and of the secrets (fr-par, nl-ams or pl-waw)."

  validation {
    condition     = contains(["fr-par", "nl-ams", "pl-waw"], var.region)
    error_message = "region must be fr-par, nl-ams or pl-waw."
  }
}

variable "secret_env" {
  type = map(list(object({
    revision  = string
    secret_id = string
  })))
  description = "The container's whole secret environment: variable name => the Secret Manager versions (secret ID and revision, nothing secret) whose values, joined with commas, become its value. Variables not listed are removed from the container."

  validation {
    condition     = alltrue([for name, refs in var.secret_env : can(regex("^[A-Z_][A-Z0-9_]{0,99}$", name)) && length(refs) > 0])
    error_message = "Variable names must match ^[A-Z_][A-Z0-9_]*$ and each needs at least one secret version."
  }
}

variable "wait_seconds" {
  type        = number
  description = "How long to wait for the container to be ready again after its secrets changed (0: do not wait)."
  default     = 600

  validation {
    condition     = var.wait_seconds >= 0 && var.wait_seconds <= 3600
    error_message = "wait_seconds must be between 0 and 3600."
  }
}
