"""Reproducible installs: every dependency comes from uv.lock, exact and hashed.

A fresh machine must install the same versions as the last green run: an unpinned
library that changed once broke every clone's `make test` (standardwebhooks 1.3.0).
These tests read the files that install the bridge (Makefile, Dockerfile, CI) and the
lock itself; nothing here touches the network."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEV_TOOLS = {"pytest", "mypy", "ruff", "playwright", "schemathesis", "hypothesis", "responses"}


def lock() -> dict[str, Any]:
    return tomllib.loads((ROOT / "uv.lock").read_text())


def packages() -> dict[str, dict[str, Any]]:
    return {package["name"]: package for package in lock()["package"]}


def requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_locked_package_is_exact_and_hashed():
    for name, package in packages().items():
        if package["source"].get("editable") == ".":
            continue  # the project itself
        assert "registry" in package["source"], f"{name} is not from a package index"
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", package["version"]), name
        files = package.get("wheels", []) + ([package["sdist"]] if "sdist" in package else [])
        assert files, f"{name} has no files in the lock"
        for file in files:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", file["hash"]), (name, file["url"])


def test_the_lock_covers_pyproject_exactly():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    ours = packages()["buffer-bridge"]
    runtime = {requirement_name(r) for r in project["project"]["dependencies"]}
    dev = {requirement_name(r) for r in project["dependency-groups"]["dev"]}
    assert {d["name"] for d in ours["dependencies"]} == runtime
    assert {d["name"] for d in ours["dev-dependencies"]["dev"]} == dev
    assert "optional-dependencies" not in project["project"], "dev tools belong to the group"


def runtime_closure() -> set[str]:
    """Every package the runtime set installs: the project's dependencies, transitively."""
    every = packages()
    seen: set[str] = set()
    todo = [d["name"] for d in every["buffer-bridge"]["dependencies"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        package = every[name]
        todo += [d["name"] for d in package.get("dependencies", [])]
        for extra in package.get("optional-dependencies", {}).values():
            todo += [d["name"] for d in extra]  # over-approximates: extras asked anywhere
    return seen


def test_the_runtime_set_has_no_dev_tools():
    assert not DEV_TOOLS & runtime_closure()


def make_recipe(target: str) -> str:
    """The prerequisites and recipe lines of one Makefile target, variables unexpanded."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{re.escape(target)}:(.*?)(?=^\S|\Z)", text, re.M | re.S)
    assert match, target
    return match.group(1)


def test_make_installs_from_the_lock_only():
    text = (ROOT / "Makefile").read_text()
    assert "pip install -e" not in text and "pip install -q -e" not in text
    runtime = make_recipe("$(RUNTIME_STAMP)")
    dev = make_recipe("$(DEV_STAMP)")
    assert "sync --locked --no-dev" in runtime
    assert "sync --locked" in dev and "--no-dev" not in dev
    assert "$(RUNTIME_STAMP)" in make_recipe("run") and "$(DEV_STAMP)" not in make_recipe("run")
    assert "$(DEV_STAMP)" in make_recipe("test")
    assert "lock --upgrade" in make_recipe("lock")
    assert "--require-hashes -r requirements/uv.txt" in make_recipe("$(UV)")


def test_uv_itself_is_pinned_by_hash():
    text = (ROOT / "requirements" / "uv.txt").read_text()
    assert re.search(r"^uv==\d+\.\d+\.\d+ \\$", text, re.M)
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", text)) >= 2


def test_the_image_and_ci_install_from_the_lock():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(r"uv sync --locked --no-dev --no-editable", dockerfile)
    assert "uv.lock" in dockerfile and "--require-hashes -r /tmp/uv.txt" in dockerfile
    assert not re.search(r"pip install (?!--require-hashes)", dockerfile)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "pip install" not in ci


def test_the_zapier_app_installs_from_its_lock_and_runs_after_the_python_suite():
    """`make zapier-test` installs the Zapier app with `npm ci` (its package-lock.json,
    exact pins, integrity hashes); `make test` stays Python-only; CI runs the app's tests
    after the suite, with npm from apt where it is missing."""
    app = ROOT / "integrations" / "zapier"
    package = json.loads((app / "package.json").read_text())
    lock = json.loads((app / "package-lock.json").read_text())
    for group in ("dependencies", "devDependencies"):
        for name, version in package[group].items():
            assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version} is not exact"
    assert package["dependencies"]["zapier-platform-core"].startswith("19.")
    assert package["devDependencies"]["zapier-platform-cli"].startswith("19.")
    installed = {k: v for k, v in lock["packages"].items() if k.startswith("node_modules/")}
    assert installed and all("integrity" in v for v in installed.values() if not v.get("link"))
    assert "npm ci" in make_recipe("$(ZAPIER_STAMP)") and "npm install" not in make_recipe(
        "$(ZAPIER_STAMP)"
    )
    assert "npm test" in make_recipe("zapier-test")
    assert "npm" not in make_recipe("test") and "zapier" not in make_recipe("test")
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines() if line.startswith("make ")]
    assert commands.index("make test") < commands.index("make zapier-test")
    assert "command -v npm" in ci and "nodejs npm" in ci
