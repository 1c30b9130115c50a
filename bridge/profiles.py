"""The profile cache and profile references (`id`, `service:username`, `@username`)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import ColumnElement, String, Text, any_, bindparam, cast, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import InstrumentedAttribute, Session

from bridge import db, models, schedules
from bridge.buffer.models import Profile as BufferProfile
from bridge.buffer.models import is_profile_id
from bridge.config import Settings
from bridge.errors import InvalidInput, ProfileNotFound

_SERVICE_REF = re.compile(r"^([a-z_]+):@?(\S+)$", re.IGNORECASE)
MAX_REF = 255  # longer than any service:username; checked before any pattern or query


def ensure_accounts(session: Session, settings: Settings) -> None:
    """Record every configured account: its name and the variable that holds its v1 token
    (or, for a GraphQL-only account, its API key), never the secret itself."""
    for name in settings.account_names():
        var = settings.buffer_token_vars.get(name) or settings.buffer_key_vars[name]
        account = session.get(models.Account, name)
        if account is None:
            session.add(models.Account(name=name, token_var=var))
        elif account.token_var != var:
            account.token_var = var
    session.flush()


BULK_CHUNK = 500  # ids per IN (...) list: far below every driver's limit on parameters


def _chunks(items: Sequence[str], size: int = BULK_CHUNK) -> Iterable[Sequence[str]]:
    return (items[i : i + size] for i in range(0, len(items), size))


def id_in(
    session: Session, column: ColumnElement[str] | InstrumentedAttribute[str], ids: Sequence[str]
) -> list[Any]:
    """`column IN ids` as conditions, one per statement to run: on PostgreSQL a single
    `= ANY(array)` (one parameter however many ids: no 500-placeholder statement to build,
    send and plan per chunk), elsewhere one IN list per BULK_CHUNK ids."""
    if not ids:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return [column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(String)))]
    return [column.in_(chunk) for chunk in _chunks(ids)]


def _cached_values(account: str, profile: BufferProfile) -> dict[str, object]:
    data = profile.to_json()
    return {
        "account": account,
        "service": profile.service,
        "service_username": profile.service_username,
        "formatted_username": profile.formatted_username,
        # the column holds 64: no IANA zone is longer, and a longer text stays not a
        # zone when cut (rotation refuses it saying so) instead of failing the account's
        # whole snapshot on PostgreSQL
        "timezone": profile.timezone[:64],
        "schedules": data["schedules"],  # [s.to_json() for s in profile.schedules]
        "paused_days": list(profile.paused_days),
        "data": data,
    }


def upsert_bulk(
    session: Session, account: str, profiles: Iterable[BufferProfile], now: dt.datetime
) -> None:
    """Store Buffer's view of `profiles` in the cache in bulk: one SELECT (per BULK_CHUNK
    ids off PostgreSQL), then one INSERT of the new rows (a COPY on PostgreSQL), one UPDATE
    of the rows that changed, and one UPDATE of `seen_at` for the unchanged ones (no ORM
    object per profile)."""
    table = models.Base.metadata.tables["profiles"]
    wanted = {p.id: _cached_values(account, p) for p in profiles}
    # `data` is Buffer's whole profile, the other cached fields are read from it: equal
    # `data` (and account) means an unchanged row. It is compared as the JSON text stored
    # (json.dumps, SQLAlchemy's serializer, kept verbatim by both stores), so 10,000 rows
    # are not decoded only to be compared; a row stored another way is merely rewritten.
    stored: dict[str, tuple[str, str]] = {}
    text = cast(table.c.data, Text)
    for condition in id_in(session, table.c.id, list(wanted)):
        query = select(table.c.id, table.c.account, text.label("data")).where(condition)
        for row in session.execute(query):
            stored[row.id] = (row.account, row.data)
    inserts = [{"id": i, **v, "seen_at": now} for i, v in wanted.items() if i not in stored]
    same = [
        i
        for i, (owner, data) in stored.items()
        if i in wanted and owner == account and data == json.dumps(wanted[i]["data"])
    ]
    unchanged = set(same)
    updates = [
        {"id": i, **v, "seen_at": now}
        for i, v in wanted.items()
        if i in stored and i not in unchanged
    ]
    db.insert_rows(session, table, inserts)  # COPY on PostgreSQL; no ORM bookkeeping per row
    if updates:
        session.execute(update(models.Profile), updates)  # bulk UPDATE by primary key
    for condition in id_in(session, models.Profile.id, same):
        seen = update(models.Profile).where(condition).values(seen_at=now)
        session.execute(seen.execution_options(synchronize_session=False))


def upsert(
    session: Session, account: str, profiles: Iterable[BufferProfile], now: dt.datetime
) -> list[models.Profile]:
    """Store Buffer's view of `profiles` in the cache, returning the rows."""
    found = list(profiles)
    upsert_bulk(session, account, found, now)
    session.expire_all()  # the bulk statements bypassed any row this session holds
    rows = {}
    for condition in id_in(session, models.Profile.id, [p.id for p in found]):
        query = select(models.Profile).where(condition)
        rows.update({row.id: row for row in session.scalars(query)})
    return [rows[p.id] for p in found]


