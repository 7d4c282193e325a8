variable "alert_emails" {
  type        = list(string)
  description = "E-mail addresses that receive the Cockpit alerts of stated, its database and its bucket (at least one: a state server nobody hears about when it fails is not production-ready)."

  validation {
    condition     = length(var.alert_emails) > 0
    error_message = "alert_emails needs at least one address."
  }

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$", e))])
    error_message = "Every entry of alert_emails must be an e-mail address (local@domain.tld)."
  }
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
  description = "vCPU of the stated container in mvCPU (paired with memory: 560/1024, 1120/2048, ...)."
  default     = 560

  validation {
    condition     = contains([70, 140, 280, 560, 1120, 1680, 2240], var.cpu)
    error_message = "cpu must be one of 70, 140, 280, 560, 1120, 1680, 2240 (mvCPU)."
  }
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

  validation {
    condition     = can(regex("^(?i)db-[a-z0-9-]+$", var.db_node_type))
    error_message = "db_node_type must look like DB-GP-XS or DB-DEV-S."
  }
}

variable "image" {
  type        = string
  description = "stated container image, e.g. rg.fr-par.scw.cloud/<namespace>/stated:<version>."

  validation {
    condition     = length(var.image) > 0 && !can(regex("\\s", var.image))
    error_message = "image must be an image reference without spaces."
  }
}

variable "max_scale" {
  type        = number
  description = "Maximum number of stated instances (they share the bucket and the database)."
  default     = 4

  validation {
    condition     = var.max_scale >= 1 && var.max_scale <= 100 && var.max_scale >= var.min_scale
    error_message = "max_scale must be 1-100 and at least min_scale."
  }
}

variable "memory" {
  type        = number
  description = "Memory of the stated container in MB (paired with cpu)."
  default     = 1024

  validation {
    condition     = lookup({ "128" = 70, "256" = 140, "512" = 280, "1024" = 560, "2048" = 1120, "3072" = 1680, "4096" = 2240 }, tostring(var.memory), -1) == var.cpu
    error_message = "cpu/memory must be a Scaleway pair: 70/128, 140/256, 280/512, 560/1024, 1120/2048, 1680/3072, 2240/4096 (mvCPU/MB)."
  }
}

variable "min_scale" {
  type        = number
  description = "Minimum number of stated instances (2 keeps the service up during a restart)."
  default     = 2

  validation {
    condition     = var.min_scale >= 1 && var.min_scale <= 10
    error_message = "min_scale must be between 1 and 10 (a state server must not scale to zero)."
  }
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

variable "privacy" {
  type        = string
  description = "Who may reach stated's endpoint. \"private\" (the default): Scaleway's front refuses every request without an X-Auth-Token header holding the IAM secret key of a principal with ContainersPrivateAccess (see private_access_user_ids / private_access_application_ids); terraform reaches it through scripts/edge-forward.py, OpenTofu also with its backend headers. \"public\": anyone on the Internet reaches stated, whose tokens, OIDC rules and failed-login limit are then the only gate."
  default     = "private"

  validation {
    condition     = contains(["private", "public"], var.privacy)
    error_message = "privacy must be private or public."
  }
}

variable "private_access_application_ids" {
  type        = list(string)
  description = "IAM applications (e.g. CI runners) added to the <name>-clients group, whose ContainersPrivateAccess on the project lets their API keys call the private stated."
  default     = []

  validation {
    condition     = alltrue([for id in var.private_access_application_ids : can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", id))])
    error_message = "private_access_application_ids must be lowercase UUIDs."
  }
}

variable "private_access_user_ids" {
  type        = list(string)
  description = "IAM users (operators) added to the <name>-clients group, whose ContainersPrivateAccess on the project lets their API keys call the private stated."
  default     = []

  validation {
    condition     = alltrue([for id in var.private_access_user_ids : can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", id))])
    error_message = "private_access_user_ids must be lowercase UUIDs."
  }
}

variable "project_id" {
  type        = string
  description = "Scaleway project ID (UUID). Give stated a project of its own: ContainersPrivateAccess and the S3 permission sets are granted per project."

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

variable "secret_versions" {
  type = object({
    admin_token       = optional(number, 1)
    db_admin_password = optional(number, 1)
    db_password       = optional(number, 1)
    encryption_keys   = optional(list(number), [1])
  })
  description = "Generation of each secret this module generates. Raising a number rotates that secret in the next apply: a new random value goes straight into a new Secret Manager version (write-only, never in a state), the database password is changed from that version, and the container's secret environment is set again from Secret Manager. encryption_keys lists the key generations stated keeps, newest first: the first encrypts, all decrypt; put a new number in front to rotate, and drop an old one only once nothing encrypted with it is kept (snapshots and noncurrent bucket versions)."
  default     = {}

  validation {
    condition = alltrue([
      for v in concat([var.secret_versions.admin_token, var.secret_versions.db_admin_password, var.secret_versions.db_password], var.secret_versions.encryption_keys) :
      v >= 1 && floor(v) == v
    ])
    error_message = "Secret generations are whole numbers of at least 1."
  }

  validation {
    condition     = length(var.secret_versions.encryption_keys) > 0 && length(distinct(var.secret_versions.encryption_keys)) == length(var.secret_versions.encryption_keys)
    error_message = "encryption_keys needs at least one generation, each listed once."
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

variable "trusted_proxies" {
  type        = list(string)
  description = "Addresses or CIDRs of the proxies between Scaleway's front and stated (passed as --trusted-proxies), so that the failed-login limit and the audit trail see each client's own address from X-Forwarded-For instead of the front's. The default trusts loopback and the private ranges only: the container's port is reached through Scaleway's front alone (a Private Network gives no ingress to serverless containers), and every client of the front has a public address."
  default     = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]

  validation {
    condition     = alltrue([for c in var.trusted_proxies : can(cidrhost(c, 0))])
    error_message = "Every trusted proxy must be a CIDR such as 10.0.0.0/8 or ::1/128."
  }
}
