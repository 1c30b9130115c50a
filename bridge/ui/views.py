"""The dashboard's pages. Each reads through the service layer as the REST API does, as the
signed-in client: the same scopes (a profile, job, plan or delivery outside them is 404)
and the same read-only rule (the service layer refuses a change; the templates show no
button for one).

Past 400 lines on purpose: the pages are short functions over the service layer that
share the page helpers (`_page`, `_client`, `_bounded`, `grid`); a feature's own pieces
live beside it (bridge/ui/posting.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request, url_for

from bridge import (
    accounts,
    auth,
    catalog,
    changes,
    identity,
    jobs,
    models,
    outcome,
    profiles,
    rotation,
    schedules,
    snapshots,
    sources,
    timetable,
)
from bridge import signin as signin_codes
from bridge.errors import (
    BridgeError,
    InvalidInput,
    InvalidSchedule,
    Unauthorized,
)
from bridge.events import delivery_log
from bridge.posting import settings as posting_settings
from bridge.ui import (
    before_request,
    csrf_token,
    render_error,
    security_headers,
    sign_in,
    sign_out,
)
from bridge.ui import posting as ui_posting
from bridge.web.caller import services

blp = Blueprint(
    "ui",
    __name__,
    url_prefix="/ui",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
blp.register_error_handler(BridgeError, render_error)
blp.before_request(before_request)
blp.after_request(security_headers)

SOURCE = "ui"  # the source of the jobs the dashboard makes
MAX_TOKEN = 256
MAX_SEARCH = 100
MAX_FILTER = 64
PAGE = 50
MAX_POLL_IDS = 100
HISTORY = 30
PREVIEW_RUNS = 12
CALENDAR_DAYS = 14
DAY_NAMES = dict(
    zip(
        schedules.DAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)


@blp.app_template_global()
def ui_csrf_token() -> str:
    return csrf_token()


@blp.app_template_global()
def can_write() -> bool:
    client = g.get("ui_client")
    return client is not None and not client.read_only


def _page(template: str, **context: Any) -> str:
    return render_template(
        template, me=g.get("ui_client"), days=schedules.DAYS, day_names=DAY_NAMES, **context
    )


def _bounded(name: str, limit: int = MAX_FILTER) -> str:
    """A query parameter, stripped; InvalidInput naming it when too long or unprintable."""
    value = (request.args.get(name) or "").strip()
    if len(value) > limit or not value.isprintable():
        raise InvalidInput(f"at most {limit} printable characters", name)
    return value


def _client() -> models.ApiClient:
    client = g.get("ui_client")
    assert client is not None  # _before refused the request otherwise
    return client


# ---- signing in and out ----------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this dashboard only (no open redirect), and
    the profiles page for anything else, control characters included (a CR or LF would
    otherwise reach the Location header, which refuses them with a 500)."""
    if (
        target
        and target.isprintable()
        and target.startswith("/ui/")
        and not target.startswith("//")
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return url_for("ui.profiles_page")


@blp.route("/signin", methods=["GET", "POST"])
def signin() -> Any:
    """Sign in with a client token, once; a session cookie from then on."""
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return _page("signin.html", next_url=next_url, error=None)
    token = (request.form.get("token") or "").strip()
    error = None
    if not token:
        error = "token: paste your client token (bb_...)"
    elif len(token) > MAX_TOKEN or not token.isprintable():
        error = f"token: a client token has at most {MAX_TOKEN} printable characters"
    else:
        try:
            client = identity.by_token(services(), token)
        except Unauthorized as refused:
            error = f"token: {refused.message}"
    if error is not None:
        return _page("signin.html", next_url=next_url, error=error), 401
    sign_in(client)
    return redirect(next_url, 303)


NO_REFERRER = {"Referrer-Policy": "no-referrer"}  # the link's URL carries the code


@blp.route("/login/<code>", methods=["GET"])
def login_confirm(code: str) -> Any:
    """A one-time sign-in link (`bridge dev` prints one): a page with one button. Opening
    it (GET or HEAD, as link previews and mail scanners do) never spends the code."""
    try:
        client = signin_codes.peek(services(), code)
    except Unauthorized as refused:
        return _link_refused(refused)
    return _page("login.html", code=code, name=client.name), NO_REFERRER


@blp.route("/login/<code>", methods=["POST"])
def login_link(code: str) -> Any:
    """Spend the code and sign in (the form's CSRF token is checked before this runs)."""
    try:
        client = signin_codes.redeem(services(), code)
    except Unauthorized as refused:
        return _link_refused(refused)
    sign_in(client)
    return redirect(url_for("ui.profiles_page"), 303), NO_REFERRER


def _link_refused(refused: Unauthorized) -> Any:
    """The sign-in form with why the link signs nobody in (401), the token still welcome."""
    page = _page("signin.html", next_url=url_for("ui.profiles_page"), error=refused.message)
    return page, 401, NO_REFERRER


@blp.route("/signout", methods=["POST"])
def signout() -> Any:
    """Sign out: this cookie, and any copy of it, signs nobody in from now on."""
    sign_out(_client())
    return redirect(url_for("ui.signin"), 303)


# ---- profiles ----------------------------------------------------------------------------


def grid(week: schedules.Week | None) -> dict[str, Any]:
    """A week as rows of times down and days across (`week` None: unreadable)."""
    if week is None:
        return {"times": [], "cells": {}, "paused": [], "unreadable": True}
    times = sorted({t for day in schedules.DAYS for t in week[day]})
    return {
        "times": times,
        "cells": {day: set(week[day]) for day in schedules.DAYS},
        "paused": [day for day in schedules.DAYS if week.is_paused(day)],
        "unreadable": False,
    }


def _week(profile: models.Profile) -> schedules.Week | None:
    try:
        return profiles.week_of(profile)
    except InvalidSchedule:
        return None


@blp.route("/")
def index() -> Any:
    return redirect(url_for("ui.profiles_page"))


@blp.route("/profiles")
def profiles_page() -> Any:
    """Every profile the client may see, its week as a grid; filters and search."""
    client = _client()
    service, account, query = _bounded("service"), _bounded("account"), _bounded("q", MAX_SEARCH)
    found, stale = catalog.visible(services(), client)
    known_services = sorted({p.service for p in found})
    known_accounts = sorted({p.account for p in found})
    if service and service not in known_services:
        raise InvalidInput(f"unknown service {service!r}", "service")
    if account and account not in known_accounts:
        raise InvalidInput(f"unknown account {account!r}", "account")
    overview = {a["name"]: a for a in accounts.overview(services(), client)}
    shown = [
        p
        for p in found
        if (not service or p.service == service)
        and (not account or p.account == account)
        and (
            not query
            or query.lower() in p.service_username.lower()
            or query.lower() in (p.formatted_username or "").lower()
        )
    ]
    cards = [
        {
            "profile": p,
            "label": profiles.label(p),
            "grid": grid(_week(p)),
            "account": overview.get(p.account),
        }
        for p in shown
    ]
    return _page(
        "profiles.html",
        cards=cards,
        accounts=list(overview.values()),
        services_list=known_services,
        accounts_list=known_accounts,
        service=service,
        account=account,
        query=query,
        stale=stale,
        total=len(found),
    )


def _readable(profile_id: str) -> models.Profile:
    return catalog.readable(services(), _client(), profile_id)


def who_made(snapshot: models.Snapshot, job: models.Job | None) -> str:
    """Who made the change a snapshot records, in words."""
    if snapshot.reason == models.EXTERNAL_CHANGE:
        return "external change in Buffer"
    if snapshot.reason == models.PERIODIC:
        return "first seen by the bridge"
    if job is None:
        return "the bridge"
    by = sources.label(job.source)
    by = f"{by} (client {job.client})" if job.client and job.source != "rotation" else by
    if snapshot.reason == models.BEFORE_CHANGE:
        return f"as found in Buffer before a change by {by}"
    return by


def describe(diff: dict[str, Any] | None) -> str:
    """A snapshot's diff in words ("" for none)."""
    return schedules.describe_diff(diff) if diff else ""


@blp.route("/profiles/<profile_id>")
def profile_page(profile_id: str) -> Any:
    """A profile's week and its history: snapshots, what changed, who changed it."""
    client = _client()
    profile = _readable(profile_id)
    entries = [
        {
            "snapshot": entry.snapshot,
            "who": who_made(entry.snapshot, entry.job),
            "source": entry.job.source if entry.job else entry.snapshot.reason,
            "diff": entry.view.get("diff") or {},
            "diff_text": describe(entry.view.get("diff")),
            "summary": entry.view["summary"],
            "latest": index == 0,
        }
        for index, entry in enumerate(snapshots.history(services(), profile.id, HISTORY).entries)
    ]
    overview = {a["name"]: a for a in accounts.overview(services(), client)}
    posting = ui_posting.kept_view(profile)
    kept = posting_settings.kept_week(services(), profile)
    return _page(
        "profile.html",
        profile=profile,
        label=profiles.label(profile),
        grid=grid(kept if kept is not None else _week(profile)),
        entries=entries,
        account=overview.get(profile.account),
        posting=posting,
    )


@blp.route("/profiles/<profile_id>/settings", methods=["POST"])
def profile_settings(profile_id: str) -> Any:
    """Change the profile's posting settings (who keeps its week, gaps, excluded dates)."""
    return ui_posting.save(_client(), profile_id)


@blp.route("/profiles/<profile_id>/restore/<int:snapshot_id>", methods=["GET"])
def restore_confirm(profile_id: str, snapshot_id: int) -> Any:
    """Ask before restoring: the week it would become, beside the week now."""
    auth.check_write(_client())
    profile = _readable(profile_id)
    snap = snapshots.of_profile(services(), profile.id, snapshot_id)
    target = snapshots.week_of(snap)
    now = _week(profile)
    change = schedules.diff(now, target.unpaused()) if now is not None else {}
    return _page(
        "restore.html",
        profile=profile,
        label=profiles.label(profile),
        snapshot=snap,
        grid=grid(target),
        change=schedules.describe_diff(change),
    )


@blp.route("/profiles/<profile_id>/restore/<int:snapshot_id>", methods=["POST"])
def restore(profile_id: str, snapshot_id: int) -> Any:
    """Queue the restore as a job of the signed-in client, then show the job."""
    client = _client()
    profile = _readable(profile_id)
    request_ = changes.ChangeRequest("restore", profile.id, snapshot_id=snapshot_id)
    submitted = changes.submit(services(), client, request_, jobs.Provenance(SOURCE))
    return redirect(url_for("ui.job_page", job_id=submitted.job.id), 303)


# ---- jobs --------------------------------------------------------------------------------


def job_views(found: jobs.JobPage) -> list[dict[str, Any]]:
    """What a person needs to know of each job of a page."""
    return [job_view(job, found.labels.get(job.profile_id or "")) for job in found.jobs]


def job_view(job: models.Job, name: str | None) -> dict[str, Any]:
    """What a person needs to know of a job (`name`: its profile's label)."""
    result = catalog.scoped_job_result(services(), _client(), job)
    return {
        "id": job.id,
        "status": job.status,
        "finished": job.finished,
        "source": job.source,
        "source_text": sources.label(job.source),
        "client": job.client,
        "kind": job.kind,
        "profile_id": job.profile_id,
        "profile": name,
        "created_at": job.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "attempts": job.attempts,
        "text": outcome.describe(job, name, result),
        "error": outcome.explain_error(job) if job.error_message or job.error_status else None,
    }


@blp.route("/jobs")
def jobs_page() -> Any:
    """Recent jobs, newest first, filtered by status, source and profile; live status."""
    client = _client()
    status, source, profile_ref = _bounded("status"), _bounded("source"), _bounded("profile")
    if status and status not in models.STATUSES:
        raise InvalidInput(f"must be one of: {', '.join(models.STATUSES)}", "status")
    if source and source not in sources.SOURCES:
        raise InvalidInput(f"must be one of: {', '.join(sources.SOURCES)}", "source")
    profile_id = _readable(profile_ref).id if profile_ref else None
    wanted = jobs.JobFilter(profile_id=profile_id, status=status, source=source)
    shown = job_views(jobs.page(services(), client, wanted, PAGE))
    found, _stale = catalog.visible(services(), client)
    return _page(
        "jobs.html",
        jobs=shown,
        statuses=models.STATUSES,
        sources=sources.SOURCES,
        profiles_list=[(p.id, profiles.label(p)) for p in found],
        status=status,
        source=source,
        profile=profile_ref,
    )


@blp.route("/jobs/<int:job_id>")
def job_page(job_id: int) -> Any:
    view = job_views(jobs.visible_one(services(), _client(), job_id))[0]
    return _page("job.html", job=view)


@blp.route("/jobs/status.json")
def jobs_status() -> Any:
    """The status of the jobs named by `ids` (comma-separated), for the pages' polling."""
    raw = _bounded("ids", 20 * MAX_POLL_IDS)
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput("comma-separated job ids", "ids") from None
    if len(ids) > MAX_POLL_IDS:
        raise InvalidInput(f"at most {MAX_POLL_IDS} ids", "ids")
    views = job_views(jobs.visible(services(), _client(), ids))
    keep = ("status", "finished", "text", "error")
    return {"jobs": {str(view["id"]): {k: view[k] for k in keep} for view in views}}


# ---- rotations ---------------------------------------------------------------------------


def calendar(runs: list[dict[str, Any]], today: dt.date) -> list[dict[str, Any]]:
    """CALENDAR_DAYS days from `today` (the profile's local date), each with its switches."""
    by_day: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_day.setdefault(run["local"][:10], []).append(run)
    days = []
    for offset in range(CALENDAR_DAYS):
        day = today + dt.timedelta(days=offset)
        days.append({"date": day, "runs": by_day.get(day.isoformat(), [])})
    return days


@blp.route("/rotations")
def rotations_page() -> Any:
    """Every plan the client may see: each profile's coming switches, in its local time."""
    client = _client()
    names = [name for name, _paused in rotation.names(services(), client)]
    plans = []
    for name in names:
        preview = rotation.preview(services(), client, name, PREVIEW_RUNS)
        for target in preview["targets"]:
            zone = timetable.zone(target["timezone"])
            today = models.utcnow().astimezone(zone).date()
            target["calendar"] = calendar(target["runs"], today)
        plans.append(preview)
    return _page("rotations.html", plans=plans)


@blp.route("/rotations/<name>/<any(pause, resume):action>", methods=["POST"])
def rotation_pause(name: str, action: str) -> Any:
    if action == "pause":
        rotation.set_paused(services(), _client(), name, True)
    else:  # as the API's resume: the step in effect now is applied at once
        rotation.resume(services(), _client(), name)
    return redirect(url_for("ui.rotations_page"), 303)


# ---- deliveries --------------------------------------------------------------------------


@blp.route("/deliveries")
def deliveries_page() -> Any:
    """Recent deliveries of the client's event subscriptions; failures first to the eye."""
    status = _bounded("status")
    if status and status not in models.DELIVERY_STATUSES:
        raise InvalidInput(f"must be one of: {', '.join(models.DELIVERY_STATUSES)}", "status")
    found = delivery_log.page(services(), _client(), PAGE, status=status)
    shown = [
        {
            "id": r.id,
            "status": r.status,
            "event": r.event.type,
            "url": r.subscription.url,
            "kind": r.subscription.kind,
            "attempts": r.attempts,
            "last_status": r.last_status,
            "last_error": r.last_error,
            "created_at": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "retryable": r.status != models.DELIVERED and r.subscription.enabled,
        }
        for r in found.rows
    ]
    return _page(
        "deliveries.html", deliveries=shown, statuses=models.DELIVERY_STATUSES, status=status
    )


@blp.route("/deliveries/<int:delivery_id>/retry", methods=["POST"])
def delivery_retry(delivery_id: int) -> Any:
    """Send a delivery again now (the dashboard, unlike the API, lets only clients that may
    change things press it: a read-only client sees no button that acts)."""
    client = _client()
    auth.check_write(client)
    delivery_log.retry_one(services(), client, delivery_id)
    return redirect(url_for("ui.deliveries_page"), 303)
