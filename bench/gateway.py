"""Benchmark the token gateway's overhead (issue 7): the same chat requests straight to a fast fake
upstream, through ``flowllama serve gateway``, and through LiteLLM's proxy, side by side in one run.

Setup: a fresh SQLite data dir with one user, one API key and one running deployment whose
server is the fake upstream, registered as an external OpenAI-compatible server (``cloud:
external``) and adopted by the agent's reconciler, as an administrator would set it up. The
fake upstream is a minimal HTTP/1.1 server (an ``asyncio.Protocol`` with ``httptools``, on
uvloop when importable, keep-alive) answering a fixed chat completion, or for
``"stream": true`` an SSE stream of 8 content events, a usage event when
``stream_options.include_usage`` is asked (the gateway always asks), then ``data: [DONE]``. The
gateway runs with one worker and ``FLOWLLAMA_LOG_LEVEL=info`` (its production setting: one access
log line per request, sent to /dev/null). LiteLLM's proxy (``--litellm``, one worker) gets a
generated config routing the model to the same upstream as ``openai/bench``.

Load: ``wrk`` (one thread, keep-alive; a generated Lua script POSTs the JSON body and reports
requests/s, p50/p99 and the error counts as JSON from ``done()``) for non-streaming chat at
concurrency 1 and 16; any non-2xx answer or socket error fails the run. Streams: a synchronous
raw-socket client, one keep-alive connection, timing the first ``data: {`` event (time to first
token) and the end of the stream.

Pinning assumes 2 cores: the proxy under test (gateway or LiteLLM) gets CPU 1 to itself; the
fake upstream and the load generator (wrk, the stream client, this script) share CPU 0. All
three servers stay up for the whole run (an idle proxy costs nothing), so paths are interleaved
round by round (round 1: direct, gateway, LiteLLM; round 2: ...) and drifting machine load hits
them alike. Each (case, path) is warmed up once before its first round; each figure reported is
the median over ``--rounds`` rounds of ``--seconds`` each.

Two more paths answer issue 17 in the same run (both optional):

* ``--baseline REF``: a second gateway running the code of git ref ``REF`` (exported with
  ``git archive`` and put first on its ``PYTHONPATH``), e.g. the commit before the ``/v1`` body
  validation, pinned like the gateway: ``gateway@REF``. The derived figures give the CPU per
  request and req/s of this tree relative to it (the validation must cost < 5 % more CPU).
  ``REF`` must have the same database migrations as this tree (both share one database).
* ``--processes``: ``flowllama serve gateway --workers 2`` (``gateway x2``) and a plain
  one-process ``serve gateway`` (``gateway x1``), both allowed on both CPUs, so neither is
  pinned to a busier CPU than the other; x2's CPU time counts the supervisor and both
  processes. The derived figures are x2's req/s over x1's, per case. On a 2-core host both
  compete with the upstream and wrk for CPU 0, so the ratio is a floor, not what a host with
  spare cores would see.

Code: this script reads the command line and runs a mode; the harness, the paths under test,
the load, the in-process runs and the figures are in bench/gateway_bench/ (one module each).

Run: python3 bench/gateway.py [--seconds 5] [--rounds 3] [--json] [--litellm PATH | --no-litellm]
                              [--baseline REF] [--processes]
     python3 bench/gateway.py --in-process-only --baseline REF [--rounds 3]
                              (only the in-process CPU per request of both trees; no wrk)
     python3 bench/gateway.py --in-process-only --validation [--rounds 9]
                              (the same for this tree with the /v1 body validation and with
                              it bypassed by a bare json.loads, alternating)
     python3 bench/gateway.py --serve-upstream PORT   (just the fake upstream)
"""

from __future__ import annotations

import os
import sys

# ``python3 bench/gateway.py`` puts bench/ first on sys.path, where bench/queue.py would shadow
# the standard library's ``queue`` (which asyncio's helpers import). It goes to the end instead:
# after the standard library and site-packages it shadows nothing, and this script's own
# package (bench/gateway_bench/) stays importable.
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(
    os.path.abspath(__file__)
):
    sys.path.pop(0)
sys.path.append(os.path.dirname(os.path.abspath(__file__)))

