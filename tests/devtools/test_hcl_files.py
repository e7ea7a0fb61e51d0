from __future__ import annotations

from pathlib import Path

import pytest

from flowllama.devtools.hcl_files import HclParseError, labelled_blocks, literal, load_hcl


def test_blocks_labels_and_literals(tmp_path: Path) -> None:
    path = tmp_path / "main.tf"
    path.write_text('resource "aws_vpc" "this" {\n  cidr_block = "10.0.0.0/16"\n'
                    '  tags = { "flowllama:deployment" = "d \\"1\\"" }\n  count = 2\n}\n'
                    'variable "v" {\n  description = <<-EOT\n    two\n    lines\n  EOT\n}\n')
    parsed = load_hcl(path)
    [((tf_type, name), body)] = list(labelled_blocks(parsed, "resource", 2))
    assert (tf_type, name) == ("aws_vpc", "this")
    assert literal(body["cidr_block"]) == "10.0.0.0/16"
    assert literal(body["tags"]) == {"flowllama:deployment": 'd "1"'}
    assert literal(body["count"]) == 2
    [((var,), var_body)] = list(labelled_blocks(parsed, "variable", 1))
    assert var == "v" and literal(var_body["description"]).split() == ["two", "lines"]


def test_unparsable_files_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.tf"
    path.write_text('resource "x" {\n  a = \n')
    with pytest.raises(HclParseError, match=r"bad\.tf"):
        load_hcl(path)
