variable "admin_token" {
  type        = string
  description = "stated bootstrap admin token (TF_VAR_admin_token)."
  sensitive   = true
}

variable "bucket_admin_principals" {
  type        = list(string)
  description = "Operators who keep access to the state bucket, e.g. [\"user_id:<uuid>\"]."
  default     = []
}

variable "db_password" {
  type        = string
  description = "Password of the stated database user (TF_VAR_db_password)."
  sensitive   = true
}

variable "encryption_key" {
  type        = string
  description = "Base64 of the 32-byte state encryption key (TF_VAR_encryption_key)."
  sensitive   = true
}

variable "image" {
  type        = string
  description = "stated container image."
  default     = "rg.fr-par.scw.cloud/platform/stated:0.1.0"
}

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
