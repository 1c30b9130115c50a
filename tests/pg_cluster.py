"""The `pg_cluster` fixture: a private PostgreSQL cluster a test may stop and start.

The cluster itself is bridge/harness/postgres.py (bench/intake.py runs one too); the
names below stay importable from here for the tests that import them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.harness import HarnessError, MissingTool
from bridge.harness.postgres import PostgresCluster as PostgresCluster
from bridge.harness.postgres import find_binary as find_binary
from tests.conftest import REQUIRE_SERVICES


@pytest.fixture
def pg_cluster(tmp_path: Path) -> Iterator[PostgresCluster]:
    """A private, running PostgreSQL cluster; the test may stop and start it. Skipped
    where PostgreSQL is not installed (failed under CI, where it must be)."""
    try:
        cluster = PostgresCluster(tmp_path)
    except MissingTool as missing:
        if REQUIRE_SERVICES:  # CI: a missing service is a failure, not a skip
            pytest.fail(str(missing))
        pytest.skip(str(missing))
    except HarnessError as error:
        pytest.fail(str(error))
    try:
        try:
            cluster.init()
            cluster.start()
        except HarnessError as error:
            pytest.fail(str(error))
        yield cluster
    finally:
        cluster.remove()
