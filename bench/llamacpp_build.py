"""How long installing the ``llamacpp`` extra takes, and what a leaner build saves (issue 19).

``llama-cpp-python`` is published only as a source package, so ``pip install '.[llamacpp]'``
compiles llama.cpp. This builds the wheel of one version from the same downloaded source
package once per variant, one after the other, with pip's cache off, and times each build:

* ``default``: what ``pip install`` does (scikit-build-core drives CMake and Ninja, which
  already uses every core);
* ``no-llava``: ``CMAKE_ARGS=-DLLAVA_BUILD=OFF``, which skips the multimodal (LLaVA/mtmd)
  library; FlowLlama serves text models only.

Each wheel is then installed into a throwaway virtual environment (``--no-deps``, the machine's
packages visible) and ``llama_cpp.server.app`` imported, so a variant that saves time but cannot
serve shows up as failed. Each build takes 15-25 minutes on 2 cores: one build per variant, no
median (say so when quoting the figures).

Run: python3 bench/llamacpp_build.py [--version 0.3.36] [--variants default,no-llava] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = {"default": "", "no-llava": "-DLLAVA_BUILD=OFF"}


def _download(version: str, into: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                    f"llama-cpp-python=={version}", "-d", str(into), "-q"], check=True)
    (sdist,) = into.glob("llama_cpp_python-*.tar.gz")
    return sdist


def _build(sdist: Path, cmake_args: str, out: Path) -> tuple[float, Path]:
    env = {k: v for k, v in os.environ.items() if k != "CMAKE_ARGS"}
    if cmake_args:
        env["CMAKE_ARGS"] = cmake_args
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-q",
                    str(sdist), "-w", str(out)], check=True, env=env)
    seconds = time.monotonic() - started
    (wheel,) = out.glob("llama_cpp_python-*.whl")
    return seconds, wheel


def _serves(wheel: Path, venv: Path) -> bool:
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q",
                    str(wheel)],
                   check=True)
    probe = subprocess.run([str(python), "-c", "import llama_cpp, llama_cpp.server.app; "
                            "print(llama_cpp.__file__)"], capture_output=True, text=True,
                           check=False)
    return probe.returncode == 0 and str(venv) in probe.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default="0.3.36")
    parser.add_argument("--variants", default="default,no-llava")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        sdist = _download(args.version, root / "sdist")
        for name in args.variants.split(","):
            seconds, wheel = _build(sdist, VARIANTS[name], root / name)
            rows.append({"variant": name, "cmake_args": VARIANTS[name],
                         "build_s": round(seconds, 1),
                         "wheel_mb": round(wheel.stat().st_size / 1e6, 1),
                         "serves": _serves(wheel, root / f"venv-{name}")})
            print(json.dumps(rows[-1]) if args.json else
                  f"{name:10} {seconds:7.1f} s  wheel {rows[-1]['wheel_mb']} MB  "
                  f"serves={rows[-1]['serves']}", flush=True)
    base = rows[0]["build_s"]
    for row in rows[1:]:
        print(f"{row['variant']} / {rows[0]['variant']}: {row['build_s'] / base:.2f}x")


if __name__ == "__main__":
    main()
