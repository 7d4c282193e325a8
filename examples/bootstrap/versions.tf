terraform {
  required_version = ">= 1.11.0"

  required_providers {
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
    scaleway = {
      source  = "scaleway/scaleway"
      version = "~> 2.69"
    }
  }
}
