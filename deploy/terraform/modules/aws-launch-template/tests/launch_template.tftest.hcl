# Template logic with a mocked provider: AMI source, IMDSv2, encryption, Spot, user data.

mock_provider "aws" {
  mock_data "aws_ssm_parameter" {
    defaults = { value = "ami-0fedcba9876543210" }
  }
}

variables {
  name               = "tlt"
  instance_type      = "g5.xlarge"
  security_group_ids = ["sg-0123456789abcdef0"]
}

run "ssm_lookup_imdsv2_encrypted_on_demand" {
  command = plan

  assert {
    condition     = aws_launch_template.this.image_id == "ami-0fedcba9876543210" && length(data.aws_ssm_parameter.ami) == 1
    error_message = "Without ami_id the AMI comes from SSM."
  }
  assert {
    condition     = aws_launch_template.this.metadata_options[0].http_tokens == "required" && aws_launch_template.this.metadata_options[0].http_put_response_hop_limit == 1
    error_message = "IMDSv2 only, hop limit 1."
  }
  assert {
    condition     = aws_launch_template.this.block_device_mappings[0].ebs[0].encrypted == "true" && aws_launch_template.this.block_device_mappings[0].ebs[0].volume_size == 100
    error_message = "Encrypted root volume of root_volume_gb."
  }
  assert {
    condition     = length(aws_launch_template.this.instance_market_options) == 0
    error_message = "On-demand unless spot."
  }
  assert {
    condition     = aws_launch_template.this.user_data == null
    error_message = "No user data when none is given."
  }
  assert {
    condition     = toset([for t in aws_launch_template.this.tag_specifications : t.resource_type]) == toset(["instance", "volume"])
    error_message = "Instances and volumes are tagged."
  }
}

run "explicit_ami_spot_kms_user_data" {
  command = plan

  variables {
    ami_id         = "ami-0123456789abcdef0"
    spot           = true
    spot_max_price = "0.50"
    kms_key_arn    = "arn:aws:kms:us-east-1:123456789012:key/abc"
    root_volume_gb = 300
    user_data      = "#!/bin/bash\necho \"$(hostname)\"\n"
    user_data_gzip = false
  }

  assert {
    condition     = aws_launch_template.this.image_id == "ami-0123456789abcdef0" && length(data.aws_ssm_parameter.ami) == 0
    error_message = "An explicit ami_id skips the lookup."
  }
  assert {
    condition     = aws_launch_template.this.instance_market_options[0].market_type == "spot" && aws_launch_template.this.instance_market_options[0].spot_options[0].max_price == "0.50"
    error_message = "Spot with the price cap."
  }
  assert {
    condition     = aws_launch_template.this.block_device_mappings[0].ebs[0].kms_key_id == "arn:aws:kms:us-east-1:123456789012:key/abc"
    error_message = "The KMS key encrypts the root volume."
  }
  assert {
    condition     = base64decode(aws_launch_template.this.user_data) == "#!/bin/bash\necho \"$(hostname)\"\n"
    error_message = "User data is the script text, base64-encoded, unchanged."
  }
}

run "user_data_goes_gzip_compressed_by_default" {
  command = plan

  variables {
    ami_id    = "ami-0123456789abcdef0"
    user_data = "#!/bin/bash\necho \"$(hostname)\"\n"
  }

  assert {
    condition     = aws_launch_template.this.user_data == base64gzip("#!/bin/bash\necho \"$(hostname)\"\n")
    error_message = "User data is the script text, gzip-compressed and base64-encoded."
  }
}

run "rejects_user_data_over_16_kib_compressed" {
  command = plan

  variables {
    ami_id = "ami-0123456789abcdef0"
    # Hex digests barely compress: about 30 KiB gzip-compressed.
    user_data = join("", [for i in range(1000) : sha256(tostring(i))])
  }

  expect_failures = [aws_launch_template.this]
}

run "rejects_tiny_root_volume" {
  command = plan

  variables {
    root_volume_gb = 8
  }

  expect_failures = [var.root_volume_gb]
}

run "rejects_bad_ami" {
  command = plan

  variables {
    ami_id = "ubuntu"
  }

  expect_failures = [var.ami_id]
}

run "needs_a_security_group" {
  command = plan

  variables {
    security_group_ids = []
  }

  expect_failures = [var.security_group_ids]
}