import argparse
import json
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from gateway_bench.figures import derived, print_tables
from gateway_bench.harness import UPSTREAM_CPU
from gateway_bench.in_process import (
    asgi_loop_child,
    in_process,
    in_process_figure,
    print_in_process_only,
)
from gateway_bench.litellm_proxy import default_litellm
from gateway_bench.load import check
from gateway_bench.measure import Results, measure, medians
from gateway_bench.paths import start_servers
from gateway_bench.upstream import serve_upstream


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="per round and case (whole s)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print every round as JSON")
    parser.add_argument("--litellm", default=default_litellm(),
                        help="the litellm executable (default: litellm on PATH, else "
                             "/tmp/litellm-venv/bin/litellm if present)")
    parser.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM path")
    parser.add_argument("--baseline", metavar="REF",
                        help="also run the gateway of git ref REF (same migrations)")
    parser.add_argument("--processes", action="store_true",
                        help="also run serve gateway --workers 2")
    parser.add_argument("--in-process", action="store_true",
                        help="with --baseline: also the /v1 app's CPU per request in process")
    parser.add_argument("--in-process-only", action="store_true",
                        help="with --baseline: only the in-process CPU per request (no wrk)")
    parser.add_argument("--validation", action="store_true",
                        help="with --in-process-only: this tree with the /v1 body validation "
                             "against the same tree with it bypassed (json.loads only)")
    parser.add_argument("--serve-upstream", type=int, metavar="PORT",
                        help="only run the fake upstream on PORT")
    parser.add_argument("--asgi-loop", nargs=5,
                        metavar=("PORT", "DATA_DIR", "KEY", "REQUESTS", "CONCURRENCY"),
                        help=argparse.SUPPRESS)  # one in_process() run, in a child process
    return parser.parse_args()


def _wrk_run(args: argparse.Namespace, litellm: str | None
             ) -> tuple[Results, dict[str, float]]:
    """The main mode: start every path, check each answers, then the in-process runs (with
    ``--in-process --baseline``) and the wrk rounds: (every round's results, in-process
    medians)."""
    if shutil.which("wrk") is None:
        sys.exit("bench/gateway.py needs wrk on PATH (apt-get install -y wrk)")
    if (os.cpu_count() or 1) < 2:
        print("warning: fewer than 2 CPUs, nothing is pinned", file=sys.stderr)
    elif hasattr(os, "sched_setaffinity"):  # this script is part of the load generator
        os.sched_setaffinity(0, {UPSTREAM_CPU})
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        targets = start_servers(stack, Path(tmp), litellm, baseline=args.baseline,
                                processes=args.processes)
        for target in targets:
            check(target)
        inproc = {}
        if args.in_process and args.baseline:
            print("in-process /v1 runs", file=sys.stderr, flush=True)
            key = targets[1].headers["Authorization"].removeprefix("Bearer ")
            inproc = in_process(targets[0].port, Path(tmp), key, {
                "gateway": {}, f"gateway@{args.baseline}": {
                    "PYTHONPATH": str(Path(tmp) / "baseline" / "src")}}, max(args.rounds, 3))
        results = measure(targets, args.seconds, args.rounds, Path(tmp),
                          lambda line: print(line, file=sys.stderr, flush=True))
    return results, inproc


def _report(args: argparse.Namespace, litellm: str | None, results: Results,
            inproc: dict[str, float]) -> None:
    """Print the medians and derived figures: as JSON with ``--json``, else as tables."""
    table = medians(results)
    figures: list[dict[str, Any]] = derived(table)
    figures.extend(in_process_figure(inproc))
    if args.json:
        print(json.dumps({"seconds": args.seconds, "rounds": results, "median": table,
                          "derived": figures, "in_process_cpu_us": inproc,
                          "litellm": litellm}, indent=2))
    else:
        print_tables(table, figures, args.rounds)
        print("in-process /v1 CPU µs/req (median):",
              ", ".join(f"{name} {value:.0f}" for name, value in inproc.items()) or "-")


def main() -> None:
    args = _arguments()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return
    if args.asgi_loop:
        asgi_loop_child(args.asgi_loop)
        return
    if args.in_process_only:
        print_in_process_only(None if args.validation else args.baseline, args.rounds,
                              args.validation)
        return
    litellm = None if args.no_litellm else args.litellm
    results, inproc = _wrk_run(args, litellm)
    _report(args, litellm, results, inproc)


if __name__ == "__main__":
    main()
