# Module logic with a mocked provider: subnet carving, NAT modes, flow log destinations and
# input validation. Runs in seconds with `terraform test`.

mock_provider "aws" {
  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:us-east-1:123456789012:log-group:/flowllama/vpc/t/flow-logs"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/t-vpc-flow-logs"
    }
  }
}

variables {
  name               = "tv"
  availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
}

run "defaults_carve_subnets_and_use_one_nat" {
  command = plan

  assert {
    condition     = aws_subnet.public[*].cidr_block == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
    error_message = "Public subnets are carved from the bottom of the VPC range."
  }
  assert {
    condition     = aws_subnet.private[*].cidr_block == ["10.0.128.0/24", "10.0.129.0/24", "10.0.130.0/24"]
    error_message = "Private subnets are carved from the upper half of the VPC range."
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 1 && length(aws_route.private_nat) == 3
    error_message = "single mode: one NAT gateway, a default route in every private route table."
  }
  assert {
    condition     = length(aws_flow_log.this) == 1 && aws_flow_log.this[0].log_destination_type == "cloud-watch-logs"
    error_message = "Flow logs go to CloudWatch Logs by default."
  }
  assert {
    condition     = alltrue([for s in aws_subnet.public : s.map_public_ip_on_launch == false])
    error_message = "No subnet hands out public IPs automatically."
  }
}

run "per_az_nat" {
  command = plan

  variables {
    nat_gateway_mode = "per_az"
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 3 && length(aws_eip.nat) == 3
    error_message = "per_az mode: one NAT gateway and Elastic IP per zone."
  }
}

run "no_nat_no_flow_logs" {
  command = plan

  variables {
    nat_gateway_mode      = "none"
    flow_logs_destination = "none"
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 0 && length(aws_route.private_nat) == 0
    error_message = "none mode: no NAT gateway and no default route for private subnets."
  }
  assert {
    condition     = length(aws_flow_log.this) == 0 && length(aws_cloudwatch_log_group.flow_logs) == 0 && length(aws_iam_role.flow_logs) == 0
    error_message = "No flow log resources when flow logs are off."
  }
}

run "flow_logs_to_s3" {
  command = plan

  variables {
    flow_logs_destination   = "s3"
    flow_logs_s3_bucket_arn = "arn:aws:s3:::flow-logs-bucket/vpc"
  }

  assert {
    condition     = aws_flow_log.this[0].log_destination == "arn:aws:s3:::flow-logs-bucket/vpc" && length(aws_iam_role.flow_logs) == 0
    error_message = "S3 flow logs need no IAM role or log group."
  }
}

run "s3_flow_logs_need_a_bucket" {
  command = plan

  variables {
    flow_logs_destination = "s3"
  }

  expect_failures = [aws_flow_log.this]
}

run "explicit_cidrs_must_match_zones" {
  command = plan

  variables {
    public_subnet_cidrs = ["10.0.0.0/24"]
  }

  expect_failures = [aws_vpc.this]
}

run "rejects_bad_name" {
  command = plan

  variables {
    name = "Bad_Name"
  }

  expect_failures = [var.name]
}

run "rejects_bad_nat_mode" {
  command = plan

  variables {
    nat_gateway_mode = "two"
  }

  expect_failures = [var.nat_gateway_mode]
}
