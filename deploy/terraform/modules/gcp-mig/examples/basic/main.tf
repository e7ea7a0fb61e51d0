provider "google" {
  project = var.project_id
  region  = "us-central1"
}

module "mig" {
  source = "../.."

  name              = "fl-example"
  project_id        = var.project_id
  instance_template = var.instance_template
  zone              = "us-central1-a"
}
