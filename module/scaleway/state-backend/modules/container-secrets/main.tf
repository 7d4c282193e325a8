# Copies Secret Manager versions into a serverless container's secret environment, through the
# Containers API, from the machine that runs OpenTofu/Terraform (../../scripts/
# set-container-secrets.py, with that machine's SCW_SECRET_KEY). Only IDs and revisions pass
# through OpenTofu/Terraform, so no secret value reaches a plan or a state; the container
# resource must ignore changes to secret_environment_variables. It runs again whenever the
# container or a revision changes.
#
# SCW_API_URL (default https://api.scaleway.com) is read from the environment, as the scw CLI
# does; the tests point it at a loopback stand-in of the two API calls.
resource "terraform_data" "this" {
  triggers_replace = {
    container_id = var.container_id
    secret_env   = var.secret_env
  }

  provisioner "local-exec" {
    command = "python3 '${path.module}/../../scripts/set-container-secrets.py'"
    environment = {
      STATED_CONTAINER_ID = var.container_id
      STATED_REGION       = var.region
      STATED_SECRET_ENV   = jsonencode(var.secret_env)
      STATED_WAIT_SECONDS = tostring(var.wait_seconds)
    }
  }
}
