# Rule logic with a mocked provider: which rules exist per input and per environment.

mock_provider "aws" {}

variables {
  name   = "tsg"
  vpc_id = "vpc-0123456789abcdef0"
}

run "defaults_open_nothing_but_https_egress" {
  command = plan

  assert {
    condition     = length(aws_security_group_rule.ssh) == 0 && length(aws_security_group_rule.ollama_from_cidrs) == 0 && length(aws_security_group_rule.ollama_from_security_groups) == 0
    error_message = "No ingress at all without sources."
  }
  assert {
    condition     = aws_security_group_rule.https_egress[0].from_port == 443 && aws_security_group_rule.https_egress[0].to_port == 443
    error_message = "HTTPS egress only on 443."
  }
  assert {
    condition     = length(aws_security_group_rule.http_egress) == 0 && length(aws_security_group_rule.dns_egress) == 0
    error_message = "No HTTP or custom DNS egress by default."
  }
}

run "gateway_sources_open_11434" {
  command = plan

  variables {
    ollama_source_security_group_ids = ["sg-0123456789abcdef0", "sg-0fedcba9876543210"]
    ollama_source_cidrs              = ["10.0.0.0/16"]
  }

  assert {
    condition     = length(aws_security_group_rule.ollama_from_security_groups) == 2 && aws_security_group_rule.ollama_from_security_groups[1].from_port == 11434
    error_message = "One rule per source security group on 11434."
  }
  assert {
    condition     = aws_security_group_rule.ollama_from_cidrs[0].cidr_blocks == tolist(["10.0.0.0/16"])
    error_message = "The CIDR sources get 11434."
  }
}

run "ssh_only_when_enabled" {
  command = plan

  variables {
    ssh_allowed_cidrs = ["203.0.113.0/24"]
  }

  assert {
    condition     = length(aws_security_group_rule.ssh) == 0
    error_message = "An allow-list alone does not open SSH."
  }
}

run "ssh_in_dev" {
  command = plan

  variables {
    ssh_enabled       = true
    ssh_allowed_cidrs = ["203.0.113.0/24"]
  }

  assert {
    condition     = aws_security_group_rule.ssh[0].from_port == 22 && output.ssh_open
    error_message = "SSH opens from the allow-list in dev."
  }
}

run "ssh_refused_in_prod" {
  command = plan

  variables {
    environment       = "prod"
    ssh_enabled       = true
    ssh_allowed_cidrs = ["203.0.113.0/24"]
  }

  expect_failures = [aws_security_group.this]
}

run "ssh_needs_an_allow_list" {
  command = plan

  variables {
    ssh_enabled = true
  }

  expect_failures = [aws_security_group.this]
}

run "ssh_from_anywhere_refused" {
  command = plan

  variables {
    ssh_enabled       = true
    ssh_allowed_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.ssh_allowed_cidrs]
}

run "wide_ollama_source_refused_in_prod" {
  command = plan

  variables {
    environment         = "prod"
    ollama_source_cidrs = ["0.0.0.0/1"]
  }

  expect_failures = [aws_security_group.this]
}

run "http_egress_refused_in_prod" {
  command = plan

  variables {
    environment         = "prod"
    egress_http_enabled = true
  }

  expect_failures = [aws_security_group.this]
}

run "dns_resolver_gets_udp_and_tcp" {
  command = plan

  variables {
    dns_resolver_cidrs = ["10.0.0.2/32"]
  }

  assert {
    condition     = length(aws_security_group_rule.dns_egress) == 2 && toset(aws_security_group_rule.dns_egress[*].protocol) == toset(["udp", "tcp"])
    error_message = "A custom resolver gets 53/udp and 53/tcp."
  }
}
