# Deliberate mistakes: schema-check.sh must report each of them (the suite expects 9 findings).
resource "scaleway_container" "bad" {
  cpu_limit   = 70
  domain_name = "read-only"
  memory_limit = 128
  no_such_arg = 1

  liveness_probe {
    interval = "10s"
  }
}

resource "scaleway_no_such_resource" "x" {
  name = "x"
}

resource "scaleway_object_bucket_lock_configuration" "bad" {
  bucket = "b"

  timeouts {
    forever = "1h"
  }
}
