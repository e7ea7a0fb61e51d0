"""Files under the data dir are private: the dir 0700, the files every command writes 0600
(serving processes, `db upgrade`, `user create`), and a database left readable is tightened."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from flowllama.db.session import sqlite_file
from flowllama.platform import build_platform
from flowllama.private_files import ensure_private_dir, secure_data_dir
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


def _flowllama(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The ``flowllama`` command in a fresh process with the usual umask 022 (the umask is
    process-wide, so not in the test process), its data dir ``data``, SQLite there."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("FLOWLLAMA_")}
    env.update(PYTHONPATH=os.pathsep.join(sys.path), FLOWLLAMA_DATA_DIR=str(data))
    result = subprocess.run([sys.executable, "-c", "from flowllama.cli import main; main()",
                             *args], input=stdin, env=env, capture_output=True, text=True,
                            timeout=120, check=False, preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _files(data: Path) -> dict[str, int]:
    return {str(path.relative_to(data)): _mode(path) for path in data.rglob("*")}


def test_db_upgrade_on_a_fresh_data_dir_writes_it_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    _flowllama(data, "db", "upgrade")
    assert _mode(data) == 0o700
    files = _files(data)
    assert "flowllama.db" in files
    assert {name: mode for name, mode in files.items()
            if mode & 0o077} == {}, "every file 0600, every folder 0700"


def test_user_create_writes_the_database_and_secret_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _flowllama(data, "user", "create", "--email", "a@example.com", "--password-stdin",
               stdin="correct horse battery staple 42\n")
    files = _files(data)
    assert files["flowllama.db"] == 0o600 and files["jwt_secret"] == 0o600
    assert _mode(data) == 0o700


def test_a_database_left_readable_is_tightened_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _flowllama(data, "db", "upgrade")
    data.chmod(0o755)
    left_open = ["flowllama.db", "flowllama.db-wal", "flowllama.db-shm"]
    for name in left_open:
        (data / name).touch()
        (data / name).chmod(0o644)
    (data / "notes.txt").write_text("not ours to judge")
    (data / "notes.txt").chmod(0o644)
    _flowllama(data, "db", "upgrade")
    assert _mode(data) == 0o700
    assert _mode(data / "flowllama.db") == 0o600
    # SQLite deletes an empty WAL and its index when the last connection closes; one that is
    # still there was tightened (test_secure_data_dir_... checks each companion).
    assert {name: _mode(data / name) for name in left_open if (data / name).exists()} \
        == {name: 0o600 for name in left_open if (data / name).exists()}
    assert _mode(data / "notes.txt") == 0o644  # only the database's files are chmod'ed


def test_web_export_keeps_the_site_readable_for_a_web_server(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _flowllama(tmp_path / "data", "web", "export", str(site),
               "--api-url", "https://api.example.com")
    files = [path for path in site.rglob("*") if path.is_file()]
    assert files and all(_mode(path) & 0o044 == 0o044 for path in files)


def test_secure_data_dir_tightens_the_sqlite_file_and_its_companions(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere" / "state.sqlite"
    database.parent.mkdir()
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = database.with_name(database.name + suffix)
        path.touch()
        path.chmod(0o664)
    secure_data_dir(tmp_path / "data", sqlite_file(f"sqlite:///{database}"))
    assert _mode(tmp_path / "data") == 0o700
    assert {_mode(path) for path in database.parent.iterdir()} == {0o600}
    assert sqlite_file("postgresql://u@127.0.0.1/db") is None
    assert sqlite_file("sqlite://") is None
