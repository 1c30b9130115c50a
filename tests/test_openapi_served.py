"""The schemathesis CLI against the served /openapi.json of a real `bridge serve` (gunicorn,
its own Redis and store, the sandbox behind), as an outside tester would run it: every
documented operation with generated and example data, and every undeclared method.

Checks: no 5xx; every status, content type, header and body as the document says;
undeclared methods answer 405 with an `Allow` header (the `coverage` phase sends them).
Bounded to a few examples per operation (about 30 s); a longer run by hand:
`SCHEMATHESIS_EXAMPLES=50 make test PYTEST_ARGS="tests/test_openapi_served.py -s"`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import SANDBOX_TOKEN, free_port, wait_until
from tests.processes import Processes, answers

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "allow_header_conformance",
)


@pytest.fixture
def served(tmp_path: Path, redis_url: str) -> Iterator[tuple[str, str]]:
    """(base URL, a client token) of a `bridge serve` in front of the sandbox."""
    sandbox_port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.db'}",
        "BUFFER_API_URL": f"http://127.0.0.1:{sandbox_port}/1/",
        "BUFFER_ACCESS_TOKEN": SANDBOX_TOKEN,
        # Slack commands on, so /chat/slack answers as in production
        "SLACK_SIGNING_SECRET": "served-contract-signing-secret",
        "CLIENT_RATE_LIMIT": "100000/60s",  # the run is one client sending many requests
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "WARNING",
    }
    processes = Processes(env, tmp_path)
    try:
        processes.start("sandbox", "sandbox", "--port", str(sandbox_port))
        processes.run("db", "upgrade")
        token = processes.run("clients", "create", "schemathesis").strip().splitlines()[-1]
        processes.start("web", "serve", "--port", str(web_port))
        base = f"http://127.0.0.1:{web_port}"
        wait_until(lambda: answers(f"{base}/healthz"), timeout=30)
        yield base, token
    finally:
        processes.stop()


@pytest.mark.timeout(300)
def test_schemathesis_cli_finds_nothing_against_the_served_document(
    served: tuple[str, str], tmp_path: Path
) -> None:
    base, token = served
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert cli is not None, "schemathesis is a dev dependency (pyproject.toml)"
    done = subprocess.run(
        [
            cli,
            "run",
            f"{base}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            ",".join(CHECKS),
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            "13",
            "--generation-deterministic",
            "--request-timeout",
            "10",
            "--report-dir",
            str(tmp_path / "schemathesis"),
        ],
        capture_output=True,
        text=True,
        timeout=280,
        env={**os.environ, "NO_COLOR": "1"},
        cwd=tmp_path,  # schemathesis keeps a cache (.schemathesis/) where it runs
    )
    (tmp_path / "schemathesis.txt").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, _failures(done.stdout) + done.stderr[-2000:]


def _failures(report: str) -> str:
    """The report's FAILURES section, each line cut short (generated data is long)."""
    section = report.partition("FAILURES")[2].partition("SUMMARY")[0] or report[-4000:]
    return "\n".join(line[:300] for line in section.splitlines())[:8000]


def test_requests_gunicorn_refuses_are_answered_in_the_error_shape(
    served: tuple[str, str],
) -> None:
    """gunicorn refuses some requests before the app sees them (found by the run above:
    a 6 KB query string got gunicorn's HTML 414 page); they get the API's JSON shape."""
    base, token = served
    headers = {"Authorization": f"Bearer {token}"}
    too_long = requests.get(f"{base}/v1/jobs?before={'9' * 6000}", headers=headers, timeout=10)
    too_many = requests.get(
        f"{base}/v1/jobs", headers={**headers, **{f"X-{n}": "x" for n in range(120)}}, timeout=10
    )
    for answer, status in ((too_long, 414), (too_many, 431)):
        assert answer.status_code == status
        assert answer.headers["Content-Type"] == "application/json"
        body = answer.json()
        assert body["code"] == status and body["message"]
