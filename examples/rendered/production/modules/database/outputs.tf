output "databases" {
  description = "Names of the logical databases created."
  value       = [for d in scaleway_rdb_database.this : d.name]
}

output "endpoint_ip" {
  description = "Private network IP of the instance, or null without a private network."
  value       = try(scaleway_rdb_instance.this.private_network[0].ip, null)
}

output "endpoint_port" {
  description = "Port on the private network, or null without a private network."
  value       = try(scaleway_rdb_instance.this.private_network[0].port, null)
}

output "instance_id" {
  description = "ID of the database instance."
  value       = scaleway_rdb_instance.this.id
}
