# IAM roles for service accounts: the cluster's OIDC issuer as an IAM identity provider, and one
# role per ServiceAccount of the flowllama chart that calls AWS, each trusting exactly that
# ServiceAccount in var.namespace. The chart annotates the ServiceAccount with the role ARN
# (eks.amazonaws.com/role-arn); see the irsa_role_arns output.

resource "aws_iam_openid_connect_provider" "cluster" {
  url             = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = var.oidc_thumbprints
  tags            = local.tags
}

locals {
  issuer = replace(aws_iam_openid_connect_provider.cluster.url, "https://", "")
  # key => ServiceAccount name; agent always (terraform provisioning), loadtest when it has a
  # results bucket, then the operator's extra ones (api and gateway need none by default).
  irsa_accounts = merge(
    { agent = var.service_accounts.agent },
    var.loadtest_results_bucket_arn != null ? { loadtest = var.service_accounts.loadtest } : {},
    { for account, _arns in var.extra_service_account_roles : account => account },
  )
  extra_attachments = flatten([
    for account, arns in var.extra_service_account_roles : [
      for arn in arns : { account = account, arn = arn }
    ]
  ])
}

resource "aws_iam_role" "irsa" {
  for_each = local.irsa_accounts

  name = substr("${var.name}-sa-${each.key}", 0, 64)
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = aws_iam_openid_connect_provider.cluster.arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.issuer}:sub" = "system:serviceaccount:${var.namespace}:${each.value}"
          "${local.issuer}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })
  tags = local.tags
}

# The agent runs Terraform for each deployment: exactly the aws-foundation's agent policy.
resource "aws_iam_role_policy" "agent" {
  count = var.agent_policy_json != null ? 1 : 0

  name   = "flowllama-agent"
  role   = aws_iam_role.irsa["agent"].id
  policy = var.agent_policy_json
}

# Scheduled load tests write their results (flowllama loadtest run --results s3://...).
resource "aws_iam_role_policy" "loadtest" {
  count = var.loadtest_results_bucket_arn != null ? 1 : 0

  name = "flowllama-loadtest-results"
  role = aws_iam_role.irsa["loadtest"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "ListResults"
        Effect    = "Allow"
        Action    = "s3:ListBucket"
        Resource  = var.loadtest_results_bucket_arn
        Condition = { StringLike = { "s3:prefix" = ["${var.loadtest_results_prefix}*"] } }
      },
      {
        Sid      = "ReadWriteResults"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject"]
        Resource = "${var.loadtest_results_bucket_arn}/${var.loadtest_results_prefix}*"
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "extra" {
  for_each = { for item in local.extra_attachments : "${item.account} ${item.arn}" => item }

  role       = aws_iam_role.irsa[each.value.account].name
  policy_arn = each.value.arn
}
