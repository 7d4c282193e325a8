variable "containers" {
  type = map(object({
    args        = optional(list(string))
    cpu         = number
    description = optional(string)
    domains     = optional(list(string), [])
    env         = optional(map(string), {})
    https_only  = optional(bool, true)
    image       = string
    liveness_probe = optional(object({
      failure_threshold = optional(number, 3)
      interval          = optional(string, "10s")
      path              = optional(string)
      timeout           = optional(string, "5s")
    }))
    max_scale  = optional(number, 5)
    memory     = number
    min_scale  = optional(number, 0)
    port       = optional(number, 8080)
    privacy    = optional(string, "public")
    protocol   = optional(string, "http1")
    secret_env = optional(map(string), {})
    startup_probe = optional(object({
      failure_threshold = optional(number, 30)
      interval          = optional(string, "5s")
      path              = optional(string)
      timeout           = optional(string, "5s")
    }))
    timeout = optional(number, 300)
  }))
  description = "Containers keyed by name: cpu in mvCPU and memory in MB (a Scaleway pair), scaling, timeout in seconds, probes, plain env, secret_env (variable name => secret name) and custom domains."
  default     = {}

  validation {
    condition     = alltrue([for name, c in var.containers : can(regex("^[a-z][a-z0-9-]{0,33}$", name))])
    error_message = "Container names must match ^[a-z][a-z0-9-]*$ (at most 34 characters)."
  }

  validation {
    condition = alltrue([for c in var.containers : lookup({
      "128" = 70, "256" = 140, "512" = 280, "1024" = 560, "2048" = 1120, "3072" = 1680, "4096" = 2240
    }, tostring(c.memory), -1) == c.cpu])
    error_message = "cpu/memory must be a Scaleway pair: 70/128, 140/256, 280/512, 560/1024, 1120/2048, 1680/3072, 2240/4096 (mvCPU/MB)."
  }

  validation {
    condition     = alltrue([for c in var.containers : c.min_scale >= 0 && c.min_scale <= 10 && c.max_scale >= 1 && c.max_scale <= 100 && c.max_scale >= c.min_scale])
    error_message = "min_scale must be 0-10, max_scale 1-100, and max_scale >= min_scale."
  }

  validation {
    condition     = alltrue([for c in var.containers : c.timeout >= 30 && c.timeout <= 900])
    error_message = "timeout must be between 30 and 900 seconds."
  }

  validation {
    condition     = alltrue([for c in var.containers : c.port >= 1 && c.port <= 65535])
    error_message = "port must be between 1 and 65535."
  }

  validation {
    condition     = alltrue([for c in var.containers : contains(["private", "public"], c.privacy) && contains(["h2c", "http1"], c.protocol)])
    error_message = "privacy must be public or private, protocol http1 or h2c."
  }

  validation {
    condition = alltrue(flatten([for c in var.containers : [
      for k in keys(c.env) : !can(regex("(?i)(PASSWORD|SECRET|TOKEN|KEY)", k))
    ]]))
    error_message = "Variables named like *PASSWORD*, *SECRET*, *TOKEN* or *KEY* belong in secret_env, not env."
  }
}

variable "description" {
  type        = string
  description = "Description of the container namespace."
  default     = null
}

variable "namespace_name" {
  type        = string
  description = "Name of the container namespace."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.namespace_name))
    error_message = "namespace_name must match ^[a-z][a-z0-9-]*$ and be at most 63 characters."
  }
}

variable "private_network_id" {
  type        = string
  description = "Private network the containers join (VPC integration); null keeps them off any private network."
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
  description = "Scaleway region (serverless containers exist in fr-par, nl-ams and pl-waw)."
  default     = "fr-par"

  validation {
    condition     = contains(["fr-par", "nl-ams", "pl-waw"], var.region)
    error_message = "region must be fr-par, nl-ams or pl-waw for serverless containers."
  }
}

variable "secret_values" {
  type        = map(string)
  description = "Secret values keyed by secret name (usually module.secrets.values); every name used in a container's secret_env must be present."
  default     = {}
  sensitive   = true
}

variable "tags" {
  type        = list(string)
  description = "Tags set on the namespace and every container."
  default     = []
}
