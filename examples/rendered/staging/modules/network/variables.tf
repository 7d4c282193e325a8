variable "ipv4_subnet" {
  type        = string
  description = "IPv4 CIDR of the private network (e.g. 172.16.0.0/22); null lets Scaleway choose."
  default     = null

  validation {
    condition     = var.ipv4_subnet == null || can(cidrhost(var.ipv4_subnet, 0))
    error_message = "ipv4_subnet must be an IPv4 CIDR such as 172.16.0.0/22."
  }
}

variable "name" {
  type        = string
  description = "Name of the VPC; the private network is named <name>-pn."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.name))
    error_message = "name must match ^[a-z][a-z0-9-]*$ and be at most 63 characters."
  }
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
  description = "Scaleway region of the VPC."
  default     = "fr-par"

  validation {
    condition     = contains(["fr-par", "it-mil", "nl-ams", "pl-waw"], var.region)
    error_message = "region must be one of fr-par, it-mil, nl-ams, pl-waw (VPC regions)."
  }
}

variable "tags" {
  type        = list(string)
  description = "Tags set on every resource."
  default     = []
}
