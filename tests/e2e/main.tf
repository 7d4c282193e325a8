# A configuration that needs no provider download: only terraform_data and outputs.
terraform {
  backend "http" {}
}

variable "v" {
  type    = string
  default = "one"
}

resource "terraform_data" "a" {
  input = var.v
}

output "v" {
  value = terraform_data.a.output
}
