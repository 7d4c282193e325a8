# Secret Manager secrets and, for each secret whose value is given, its current version. Values
# arrive through a sensitive variable (TF_VAR_ or a parent module), never through a file.
resource "scaleway_secret" "this" {
  for_each = var.secrets

  description = each.value.description
  name        = each.key
  path        = each.value.path
  project_id  = var.project_id
  protected   = each.value.protected
  region      = var.region
  tags        = var.tags
  type        = each.value.type
}

resource "scaleway_secret_version" "this" {
  for_each = nonsensitive(toset([for name in keys(var.values) : name if contains(keys(var.secrets), name)]))

  data        = var.values[each.key]
  description = "managed by OpenTofu"
  region      = var.region
  secret_id   = scaleway_secret.this[each.key].id
}
