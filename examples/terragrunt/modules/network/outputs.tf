output "private_network_id" {
  description = "ID of the private network (regional ID, as scaleway_container and scaleway_rdb_instance expect)."
  value       = scaleway_vpc_private_network.this.id
}

output "vpc_id" {
  description = "ID of the VPC."
  value       = scaleway_vpc.this.id
}
