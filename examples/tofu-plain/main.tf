# A plain OpenTofu/Terraform configuration whose backend address is supplied at `init` time
# (partial configuration), so one directory serves every environment:
#
#   export TF_HTTP_USERNAME=ci TF_HTTP_PASSWORD=<stated token>
#   tofu init -backend-config=backend.hcl
#   tofu init -reconfigure -backend-config=address=https://stated.example.com/v1/states/demo/prod \
#     -backend-config=lock_address=https://stated.example.com/v1/states/demo/prod \
#     -backend-config=unlock_address=https://stated.example.com/v1/states/demo/prod
terraform {
  required_version = ">= 1.5.0"

  backend "http" {}
}

resource "terraform_data" "example" {
  input = "state kept by stated"
}

output "example" {
  description = "What the example resource holds."
  value       = terraform_data.example.output
}
