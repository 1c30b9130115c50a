"""`bridge presets ...` and `bridge rotations ...`: named weeks and their timetables.

The CLI acts as the operator: every profile, and plans it creates run as `rotation`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bridge.cli.base import _services, _table, friendly, main
from bridge.errors import InvalidInput

MAX_FILE = 64 * 1024


@main.group()
def presets() -> None:
    """Presets: named weeks of posting times."""


@presets.command("list")
@friendly
def presets_list() -> None:
    """List presets."""
    from bridge import presets as service

    with _services().db.session() as session:
        rows = [
            (p["name"], p["account"], p["summary"])
            for p in map(service.to_json, service.listing(session, None))
        ]
    _table(("NAME", "ACCOUNT", "WEEK"), rows)


@presets.command("create")
@click.argument("name")
@click.option("--week", "week_text", default=None, help='JSON: {"sat-sun": ["10:00"]}')
@click.option("--from-profile", default=None, help="copy a profile's current schedules")
@click.option("--from-snapshot", type=int, default=None, help="copy a snapshot")
@friendly
def presets_create(
    name: str, week_text: str | None, from_profile: str | None, from_snapshot: int | None
) -> None:
    """Create a preset."""
    from bridge import presets as service
    from bridge import rotation

    week = None
    if week_text is not None:
        try:
            week = json.loads(week_text)
        except ValueError as error:
            raise InvalidInput(f"not JSON: {error}", "week") from None
        if not isinstance(week, dict):
            raise InvalidInput('a JSON object like {"sat-sun": ["10:00"]}', "week")
    svc = _services()
    held, account = service.source_week(
        svc, rotation.system_client(), week, from_profile, from_snapshot
    )
    preset = service.create(svc, rotation.system_client(), name, held, account)
    click.echo(f"created preset {preset.name}: {service.to_json(preset)['summary']}")


@presets.command("apply")
@click.argument("name")
@click.argument("profiles", nargs=-1)
@click.option("--service", "service_name", default=None, help="every profile of this service")
@friendly
def presets_apply(name: str, profiles: tuple[str, ...], service_name: str | None) -> None:
    """Apply a preset to profiles: one job each, one group."""
    from bridge import presets as service
    from bridge import rotation

    group, submitted = service.apply(
        _services(), rotation.system_client(), name, list(profiles) or None, service_name, "cli"
    )
    click.echo(f"group {group}: jobs {', '.join(str(s.job.id) for s in submitted)}")


@presets.command("delete")
@click.argument("name")
@friendly
def presets_delete(name: str) -> None:
    """Delete a preset."""
    from bridge import presets as service
    from bridge import rotation

    service.delete(_services(), rotation.system_client(), name)
    click.echo(f"deleted preset {name}")


@main.group()
def rotations() -> None:
    """Rotation plans: presets on a timetable."""


@rotations.command("list")
@friendly
def rotations_list() -> None:
    """List plans with each profile's next run."""
    from bridge import rotation

    with _services().db.session() as session:
        rows = [
            (
                plan.name,
                "paused" if plan.paused else "running",
                target.profile_id,
                target.next_run_at.isoformat() if target.next_run_at else "-",
            )
            for plan in rotation.listing(session)
            for target in plan.targets
        ]
    _table(("PLAN", "STATE", "PROFILE", "NEXT RUN (UTC)"), rows)


@rotations.command("show")
@click.argument("name")
@click.option("--count", default=5, show_default=True, help="runs to preview per profile")
@friendly
def rotations_show(name: str, count: int) -> None:
    """A plan, and its next runs per profile in local time and UTC."""
    from bridge import rotation

    svc = _services()
    with svc.db.session() as session:
        plan = rotation.to_json(session, rotation.get(session, name))
    shown = rotation.preview(svc, None, name, count)
    click.echo(f"{plan['name']} ({'paused' if plan['paused'] else 'running'})")
    for step in plan["steps"]:
        click.echo(f"  step: {json.dumps(step)}")
    for target in shown["targets"]:
        label = target["profile"] or target["profile_id"]
        click.echo(f"{label} ({target['timezone']}):")
        if target["error"]:
            click.echo(f"  cannot run: {target['error']}")
        if target["last_error"]:
            click.echo(f"  last run failed: {target['last_error']}")
        for run in target["runs"]:
            click.echo(f"  {run['local_text']}  ({run['at']})  {run['action']} {run['preset']}")


