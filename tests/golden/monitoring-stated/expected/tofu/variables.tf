variable "project_id" {
  type        = string
  description = "Scaleway project ID (UUID)."
  default     = "6f1f4b2e-8d3a-4c55-9b1e-2a7c0d9e4f10"
}

variable "region" {
  type        = string
  description = "Scaleway region."
  default     = "fr-par"
}
