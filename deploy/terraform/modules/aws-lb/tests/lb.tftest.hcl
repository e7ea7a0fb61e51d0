# Load balancer logic with a mocked provider: ALB vs NLB, HTTPS vs HTTP, the internal-only rule.

mock_provider "aws" {
  mock_data "aws_vpc" {
    defaults = { cidr_block = "10.0.0.0/16" }
  }
  mock_resource "aws_lb" {
    defaults = {
      arn      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/tlb/0123456789abcdef"
      dns_name = "internal-tlb-123.us-east-1.elb.amazonaws.com"
    }
  }
  mock_resource "aws_lb_target_group" {
    defaults = { arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tlb-alb/0123456789abcdef" }
  }
  mock_resource "aws_security_group" {
    defaults = { id = "sg-0123456789abcdef0" }
  }
}

variables {
  name          = "tlb"
  vpc_id        = "vpc-0123456789abcdef0"
  subnet_ids    = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
  allowed_cidrs = ["10.0.0.0/16"]
}

run "internal_alb_over_http" {
  command = apply

  assert {
    condition     = aws_lb.this.internal && aws_lb.this.load_balancer_type == "application" && aws_lb.this.drop_invalid_header_fields
    error_message = "An internal ALB dropping invalid headers by default."
  }
  assert {
    condition     = aws_lb_listener.this.protocol == "HTTP" && aws_lb_listener.this.port == 80
    error_message = "Plain HTTP on 80 without a certificate."
  }
  assert {
    condition     = aws_lb_target_group.ollama.port == 11434 && aws_lb_target_group.ollama.health_check[0].path == "/api/tags" && aws_lb_target_group.ollama.health_check[0].matcher == "200"
    error_message = "Target group on 11434 checked on /api/tags."
  }
  assert {
    condition     = aws_security_group_rule.to_targets[0].cidr_blocks == tolist(["10.0.0.0/16"]) && aws_security_group_rule.to_targets[0].from_port == 11434
    error_message = "The ALB reaches only the targets' port in the VPC."
  }
  assert {
    condition     = output.endpoint_url == "http://internal-tlb-123.us-east-1.elb.amazonaws.com:80"
    error_message = "The endpoint URL follows the listener."
  }
}

run "alb_https" {
  command = plan

  variables {
    certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
  }

  assert {
    condition     = aws_lb_listener.this.protocol == "HTTPS" && aws_lb_listener.this.port == 443 && aws_lb_listener.this.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    error_message = "HTTPS on 443 with a TLS 1.2+ policy when a certificate is given."
  }
}

run "nlb_tls_cross_zone" {
  command = plan

  variables {
    load_balancer_type = "network"
    certificate_arn    = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
  }

  assert {
    condition     = aws_lb_listener.this.protocol == "TLS" && aws_lb.this.enable_cross_zone_load_balancing && length(aws_security_group.lb) == 0
    error_message = "An NLB: TLS listener, cross-zone, no security group."
  }
  assert {
    condition     = aws_lb_target_group.ollama.protocol == "TCP" && aws_lb_target_group.ollama.health_check[0].protocol == "HTTP" && aws_lb_target_group.ollama.health_check[0].path == "/api/tags"
    error_message = "A TCP target group still checked over HTTP on /api/tags."
  }
}

run "internet_facing_needs_tls" {
  command = plan

  variables {
    internal = false
  }

  expect_failures = [aws_lb_listener.this]
}

run "rejects_long_name" {
  command = plan

  variables {
    name = "a-name-longer-than-twenty-eight"
  }

  expect_failures = [var.name]
}
