# A stand-in for examples/bootstrap that needs no provider: terraform_data resources play the
# container and the Secret Manager versions, and the real modules/container-secrets sets the
# "container's" secrets through the API stand-in (tests/modules/scaleway-standin.py), exactly
# as module/scaleway/state-backend does. tests/suites/64-bootstrap.sh copies this directory and
# replaces CONTAINER_SECRETS_SOURCE with the relative path of that module.
resource "terraform_data" "container" {
  input = {
    id              = var.container_id
    privacy         = var.privacy
    public_endpoint = var.backend_url
  }
}

resource "terraform_data" "secret_version" {
  for_each = var.secret_versions

  input = each.value
}

module "container_secrets" {
  source = "CONTAINER_SECRETS_SOURCE"

  container_id = terraform_data.container.output.id
  region       = var.region
  secret_env = {
    for name, versions in var.secret_env : name => [
      for v in versions : terraform_data.secret_version[v].output
    ]
  }
  wait_seconds = 30
}
