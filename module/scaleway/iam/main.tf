# IAM applications (machine identities), one least-privilege policy per application scoped to the
# given projects, and optionally an API key for each. The secret key of a created API key only
# exists in the state: read it once (output api_keys) and put it in Secret Manager.
resource "scaleway_iam_application" "this" {
  for_each = var.applications

  description     = each.value.description
  name            = each.key
  organization_id = var.organization_id
  tags            = var.tags
}

resource "scaleway_iam_policy" "this" {
  for_each = var.applications

  application_id  = scaleway_iam_application.this[each.key].id
  description     = "Least-privilege access for ${each.key}"
  name            = "${each.key}-policy"
  organization_id = var.organization_id
  tags            = var.tags

  rule {
    permission_set_names = each.value.permission_sets
    project_ids          = [var.project_id]
  }
}

resource "scaleway_iam_api_key" "this" {
  for_each = { for name, a in var.applications : name => a if a.api_key }

  application_id     = scaleway_iam_application.this[each.key].id
  default_project_id = var.project_id
  description        = "API key of ${each.key}"
  expires_at         = each.value.api_key_expires_at
}
