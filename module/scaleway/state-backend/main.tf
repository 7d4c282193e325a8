# Everything stated needs on Scaleway: a private network; a versioned, object-locked, encrypted
# bucket for states and snapshots that only stated's IAM application (plus named administrators)
# may touch; a managed PostgreSQL for locks and audit (database.tf); Secret Manager entries for
# every credential (secrets.tf); the stated container, private by default; and Cockpit: alerts,
# the tokens and agent configuration that bring stated's metrics there.
#
# The container gets no credential on its command line and none through OpenTofu/Terraform:
# libpq reads PGPASSWORD, the S3 client AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, and stated
# STATED_ADMIN_TOKEN and STATED_ENCRYPTION_KEY, secret environment variables that
# modules/container-secrets copies from Secret Manager to the container through the Containers
# API (secrets.tf says why).
locals {
  bucket_name = "${var.name}-states"
  db_name     = "stated"
  db_user     = "stated"
  locks_url   = "postgres://${local.db_user}@${local.db_endpoint.ip}:${local.db_endpoint.port}/${local.db_name}?sslmode=require"
  s3_endpoint = "https://s3.${var.region}.scw.cloud"
  principals  = concat(["application_id:${module.iam.application_ids[var.name]}"], var.bucket_admin_principals)
}

module "network" {
  source = "../network"

  name       = var.name
  project_id = var.project_id
  region     = var.region
  tags       = var.tags
}

# Two identities: the application whose API key is stated's S3 credential (object-storage
# permission sets on this project only, narrowed to the state bucket by the bucket policy), and
# the group whose members may call the container while it is private (ContainersPrivateAccess
# is what Scaleway's front checks the X-Auth-Token against). Further members of the group can be
# added out of band only when none are listed here.
module "iam" {
  source = "../iam"

  applications = {
    (var.name) = {
      api_key         = true
      description     = "stated state server: its own bucket only"
      permission_sets = ["ObjectStorageObjectsRead", "ObjectStorageObjectsWrite", "ObjectStorageBucketsRead"]
    }
  }
  groups = {
    "${var.name}-clients" = {
      application_ids     = var.private_access_application_ids
      description         = "may call the private stated container (X-Auth-Token)"
      external_membership = length(var.private_access_application_ids) + length(var.private_access_user_ids) == 0
      permission_sets     = ["ContainersPrivateAccess"]
      user_ids            = var.private_access_user_ids
    }
  }
  project_id = var.project_id
  tags       = var.tags
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

# The namespace and the container are written here rather than through ../containers: the
# container's secret environment is set outside OpenTofu/Terraform, which needs a lifecycle
# (ignore_changes) that a generic module cannot switch on per container.
resource "scaleway_container_namespace" "this" {
  description = "stated, the OpenTofu/Terraform state server"
  name        = var.name
  project_id  = var.project_id
  region      = var.region
  tags        = var.tags
}

resource "scaleway_container" "this" {
  args = [
    "--listen", "0.0.0.0:8080",
    "--storage", "s3://${local.bucket_name}/stated",
    "--s3-endpoint", local.s3_endpoint,
    "--s3-region", var.region,
    "--locks", local.locks_url,
    "--trusted-proxies", join(",", var.trusted_proxies),
  ]
  cpu_limit              = var.cpu
  description            = "stated (privacy ${var.privacy})"
  https_connections_only = true
  image                  = var.image
  max_scale              = var.max_scale
  memory_limit_bytes     = var.memory * 1000000
  min_scale              = var.min_scale
  name                   = var.name
  namespace_id           = scaleway_container_namespace.this.id
  port                   = 8080
  privacy                = var.privacy
  private_network_id     = module.network.private_network_id
  protocol               = "http1"
  region                 = var.region
  sandbox                = "v2"
  tags                   = var.tags
  timeout                = 300

  liveness_probe {
    failure_threshold = 3
    interval          = "10s"
    timeout           = "5s"

    http {
      path = "/healthz"
    }
  }

  startup_probe {
    failure_threshold = 30
    interval          = "5s"
    timeout           = "5s"

    http {
      path = "/healthz"
    }
  }

  lifecycle {
    # Set by module.container_secrets from Secret Manager; the provider reads back only the
    # argon2id hashes Scaleway keeps of the values.
    ignore_changes = [secret_environment_variables]
  }
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
  # stated's own metrics: the push and rules tokens and the agent's configuration
  # (docs/observability.md); a private container is scraped through scripts/edge-forward.py.
  stated_metrics = {
    endpoint = scaleway_container.this.public_endpoint
    private  = var.privacy == "private"
  }
}
