variable "admin_token" {
  type        = string
  description = "Bootstrap admin token of stated (stored in Secret Manager, injected as STATED_ADMIN_TOKEN)."
  sensitive   = true

  validation {
    condition     = length(var.admin_token) >= 32
    error_message = "admin_token must be at least 32 characters."
  }
}

variable "alert_emails" {
  type        = list(string)
  description = "E-mail addresses that receive Cockpit alerts."
  default     = []
}

variable "bucket_admin_principals" {
  type        = list(string)
  description = "Extra bucket-policy principals with full access to the state bucket (e.g. \"user_id:<uuid>\" of the operator applying this module; without it only stated can reach the bucket)."
  default     = []

  validation {
    condition     = alltrue([for p in var.bucket_admin_principals : can(regex("^(user_id|application_id):[0-9a-f-]{36}$", p))])
    error_message = "Principals look like user_id:<uuid> or application_id:<uuid>."
  }
}

variable "cpu" {
  type        = number
  description = "vCPU of the stated container in mvCPU (paired with memory)."
  default     = 560
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days database backups are kept (at least 30: locks and the audit trail live there)."
  default     = 30

  validation {
    condition     = var.db_backup_retention_days >= 30 && var.db_backup_retention_days <= 365
    error_message = "db_backup_retention_days must be between 30 and 365."
  }
}

variable "db_ha" {
  type        = bool
  description = "Run the lock database as a high-availability cluster."
  default     = true
}

variable "db_node_type" {
  type        = string
  description = "Node type of the lock database."
  default     = "DB-GP-XS"
}

variable "db_password" {
  type        = string
  description = "Password of the stated database user (stored in Secret Manager, injected as PGPASSWORD)."
  sensitive   = true

  validation {
    condition     = length(var.db_password) >= 16
    error_message = "db_password must be at least 16 characters."
  }
}

variable "encryption_key" {
  type        = string
  description = "Base64 of the 32-byte AES-256-GCM key stated encrypts states with (stored in Secret Manager)."
  sensitive   = true

  validation {
    condition     = can(base64decode(var.encryption_key)) && length(var.encryption_key) == 44
    error_message = "encryption_key must be the base64 of 32 bytes (44 characters)."
  }
}

variable "image" {
  type        = string
  description = "stated container image, e.g. rg.fr-par.scw.cloud/<namespace>/stated:<version>."
}

variable "max_scale" {
  type        = number
  description = "Maximum number of stated instances (they share the bucket and the database)."
  default     = 4
}

variable "memory" {
  type        = number
  description = "Memory of the stated container in MB (paired with cpu)."
  default     = 1024
}

variable "min_scale" {
  type        = number
  description = "Minimum number of stated instances (2 keeps the service up during a restart)."
  default     = 2
}

variable "name" {
  type        = string
  description = "Prefix of every resource name."
  default     = "stated"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,20}$", var.name))
    error_message = "name must match ^[a-z][a-z0-9-]*$ and be at most 21 characters."
  }
}

variable "object_lock_days" {
  type        = number
  description = "Default object-lock retention (GOVERNANCE) of every state object, in days."
  default     = 30

  validation {
    condition     = var.object_lock_days >= 1 && var.object_lock_days <= 3650
    error_message = "object_lock_days must be between 1 and 3650."
  }
}

variable "preconfigured_alert_ids" {
  type        = list(string)
  description = "Cockpit preconfigured alert rules to enable (container and database alerts)."
  default     = []
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
  description = "Scaleway region (fr-par, nl-ams or pl-waw: containers, databases and Secret Manager all exist there)."
  default     = "fr-par"

  validation {
    condition     = contains(["fr-par", "nl-ams", "pl-waw"], var.region)
    error_message = "region must be fr-par, nl-ams or pl-waw."
  }
}

variable "state_version_retention_days" {
  type        = number
  description = "Days a noncurrent object version is kept before the lifecycle rule expires it (longer than object_lock_days)."
  default     = 90

  validation {
    condition     = var.state_version_retention_days >= 1
    error_message = "state_version_retention_days must be at least 1."
  }
}

variable "tags" {
  type        = list(string)
  description = "Tags set on every resource that takes a list of tags."
  default     = ["stated"]
}
