# Reads another state's outputs through the http backend (local state for this one).
variable "address" {
  type = string
}

variable "password" {
  type      = string
  sensitive = true
}

data "terraform_remote_state" "a" {
  backend = "http"
  config = {
    address  = var.address
    username = "reader"
    password = var.password
  }
}

output "got" {
  value = data.terraform_remote_state.a.outputs.v
}
