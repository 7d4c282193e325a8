variable "acl" {
  type = list(object({
    description = optional(string)
    ip          = string
  }))
  description = "Public-endpoint ACL: IPv4 CIDRs allowed to connect. Empty means no ACL resource (private network access only when the instance has no public endpoint use)."
  default     = []

  validation {
    condition     = alltrue([for r in var.acl : can(cidrhost(r.ip, 0)) && !can(regex(":", r.ip))])
    error_message = "Every acl ip must be an IPv4 CIDR such as 10.0.0.0/8."
  }
}

variable "admin_password" {
  type        = string
  description = "Password of the instance's admin user (from Secret Manager)."
  sensitive   = true
}

variable "admin_user" {
  type        = string
  description = "Name of the instance's admin user."
  default     = "admin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.admin_user))
    error_message = "admin_user must match ^[a-z][a-z0-9_]*$."
  }
}

variable "backup_enabled" {
  type        = bool
  description = "Whether scheduled backups are taken."
  default     = true
}

variable "backup_frequency_hours" {
  type        = number
  description = "Hours between two scheduled backups."
  default     = 24

  validation {
    condition     = var.backup_frequency_hours >= 1 && var.backup_frequency_hours <= 24
    error_message = "backup_frequency_hours must be between 1 and 24."
  }
}

variable "backup_retention_days" {
  type        = number
  description = "Days a scheduled backup is kept."
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 365
    error_message = "backup_retention_days must be between 1 and 365."
  }
}

variable "backup_same_region" {
  type        = bool
  description = "Keep backups in the instance's region (false stores them in another region)."
  default     = false
}

variable "databases" {
  type        = list(string)
  description = "Logical databases to create on the instance."
  default     = []

  validation {
    condition     = alltrue([for d in var.databases : can(regex("^[a-z][a-z0-9_-]{0,62}$", d))])
    error_message = "Database names must match ^[a-z][a-z0-9_-]*$ (at most 63 characters)."
  }
}

variable "encryption_at_rest" {
  type        = bool
  description = "Encrypt the instance's volumes (cannot be disabled once enabled)."
  default     = true
}

variable "engine" {
  type        = string
  description = "Engine and major version, e.g. PostgreSQL-16."
  default     = "PostgreSQL-16"

  validation {
    condition     = can(regex("^(PostgreSQL|MySQL)-[0-9]+$", var.engine))
    error_message = "engine must look like PostgreSQL-16 or MySQL-8."
  }
}

variable "ha" {
  type        = bool
  description = "Run a high-availability cluster (a standby node with automatic failover)."
  default     = false
}

variable "name" {
  type        = string
  description = "Name of the instance."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.name))
    error_message = "name must match ^[a-z][a-z0-9-]*$ and be at most 63 characters."
  }
}

variable "node_type" {
  type        = string
  description = "Node type, e.g. DB-DEV-S, DB-PLAY2-NANO, DB-GP-XS."
  default     = "DB-DEV-S"

  validation {
    condition     = can(regex("^(?i)db-[a-z0-9-]+$", var.node_type))
    error_message = "node_type must look like DB-DEV-S or DB-GP-XS."
  }
}

variable "private_network_id" {
  type        = string
  description = "Private network the instance joins (IPAM addressing); null for none."
  default     = null
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
  description = "Scaleway region (managed databases exist in fr-par, nl-ams and pl-waw)."
  default     = "fr-par"

  validation {
    condition     = contains(["fr-par", "nl-ams", "pl-waw"], var.region)
    error_message = "region must be fr-par, nl-ams or pl-waw for managed databases."
  }
}

variable "tags" {
  type        = list(string)
  description = "Tags set on the instance."
  default     = []
}

variable "user_passwords" {
  type        = map(string)
  description = "Password of every user in var.users, keyed by user name (from Secret Manager)."
  default     = {}
  sensitive   = true
}

variable "users" {
  type = map(object({
    is_admin   = optional(bool, false)
    privileges = optional(map(string), {})
  }))
  description = "Users keyed by name, each with privileges: database name => readonly, readwrite, all or none."
  default     = {}

  validation {
    condition     = alltrue([for name, u in var.users : can(regex("^[a-z][a-z0-9_-]{0,62}$", name))])
    error_message = "User names must match ^[a-z][a-z0-9_-]*$."
  }

  validation {
    condition     = alltrue(flatten([for u in var.users : [for p in values(u.privileges) : contains(["all", "none", "readonly", "readwrite"], p)]]))
    error_message = "Privileges must be readonly, readwrite, all or none."
  }
}

variable "volume_size_gb" {
  type        = number
  description = "Volume size in GB for bssd/sbs volumes (a multiple of 5); ignored for lssd."
  default     = 10

  validation {
    condition     = var.volume_size_gb >= 5 && var.volume_size_gb % 5 == 0
    error_message = "volume_size_gb must be a multiple of 5, at least 5."
  }
}

variable "volume_type" {
  type        = string
  description = "Volume type: lssd, bssd, sbs_5k or sbs_15k."
  default     = "sbs_5k"

  validation {
    condition     = contains(["bssd", "lssd", "sbs_15k", "sbs_5k"], var.volume_type)
    error_message = "volume_type must be lssd, bssd, sbs_5k or sbs_15k."
  }
}
