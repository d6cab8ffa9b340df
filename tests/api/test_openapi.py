"""docs/api.json is the API's contract: OpenAPI 3.1, every route of cti/api/crm.py, every $ref resolves."""

from __future__ import annotations

import json
import re
from typing import Any

from cti.api import crm
from tests.conftest import ROOT

SPEC = json.loads((ROOT / "docs" / "api.json").read_text(encoding="utf-8"))


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_it_is_openapi_3_1_with_bearer_tokens() -> None:
    assert SPEC["openapi"] == "3.1.0"
    assert SPEC["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": SPEC["components"]["securitySchemes"]["bearer"]["description"],
    }


def test_every_route_of_the_code_is_documented_with_its_method_and_errors() -> None:
    assert crm.__doc__ is not None
    routes = re.findall(r"^(GET|POST)\s+(/api/v1/\S+)", crm.__doc__, re.M)
    assert len(routes) == 5
    for method, path in routes:
        path = path.split("?")[0]
        op = SPEC["paths"][path][method.lower()]
        codes = set(op["responses"])
        assert "400" in codes, (method, path)
        if path != "/api/v1/login":
            assert "401" in codes and op.get("security", SPEC["security"]) == [{"bearer": []}]


def test_every_reference_resolves() -> None:
    for ref in refs(SPEC):
        node: Any = SPEC
        assert ref.startswith("#/")
        for part in ref[2:].split("/"):
            node = node[part]
        assert isinstance(node, dict), ref
