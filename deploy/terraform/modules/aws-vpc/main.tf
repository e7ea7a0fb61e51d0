# A VPC with one public and one private subnet per availability zone. Public subnets route to an
# internet gateway and hold the NAT gateway(s) and internet-facing load balancers; private subnets
# (where Ollama servers run) reach the internet only through NAT. Flow logs go to CloudWatch Logs
# or S3.

locals {
  az_count = length(var.availability_zones)

  # Carved subnets: public ones from the bottom of the range, private ones from its upper half, so
  # adding a zone later never renumbers an existing subnet.
  private_offset = pow(2, var.subnet_newbits - 1)
  public_cidrs = length(var.public_subnet_cidrs) > 0 ? var.public_subnet_cidrs : [
    for i in range(local.az_count) : cidrsubnet(var.cidr_block, var.subnet_newbits, i)
  ]
  private_cidrs = length(var.private_subnet_cidrs) > 0 ? var.private_subnet_cidrs : [
    for i in range(local.az_count) : cidrsubnet(var.cidr_block, var.subnet_newbits, local.private_offset + i)
  ]

  nat_count       = var.nat_gateway_mode == "none" ? 0 : (var.nat_gateway_mode == "single" ? 1 : local.az_count)
  flow_logs_to_cw = var.flow_logs_destination == "cloud-watch-logs"
  flow_logs_on    = var.flow_logs_destination != "none"
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    precondition {
      condition     = length(local.public_cidrs) == local.az_count && length(local.private_cidrs) == local.az_count
      error_message = "public_subnet_cidrs and private_subnet_cidrs, when given, need one CIDR per availability zone."
    }
  }
}

# The default security group of a VPC allows all traffic between its members; nothing here uses
# it, so it is taken over and emptied (no ingress, no egress rules).
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-default-unused" })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_subnet" "public" {
  count = local.az_count

  vpc_id            = aws_vpc.this.id
  cidr_block        = local.public_cidrs[count.index]
  availability_zone = var.availability_zones[count.index]
  # Nothing launched here needs an automatic public address: the NAT gateways use Elastic IPs
  # and load balancers manage their own.
  map_public_ip_on_launch = false

  tags = merge(var.tags, {
    Name = "${var.name}-public-${var.availability_zones[count.index]}"
    Tier = "public"
  })
}

resource "aws_subnet" "private" {
  count = local.az_count

  vpc_id                  = aws_vpc.this.id
  cidr_block              = local.private_cidrs[count.index]
  availability_zone       = var.availability_zones[count.index]
  map_public_ip_on_launch = false

  tags = merge(var.tags, {
    Name = "${var.name}-private-${var.availability_zones[count.index]}"
    Tier = "private"
  })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = local.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

# Neither `vpc = true` (removed in provider v6) nor `domain = "vpc"` (not an argument before v5)
# is accepted by every supported provider version; without either, AWS allocates a VPC address
# in every account created since EC2-Classic was retired.
resource "aws_eip" "nat" {
  #checkov:skip=CKV2_AWS_19: these Elastic IPs belong to the NAT gateways (aws_nat_gateway.allocation_id), not to instances.
  count = local.nat_count

  tags = merge(var.tags, { Name = "${var.name}-nat-${var.availability_zones[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.nat_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = merge(var.tags, { Name = "${var.name}-${var.availability_zones[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

# One private route table per zone, so "per_az" NAT keeps each zone's traffic in the zone and a
# switch between modes only changes routes.
resource "aws_route_table" "private" {
  count = local.az_count

  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-private-${var.availability_zones[count.index]}" })
}

resource "aws_route" "private_nat" {
  count = local.nat_count > 0 ? local.az_count : 0

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[local.nat_count == 1 ? 0 : count.index].id
}

resource "aws_route_table_association" "private" {
  count = local.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# --- Flow logs -----------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "flow_logs" {
  #checkov:skip=CKV_AWS_158: the KMS key is optional (flow_logs_kms_key_arn); without one CloudWatch Logs still encrypts at rest with its own keys.
  count = local.flow_logs_to_cw ? 1 : 0

  name              = "/flowllama/vpc/${var.name}/flow-logs"
  retention_in_days = var.flow_logs_retention_days
  kms_key_id        = var.flow_logs_kms_key_arn

  tags = merge(var.tags, { Name = "${var.name}-flow-logs" })
}

resource "aws_iam_role" "flow_logs" {
  count = local.flow_logs_to_cw ? 1 : 0

  name = "${var.name}-vpc-flow-logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = merge(var.tags, { Name = "${var.name}-vpc-flow-logs" })
}

# Only the flow log group's own streams: create them and put events.
resource "aws_iam_role_policy" "flow_logs" {
  count = local.flow_logs_to_cw ? 1 : 0

  name = "write-flow-logs"
  role = aws_iam_role.flow_logs[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Allow"
      Action = [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
      ]
      Resource = [
        aws_cloudwatch_log_group.flow_logs[0].arn,
        "${aws_cloudwatch_log_group.flow_logs[0].arn}:*",
      ]
    }]
  })
}

resource "aws_flow_log" "this" {
  count = local.flow_logs_on ? 1 : 0

  vpc_id               = aws_vpc.this.id
  traffic_type         = var.flow_logs_traffic_type
  log_destination_type = var.flow_logs_destination
  log_destination      = local.flow_logs_to_cw ? aws_cloudwatch_log_group.flow_logs[0].arn : var.flow_logs_s3_bucket_arn
  iam_role_arn         = local.flow_logs_to_cw ? aws_iam_role.flow_logs[0].arn : null

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    precondition {
      condition     = var.flow_logs_destination != "s3" || var.flow_logs_s3_bucket_arn != null
      error_message = "flow_logs_destination = \"s3\" needs flow_logs_s3_bucket_arn."
    }
  }
}