@rotations.command("create")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@friendly
def rotations_create(path: Path) -> None:
    """Create a plan from a YAML or JSON file: name, profiles (or service), steps."""
    from bridge import rotation

    body = _read_plan(path)
    name = body.pop("name", None)
    start = body.pop("start", "now")
    unknown = sorted(set(body) - {"profiles", "service", "steps"})
    if unknown:
        raise InvalidInput("unknown field", unknown[0])
    if start not in rotation.START:
        raise InvalidInput("now (apply the step in effect now) or next (wait for it)", "start")
    svc = _services()
    rotation.save(svc, None, name, body, create=True)
    click.echo(f"created rotation plan {name}")
    _echo_report(rotation.begin(svc, None, name, start))


def _echo_report(report: Any) -> None:
    """A run's report: its jobs, then each skip and failure with its reason."""
    if report is None:
        return
    made = ", ".join(map(str, report.fired)) or "none"
    click.echo(f"jobs {made}; failed {report.failed}, skipped {report.skipped}")
    for note in report.failures:
        job = f" (job {note['job_id']})" if note["job_id"] is not None else ""
        click.echo(f"  failed on {note['profile']}{job}: {note['reason']}")
    for note in report.skips:
        click.echo(f"  skipped {note['count']} on {note['profile']}: {note['reason']}")


def _read_plan(path: Path) -> dict[str, Any]:
    """The plan a file holds (JSON, or YAML when PyYAML is installed)."""
    text = path.read_text(encoding="utf-8", errors="replace")[: MAX_FILE + 1]
    if len(text) > MAX_FILE:
        raise InvalidInput(f"the file is over {MAX_FILE} characters", "file")
    try:
        body = json.loads(text)
    except ValueError:
        try:
            import yaml
        except ImportError:
            raise InvalidInput("not JSON (install PyYAML to read YAML)", "file") from None
        try:
            body = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise InvalidInput(f"neither JSON nor YAML: {error}", "file") from None
    if not isinstance(body, dict):
        raise InvalidInput("a plan is a mapping: name, profiles, steps", "file")
    return body


@rotations.command("pause")
@click.argument("name")
@friendly
def rotations_pause(name: str) -> None:
    """Pause a plan."""
    from bridge import rotation

    rotation.set_paused(_services(), None, name, True)
    click.echo(f"paused rotation plan {name}")


@rotations.command("resume")
@click.argument("name")
@click.option(
    "--start",
    type=click.Choice(["now", "next"]),
    default="now",
    show_default=True,
    help="now: apply the step in effect now; next: wait for the next step",
)
@friendly
def rotations_resume(name: str, start: str) -> None:
    """Resume a plan from now (steps that fell while paused do not fire)."""
    from bridge import rotation

    report = rotation.resume(_services(), None, name, start)
    click.echo(f"resumed rotation plan {name}")
    _echo_report(report)


@rotations.command("run")
@click.argument("name")
@friendly
def rotations_run(name: str) -> None:
    """Fire a plan now on every profile: the step in effect now. Prints the jobs, and
    why a profile was skipped or failed; exits 1 when a run failed."""
    from bridge import rotation

    report = rotation.run_now(_services(), None, name)
    _echo_report(report)
    if report.failed:
        runs = "run" if report.failed == 1 else "runs"
        raise click.ClickException(f"{report.failed} {runs} of rotation plan {name} failed")


@rotations.command("delete")
@click.argument("name")
@friendly
def rotations_delete(name: str) -> None:
    """Delete a plan."""
    from bridge import rotation

    rotation.delete(_services(), None, name)
    click.echo(f"deleted rotation plan {name}")
