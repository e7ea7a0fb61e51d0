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
repetition count (``minLength``, ``maxItems``...) exceeds :data:`MAX_REPEAT`, or a pattern's
counted repetitions expand past it: a ``{m,n}``, ``{n}``, ``{m,}`` or ``{,n}`` (an empty lower
bound is 0, as Python's ``re`` and llama.cpp's converter read it) expands into its largest
count of copies, and counts nested in groups multiply (``(a{100}){100}`` is 10,000), so the
product along each nesting path must stay within :data:`MAX_REPEAT`; ``*``, ``+`` and ``?``
compile into one recursive rule and count once. Recursion through properties stays allowed (a
finite grammar). The walk only happens for requests that carry a schema.
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
# Also matches forms Python reads as literal text ("{ 5 }"): llama.cpp's converter reads them
# as counts, and over-counting only refuses more.
_QUANTIFIER = re.compile(r"\{\s*(\d*)\s*(,\s*(\d*)\s*)?\}")


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
    if _expansion(pattern) > MAX_REPEAT:
        raise ValueError(f"pattern repeats more than {MAX_REPEAT} times (counts of nested "
                         f"groups multiply)")


def _expansion(pattern: str) -> int:
    """The largest product of repetition counts along one nesting path of ``pattern`` (a
    valid regular expression): how many copies of an atom its grammar expands into."""
    inside = [1]  # per open group: the largest expansion within it so far
    last = 1  # the expansion of the atom or group just read, which a count multiplies
    i = 0
    while i < len(pattern):
        char = pattern[i]
        quantifier = _QUANTIFIER.match(pattern, i) if char == "{" else None
        if char == "(":
            inside.append(1)
        elif char == ")" and len(inside) > 1:
            last = inside.pop()
            inside[-1] = max(inside[-1], last)
        elif quantifier is not None:
            last *= _count(quantifier)
            inside[-1] = max(inside[-1], last)
            last = 1
            i = quantifier.end()
            continue
        else:
            last = 1
            i = _class_end(pattern, i) if char == "[" else i + (2 if char == "\\" else 1)
            continue
        i += 1
    return inside[0]


def _count(quantifier: re.Match[str]) -> int:
    """Copies a ``{m,n}`` expands into: ``n``; ``m`` for ``{m}`` and ``{m,}`` (the rest is a
    recursive rule); at least 1."""
    low, _, high = quantifier.groups()
    return max(1, int(high or low or 0))


def _class_end(pattern: str, start: int) -> int:
    """The index after the character class opening at ``start`` (a ``]`` first is literal)."""
    i = start + 1
    if pattern.startswith("^", i):
        i += 1
    if pattern.startswith("]", i):
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1
