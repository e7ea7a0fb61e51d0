#!/usr/bin/env python3
"""Container HEALTHCHECK: exit 0 when the role's HTTP /health answers 200, else 1.

The URL is ``FLOWLLAMA_HEALTHCHECK_URL`` when set (e.g. the metrics listener of an ``agent``
or ``monitor`` container, which serve no HTTP app), else ``/health`` on ``FLOWLLAMA_PORT``
on loopback. Standard library only: the image has no curl.
"""

import os
import sys
import urllib.request

url = os.environ.get("FLOWLLAMA_HEALTHCHECK_URL") or (
    f"http://127.0.0.1:{os.environ.get('FLOWLLAMA_PORT', '8000')}/health")
try:
    with urllib.request.urlopen(url, timeout=4) as response:  # noqa: S310 - our own URL
        sys.exit(0 if response.status == 200 else 1)
except OSError as exc:
    print(f"unhealthy: {url}: {exc}", file=sys.stderr)
    sys.exit(1)
