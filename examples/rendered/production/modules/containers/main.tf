# One serverless container namespace and its containers. Plain environment variables are set as
# they are; secret ones are resolved here from Secret Manager values (var.secret_values, keyed by
# secret name), so the stack description only ever names secrets and never carries their values.
locals {
  domains = merge([
    for name, c in var.containers : {
      for host in c.domains : "${name}/${host}" => { container = name, hostname = host }
    }
  ]...)
}

resource "scaleway_container_namespace" "this" {
  description = var.description
  name        = var.namespace_name
  project_id  = var.project_id
  region      = var.region
  tags        = var.tags
}

resource "scaleway_container" "this" {
  for_each = var.containers

  args                         = each.value.args
  cpu_limit                    = each.value.cpu
  description                  = each.value.description
  environment_variables        = each.value.env
  https_connections_only       = each.value.https_only
  image                        = each.value.image
  max_scale                    = each.value.max_scale
  memory_limit_bytes           = each.value.memory * 1000000
  min_scale                    = each.value.min_scale
  name                         = each.key
  namespace_id                 = scaleway_container_namespace.this.id
  port                         = each.value.port
  privacy                      = each.value.privacy
  private_network_id           = var.private_network_id
  protocol                     = each.value.protocol
  region                       = var.region
  sandbox                      = "v2"
  secret_environment_variables = { for env, secret in each.value.secret_env : env => var.secret_values[secret] }
  tags                         = var.tags
  timeout                      = each.value.timeout

  dynamic "liveness_probe" {
    for_each = each.value.liveness_probe == null ? [] : [each.value.liveness_probe]
    content {
      failure_threshold = liveness_probe.value.failure_threshold
      interval          = liveness_probe.value.interval
      tcp               = liveness_probe.value.path == null ? true : null
      timeout           = liveness_probe.value.timeout

      dynamic "http" {
        for_each = liveness_probe.value.path == null ? [] : [liveness_probe.value.path]
        content {
          path = http.value
        }
      }
    }
  }

  dynamic "startup_probe" {
    for_each = each.value.startup_probe == null ? [] : [each.value.startup_probe]
    content {
      failure_threshold = startup_probe.value.failure_threshold
      interval          = startup_probe.value.interval
      tcp               = startup_probe.value.path == null ? true : null
      timeout           = startup_probe.value.timeout

      dynamic "http" {
        for_each = startup_probe.value.path == null ? [] : [startup_probe.value.path]
        content {
          path = http.value
        }
      }
    }
  }
}

resource "scaleway_container_domain" "this" {
  for_each = local.domains

  container_id = scaleway_container.this[each.value.container].id
  hostname     = each.value.hostname
  region       = var.region
}
