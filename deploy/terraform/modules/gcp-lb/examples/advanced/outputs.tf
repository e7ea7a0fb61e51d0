output "ip_address" {
  description = "The load balancer's address."
  value       = module.lb.ip_address
}
