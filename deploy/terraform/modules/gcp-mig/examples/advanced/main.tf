# A regional group of two servers over two zones with the GPU, replaced in place (RECREATE) on a
# template change so no spare GPU is needed.
provider "google" {
  project = var.project_id
  region  = "us-central1"
}

module "mig" {
  source = "../.."

  name                          = "fl-regional"
  project_id                    = var.project_id
  instance_template             = var.instance_template
  regional                      = true
  region                        = "us-central1"
  distribution_zones            = ["us-central1-a", "us-central1-b"]
  target_size                   = 2
  replacement_method            = "RECREATE"
  autohealing_initial_delay_sec = 1200
  labels                        = { project = "flowllama", environment = "prod" }
}
