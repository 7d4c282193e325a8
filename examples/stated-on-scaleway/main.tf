# Deploys stated itself on Scaleway with the bundled state-backend module. This root keeps its
# own state locally (the state server does not exist yet when it is first applied); move it into
# stated afterwards with `tofu init -migrate-state` and a backend "http" block.
#
#   export SCW_ACCESS_KEY=... SCW_SECRET_KEY=...
#   export TF_VAR_admin_token=$(openssl rand -base64 32) TF_VAR_db_password=$(openssl rand -hex 24)
#   export TF_VAR_encryption_key=$(openssl rand -base64 32)
#   tofu init && tofu apply
module "stated" {
  source = "../../module/scaleway/state-backend"

  admin_token             = var.admin_token
  alert_emails            = ["platform-oncall@example.com"]
  bucket_admin_principals = var.bucket_admin_principals
  db_password             = var.db_password
  encryption_key          = var.encryption_key
  image                   = var.image
  name                    = "stated"
  project_id              = var.project_id
  region                  = var.region
}
