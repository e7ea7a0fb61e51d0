"""The pieces of ``bench/gateway.py`` (the gateway overhead benchmark), one concept a module.

* :mod:`.harness`: the processes under test (CPU pinning, start and readiness, the fake
  upstream's process), the shared request body and CPU numbers.
* :mod:`.upstream`: the fake upstream server itself.
* :mod:`.seed`: the data dir (user, key, the upstream registered as an external server).
* :mod:`.paths`: the paths under test of a wrk run and their servers: ``direct``, this tree's
  gateway, a git ref's (``--baseline``), one gateway process and two (``--processes``).
* :mod:`.litellm_proxy`: LiteLLM's proxy as a path under test (``--litellm``).
* :mod:`.load`: load generation (wrk, the streaming client).
* :mod:`.measure`: rounds, cases and server CPU accounting.
* :mod:`.in_process`: the ``/v1`` application's CPU per request in process (``--in-process``,
  ``--in-process-only``, the ``--validation`` A/B).
* :mod:`.figures`: the derived figures (issues 7 and 17) and the printed tables.

``bench/gateway.py`` imports this package with ``bench/`` at the end of ``sys.path``, not first
(where ``bench/queue.py`` would shadow the standard library's ``queue``); its modules import each
other relatively.
"""
