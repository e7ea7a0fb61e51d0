from __future__ import annotations

from pathlib import Path

from flowllama.devtools.terraform_docs import expected_readme, main, readme_diff

VARIABLES = '''
variable "name" {
  description = "Name prefix | for every resource."
  type        = string
}

variable "settings" {
  description = <<-EOT
    Several
    lines.
  EOT
  type = object({
    port = number
    tags = optional(map(string), {})
  })
  default = {
    port = 11434
    tags = { "flowllama:deployment" = "d1" }
  }

  validation {
    condition     = var.settings.port > 0
    error_message = "type = nope"
  }
}

variable "zones" {
  type        = list(string)
  default     = []
  description = "Zones."
}

variable "enabled" {
  type        = bool
  default     = true
  description = "On."
}

variable "extra" {
  type        = any
  default     = null
  description = "Say \\"hi\\"."
}
'''
OUTPUTS = '''
output "vpc_id" {
  description = "The VPC's id."
  value       = "x"
}
'''
TABLES = """## Inputs

| Name | Description | Type | Default | Required |
|------|-------------|------|---------|:--------:|
| `name` | Name prefix \\| for every resource. | `string` | n/a | yes |
| `settings` | Several lines. | `object({ port = number tags = optional(map(string), {}) })` \
| `{"port":11434,"tags":{"flowllama:deployment":"d1"}}` | no |
| `zones` | Zones. | `list(string)` | `[]` | no |
| `enabled` | On. | `bool` | `true` | no |
| `extra` | Say "hi". | `any` | `null` | no |

## Outputs

| Name | Description |
|------|-------------|
| `vpc_id` | The VPC's id. |
"""


def _module(tmp_path: Path, readme: str) -> Path:
    (tmp_path / "variables.tf").write_text(VARIABLES)
    (tmp_path / "outputs.tf").write_text(OUTPUTS)
    (tmp_path / "README.md").write_text(readme)
    return tmp_path


def test_tables_follow_the_code_in_declaration_order(tmp_path: Path) -> None:
    module = _module(tmp_path, "# m\n\nPurpose.\n\n## Inputs\n\n## Outputs\n\n"
                               "## Provider versions\n\nNone.\n")
    wanted = f"# m\n\nPurpose.\n\n{TABLES}\n## Provider versions\n\nNone.\n"
    assert expected_readme(module) == wanted


def test_an_up_to_date_readme_has_no_diff(tmp_path: Path) -> None:
    module = _module(tmp_path, f"# m\n\n{TABLES}")
    assert readme_diff(module) == ""
    assert main(["--check", str(module)]) == 0


def test_check_reports_drift_and_write_fixes_it_keeping_the_prose(tmp_path: Path) -> None:
    stale = TABLES.replace("| `zones` | Zones.", "| `zones` | Old text.")
    module = _module(tmp_path, f"# m\n\nIntro.\n\n{stale}\nMore prose.\n")
    assert "Old text" in readme_diff(module)
    assert main(["--check", str(module)]) == 1
    assert main(["--write", str(module)]) == 0
    assert main(["--check", str(module)]) == 0
    text = (module / "README.md").read_text()
    assert "Intro." in text and "More prose." in text and "Old text" not in text


def test_missing_sections_are_added(tmp_path: Path) -> None:
    module = _module(tmp_path, "# m\n")
    main(["--write", str(module)])
    assert (module / "README.md").read_text() == f"# m\n\n{TABLES}"
