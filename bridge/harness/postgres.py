"""A private PostgreSQL cluster one may stop and start: initdb into a directory,
`pg_ctl start` on a free port with trust auth, its socket beside the data.

initdb and postgres refuse to run as root, so under root (containers, CI) every command
runs as the `postgres` OS user (`runuser -u postgres --`) in a directory that user owns:
a caller's directory may be private to root (pytest's are 0700), so the cluster then lives
in a directory of its own under the system's temporary directory, removed afterwards.
Used by tests/pg_cluster.py (the `pg_cluster` fixture) and bench/intake.py.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bridge.harness import HOST, HarnessError, MissingTool, free_port

SERVICE_USER = "postgres"  # who runs the cluster when we run as root
START_TIMEOUT = 30  # seconds pg_ctl waits for the server to accept connections


def find_binary(name: str) -> str | None:
    """`name` (initdb, pg_ctl) in $PG_BIN, on PATH, else in a Debian PostgreSQL package's bin/."""
    pg_bin = os.environ.get("PG_BIN")
    if pg_bin and (Path(pg_bin) / name).exists():
        return str(Path(pg_bin) / name)
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
    """One cluster: `init`, `start`, `stop(mode)`, `url`, `remove`; it kills nothing it did
    not start. `base` is its directory (a temporary one when None); `start_prefix` goes
    before the start command (e.g. `taskset -c 1` to pin the server)."""

    def __init__(self, base: Path | None = None, start_prefix: Sequence[str] = ()) -> None:
        initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise MissingTool("PostgreSQL's initdb/pg_ctl are not installed (apt: postgresql)")
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.start_prefix = list(start_prefix)
        self.as_root = os.geteuid() == 0
        if self.as_root and not _has_user(SERVICE_USER):
            raise HarnessError(
                f"running as root needs a {SERVICE_USER!r} OS user: initdb refuses root"
            )
        self.owned_base: Path | None = None
        if self.as_root or base is None:
            # a root-only directory could not even be reached by postgres
            base = self.owned_base = Path(tempfile.mkdtemp(prefix="bridge-pg-"))
        self.data = base / "pgdata"
        self.sockets = base / "sock"
        self.log = base / "postgres.log"
        self.port = free_port()

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the cluster's `postgres` database."""
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/postgres"

    def _as_owner(self, argv: Sequence[str]) -> list[str]:
        return ["runuser", "-u", SERVICE_USER, "--", *argv] if self.as_root else list(argv)

    def _run(self, *argv: str, prefix: Sequence[str] = (), timeout: float = 60) -> None:
        """Run argv as the cluster's owner; `HarnessError` with its output on failure."""
        command = [*prefix, *self._as_owner(argv)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise HarnessError(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}\n{log}")

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
            "--no-sync",  # a private cluster: the OS buffers are enough
            "--no-instructions",
        )  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses={HOST}"
        self._run(
            self.pg_ctl, "start", "-w", "-t", str(START_TIMEOUT),
            "-D", str(self.data), "-l", str(self.log), "-o", options,
            prefix=self.start_prefix,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m mode`: fast ends sessions and shuts down cleanly, immediate
        kills every server process at once (crash recovery on the next start)."""
        self._run(self.pg_ctl, "stop", "-w", "-m", mode, "-D", str(self.data))

    def running(self) -> bool:
        """True while the server's postmaster is up."""
        command = self._as_owner([self.pg_ctl, "status", "-D", str(self.data)])
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0

    def postmaster_pid(self) -> int:
        """The server's main process (its backends are its children)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def remove(self, mode: str = "immediate") -> None:
        """Stop the server if it runs (`mode`), and delete a directory made for it."""
        if self.data.exists() and self.running():
            self.stop(mode)
        if self.owned_base is not None:
            shutil.rmtree(self.owned_base, ignore_errors=True)
