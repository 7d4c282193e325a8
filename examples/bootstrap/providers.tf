# Credentials: SCW_ACCESS_KEY and SCW_SECRET_KEY in the environment. The random provider needs
# no configuration.
provider "scaleway" {
  project_id = var.project_id
  region     = var.region
  zone       = "${var.region}-1"
}
