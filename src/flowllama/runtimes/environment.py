"""The environment a runtime process inherits: an allow-list, never the whole parent environment.

FlowLlama's own process holds secrets (JWT secret, database URL, cloud credentials) that an
inference server has no use for, and llama-cpp-python's server reads unprefixed variables such as
``API_KEY`` or ``CONFIG_FILE`` as its own settings. Passing only what a server needs (paths,
locale, GPU selection, proxies and CA certificates for model downloads) avoids both leaks and
surprises.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

PASSTHROUGH = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
    "SYSTEMROOT", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH",
    "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME",
    "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "HSA_OVERRIDE_GFX_VERSION",
    "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR",
})
PASSTHROUGH_PREFIXES = ("LC_",)


def inherited_environment(source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed variables of ``source`` (default: this process's environment)."""
    source = os.environ if source is None else source
    return {
        name: value
        for name, value in source.items()
        if name in PASSTHROUGH or name.startswith(PASSTHROUGH_PREFIXES)
    }


def runtime_environment(
    managed: Mapping[str, str],
    extra: Mapping[str, str],
    source: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Inherited variables, then the operator's ``extra``, then ``managed`` (which always wins).

    ``managed`` holds what FlowLlama itself decides (address, model directory, limits), so an
    extra variable can tune a runtime but never move it off its port or models directory.
    """
    env = inherited_environment(source)
    env.update(extra)
    env.update(managed)
    return env
