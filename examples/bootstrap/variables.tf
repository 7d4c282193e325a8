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
  type        = any
  description = "Secret generations, e.g. { admin_token = 2, encryption_keys = [2, 1] }: raise one to rotate that secret (the module's README; the module checks the shape)."
  default     = {}
}
