variable "contact_emails" {
  type        = list(string)
  description = "E-mail addresses the alert manager notifies."
  default     = []

  validation {
    condition     = alltrue([for e in var.contact_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "Every contact must be an e-mail address."
  }
}

variable "logs_retention_days" {
  type        = number
  description = "Days logs are kept (1-365)."
  default     = 7

  validation {
    condition     = var.logs_retention_days >= 1 && var.logs_retention_days <= 365
    error_message = "logs_retention_days must be between 1 and 365."
  }
}

variable "metrics_retention_days" {
  type        = number
  description = "Days metrics are kept (1-365)."
  default     = 31

  validation {
    condition     = var.metrics_retention_days >= 1 && var.metrics_retention_days <= 365
    error_message = "metrics_retention_days must be between 1 and 365."
  }
}

variable "name" {
  type        = string
  description = "Prefix of the data source names."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.name))
    error_message = "name must match ^[a-z][a-z0-9-]*$."
  }
}

variable "preconfigured_alert_ids" {
  type        = list(string)
  description = "IDs of Scaleway's preconfigured alert rules to enable (data source scaleway_cockpit_preconfigured_alert lists them)."
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
  description = "Scaleway region (Cockpit exists in fr-par, nl-ams and pl-waw)."
  default     = "fr-par"

  validation {
    condition     = contains(["fr-par", "nl-ams", "pl-waw"], var.region)
    error_message = "region must be fr-par, nl-ams or pl-waw for Cockpit."
  }
}

variable "stated_metrics" {
  type = object({
    endpoint        = optional(string)
    forwarder_port  = optional(number, 8481)
    private         = optional(bool, true)
    scrape_interval = optional(string, "10s")
  })
  description = "Monitor a stated of this project (null: do not). endpoint: the container's endpoint (host name or https:// URL; needed when private is false). private: stated's container is private, so the agent scrapes scripts/edge-forward.py on 127.0.0.1:forwarder_port, which adds X-Auth-Token. scrape_interval: 10s keeps critical alerts under 30 s (docs/observability.md)."
  default     = null

  validation {
    condition     = var.stated_metrics == null || try(var.stated_metrics.private || length(trimspace(var.stated_metrics.endpoint == null ? "" : var.stated_metrics.endpoint)) > 0, false)
    error_message = "stated_metrics.endpoint is needed when private is false (the agent scrapes the container's endpoint directly)."
  }

  validation {
    condition     = var.stated_metrics == null || try(var.stated_metrics.forwarder_port >= 1 && var.stated_metrics.forwarder_port <= 65535 && floor(var.stated_metrics.forwarder_port) == var.stated_metrics.forwarder_port, false)
    error_message = "stated_metrics.forwarder_port must be a port number (1-65535)."
  }

  validation {
    condition     = var.stated_metrics == null || try(can(regex("^[1-9][0-9]*(s|m)$", var.stated_metrics.scrape_interval)), false)
    error_message = "stated_metrics.scrape_interval must be a duration such as 10s or 1m."
  }
}
