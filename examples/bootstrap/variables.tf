variable "alert_emails" {
  type        = list(string)
  description = "Who receives stated's alerts (required: at least one e-mail address)."
}

variable "bucket_admin_principals" {
  type        = list(string)
  description = "Operators who keep access to the state bucket, e.g. [\"user_id:<uuid>\"]."
  default     = []
}

variable "image" {
  type        = string
  description = "stated container image, e.g. rg.fr-par.scw.cloud/<namespace>/stated:<version>."
}

variable "name" {
  type        = string
  description = "Prefix of every resource name."
  default     = "stated"
}

variable "private_access_application_ids" {
  type        = list(string)
  description = "IAM applications (CI runners) allowed to call the private stated."
  default     = []
}

variable "private_access_user_ids" {
  type        = list(string)
  description = "IAM users (operators) allowed to call the private stated."
  default     = []
}

variable "privacy" {
  type        = string
  description = "private (default) or public; see the module's README."
  default     = "private"
}

variable "project_id" {
  type        = string
  description = "Scaleway project ID (UUID), preferably one for stated alone."
}

variable "region" {
  type        = string
  description = "Scaleway region: fr-par, nl-ams or pl-waw."
  default     = "fr-par"
}

variable "secret_versions" {
  type = object({
    admin_token       = optional(number, 1)
    db_admin_password = optional(number, 1)
    db_password       = optional(number, 1)
    encryption_keys   = optional(list(number), [1])
  })
  description = "Secret generations: raise one to rotate that secret (see the module's README)."
  default     = {}
}
