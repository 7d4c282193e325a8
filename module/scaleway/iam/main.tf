# IAM applications (machine identities) and groups (of users and applications), one
# least-privilege policy per application or group scoped to the given project, and optionally an
# API key for each application. The secret key of a created API key only exists in the state:
# read it once (output api_keys) and put it in Secret Manager.
locals {
  # Application policies keep their historical keys (the application name); group policies are
  # keyed "group/NAME", which no application name can spell.
  policies = merge(
    { for name, a in var.applications : name => { application = name, group = null, permission_sets = a.permission_sets } },
    { for name, g in var.groups : "group/${name}" => { application = null, group = name, permission_sets = g.permission_sets } },
  )
}

resource "scaleway_iam_application" "this" {
  for_each = var.applications

  description     = each.value.description
  name            = each.key
  organization_id = var.organization_id
  tags            = var.tags
}

resource "scaleway_iam_group" "this" {
  for_each = var.groups

  application_ids     = each.value.external_membership ? null : each.value.application_ids
  description         = each.value.description
  external_membership = each.value.external_membership
  name                = each.key
  organization_id     = var.organization_id
  tags                = var.tags
  user_ids            = each.value.external_membership ? null : each.value.user_ids
}

resource "scaleway_iam_policy" "this" {
  for_each = local.policies

  application_id  = each.value.application == null ? null : scaleway_iam_application.this[each.value.application].id
  description     = "Least-privilege access for ${each.value.application != null ? each.value.application : "group ${each.value.group}"}"
  group_id        = each.value.group == null ? null : scaleway_iam_group.this[each.value.group].id
  name            = "${coalesce(each.value.application, each.value.group)}-policy"
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
