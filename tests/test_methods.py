"""Undeclared methods: 405 with an `Allow` header naming the declared ones, on every route."""

from __future__ import annotations

import re
from typing import Any

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _concrete(rule: str) -> str:
    """A path for `rule` with each variable filled (a profile id, a number, a word)."""
    filled = re.sub(r"<int:[^>]+>", "1", rule)
    filled = re.sub(r"<path:[^>]+>", "x", filled)
    # <any(pause, resume):action>: one of the values it names, or the rule cannot match
    filled = re.sub(r"<any\(\s*([^,)\s]+)[^)]*\):[^>]+>", r"\1", filled)
    return re.sub(r"<[^>]+>", "4eb854340acb04e870000010", filled)


def test_every_undeclared_method_answers_405_with_allow(app: Any, client: Any) -> None:
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/static"):
            continue
        path = _concrete(rule.rule)
        declared = {m for r in app.url_map.iter_rules() if r.rule == rule.rule for m in r.methods}
        for method in METHODS:
            if method in declared:
                continue
            response = client.open(path, method=method)
            assert response.status_code == 405, (method, path, response.status_code)
            allowed = {m.strip() for m in response.headers.get("Allow", "").split(",")}
            assert declared - {"HEAD", "OPTIONS"} <= allowed, (method, path, allowed)
            checked += 1
    assert checked > 20
