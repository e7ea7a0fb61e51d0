output "cluster_name" {
  description = "The EKS cluster's name (aws eks update-kubeconfig --name <this>)."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "The Kubernetes API endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority" {
  description = "The cluster CA certificate (base64), for a kubeconfig."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "oidc_issuer_url" {
  description = "The cluster's OIDC issuer (IRSA)."
  value       = aws_iam_openid_connect_provider.cluster.url
}

output "oidc_provider_arn" {
  description = "The IAM OIDC identity provider of the cluster, for more IRSA roles."
  value       = aws_iam_openid_connect_provider.cluster.arn
}

output "vpc_id" {
  description = "The cluster's VPC."
  value       = module.vpc.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnets of the nodes and the control plane's network interfaces."
  value       = module.vpc.private_subnet_ids
}

output "node_role_arn" {
  description = "The node groups' IAM role."
  value       = aws_iam_role.node.arn
}

output "node_group_names" {
  description = "Node group names by pool (cpu, gpu); nodes carry flowllama.io/pool=<pool> (GPU nodes also nvidia.com/gpu.present=true)."
  value       = { for pool, group in aws_eks_node_group.this : pool => group.node_group_name }
}

output "irsa_role_arns" {
  description = "IRSA role ARN by ServiceAccount key (agent, loadtest, extra names): the chart's eks.amazonaws.com/role-arn annotations."
  value       = { for key, role in aws_iam_role.irsa : key => role.arn }
}
