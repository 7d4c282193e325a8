# Cockpit for one project: custom metrics and logs data sources with their retention, the alert
# manager with e-mail contact points, and Scaleway's preconfigured alert rules.
resource "scaleway_cockpit_source" "logs" {
  name           = "${var.name}-logs"
  project_id     = var.project_id
  region         = var.region
  retention_days = var.logs_retention_days
  type           = "logs"
}

resource "scaleway_cockpit_source" "metrics" {
  name           = "${var.name}-metrics"
  project_id     = var.project_id
  region         = var.region
  retention_days = var.metrics_retention_days
  type           = "metrics"
}

resource "scaleway_cockpit_alert_manager" "this" {
  preconfigured_alert_ids = var.preconfigured_alert_ids
  project_id              = var.project_id
  region                  = var.region

  dynamic "contact_points" {
    for_each = var.contact_emails
    content {
      email = contact_points.value
    }
  }
}
