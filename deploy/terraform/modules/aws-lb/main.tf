# A load balancer in front of a deployment's Ollama server(s): ALB or NLB, internal by default,
# a target group on 11434 checked on /api/tags, HTTPS/TLS with the given certificate (plain
# HTTP/TCP only without one), cross-zone, optional access logs.

data "aws_vpc" "this" {
  id = var.vpc_id
}

locals {
  is_alb    = var.load_balancer_type == "application"
  tls       = var.certificate_arn != null
  port      = coalesce(var.listener_port, local.tls ? 443 : 80)
  protocol  = local.is_alb ? (local.tls ? "HTTPS" : "HTTP") : (local.tls ? "TLS" : "TCP")
  scheme    = local.tls ? "https" : "http"
  tg_suffix = local.is_alb ? "alb" : "nlb"
}

# --- Security group (ALB only: NLBs in provider 3.39 cannot have one) ----------------------------

resource "aws_security_group" "lb" {
  count = local.is_alb ? 1 : 0

  name        = "${var.name}-lb"
  description = "Load balancer ${var.name}: listener from the gateway side, ${var.target_port}/tcp to the VPC"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-lb" })
}

resource "aws_security_group_rule" "listener_from_cidrs" {
  count = local.is_alb && length(var.allowed_cidrs) > 0 ? 1 : 0

  security_group_id = aws_security_group.lb[0].id
  type              = "ingress"
  description       = "Listener from the gateway side (CIDRs)"
  protocol          = "tcp"
  from_port         = local.port
  to_port           = local.port
  cidr_blocks       = var.allowed_cidrs
}

resource "aws_security_group_rule" "listener_from_security_groups" {
  count = local.is_alb ? length(var.allowed_security_group_ids) : 0

  security_group_id        = aws_security_group.lb[0].id
  type                     = "ingress"
  description              = "Listener from the gateway side (security group)"
  protocol                 = "tcp"
  from_port                = local.port
  to_port                  = local.port
  source_security_group_id = var.allowed_security_group_ids[count.index]
}

resource "aws_security_group_rule" "to_targets" {
  count = local.is_alb ? 1 : 0

  security_group_id = aws_security_group.lb[0].id
  type              = "egress"
  description       = "To the Ollama targets and their health checks"
  protocol          = "tcp"
  from_port         = var.target_port
  to_port           = var.target_port
  cidr_blocks       = [data.aws_vpc.this.cidr_block]
}

# --- Load balancer -------------------------------------------------------------------------------

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_150: deletion protection is an input (deletion_protection); per-deployment load balancers are destroyed with their deployment.
  #checkov:skip=CKV_AWS_91: access logs are optional (access_logs_bucket): they need a bucket whose policy lets Elastic Load Balancing write.
  #checkov:skip=CKV2_AWS_28: internal by default and reached only by the gateway; put a WAF on internet-facing ALBs outside this module.
  name                             = var.name
  load_balancer_type               = var.load_balancer_type
  internal                         = var.internal
  subnets                          = var.subnet_ids
  security_groups                  = local.is_alb ? [aws_security_group.lb[0].id] : null
  drop_invalid_header_fields       = local.is_alb ? true : null
  idle_timeout                     = local.is_alb ? var.idle_timeout : null
  enable_cross_zone_load_balancing = local.is_alb ? null : var.cross_zone
  enable_deletion_protection       = var.deletion_protection

  dynamic "access_logs" {
    for_each = var.access_logs_bucket == null ? [] : [var.access_logs_bucket]
    content {
      bucket  = access_logs.value
      prefix  = var.access_logs_prefix
      enabled = true
    }
  }

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_lb_target_group" "ollama" {
  #checkov:skip=CKV_AWS_378: Ollama speaks plain HTTP; TLS ends at the listener and the hop to the target stays inside the VPC.
  name                 = "${var.name}-${local.tg_suffix}"
  vpc_id               = var.vpc_id
  port                 = var.target_port
  protocol             = local.is_alb ? "HTTP" : "TCP"
  target_type          = "instance"
  deregistration_delay = var.deregistration_delay

  # NLB target groups (provider 3.39) take no matcher or timeout and need equal thresholds.
  health_check {
    enabled             = true
    protocol            = "HTTP"
    path                = var.health_check_path
    port                = "traffic-port"
    matcher             = local.is_alb ? "200" : null
    interval            = 30
    timeout             = local.is_alb ? 5 : null
    healthy_threshold   = 3
    unhealthy_threshold = 3
  }

  tags = merge(var.tags, { Name = "${var.name}-${local.tg_suffix}" })
}

resource "aws_lb_listener" "this" {
  #checkov:skip=CKV_AWS_2: HTTPS whenever certificate_arn is given; plain HTTP only without one, on an internal load balancer (documented).
  #checkov:skip=CKV_AWS_103: the TLS policy (ssl_policy) defaults to TLS 1.2+ when there is a certificate; without one there is no TLS.
  load_balancer_arn = aws_lb.this.arn
  port              = local.port
  protocol          = local.protocol
  certificate_arn   = var.certificate_arn
  ssl_policy        = local.tls ? var.ssl_policy : null

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.ollama.arn
  }

  # No tags: aws_lb_listener has no tags argument in provider 3.39 (a later 3.x release added
  # it), and 3.39 must keep working.

  lifecycle {
    precondition {
      condition     = local.tls || var.internal
      error_message = "An internet-facing load balancer needs certificate_arn: plain HTTP/TCP is only allowed internally."
    }
  }
}
