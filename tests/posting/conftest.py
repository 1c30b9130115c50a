"""Fixtures of the kept-week tests: an account with a GraphQL key (and v1, unless a test
says otherwise), so profiles can be switched to bridge mode and posts placed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_chat_slack import SECRET as SLACK_SECRET

KEY = "sandbox-key"
DOCS_PROFILE = "4eb854340acb04e870000010"  # @skinnyoteam in the seeded sandbox


@pytest.fixture
def extra_settings(request: pytest.FixtureRequest, buffer_sandbox: Any) -> dict[str, str]:
    """v1 and a GraphQL key by default; `graphql` (no v1 token) through indirect params."""
    mode = getattr(request, "param", "both")
    keyed = {
        "BUFFER_API_KEY": KEY,
        "BUFFER_GRAPHQL_URL": f"{buffer_sandbox.root_url}graphql",
        "POST_LEAD_SECONDS": "120",
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
    }
    if mode == "graphql":
        return {**keyed, "BUFFER_ACCESS_TOKEN": ""}
    if mode == "v1":
        return {}
    return keyed


@pytest.fixture
def profile_id() -> str:
    return DOCS_PROFILE
