"""Client scopes as profile ids (data only: no schema change)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:40:00

Until now a client's scopes were stored as the references it was created with
(`@brand`, `twitter:brand`) and matched by name, so a profile that later took a name in
scope fell into it. New clients store profile ids. This migration resolves the names
held by existing rows against the profile cache, as the bridge resolves references:
`service:username` and `@username` (case-insensitive), `@username` only when exactly
one cached profile has it.

A name it cannot resolve (no cached profile, or several) stays a name and keeps
today's matching by name, so nobody loses access silently; `bridge clients list`
shows such scopes as "(by name)", and re-creating the client makes them ids.

Downgrade changes nothing: the earlier code matches a scope that is a profile id by id.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PROFILE_ID = re.compile(r"[0-9a-fA-F]{24}")
_SERVICE_REF = re.compile(r"([a-z_]+):@?(\S+)", re.IGNORECASE)

_clients = sa.table("api_clients", sa.column("id", sa.Integer), sa.column("profiles", sa.JSON))
_profiles = sa.table(
    "profiles",
    sa.column("id", sa.String),
    sa.column("service", sa.String),
    sa.column("service_username", sa.String),
)


def _resolved(ref: str, cached: list[tuple[str, str, str]]) -> str:
    """The id of the one cached profile `ref` names, else `ref` unchanged."""
    ref = ref.strip()
    if _PROFILE_ID.fullmatch(ref):
        return ref.lower()
    if ref.startswith("@"):
        found = [pid for pid, _service, user in cached if user.lower() == ref[1:].lower()]
    elif match := _SERVICE_REF.fullmatch(ref):
        service, user = match.group(1).lower(), match.group(2).lower()
        found = [pid for pid, s, u in cached if (s.lower(), u.lower()) == (service, user)]
    else:
        found = []
    return found[0] if len(found) == 1 else ref


def upgrade() -> None:
    """Every scope that names exactly one cached profile becomes that profile's id."""
    bind = op.get_bind()
    cached = [tuple(row) for row in bind.execute(sa.select(_profiles))]
    rows = bind.execute(sa.select(_clients.c.id, _clients.c.profiles)).all()
    for client_id, refs in rows:
        if not refs:
            continue
        ids = list(dict.fromkeys(_resolved(str(ref), cached) for ref in refs))
        if ids != refs:
            bind.execute(_clients.update().where(_clients.c.id == client_id).values(profiles=ids))


def downgrade() -> None:
    """Nothing to undo: profile ids are scopes the earlier code matches too."""
