"""A private PostgreSQL cluster a test may stop and start: initdb into a temporary
directory, `pg_ctl start` on a free port with trust auth, its socket beside the data.

initdb and postgres refuse to run as root, so under root (containers, CI) every command
runs as the `postgres` OS user (`runuser -u postgres --`) in a directory that user owns:
pytest's own temporary directories are private to root (0700), so the cluster then lives
in a directory of its own under the system's temporary directory, removed afterwards.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_SERVICES, free_port

SERVICE_USER = "postgres"  # who runs the cluster when the tests run as root
START_TIMEOUT = 30  # seconds pg_ctl waits for the server to accept connections


def find_binary(name: str) -> str | None:
    """`name` (initdb, pg_ctl) on PATH, else in a Debian PostgreSQL package's bin/."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class PostgresCluster:
    """One cluster: `start`, `stop(mode)`, `url`; `stop` kills nothing it did not start."""

    def __init__(self, base: Path) -> None:
        initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            missing = "PostgreSQL's initdb/pg_ctl are not installed (apt: postgresql)"
            if REQUIRE_SERVICES:  # CI: a missing service is a failure, not a skip
                pytest.fail(missing)
            pytest.skip(missing)
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.as_root = os.geteuid() == 0
        if self.as_root and not _has_user(SERVICE_USER):
            pytest.fail(f"tests run as root need a {SERVICE_USER!r} OS user: initdb refuses root")
        self.owned_base: Path | None = None
        if self.as_root:
            # pytest's temp dirs are root's alone: postgres could not even reach them
            base = self.owned_base = Path(tempfile.mkdtemp(prefix="bridge-pg-"))
        self.data = base / "pgdata"
        self.sockets = base / "sock"
        self.log = base / "postgres.log"
        self.port = free_port()

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the cluster's `postgres` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run argv as the cluster's owner; fail the test with its output on error."""
        command = ["runuser", "-u", SERVICE_USER, "--", *argv] if self.as_root else list(argv)
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            pytest.fail(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}\n{log}")
        return done

    def init(self) -> None:
        """initdb (trust auth, superuser `postgres`) into an empty data directory."""
        self.sockets.mkdir(parents=True)
        if self.as_root:
            owner = pwd.getpwnam(SERVICE_USER)
            assert self.owned_base is not None
            for path in (self.owned_base, self.sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._run(
            self.initdb,
            "-D", str(self.data),
            "-U", "postgres",
            "--auth=trust",
            "--no-sync",  # a test cluster: the OS buffers are enough
            "--no-instructions",
        )  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1"
        self._run(
            self.pg_ctl, "start", "-w", "-t", str(START_TIMEOUT),
            "-D", str(self.data), "-l", str(self.log), "-o", options,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m mode`: fast ends sessions and shuts down cleanly, immediate
        kills every server process at once (crash recovery on the next start)."""
        self._run(self.pg_ctl, "stop", "-w", "-m", mode, "-D", str(self.data))

    def running(self) -> bool:
        """True while the server's postmaster is up."""
        command = [self.pg_ctl, "status", "-D", str(self.data)]
        if self.as_root:
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0

    def remove(self) -> None:
        """Stop the server if it runs, and delete a directory made for it."""
        if self.data.exists() and self.running():
            self.stop("immediate")
        if self.owned_base is not None:
            shutil.rmtree(self.owned_base, ignore_errors=True)


@pytest.fixture
def pg_cluster(tmp_path: Path) -> Iterator[PostgresCluster]:
    """A private, running PostgreSQL cluster; the test may stop and start it."""
    cluster = PostgresCluster(tmp_path)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
