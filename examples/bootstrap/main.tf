# Deploys stated itself on Scaleway with the bundled state-backend module. The state of this
# root starts local (stated does not exist before the first apply); bootstrap.sh applies it,
# then moves the state into the new stated and writes backend.tf (see README.md).
module "stated" {
  source = "../../module/scaleway/state-backend"

  alert_emails                   = var.alert_emails
  bucket_admin_principals        = var.bucket_admin_principals
  image                          = var.image
  name                           = var.name
  private_access_application_ids = var.private_access_application_ids
  private_access_user_ids        = var.private_access_user_ids
  privacy                        = var.privacy
  project_id                     = var.project_id
  region                         = var.region
  secret_versions                = var.secret_versions
}
