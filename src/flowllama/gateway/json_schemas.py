"""Bounds on the JSON schemas a request carries, which runtimes compile into sampling grammars.

``response_format.json_schema`` (and, for some chat templates, a tool's ``parameters``) is
turned by llama.cpp and Ollama into a GBNF grammar, in the same process that serves every
request of the deployment. Compiling is where a hostile schema hurts: a repetition count
(``"pattern": "^a{0,100000}$"``, ``"maxLength": 20000``) expands into that many nested rules
and kills llama-cpp-python's server (seen at 4,096; 1,000 is served), a ``$ref`` loop
(``a`` → ``a``) never ends, a remote ``$ref`` asks the converter to fetch, and some escapes in
a ``pattern`` (``\\d``, ``\\w``, ``\\.``) kill llama-cpp-python's server too (its converter
copies them into the grammar). So, besides the size and depth every free-form object already
has (:mod:`.schema`), a schema is refused when a ``$ref`` is not a local pointer (``#`` or
``#/...``) that resolves, when ``$ref`` pointers only lead to each other, when a ``pattern`` is
longer than :data:`MAX_PATTERN_CHARS`, is not a regular expression or uses an escape not in
:data:`SAFE_ESCAPES` (a client writes ``[0-9]`` for ``\\d`` and ``[.]`` for ``\\.``), or when a
repetition count (a ``{m,n}`` in a pattern, ``minLength``, ``maxItems``...) exceeds
:data:`MAX_REPEAT`. Recursion through properties stays allowed (a finite grammar). The walk
only happens for requests that carry a schema.
"""

from __future__ import annotations

import re
from typing import Any

MAX_PATTERN_CHARS = 512
MAX_REPEAT = 1000
_COUNTS = frozenset({"minLength", "maxLength", "minItems", "maxItems", "minProperties",
                     "maxProperties", "minContains", "maxContains"})
# Escapes every runtime compiles (tests/runtimes/test_llamacpp.py serves a pattern with each).
SAFE_ESCAPES = frozenset("()[]{}|?*+-\\ntrx")  # not \^ \$ \/ either: they kill it
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_QUANTIFIER = re.compile(r"\{\s*(\d+)\s*(?:,\s*(\d*)\s*)?\}")


def check_grammar_safe(schema: Any) -> None:
    """Raise ``ValueError`` (for the field's 400) when ``schema`` breaks a bound above;
    ``$ref`` pointers resolve within ``schema`` itself."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key == "$ref":
                _check_ref(schema, node)
            elif key == "pattern" and isinstance(value, str):
                _check_pattern(value)
            elif key in _COUNTS and isinstance(value, int | float) and value > MAX_REPEAT:
                raise ValueError(f"{key} must be at most {MAX_REPEAT}")
            if isinstance(value, dict | list):
                stack.append(value)


def _check_ref(root: Any, node: dict[str, Any]) -> None:
    """A ``$ref`` chain from ``node`` must end at a schema that is not itself a ``$ref``."""
    seen: set[int] = set()
    while isinstance(node, dict) and "$ref" in node:
        if id(node) in seen:
            raise ValueError("$ref pointers form a loop")
        seen.add(id(node))
        node = _resolve(root, node["$ref"])


def _resolve(root: Any, ref: Any) -> Any:
    if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
        raise ValueError("$ref must be a local pointer (#/...)")
    target = root
    for raw in ref[2:].split("/") if ref != "#" else ():
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and part in target:
            target = target[part]
        elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        else:
            raise ValueError(f"$ref {ref[:100]} does not resolve")
    return target


def _check_pattern(pattern: str) -> None:
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"pattern longer than {MAX_PATTERN_CHARS} characters")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"pattern is not a valid regular expression ({exc})") from None
    for escaped in _ESCAPE.findall(pattern):
        if escaped not in SAFE_ESCAPES:
            raise ValueError(f"pattern escape \\{escaped} is not supported by the model "
                             f"servers: use a character class (e.g. [0-9] for \\d, [.] for \\.)")
    for low, high in _QUANTIFIER.findall(pattern):
        if int(low) > MAX_REPEAT or (high and int(high) > MAX_REPEAT):
            raise ValueError(f"pattern repeats more than {MAX_REPEAT} times")
