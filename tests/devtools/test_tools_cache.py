from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flowllama.devtools.tools_cache import ToolUnavailable, cached_directory, run_tool

# Two processes race for one entry: each appends to a log when its build runs.
RACER = """
import sys, time
from pathlib import Path
from flowllama.devtools.tools_cache import cached_directory

def build(work, final):
    with open(sys.argv[2], "a") as log:
        log.write("built\\n")
    time.sleep(0.5)
    (work / "done").write_text(str(final))

print(cached_directory("entry", build, Path(sys.argv[1])))
"""


def test_an_entry_is_built_once_even_when_two_processes_race(tmp_path: Path) -> None:
    cache, log = tmp_path / "cache", tmp_path / "log"
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(cache), str(log)],
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outputs == [str(cache / "entry")] * 2
    assert log.read_text() == "built\n"
    assert (cache / "entry" / "done").read_text() == str(cache / "entry")
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == ["entry"]


def test_a_failed_build_leaves_nothing_and_the_next_call_builds_again(tmp_path: Path) -> None:
    def broken(work: Path, _final: Path) -> None:
        (work / "half").write_text("x")
        raise ToolUnavailable("download failed")

    with pytest.raises(ToolUnavailable, match="download failed"):
        cached_directory("entry", broken, tmp_path)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []
    built = cached_directory("entry", lambda work, _f: (work / "ok").write_text("1"), tmp_path)
    assert (built / "ok").read_text() == "1"


def test_run_tool_names_the_failed_step_and_its_output() -> None:
    with pytest.raises(ToolUnavailable, match=r"(?s)step x failed \(exit 3\).*boom"):
        run_tool([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], "step x")
    with pytest.raises(ToolUnavailable, match="missing-tool"):
        run_tool(["/nonexistent/missing-tool"], "missing-tool")


def test_run_tool_feeds_stdin_sets_env_and_can_return_a_failure(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("from stdin\n")
    script = ("import os, sys; data = sys.stdin.read(); print(data.strip(), os.environ['X']); "
              "sys.exit(3)")
    with source.open("rb") as stdin:
        result = run_tool([sys.executable, "-c", script], "echo", stdin=stdin,
                          env={"X": "set", "PATH": "/usr/bin:/bin"}, check=False)
    assert (result.returncode, result.stdout.strip()) == (3, "from stdin set")
    with source.open("rb") as stdin, pytest.raises(ToolUnavailable, match="exit 3"):
        run_tool([sys.executable, "-c", script], "echo", stdin=stdin, env={"X": "set"})
