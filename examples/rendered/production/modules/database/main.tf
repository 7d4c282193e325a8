# One managed PostgreSQL (or MySQL) instance with its logical databases, users, privileges and
# ACL. The instance joins the private network when one is given; backups are on unless the
# caller disables them, and encryption at rest is on by default (it cannot be turned off later).
locals {
  privileges = merge([
    for user, u in var.users : {
      for db, permission in u.privileges : "${user}/${db}" => { user = user, database = db, permission = permission }
    }
  ]...)
}

resource "scaleway_rdb_instance" "this" {
  backup_same_region        = var.backup_same_region
  backup_schedule_frequency = var.backup_enabled ? var.backup_frequency_hours : null
  backup_schedule_retention = var.backup_enabled ? var.backup_retention_days : null
  disable_backup            = !var.backup_enabled
  encryption_at_rest        = var.encryption_at_rest
  engine                    = var.engine
  is_ha_cluster             = var.ha
  name                      = var.name
  node_type                 = var.node_type
  password                  = var.admin_password
  project_id                = var.project_id
  region                    = var.region
  tags                      = var.tags
  user_name                 = var.admin_user
  volume_size_in_gb         = var.volume_type == "lssd" ? null : var.volume_size_gb
  volume_type               = var.volume_type

  dynamic "private_network" {
    for_each = var.private_network_id == null ? [] : [var.private_network_id]
    content {
      enable_ipam = true
      pn_id       = private_network.value
    }
  }
}

resource "scaleway_rdb_database" "this" {
  for_each = toset(var.databases)

  instance_id = scaleway_rdb_instance.this.id
  name        = each.key
  region      = var.region
}

resource "scaleway_rdb_user" "this" {
  for_each = var.users

  instance_id = scaleway_rdb_instance.this.id
  is_admin    = each.value.is_admin
  name        = each.key
  password    = var.user_passwords[each.key]
  region      = var.region
}

resource "scaleway_rdb_privilege" "this" {
  for_each = local.privileges

  database_name = scaleway_rdb_database.this[each.value.database].name
  instance_id   = scaleway_rdb_instance.this.id
  permission    = each.value.permission
  region        = var.region
  user_name     = scaleway_rdb_user.this[each.value.user].name
}

resource "scaleway_rdb_acl" "this" {
  count = length(var.acl) > 0 ? 1 : 0

  instance_id = scaleway_rdb_instance.this.id
  region      = var.region

  dynamic "acl_rules" {
    for_each = var.acl
    content {
      description = acl_rules.value.description
      ip          = acl_rules.value.ip
    }
  }
}
