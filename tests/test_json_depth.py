"""The fast nesting-depth check gives the exact scan's answer on real documents and on
crafted ones (deep, unbalanced, brackets and escapes inside strings)."""

from __future__ import annotations

import base64
import json

from attester.jsonio import MAX_DEPTH, _nesting_depth_scan, nesting_depth

from conftest import INTEROP


def test_same_depth_on_real_attestations_and_their_payloads() -> None:
    root = INTEROP
    seen = 0
    for path in sorted(root.rglob("*.json*")):
        text = path.read_text(errors="replace")
        docs = [text]
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        payload = (doc.get("payload") or (doc.get("dsseEnvelope") or {}).get("payload")
                   if isinstance(doc, dict) else None)
        if isinstance(payload, str):
            docs.append(base64.b64decode(payload).decode(errors="replace"))
        for t in docs:
            assert nesting_depth(t) == _nesting_depth_scan(t), path
            seen += 1
    assert seen > 20


def test_same_depth_on_crafted_documents() -> None:
    cases = ['"[[[["', '{"a": "]}\\\\"}', '["\\"[", [[]]]', "[" * 300, "]" * 5 + "[" * 5,
             '"unterminated [[[', "[" * MAX_DEPTH + "]" * MAX_DEPTH,
             "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), '{"a": [1, {"b": [[]]}]}',
             json.dumps([{"name": f"f{i} {{[", "digest": {"sha256": "0" * 64}}
                         for i in range(500)])]
    for t in cases:
        assert nesting_depth(t) == _nesting_depth_scan(t), t[:40]
    assert nesting_depth("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)) == MAX_DEPTH + 1
