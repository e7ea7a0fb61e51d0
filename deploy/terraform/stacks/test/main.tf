# A stand-in for a cloud server stack made only of Terraform's built-in terraform_data resource:
# it needs no provider download and no cloud, yet init/plan/apply/destroy, outputs, failures and
# clean-up all run for real.

terraform {
  required_version = ">= 1.5.0"
}

# The "server". Its input echoes every value it was given so tests can check they arrived
# verbatim.
resource "terraform_data" "server" {
  input = {
    name          = var.deployment_name
    display_name  = var.display_name
    model         = var.model
    context_size  = var.context_size
    region        = var.region
    instance_type = var.instance_type
    spot          = var.spot
    tags          = var.tags
    running       = var.running
    public_ip     = var.public_ip
    port          = var.port
  }
}

# Simulated boot time, only when asked: lets a test kill the process in the middle of an apply.
# "sleep" is the interpreter and the validated number its only argument: no shell is involved.
resource "terraform_data" "boot" {
  count            = var.apply_delay_seconds > 0 ? 1 : 0
  triggers_replace = [terraform_data.server.id]

  provisioner "local-exec" {
    interpreter = ["sleep"]
    command     = tostring(var.apply_delay_seconds)
  }
}

# Created after the server. With fail_after_first the precondition fails at apply time (it
# depends on the server's id, unknown at plan time), so the apply stops halfway: the server
# exists and this resource does not.
resource "terraform_data" "attachment" {
  input      = terraform_data.server.id
  depends_on = [terraform_data.boot]

  lifecycle {
    precondition {
      condition     = !var.fail_after_first || terraform_data.server.id == ""
      error_message = var.failure_message
    }
  }
}
