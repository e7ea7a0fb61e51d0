# The Ollama servers' security group: the Ollama port only from the gateway side, SSH only from an
# allow-list (and never in prod), and egress limited to what the boot script needs.

locals {
  # Per-environment rule sets: what each environment tolerates. Violations fail the plan (see the
  # preconditions below) rather than being dropped silently.
  rule_sets = {
    dev     = { ssh = true, http_egress = true, min_source_prefix = 0 }
    staging = { ssh = true, http_egress = true, min_source_prefix = 8 }
    prod    = { ssh = false, http_egress = false, min_source_prefix = 8 }
  }
  rules = local.rule_sets[var.environment]

  http_cidrs = var.egress_http_enabled ? var.egress_https_cidrs : []
  dns_rules = flatten([
    for cidr in var.dns_resolver_cidrs : [
      { cidr = cidr, protocol = "udp" },
      { cidr = cidr, protocol = "tcp" },
    ]
  ])
}

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5: a reusable group; the aws-launch-template module attaches it to the instances.
  name        = "${var.name}-ollama"
  description = "Ollama servers of ${var.name}: ${var.ollama_port}/tcp from the gateway side only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-ollama" })

  lifecycle {
    precondition {
      condition     = !var.ssh_enabled || local.rules.ssh
      error_message = "SSH is not allowed in the ${var.environment} environment."
    }
    precondition {
      condition     = !var.ssh_enabled || length(var.ssh_allowed_cidrs) > 0
      error_message = "ssh_enabled needs at least one CIDR in ssh_allowed_cidrs."
    }
    precondition {
      condition     = !var.egress_http_enabled || local.rules.http_egress
      error_message = "Plain-HTTP egress is not allowed in the ${var.environment} environment."
    }
    precondition {
      condition     = alltrue([for c in var.ollama_source_cidrs : tonumber(split("/", c)[1]) >= local.rules.min_source_prefix])
      error_message = "In ${var.environment}, Ollama source CIDRs must be /${local.rules.min_source_prefix} or narrower."
    }
  }
}

# --- Ingress -------------------------------------------------------------------------------------

resource "aws_security_group_rule" "ollama_from_security_groups" {
  count = length(var.ollama_source_security_group_ids)

  security_group_id        = aws_security_group.this.id
  type                     = "ingress"
  description              = "Ollama API from the gateway side (security group)"
  protocol                 = "tcp"
  from_port                = var.ollama_port
  to_port                  = var.ollama_port
  source_security_group_id = var.ollama_source_security_group_ids[count.index]
}

resource "aws_security_group_rule" "ollama_from_cidrs" {
  count = length(var.ollama_source_cidrs) > 0 ? 1 : 0

  security_group_id = aws_security_group.this.id
  type              = "ingress"
  description       = "Ollama API from the gateway side (CIDRs)"
  protocol          = "tcp"
  from_port         = var.ollama_port
  to_port           = var.ollama_port
  cidr_blocks       = var.ollama_source_cidrs
}

resource "aws_security_group_rule" "ssh" {
  #checkov:skip=CKV_AWS_24: false positive when the allow-list is empty (the rule then does not exist); variable validation refuses 0.0.0.0/0.
  count = var.ssh_enabled && length(var.ssh_allowed_cidrs) > 0 ? 1 : 0

  security_group_id = aws_security_group.this.id
  type              = "ingress"
  description       = "SSH from the operator allow-list"
  protocol          = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_blocks       = var.ssh_allowed_cidrs
}

# --- Egress --------------------------------------------------------------------------------------

# The boot script downloads the pinned Ollama release and (on a cache miss) the model over HTTPS,
# reads/writes the model cache in S3 and ships logs and metrics to CloudWatch: all 443/tcp.
resource "aws_security_group_rule" "https_egress" {
  count = length(var.egress_https_cidrs) > 0 ? 1 : 0

  security_group_id = aws_security_group.this.id
  type              = "egress"
  description       = "HTTPS: Ollama release, model registry, S3, CloudWatch, SSM"
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_blocks       = var.egress_https_cidrs
}

resource "aws_security_group_rule" "https_egress_prefix_lists" {
  count = length(var.egress_https_prefix_list_ids) > 0 ? 1 : 0

  security_group_id = aws_security_group.this.id
  type              = "egress"
  description       = "HTTPS to VPC endpoint prefix lists (S3 gateway endpoint)"
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_ids   = var.egress_https_prefix_list_ids
}

resource "aws_security_group_rule" "http_egress" {
  count = length(local.http_cidrs) > 0 ? 1 : 0

  security_group_id = aws_security_group.this.id
  type              = "egress"
  description       = "HTTP: OS package mirrors during boot (opt-in, not in prod)"
  protocol          = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_blocks       = local.http_cidrs
}

resource "aws_security_group_rule" "dns_egress" {
  count = length(local.dns_rules)

  security_group_id = aws_security_group.this.id
  type              = "egress"
  description       = "DNS to a custom resolver (${local.dns_rules[count.index].protocol})"
  protocol          = local.dns_rules[count.index].protocol
  from_port         = 53
  to_port           = 53
  cidr_blocks       = [local.dns_rules[count.index].cidr]
}
