# Everything stated needs on Scaleway, composed from the sibling modules: a private network; a
# versioned, object-locked, encrypted bucket for states and snapshots that only stated's IAM
# application (plus named administrators) may touch; a managed PostgreSQL for locks and audit;
# Secret Manager entries for the S3 keys, the database password, the admin token and the
# encryption key; the stated container itself; and Cockpit alerts.
#
# The container gets no credential on its command line: libpq reads PGPASSWORD, the S3 client
# AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, and stated STATED_ADMIN_TOKEN and
# STATED_ENCRYPTION_KEY, all injected as secret environment variables.
locals {
  bucket_name = "${var.name}-states"
  db_name     = "stated"
  db_user     = "stated"
  locks_url   = "postgres://${local.db_user}@${module.database.endpoint_ip}:${module.database.endpoint_port}/${local.db_name}?sslmode=require"
  s3_endpoint = "https://s3.${var.region}.scw.cloud"
  principals  = concat(["application_id:${module.iam.application_ids[var.name]}"], var.bucket_admin_principals)
  secret_values = {
    "${var.name}-admin-token"    = var.admin_token
    "${var.name}-db-password"    = var.db_password
    "${var.name}-encryption-key" = var.encryption_key
    "${var.name}-s3-access-key"  = module.iam.api_keys[var.name].access_key
    "${var.name}-s3-secret-key"  = module.iam.api_keys[var.name].secret_key
  }
}

module "network" {
  source = "../network"

  name       = var.name
  project_id = var.project_id
  region     = var.region
  tags       = var.tags
}

module "iam" {
  source = "../iam"

  applications = {
    (var.name) = {
      api_key         = true
      description     = "stated state server: its own bucket only"
      permission_sets = ["ObjectStorageObjectsRead", "ObjectStorageObjectsWrite", "ObjectStorageBucketsRead"]
    }
  }
  project_id = var.project_id
  tags       = var.tags
}

module "secrets" {
  source = "../secrets"

  project_id = var.project_id
  region     = var.region
  secrets = {
    "${var.name}-admin-token"    = { description = "stated admin token", protected = true }
    "${var.name}-db-password"    = { description = "password of the stated database user", protected = true }
    "${var.name}-encryption-key" = { description = "stated AES-256-GCM state encryption key (base64)", protected = true }
    "${var.name}-s3-access-key"  = { description = "S3 access key of the stated IAM application" }
    "${var.name}-s3-secret-key"  = { description = "S3 secret key of the stated IAM application", protected = true }
  }
  tags   = var.tags
  values = local.secret_values
}

module "bucket" {
  source = "../bucket"

  lifecycle_rules = [{
    abort_incomplete_multipart_upload_days = 2
    noncurrent_expiration_days             = var.state_version_retention_days
  }]
  name = local.bucket_name
  object_lock = {
    days = var.object_lock_days
    mode = "GOVERNANCE"
  }
  policy = jsonencode({
    Version = "2023-04-17"
    Id      = "${var.name}-states"
    Statement = [{
      Sid       = "stated-only"
      Effect    = "Allow"
      Principal = { SCW = local.principals }
      Action    = ["s3:*"]
      Resource  = [local.bucket_name, "${local.bucket_name}/*"]
    }]
  })
  project_id  = var.project_id
  region      = var.region
  sse_enabled = true
  versioning  = true
}

module "database" {
  source = "../database"

  acl                   = []
  admin_password        = var.db_password
  admin_user            = "stated_admin"
  backup_enabled        = true
  backup_retention_days = var.db_backup_retention_days
  databases             = [local.db_name]
  encryption_at_rest    = true
  engine                = "PostgreSQL-16"
  ha                    = var.db_ha
  name                  = "${var.name}-locks"
  node_type             = var.db_node_type
  private_network_id    = module.network.private_network_id
  project_id            = var.project_id
  region                = var.region
  tags                  = var.tags
  user_passwords        = { (local.db_user) = var.db_password }
  users = {
    (local.db_user) = { privileges = { (local.db_name) = "all" } }
  }
}

module "containers" {
  source = "../containers"

  containers = {
    (var.name) = {
      args = [
        "--listen", "0.0.0.0:8080",
        "--storage", "s3://${local.bucket_name}/stated",
        "--s3-endpoint", local.s3_endpoint,
        "--s3-region", var.region,
        "--locks", local.locks_url,
      ]
      cpu            = var.cpu
      image          = var.image
      liveness_probe = { path = "/healthz" }
      max_scale      = var.max_scale
      memory         = var.memory
      min_scale      = var.min_scale
      port           = 8080
      privacy        = "public"
      secret_env = {
        AWS_ACCESS_KEY_ID     = "${var.name}-s3-access-key"
        AWS_SECRET_ACCESS_KEY = "${var.name}-s3-secret-key"
        PGPASSWORD            = "${var.name}-db-password"
        STATED_ADMIN_TOKEN    = "${var.name}-admin-token"
        STATED_ENCRYPTION_KEY = "${var.name}-encryption-key"
      }
      startup_probe = { path = "/healthz" }
      timeout       = 300
    }
  }
  description        = "stated, the OpenTofu/Terraform state server"
  namespace_name     = var.name
  private_network_id = module.network.private_network_id
  project_id         = var.project_id
  region             = var.region
  secret_values      = module.secrets.values
  tags               = var.tags
}

module "monitoring" {
  source = "../monitoring"

  contact_emails          = var.alert_emails
  logs_retention_days     = 31
  metrics_retention_days  = 31
  name                    = var.name
  preconfigured_alert_ids = var.preconfigured_alert_ids
  project_id              = var.project_id
  region                  = var.region
}
