"""How the local provisioner wires a runtime: plainly on its loopback port, or isolated in a
private network namespace (:mod:`.isolation`) behind its supervisor's keyed front
(:mod:`.keyed_front`).

With runtime keys on, a runtime that checks the key itself (llama.cpp) runs plainly; one that
cannot (Ollama) runs isolated, and where this machine cannot isolate it, it is refused unless the
operator allowed unisolated runtimes. :func:`isolated` decides once per launch; the rest takes
its answer.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import structlog

from flowllama.private_files import ensure_private_dir
from flowllama.providers.base import Unsupported
from flowllama.providers.local import isolation, keyed_front
from flowllama.providers.local.options import LocalOptions
from flowllama.providers.local.supervision import FrontSpec
from flowllama.runtimes import Runtime, RuntimeLaunch

log = structlog.get_logger(__name__)

SOCKETS_DIR = "sockets"  # under the root, 0700: the Unix sockets of isolated runtimes
# The runtime's port inside its own namespace, where every port is free: Ollama's default.
INNER_PORT = 11434


def isolated(options: LocalOptions, runtime: Runtime) -> bool:
    """Whether ``runtime``, launched now, runs isolated behind a keyed front: with runtime keys
    on, every runtime that cannot check the key itself does.

    Raises ``Unsupported`` when this machine cannot isolate it and the operator did not allow
    unisolated runtimes (then it would answer any local process)."""
    if options.runtime_keys is None or runtime.enforces_api_key:
        return False
    reason = isolation.unavailable_reason(options.python)
    if reason is None:
        return True
    if options.allow_unisolated:
        log.warning("local.unisolated_runtime", runtime=runtime.name, reason=reason)
        return False
    raise Unsupported(
        f"The {runtime.name} runtime cannot check a key, so FlowLlama runs it in a private "
        f"network namespace behind a keyed front, but this machine cannot create one "
        f"({reason}). Allow unprivileged user namespaces (sysctl "
        "user.max_user_namespaces > 0; on Ubuntu also "
        "kernel.apparmor_restrict_unprivileged_userns=0), or, on a single-user host only, "
        "set FLOWLLAMA_AGENT__LOCAL_ALLOW_UNISOLATED_OLLAMA=true to run it on loopback "
        "where any local process can call it."
    )


def keyed(options: LocalOptions, runtime: Runtime, is_isolated: bool) -> bool:
    """Whether ``runtime`` refuses requests without its key (itself, or through its keyed
    front); ``is_isolated`` is :func:`isolated`'s answer for this launch."""
    return options.runtime_keys is not None and (runtime.enforces_api_key or is_isolated)


def runtime_process(options: LocalOptions, root: Path, server_key: str, runtime: Runtime,
                    launch: RuntimeLaunch, *, is_isolated: bool,
                    ) -> tuple[list[str], dict[str, str], FrontSpec | None]:
    """The runtime's command and environment for the supervisor, and the keyed front it serves
    when ``is_isolated`` (the runtime then listens on ``INNER_PORT`` inside its namespace, the
    front on ``launch.port``, and the key is in the supervisor's environment only).

    Raises ``ValueError`` for an isolated launch without a key (a programming error: isolation
    is only chosen with runtime keys on)."""
    if not is_isolated:
        return runtime.command(launch), runtime.environment(launch), None
    if launch.api_key is None:
        raise ValueError("an isolated runtime needs its runtime key")
    inner = replace(launch, port=INNER_PORT)
    ensure_private_dir(root / SOCKETS_DIR)
    front = FrontSpec(port=launch.port, runtime_socket=f"{SOCKETS_DIR}/{server_key}.sock",
                      egress_socket=f"{SOCKETS_DIR}/{server_key}.egress.sock")
    command = isolation.wrap(options.python, front.runtime_socket, front.egress_socket, inner.port,
                             runtime.command(inner))
    env = runtime.environment(inner)
    env[keyed_front.KEY_ENV] = launch.api_key
    return command, env, front
