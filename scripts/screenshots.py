#!/usr/bin/env python3
"""Screenshots of every dashboard page, for docs/screenshots/ (linked from the README).

Runs `bridge dev` against the built-in sandbox in a throw-away directory, signs in with
the one-time link it prints, makes some history (a change in Buffer, a restore, a rotation
plan), and photographs each page with Playwright driving Debian's chromium
(/usr/bin/chromium; never a downloaded browser). Run it after changing a page:

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from bridge.harness import free_port

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("BRIDGE_CHROMIUM", "/usr/bin/chromium")


def api(base: str, token: str, method: str, path: str, body: object = None) -> object:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def start_dev(data_dir: str, port: int) -> tuple[subprocess.Popen[str], str, str]:
    """`bridge dev`, and the token and sign-in link it prints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUFFER_", "SECRET_KEY"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    command = [sys.executable, "-m", "bridge.cli", "dev", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--data-dir", data_dir],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    token = link = ""
    assert process.stdout is not None
    for line in process.stdout:
        if match := re.search(r"client token:\s+(\S+)", line):
            token = match.group(1)
        if match := re.search(r"sign in:\s+(\S+/ui/login/\S+)", line):
            link = match.group(1)
        if "Ctrl-C" in line:
            break
    if not token or not link:
        process.terminate()
        raise SystemExit("bridge dev did not print a token and a sign-in link")
    return process, token, link


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        process, token, link = start_dev(data_dir, port)
        try:
            shoot(base, token, link)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)


def shoot(base: str, token: str, link: str) -> None:
    profiles = api(base, token, "GET", "/v1/profiles")["profiles"]  # type: ignore[index]
    first = profiles[0]["id"]
    change = api(base, token, "PATCH", f"/v1/profiles/{first}/schedules",
                 {"days": "weekdays", "times": ["07:15", "12:05", "17:55"]})  # fmt: skip
    # REST answers at once: wait for the job, so the history has a week to restore
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = api(base, token, "GET", f"/v1/jobs/{change['job_id']}")  # type: ignore[index]
        if job["status"] in ("succeeded", "failed"):  # type: ignore[index]
            break
        time.sleep(0.2)
    for name, days, times in (("weekday", "weekdays", ["09:00", "17:00"]),
                              ("weekend", "sat-sun", ["11:00"])):  # fmt: skip
        api(base, token, "POST", "/v1/presets",
            {"name": name, "schedules": [{"days": days, "times": times}]})  # fmt: skip
    api(base, token, "POST", "/v1/rotations", {
        "name": "brand-week", "profiles": [first],
        "steps": [{"preset": "weekend", "at": "sat 00:00"}, {"preset": "weekday", "at": "mon 06:00"}],
    })  # fmt: skip
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/ui/signin")
        page.screenshot(path=OUT / "signin.png")
        page.goto(link)
        page.wait_for_url(re.compile(r"/ui/profiles$"))
        page.screenshot(path=OUT / "profiles.png", full_page=True)
        page.goto(f"{base}/ui/profiles/{first}")
        page.screenshot(path=OUT / "profile.png", full_page=True)
        page.get_by_role("link", name="Restore this week…").first.click()
        page.screenshot(path=OUT / "restore.png", full_page=True)
        page.get_by_role("button", name="Yes, restore this week").click()
        page.wait_for_url(re.compile(r"/ui/jobs/\d+$"))
        expect(page.locator("[data-field=status]")).to_have_text("succeeded", timeout=30_000)
        page.screenshot(path=OUT / "job.png", full_page=True)
        for name in ("jobs", "rotations", "deliveries"):
            page.goto(f"{base}/ui/{name}")
            page.screenshot(path=OUT / f"{name}.png", full_page=True)
        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        phone.context.add_cookies(page.context.cookies())
        phone.goto(f"{base}/ui/profiles")
        phone.screenshot(path=OUT / "profiles-phone.png")
        browser.close()
    print(f"screenshots written to {OUT.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
