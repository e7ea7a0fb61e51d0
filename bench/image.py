"""Container image size: the multi-stage Dockerfile against a single-stage build of it.

deploy/docker/Dockerfile installs the host-built wheels in a ``build`` stage and copies only
the virtual environment (without pip) into the final stage. Its ``build`` target, taken as the
final image, is what a single-stage Dockerfile ships: the same base and venv plus the wheel
directory, pip and setuptools. This script builds, in one run on one machine, both pairs:

  runtime   vs build            (the platform, no inference engine)
  llamacpp  vs build-llamacpp   (with llama-cpp-python for CPU serving)

The base is the local mmdebstrap one (Debian bookworm minbase + python3, python3-venv,
ca-certificates; no registry is reachable here), imported under the Dockerfile's FROM name;
its size is reported so that the layers the Dockerfile adds can be compared on their own.

Run (as root, with podman, runc, mmdebstrap): python bench/image.py [--no-llamacpp]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from flowllama.devtools.container_image import (
    BASE_IMAGE,
    Podman,
    build_context,
    build_image,
    dependency_wheels,
    ensure_base_image,
    image_size,
    podman,
)

REPO = Path(__file__).resolve().parents[1]
PAIRS = {(): ("runtime", "build"), ("llamacpp",): ("llamacpp", "build-llamacpp")}
MB = 1_000_000


def measure(tool: Podman, extras: tuple[str, ...], base_size: int) -> list[str]:
    """Build one multi-stage target and its single-stage baseline; table rows."""
    final, single = PAIRS[extras]
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        context = build_context(REPO, dependency_wheels(REPO, extras), Path(tmp) / "context")
        for target in (final, single):
            started = time.monotonic()
            tag = build_image(tool, REPO, context, f"localhost/flowllama-bench:{target}",
                              target=target)
            sizes[target] = image_size(tool, tag)
            print(f"  built {target} in {time.monotonic() - started:.0f} s")
            tool.run("rmi", "--force", tag, what="podman rmi")
    added = {target: size - base_size for target, size in sizes.items()}
    return [f"| {final} (multi-stage) | {sizes[final] / MB:.0f} | {added[final] / MB:.0f} | "
            f"{sizes[final] / sizes[single]:.2f} |",
            f"| {single} (single-stage baseline) | {sizes[single] / MB:.0f} | "
            f"{added[single] / MB:.0f} | 1.00 |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-llamacpp", action="store_true",
                        help="skip the llamacpp pair (its wheel compiles ~20 min if pip has "
                             "none cached)")
    args = parser.parse_args()
    tool = podman()
    ensure_base_image(tool)
    base_size = image_size(tool, BASE_IMAGE)
    rows = []
    for extras in PAIRS:
        if extras and args.no_llamacpp:
            continue
        rows += measure(tool, extras, base_size)
    print(f"\n{platform.node()}: Python {platform.python_version()}, base {BASE_IMAGE} "
          f"(local mmdebstrap build) {base_size / MB:.0f} MB\n")
    print("| image (target) | size MB | MB above base | size / single-stage |")
    print("|---|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
