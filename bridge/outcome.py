"""A finished job told in words a person understands: for chat follow-ups and `?wait` answers."""

from __future__ import annotations

from typing import Any

from bridge import models, schedules

# What a person can do about Buffer's refusals, by HTTP status (None: no answer at all)
_HINTS: dict[int | None, str] = {
    400: "Buffer did not accept these schedules",
    401: "Buffer rejected the bridge's access token; an admin must check BUFFER_ACCESS_TOKEN",
    403: "Buffer does not allow this change for this profile (plan limits or permissions)",
    404: "Buffer no longer knows this profile; it may have been disconnected",
    429: "Buffer kept answering 'too many requests' and the bridge gave up",
    None: "Buffer could not be reached and the bridge gave up after retrying",
}


def label(job: models.Job, profile_label: str | None = None) -> str:
    """`job 12 (twitter:brand)`."""
    who = profile_label or job.profile_id or job.account
    return f"job {job.id} ({who})"


def describe(
    job: models.Job, profile_label: str | None = None, result: dict[str, Any] | None = None
) -> str:
    """One or two lines: what changed, or why nothing could be (`result`, when given,
    instead of the job's own: the view of it a scoped caller may see)."""
    name = label(job, profile_label)
    if job.status == models.SUCCEEDED:
        return f"Done, {name}: {_changed(result if result is not None else job.result)}"
    if job.status == models.FAILED:
        return f"Failed, {name}: {explain_error(job)}"
    return f"Still {job.status}, {name}: the change will be made when Buffer allows"


def _changed(result: dict[str, Any] | None) -> str:
    """The before/after of the days that changed."""
    if not result:
        return "finished"
    if "post_id" in result:  # a post placed (bridge.posting)
        slot = f" (slot {result['slot']})" if result.get("slot") else ""
        return f"post {result['post_id']} scheduled for {result.get('due_at') or 'now'}{slot}"
    if "diff" not in result:  # a snapshot job
        changed = result.get("changed") or []
        return f"snapshot taken of {result.get('profiles', 0)} profiles ({len(changed)} changed)"
    if not result["diff"]:
        return "no change needed, Buffer already had these times"
    return schedules.describe_diff(result["diff"])


def explain_error(job: models.Job) -> str:
    """Buffer's error with a hint of what it means."""
    status = job.error_status
    hint = _HINTS.get(status) or (
        _HINTS[None] if status is None or status >= 500 else "Buffer refused the change"
    )
    detail = job.error_message or "no details"
    codes = ", ".join(
        part
        for part in (
            f"HTTP {status}" if status is not None else "",
            f"code {job.error_code}" if job.error_code is not None else "",
        )
        if part
    )
    said = f'Buffer said "{detail}"' + (f" ({codes})" if codes else "")
    return f"{hint}. {said}"
