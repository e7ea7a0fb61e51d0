terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 4.0.0-4.8.0 made the bucket's inline versioning/encryption/lifecycle blocks read-only
      # (4.9.0 restored them); the module relies on those blocks, see README "Provider versions".
      version = ">= 3.39, < 7.0, != 4.0.0, != 4.1.0, != 4.2.0, != 4.3.0, != 4.4.0, != 4.5.0, != 4.6.0, != 4.7.0, != 4.8.0"
    }
  }
}
