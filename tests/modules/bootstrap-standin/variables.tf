variable "backend_url" {
  type        = string
  description = "Where the test's stated answers (directly, or through the edge stand-in)."
}

variable "container_id" {
  type        = string
  description = "ID of the stand-in container (REGION/UUID)."
}

variable "privacy" {
  type        = string
  description = "private (through the edge stand-in) or public."
}

variable "region" {
  type        = string
  description = "Region of the stand-in resources."
  default     = "fr-par"
}

variable "secret_env" {
  type        = map(list(string))
  description = "Secret variable name => keys of secret_versions, as state-backend's secrets.tf builds it."
}

variable "secret_versions" {
  type = map(object({
    revision  = string
    secret_id = string
  }))
  description = "Stand-in Secret Manager versions (IDs and revisions only)."
}
