variable "project_id" {
  type        = string
  description = "Scaleway project ID (UUID)."
  default     = "0b5e7c9a-1d2f-4e3a-8b6c-7d8e9f0a1b2c"
}

variable "region" {
  type        = string
  description = "Scaleway region."
  default     = "nl-ams"
}

variable "secret_values" {
  type        = map(string)
  description = "Secret values keyed by secret name; pass them as TF_VAR_secret_values, never in a file."
  default     = {}
  sensitive   = true
}
