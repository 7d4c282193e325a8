# The lock and audit database: managed PostgreSQL 16 on the private network (HA, backups kept
# at least 30 days, encrypted at rest) with one database and one user for stated, who has every
# privilege on that database and no other. Written here rather than through ../database because
# both passwords are write-only (password_wo), which needs ephemeral values and so
# Terraform >= 1.11: the generic module keeps its lower floor for the stacks stackgen renders.
#
# Both passwords are read back from their Secret Manager versions (ephemeral, never stored), so
# the database always holds what Secret Manager holds, even when the user or the instance is
# created again later without a new secret generation.
ephemeral "scaleway_secret_version" "db" {
  for_each = {
    admin  = local.generated_current["db-admin-password"]
    stated = local.generated_current["db-password"]
  }

  region    = var.region
  revision  = scaleway_secret_version.generated[each.value].revision
  secret_id = scaleway_secret_version.generated[each.value].secret_id
}

resource "scaleway_rdb_instance" "this" {
  backup_same_region        = false
  backup_schedule_frequency = 24
  backup_schedule_retention = var.db_backup_retention_days
  disable_backup            = false
  encryption_at_rest        = true
  engine                    = "PostgreSQL-16"
  is_ha_cluster             = var.db_ha
  name                      = "${var.name}-locks"
  node_type                 = var.db_node_type
  password_wo               = base64decode(ephemeral.scaleway_secret_version.db["admin"].data)
  password_wo_version       = var.secret_versions.db_admin_password
  project_id                = var.project_id
  region                    = var.region
  tags                      = var.tags
  user_name                 = "${local.db_user}_admin"
  volume_size_in_gb         = 10
  volume_type               = "sbs_5k"

  private_network {
    enable_ipam = true
    pn_id       = module.network.private_network_id
  }
}

resource "scaleway_rdb_database" "stated" {
  instance_id = scaleway_rdb_instance.this.id
  name        = local.db_name
  region      = var.region
}

resource "scaleway_rdb_user" "stated" {
  instance_id         = scaleway_rdb_instance.this.id
  is_admin            = false
  name                = local.db_user
  password_wo         = base64decode(ephemeral.scaleway_secret_version.db["stated"].data)
  password_wo_version = var.secret_versions.db_password
  region              = var.region
}

resource "scaleway_rdb_privilege" "stated" {
  database_name = scaleway_rdb_database.stated.name
  instance_id   = scaleway_rdb_instance.this.id
  permission    = "all"
  region        = var.region
  user_name     = scaleway_rdb_user.stated.name
}

locals {
  db_endpoint = {
    ip   = scaleway_rdb_instance.this.private_network[0].ip
    port = scaleway_rdb_instance.this.private_network[0].port
  }
}
