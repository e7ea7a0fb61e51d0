"""Files under the data dir are private: the dir 0700, the files serving processes write 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from flowllama.platform import build_platform
from flowllama.private_files import ensure_private_dir
from flowllama.settings import Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_dir_is_created_0700_and_tightened_if_open(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh" / "data"
    ensure_private_dir(fresh)
    assert _mode(fresh) == 0o700
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    open_dir.chmod(0o755)
    ensure_private_dir(open_dir)
    assert _mode(open_dir) == 0o700


def test_build_platform_makes_the_data_dir_private(settings: Settings) -> None:
    build_platform(settings).close()
    assert _mode(settings.data_dir) == 0o700


def test_serving_process_writes_database_and_files_0600(tmp_path: Path) -> None:
    """What ``flowllama serve`` does before anything else, in a fresh interpreter (the umask
    is process-wide, so not in the test process)."""
    script = (
        "import os, sqlite3, sys\n"
        "from pathlib import Path\n"
        "from flowllama.server import _prepare\n"
        "from flowllama.settings import Settings\n"
        "data = Path(sys.argv[1])\n"
        "platform = _prepare(Settings(env='test', data_dir=data), ['api'])\n"
        "(data / 'runtime.log').write_text('x')\n"
        "platform.close()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "data")], check=True, env=env,
                   timeout=120, capture_output=True)
    data = tmp_path / "data"
    assert _mode(data) == 0o700
    for name in ("flowllama.db", "runtime.log", "jwt_secret"):
        assert _mode(data / name) == 0o600, name
