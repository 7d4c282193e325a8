# A regional VPC and one private network in it. Containers and databases attach to the private
# network so database traffic never leaves Scaleway's private address space.
resource "scaleway_vpc" "this" {
  name       = var.name
  project_id = var.project_id
  region     = var.region
  tags       = var.tags
}

resource "scaleway_vpc_private_network" "this" {
  name       = "${var.name}-pn"
  project_id = var.project_id
  region     = var.region
  tags       = var.tags
  vpc_id     = scaleway_vpc.this.id

  dynamic "ipv4_subnet" {
    for_each = var.ipv4_subnet == null ? [] : [var.ipv4_subnet]
    content {
      subnet = ipv4_subnet.value
    }
  }
}
