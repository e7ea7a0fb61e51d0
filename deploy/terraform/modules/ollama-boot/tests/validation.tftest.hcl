# Input validation and rendering logic, run with the real engine: `terraform test` (no provider).

variables {
  name          = "fl-test"
  cloud         = "aws"
  ollama_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  model         = "llama3.2:1b"
}

run "renders_settings_as_base64_json" {
  command = apply

  variables {
    display_name = "a \"b\" $(c) `d` $${e} %%{f}"
  }

  assert {
    condition     = jsondecode(base64decode(output.settings_base64)).FLOWLLAMA_DISPLAY_NAME == "a \"b\" $(c) `d` $${e} %%{f}"
    error_message = "the display name must round-trip through the settings exactly"
  }

  assert {
    condition     = !strcontains(output.user_data, "$(c)") && strcontains(output.user_data, output.settings_base64)
    error_message = "user text must reach the script only inside the base64 settings"
  }

  assert {
    condition     = jsondecode(base64decode(output.settings_base64)).OLLAMA_HOST == "0.0.0.0:11434"
    error_message = "OLLAMA_HOST must default to 0.0.0.0:11434"
  }
}

run "rejects_a_model_with_shell_syntax" {
  command = plan

  variables {
    model = "llama3$(reboot)"
  }

  expect_failures = [var.model]
}

run "rejects_a_bad_checksum" {
  command = plan

  variables {
    ollama_sha256 = "not-a-checksum"
  }

  expect_failures = [var.ollama_sha256]
}

run "rejects_an_unknown_cloud" {
  command = plan

  variables {
    cloud = "azure"
  }

  expect_failures = [var.cloud]
}

run "rejects_a_foreign_cache_uri" {
  command = plan

  variables {
    model_cache_uri = "https://example.com/models"
  }

  expect_failures = [var.model_cache_uri]
}

run "rejects_a_fractional_context" {
  command = plan

  variables {
    context_length = 1000.5
  }

  expect_failures = [var.context_length]
}