def week_of(profile: models.Profile) -> schedules.Week:
    """A cached profile's schedules, with the days Buffer reports paused.

    Raises InvalidSchedule when Buffer sent schedules that cannot be read."""
    return schedules.from_buffer(profile.schedules).with_pauses(profile.paused_days or ())


def check_ref(ref: str, field: str = "profile") -> str:
    """Validate the shape of a profile reference (not whether it exists).

    Raises InvalidInput naming `field` for an empty, over-long or unprintable reference
    (a NUL would reach the database as an error, not a lookup)."""
    ref = (ref or "").strip()
    if not ref:
        raise InvalidInput("a profile is required: an id, service:username or @username", field)
    if len(ref) > MAX_REF:
        raise InvalidInput(f"a profile reference has at most {MAX_REF} characters", field)
    if not ref.isprintable():
        raise InvalidInput("a profile reference has only printable characters", field)
    if is_profile_id(ref) or (ref.startswith("@") and len(ref) > 1) or _SERVICE_REF.match(ref):
        return ref
    raise InvalidInput(
        f"invalid profile reference {ref!r}: use a Buffer profile id, service:username "
        "or @username",
        field,
    )


def resolve(
    session: Session, ref: str, visible: Callable[[models.Profile], bool] | None = None
) -> models.Profile:
    """The cached profile `ref` names; ProfileNotFound when none (or several) match.

    With `visible`, profiles it refuses count as not there: the answer for one outside a
    caller's scopes is the answer for one that does not exist, word for word."""
    ref = check_ref(ref)
    if is_profile_id(ref):
        row = session.get(models.Profile, ref.lower())
        if row is None or (visible is not None and not visible(row)):
            raise ProfileNotFound(f"unknown profile {ref!r}")
        return row
    matches = [p for p in session.scalars(_ref_query(ref)) if visible is None or visible(p)]
    if not matches:
        raise ProfileNotFound(f"unknown profile {ref!r}")
    if len(matches) > 1:
        names = ", ".join(sorted(label(p) for p in matches))
        raise ProfileNotFound(f"{ref!r} matches several profiles ({names}): use service:username")
    return matches[0]


def _ref_query(ref: str):
    """The SELECT for a `service:username` or `@username` reference (case-insensitive)."""
    query = select(models.Profile)
    if ref.startswith("@"):
        return query.where(func.lower(models.Profile.service_username) == ref[1:].lower())
    match = _SERVICE_REF.match(ref)
    assert match is not None  # check_ref already accepted it
    return query.where(
        func.lower(models.Profile.service) == match.group(1).lower(),
        func.lower(models.Profile.service_username) == match.group(2).lower(),
    )


class Named(Protocol):
    """Anything with a profile's identity: a cached row or a profile straight from Buffer."""

    @property
    def id(self) -> str: ...

    @property
    def service(self) -> str: ...

    @property
    def service_username(self) -> str: ...


def label(profile: Named) -> str:
    """`service:username`, the readable name of a profile."""
    return f"{profile.service}:{profile.service_username}"


def matches(profile: Named, refs: Sequence[str]) -> bool:
    """True when any of `refs` names `profile` (client scopes, and the CLI's lookups)."""
    username = profile.service_username.lower()
    for ref in refs:
        ref = ref.strip()
        if is_profile_id(ref) and ref.lower() == profile.id:
            return True
        if ref.startswith("@") and ref[1:].lower() == username:
            return True
        match = _SERVICE_REF.match(ref)
        if match and (match.group(1).lower(), match.group(2).lower()) == (
            profile.service.lower(),
            username,
        ):
            return True
    return False


def list_cached(session: Session, account: str | None = None) -> list[models.Profile]:
    """Cached profiles, by service and username."""
    query = select(models.Profile).order_by(models.Profile.service, models.Profile.service_username)
    if account:
        query = query.where(models.Profile.account == account)
    return list(session.scalars(query))
