"""The deployment files parse and agree with each other and with the app's contracts.

No container engine runs here, so docker-compose.yml, the Dockerfile, the Kubernetes
manifests and the systemd units are checked by reading them; the one gunicorn config
(bridge/gunicorn_conf.py, values from bridge/web_server.py) by loading it.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from gunicorn.workers.gthread import ThreadWorker

from bridge import create_app, web_server
from bridge.config import (
    API_KEY_PREFIX,
    DELIVERY_QUEUE,
    MAX_DEFAULT_WEB_WORKERS,
    TOKEN_PREFIX,
    VARIABLES,
    WORK_QUEUE,
    load_settings,
)
from tests import kustomize
from tests.conftest import METRIC_FAMILIES as FAMILIES

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
SECRETS_ENV = K8S / "secrets.env"
SECRETS_ENV_EXAMPLE = K8S / "secrets.env.example"
SECRET_NAME = "buffer-bridge-secrets"
SYSTEMD = DEPLOY / "systemd"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
GUNICORN_CONF = "bridge.gunicorn_conf"
ENV_EXAMPLE = ROOT / ".env.example"
SYSTEMD_ENV_EXAMPLE = SYSTEMD / "bridge.env.example"
OPERATIONS = ROOT / "docs" / "operations.md"

# The HTTP routes probes and scrapers may point at: the app's own url_map (built from an
# empty environment, so nothing here depends on the machine's settings).
ROUTES = {rule.rule for rule in create_app(load_settings({})).url_map.iter_rules()}
WEB_PORT = 8000
WORKER_METRICS_PORT = int(VARIABLES["WORKER_METRICS_PORT"][0])
HEALTHCHECK_ROLES = {"web", "worker", "beat"}
# Secret settings: never in a ConfigMap or inline in compose; these alone may be read
# from a file named by <VAR>_FILE (bridge.config._read_secret).
SECRET_RE = re.compile(
    rf"^(?:(?:{TOKEN_PREFIX}|{API_KEY_PREFIX})(?:_[A-Z0-9][A-Z0-9_]*)?|SLACK_SIGNING_SECRET|METRICS_TOKEN|SECRET_KEY)$"
)
TOKEN_NAME_RE = re.compile(rf"^(?:{TOKEN_PREFIX}|{API_KEY_PREFIX})_[A-Z0-9][A-Z0-9_]*$")
# Variables read by Python itself (gunicorn's are in VARIABLES: bridge.config reads them).
OTHER_VARIABLE_PREFIXES = ("PYTHON",)
METRIC_FAMILIES = FAMILIES  # one list of the families the metrics tests check


# ---- readers ---------------------------------------------------------------------------


def is_known_variable(name: str) -> bool:
    """True for a variable the bridge, gunicorn or Python reads."""
    if name in VARIABLES or TOKEN_NAME_RE.match(name):
        return True
    if name.endswith("_FILE") and SECRET_RE.match(name.removesuffix("_FILE")):
        return True
    return name.startswith(OTHER_VARIABLE_PREFIXES)


def env_file_names(path: Path, *, commented: bool = True) -> dict[str, str]:
    """NAME -> value of every `NAME=value` line (and `# NAME=value` examples)."""
    pattern = r"^\s*(#\s*)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$"
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.match(pattern, line)
        if match and (commented or not match.group(1)):
            found[match.group(2)] = match.group(3)
    return found


def compose() -> dict[str, Any]:
    """docker-compose.yml, anchors resolved."""
    return yaml.safe_load(COMPOSE.read_text())


def app_services() -> dict[str, dict[str, Any]]:
    """The compose services built from the bridge's Dockerfile."""
    return {name: svc for name, svc in compose()["services"].items() if "build" in svc}


def k8s_rendered() -> list[dict[str, Any]]:
    """What `kubectl apply -k deploy/kubernetes` applies (tests/kustomize.py), the
    Secret's values from secrets.env.example (secrets.env is the operator's own)."""
    return kustomize.render(K8S, {SECRETS_ENV.name: SECRETS_ENV_EXAMPLE})


def k8s_objects(kind: str | None = None) -> list[dict[str, Any]]:
    """The rendered Kubernetes objects, optionally of one kind."""
    return [doc for doc in k8s_rendered() if kind is None or doc["kind"] == kind]


def k8s_workload(name: str) -> dict[str, Any]:
    """The Deployment or Job called `name`."""
    for doc in k8s_objects():
        if doc["kind"] in ("Deployment", "Job") and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no Deployment or Job named {name}")


def pod_containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers (init containers included) of a workload's pod template."""
    spec = workload["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def all_containers() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, container) for every workload in the manifests."""
    for doc in k8s_objects():
        if doc["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            for container in pod_containers(doc):
                yield doc, container


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    """The one object of `kind` called `name`."""
    found = [doc for doc in k8s_objects(kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}"
    return found[0]


def dockerfile_lines() -> list[str]:
    """Dockerfile instructions, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    return lines


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's stages, each a list of instructions starting with its FROM."""
    stages: list[list[str]] = []
    for line in dockerfile_lines():
        if line.upper().startswith("FROM "):
            stages.append([line])
        elif stages:
            stages[-1].append(line)
    return stages


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit: section -> [(key, value)], repeated keys kept."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {line!r} is not KEY=VALUE"
        current.append((key.strip(), value.strip()))
    return sections


def unit_values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    """Every value of `key` in `section`."""
    return [value for k, value in unit.get(section, []) if k == key]


UNITS = {path.name: path for path in sorted(SYSTEMD.glob("*.service"))}
APP_UNITS = [
    "bridge-web.service",
    "bridge-worker@.service",
    "bridge-deliveries@.service",
    "bridge-beat.service",
]


# ---- the command-line contract -------------------------------------------------------


def bridge_args_ok(args: list[str]) -> bool:
    """True when `bridge <args>` is one of the fixed commands."""
    if args in (["worker"], ["beat"], ["db", "upgrade"]):
        return True
    if len(args) == 2 and args[0] == "healthcheck":
        return args[1] in HEALTHCHECK_ROLES
    if args[:1] == ["serve"]:
        options = args[1:]
        pairs = list(zip(options[::2], options[1::2], strict=False))
        return len(options) % 2 == 0 and all(opt in ("--host", "--port") for opt, _ in pairs)
    return False


def check_command(argv: list[str], where: str) -> None:
    """`argv` is a fixed `bridge` command or gunicorn serving the WSGI app."""
    assert argv, f"{where}: empty command"
    program = Path(argv[0]).name
    if program == "bridge":
        assert bridge_args_ok(argv[1:]), f"{where}: {shlex.join(argv)} is not a bridge command"
    elif program == "gunicorn":
        assert argv[-1] == "bridge.wsgi:app", f"{where}: gunicorn must serve bridge.wsgi:app"
        config = argv[argv.index("-c") + 1]
        assert config == f"python:{GUNICORN_CONF}", f"{where}: gunicorn -c {config}"
    else:
        raise AssertionError(f"{where}: unexpected program {argv[0]!r}")


def compose_commands() -> Iterator[tuple[str, list[str]]]:
    """(where, argv) for each app service's command and healthcheck."""
    for name, svc in app_services().items():
        command = svc["command"]
        yield f"compose {name}", shlex.split(command) if isinstance(command, str) else command
        test = svc.get("healthcheck", {}).get("test")
        if test:
            yield f"compose {name} healthcheck", healthcheck_argv(test)


def healthcheck_argv(test: list[str] | str) -> list[str]:
    """The argv of a compose healthcheck `test`."""
    if isinstance(test, str):
        return shlex.split(test)
    if test[0] == "CMD-SHELL":
        return shlex.split(test[1])
    assert test[0] == "CMD", f"healthcheck test {test!r}"
    return list(test[1:])


def k8s_commands() -> Iterator[tuple[str, list[str]]]:
    """(where, argv) of each container's command and exec probes."""
    for workload, container in all_containers():
        where = f"{workload['metadata']['name']}/{container['name']}"
        yield where, container.get("command", []) + container.get("args", [])
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            exec_ = container.get(probe, {}).get("exec")
            if exec_:
                yield f"{where} {probe}", exec_["command"]


def systemd_commands() -> Iterator[tuple[str, list[str]]]:
    """(where, argv) of every ExecStart of the units."""
    for name, path in UNITS.items():
        for value in unit_values(parse_unit(path), "Service", "ExecStart"):
            yield name, shlex.split(value.lstrip("-@+!:"))


def dockerfile_commands() -> Iterator[tuple[str, list[str]]]:
    """(where, argv) of the final stage's CMD and HEALTHCHECK."""
    for line in dockerfile_stages()[-1]:
        word, _, rest = line.partition(" ")
        if word.upper() == "CMD":
            yield "Dockerfile CMD", json.loads(rest)
        if word.upper() == "HEALTHCHECK":
            yield "Dockerfile HEALTHCHECK", json.loads(rest.split(" CMD ", 1)[1])


ALL_COMMANDS = [
    *compose_commands(),
    *k8s_commands(),
    *systemd_commands(),
    *dockerfile_commands(),
]


@pytest.mark.parametrize(("where", "argv"), ALL_COMMANDS, ids=[w for w, _ in ALL_COMMANDS])
def test_every_command_is_in_the_contract(where, argv):
    check_command(argv, where)


@pytest.mark.parametrize(
    ("args", "ok"),
    [
        (["serve"], True),
        (["serve", "--host", "0.0.0.0", "--port", "8000"], True),
        (["worker"], True),
        (["db", "upgrade"], True),
        (["healthcheck", "beat"], True),
        (["healthcheck", "redis"], False),
        (["db", "migrate"], False),
        (["serve", "--workers", "4"], False),
        (["celery", "worker"], False),
    ],
)
def test_the_contract_checker_itself(args, ok):
    assert bridge_args_ok(args) is ok


# ---- every file parses ---------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [COMPOSE, *sorted(K8S.glob("*.yaml"))], ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_yaml_parses(path):
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert docs
    for doc in docs:
        assert isinstance(doc, dict)


def test_gunicorn_conf_imports(monkeypatch):
    assert load_gunicorn_conf(monkeypatch)["worker_class"] == web_server.WORKER_CLASS


def test_systemd_units_parse():
    assert set(APP_UNITS) | {"bridge-migrate.service"} <= set(UNITS)
    for path in UNITS.values():
        unit = parse_unit(path)
        assert {"Unit", "Service", "Install"} <= set(unit), path.name


# ---- environment variables -----------------------------------------------------------


def test_every_variable_is_in_env_example():
    names = env_file_names(ENV_EXAMPLE)
    set_names = env_file_names(ENV_EXAMPLE, commented=False)
    for name in VARIABLES:
        if "<" in name:  # BUFFER_ACCESS_TOKEN_<NAME>: an example account is enough
            prefix = name.partition("<")[0]
            assert any(TOKEN_NAME_RE.match(n) and n.startswith(prefix) for n in names), name
        else:
            assert name in set_names, f".env.example does not set {name}"


def test_env_example_leaves_secrets_empty_and_comments_every_line():
    lines = ENV_EXAMPLE.read_text().splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if not match:
            continue
        name, value = match.groups()
        if SECRET_RE.match(name):
            assert value == "", f".env.example: {name} must be empty"
        assert index and lines[index - 1].startswith("#"), f".env.example: {name} has no comment"


def variable_sources() -> Iterator[tuple[str, str]]:
    """(where, name) of every variable set in compose, env files, k8s and systemd."""
    for name, svc in app_services().items():
        for var in svc.get("environment", {}):
            yield f"compose {name}", var
    for path in (ENV_EXAMPLE, SYSTEMD_ENV_EXAMPLE):
        for var in env_file_names(path):
            yield path.name, var
    for var in k8s_object("ConfigMap", "buffer-bridge-config")["data"]:
        yield "configmap", var
    for var in kustomize.read_env_file(SECRETS_ENV_EXAMPLE):
        yield SECRETS_ENV_EXAMPLE.name, var
    for workload, container in all_containers():
        for env in container.get("env", []):
            yield workload["metadata"]["name"], env["name"]
    for name, path in UNITS.items():
        for value in unit_values(parse_unit(path), "Service", "Environment"):
            for assignment in shlex.split(value):
                yield name, assignment.partition("=")[0]


VARIABLE_SOURCES = sorted(set(variable_sources()))


@pytest.mark.parametrize(("where", "name"), VARIABLE_SOURCES)
def test_every_variable_set_is_one_the_bridge_reads(where, name):
    assert is_known_variable(name), f"{where}: {name} is not in bridge.config.VARIABLES"


@pytest.mark.parametrize(
    ("name", "known"),
    [
        ("BUFFER_ACCESS_TOKEN_AGENCY", True),
        ("BUFFER_ACCESS_TOKEN_FILE", True),
        ("BUFFER_ACCESS_TOKEN_AGENCY_FILE", True),
        ("SLACK_SIGNING_SECRET_FILE", True),
        ("GUNICORN_WORKERS", True),
        ("BUFFER_TOKEN", False),
        ("REDIS_HOST", False),
        ("BUFFER_ACCESS_TOKEN_agency", False),
        ("BUFFER_API_KEY_AGENCY", True),
        ("BUFFER_API_KEY_FILE", True),
        ("BUFFER_API_KEYS", False),
    ],
)
def test_the_variable_checker_itself(name, known):
    assert is_known_variable(name) is known


def test_secrets_stay_out_of_configmap_and_compose():
    configmap = k8s_object("ConfigMap", "buffer-bridge-config")["data"]
    assert not [name for name in configmap if SECRET_RE.match(name)]
    for name, svc in app_services().items():
        inline = [var for var in svc.get("environment", {}) if SECRET_RE.match(var)]
        assert not inline, f"compose {name} sets secrets inline: {inline}"
        assert svc["env_file"] in (".env", [".env"]), name


def test_the_secret_is_generated_from_a_gitignored_file():
    """No Secret of placeholders is applied over the one the operator made (issue 20 §5):
    the Secret is generated from secrets.env, which git ignores; the example is committed
    with every secret setting empty (DATABASE_URL shows its shape)."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    (generator,) = kustomization["secretGenerator"]
    assert generator["name"] == SECRET_NAME and generator["envs"] == [SECRETS_ENV.name]
    assert not [doc for doc in k8s_objects("Secret") if doc["metadata"]["name"] == SECRET_NAME]
    ignored = subprocess.run(["git", "check-ignore", "-q", str(SECRETS_ENV)], cwd=ROOT, check=False)
    assert ignored.returncode == 0, "deploy/kubernetes/secrets.env must be gitignored"
    example = kustomize.read_env_file(SECRETS_ENV_EXAMPLE)
    for name, value in example.items():
        assert value == "" or name == "DATABASE_URL", f"{name} must be empty in the example"


# ---- docker-compose.yml --------------------------------------------------------------


def test_compose_app_services_share_one_image():
    services = app_services()
    assert set(services) == {"migrate", "web", "worker", "deliveries", "beat"}
    images = {svc["image"] for svc in services.values()}
    builds = {json.dumps(svc["build"], sort_keys=True) for svc in services.values()}
    assert len(images) == 1 and len(builds) == 1
    build = next(iter(services.values()))["build"]
    assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_compose_points_the_app_at_its_redis_and_postgres():
    for name, svc in app_services().items():
        env = svc["environment"]
        assert env["REDIS_URL"].startswith("redis://redis:"), name
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://"), name
        assert "@postgres:" in env["DATABASE_URL"], name


def test_compose_redis_keeps_its_data():
    redis = compose()["services"]["redis"]
    command = redis["command"]
    command = " ".join(command) if isinstance(command, list) else command
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert redis["image"].startswith("redis:7")
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert healthcheck_argv(redis["healthcheck"]["test"]) == ["redis-cli", "ping"]


def test_compose_postgres():
    postgres = compose()["services"]["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert postgres["volumes"]
    assert healthcheck_argv(postgres["healthcheck"]["test"])[0] == "pg_isready"


def test_compose_start_order():
    services = compose()["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["bridge", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "deliveries", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_compose_healthchecks_match_roles():
    services = compose()["services"]
    for role in ("web", "worker", "beat"):
        argv = healthcheck_argv(services[role]["healthcheck"]["test"])
        assert argv == ["bridge", "healthcheck", role]


def test_compose_web_port_and_metrics_dir():
    services = compose()["services"]
    assert any(str(p).endswith(f":{WEB_PORT}") for p in services["web"]["ports"])
    for name, svc in app_services().items():
        directory = svc["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert directory in svc["tmpfs"], f"{name}: metrics dir must be a fresh tmpfs"


def test_compose_runs_one_beat():
    beat = compose()["services"]["beat"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert "scale" not in beat


# ---- Dockerfile and .dockerignore ----------------------------------------------------


def test_dockerfile_is_multi_stage():
    stages = dockerfile_stages()
    assert len(stages) >= 2
    assert re.match(r"(?i)^FROM\s+\S+\s+AS\s+builder$", stages[0][0])
    final = stages[-1]
    assert re.match(r"(?i)^FROM\s+python:3\.11-slim(\s|$)", final[0])
    assert " AS builder" not in final[0]
    assert any(re.match(r"(?i)^COPY\s+--from=builder\s+", line) for line in final)


def test_dockerfile_final_stage_has_no_build_tools_and_runs_as_non_root():
    final = dockerfile_stages()[-1]
    text = "\n".join(final)
    for tool in ("gcc", "build-essential", "g++", "make "):
        assert tool not in text, f"final stage mentions {tool}"
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users, "final stage sets no USER"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_runtime_settings():
    final = dockerfile_stages()[-1]
    text = "\n".join(final)
    assert re.search(r"\bPROMETHEUS_MULTIPROC_DIR=/tmp/metrics\b", text)
    exposed = [
        port for line in final if line.upper().startswith("EXPOSE ") for port in line.split()[1:]
    ]
    assert str(WEB_PORT) in exposed
    assert any(line.upper().startswith("HEALTHCHECK ") for line in final)
    assert any(line.upper().startswith("CMD ") for line in final)


def dockerignore_patterns() -> list[str]:
    """The patterns of .dockerignore."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def dockerignored(path: str) -> bool:
    """True when .dockerignore keeps `path` (or a parent of it) out of the context."""
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(candidate, pattern.removeprefix("**/"))
        or fnmatch.fnmatch(Path(candidate).name, pattern.removeprefix("**/"))
        for pattern in dockerignore_patterns()
        if not pattern.startswith("!")
        for candidate in candidates
    )


def test_dockerfile_copies_what_the_context_has():
    sources = []
    for stage in dockerfile_stages():
        for line in stage:
            words = line.split()
            if words[0].upper() == "COPY" and not any(w.startswith("--from") for w in words):
                sources += [w for w in words[1:-1] if not w.startswith("--")]
    assert "bridge" in sources  # the gunicorn config ships inside the package
    for source in sources:
        assert not dockerignored(source), f".dockerignore hides {source}"
        if source != "README.md":  # the project README is written alongside
            assert (ROOT / source).exists(), source
    for secret in (".env", ".git", ".venv", "bridge.db"):
        assert dockerignored(secret), f".dockerignore must exclude {secret}"


# ---- the gunicorn config ---------------------------------------------------------------

GUNICORN_ENV = ("GUNICORN_", "PROMETHEUS_MULTIPROC_DIR", "FORWARDED_ALLOW_IPS")


def load_gunicorn_conf(monkeypatch, **env: str) -> dict[str, Any]:
    """The settings bridge.gunicorn_conf gives gunicorn under `env`."""
    for name in list(os.environ):
        if name.startswith(GUNICORN_ENV):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_module(GUNICORN_CONF)


def test_gunicorn_defaults(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch)
    assert conf["bind"] == f"0.0.0.0:{WEB_PORT}"
    assert 1 <= conf["workers"] <= MAX_DEFAULT_WEB_WORKERS
    # a request waiting on a job holds a thread for up to 25 s; probes need one free
    assert conf["worker_class"] == web_server.WORKER_CLASS and conf["threads"] >= 16
    assert issubclass(web_server.ThreadWorker, ThreadWorker)  # gthread, errors in JSON
    assert conf["timeout"] == 60
    assert 25 < conf["graceful_timeout"] < conf["timeout"]
    assert conf["forwarded_allow_ips"] == "127.0.0.1,::1"
    # the app writes the access log itself, with tokens in /hooks/ paths redacted
    assert conf["accesslog"] is None
    assert conf["errorlog"] == "-"


def test_gunicorn_reads_the_environment(monkeypatch):
    conf = load_gunicorn_conf(
        monkeypatch,
        GUNICORN_BIND="127.0.0.1:9000",
        GUNICORN_WORKERS="3",
        GUNICORN_TIMEOUT="45",
        GUNICORN_THREADS="32",
        FORWARDED_ALLOW_IPS="*",
    )
    assert (conf["bind"], conf["workers"], conf["timeout"]) == ("127.0.0.1:9000", 3, 45)
    assert (conf["threads"], conf["forwarded_allow_ips"]) == (32, "*")


def test_bridge_serve_uses_the_same_config(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch, GUNICORN_WORKERS="2")
    served = web_server.options(load_settings({"GUNICORN_WORKERS": "2"}))
    assert set(served) == {k for k in conf if not k.startswith("_")} - {
        "load_settings",
        "options",
    }
    plain = {k: v for k, v in served.items() if not callable(v)}
    assert plain == {k: conf[k] for k in plain}


def test_gunicorn_hooks_are_real_gunicorn_settings(monkeypatch):
    from gunicorn.config import Config

    config = Config()
    for key, value in load_gunicorn_conf(monkeypatch).items():
        if key in config.settings:
            config.set(key, value)
    assert config.worker_class is web_server.ThreadWorker
    assert callable(config.child_exit) and callable(config.on_starting)


def test_gunicorn_on_starting_empties_the_metrics_dir(monkeypatch, tmp_path):
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_123.db").write_bytes(b"stale")
    conf = load_gunicorn_conf(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(metrics))
    conf["on_starting"](SimpleNamespace(log=SimpleNamespace(warning=print)))
    assert list(metrics.iterdir()) == []


def test_gunicorn_child_exit_marks_the_process_dead(monkeypatch, tmp_path):
    from prometheus_client import multiprocess

    dead: list[int] = []
    monkeypatch.setattr(multiprocess, "mark_process_dead", dead.append)
    conf = load_gunicorn_conf(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    conf["child_exit"](SimpleNamespace(), SimpleNamespace(pid=4242))
    assert dead == [4242]


# ---- Kubernetes ----------------------------------------------------------------------


def test_kubernetes_uses_one_pinned_image():
    images = {container["image"] for _, container in all_containers()}
    assert len(images) == 1, images
    image = images.pop()
    assert ":" in image and not image.endswith(":latest")


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests


def test_kubernetes_workloads_exist_with_their_commands():
    expected = {
        "buffer-bridge-migrate": ("Job", ["bridge", "db", "upgrade"]),
        "buffer-bridge-web": ("Deployment", ["gunicorn", "-c", f"python:{GUNICORN_CONF}"]),
        "buffer-bridge-worker": ("Deployment", ["bridge", "worker"]),
        "buffer-bridge-deliveries": ("Deployment", ["bridge", "worker"]),
        "buffer-bridge-beat": ("Deployment", ["bridge", "beat"]),
    }
    for name, (kind, command) in expected.items():
        workload = k8s_workload(name)
        assert workload["kind"] == kind
        (container,) = pod_containers(workload)
        assert container["command"][: len(command)] == command


def test_kubernetes_pods_run_as_non_root_with_config_and_secret():
    for workload, container in all_containers():
        name = workload["metadata"]["name"]
        pod_security = workload["spec"]["template"]["spec"]["securityContext"]
        assert pod_security["runAsNonRoot"] is True, name
        assert pod_security["runAsUser"] != 0, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        sources = {
            ref.get("configMapRef", {}).get("name") or ref.get("secretRef", {}).get("name")
            for ref in container["envFrom"]
        }
        assert sources == {"buffer-bridge-config", generated_secret()["metadata"]["name"]}, name
        assert container["resources"]["requests"], name


def container_port(container: dict[str, Any], port: int | str) -> int:
    """A probe's port, named or numbered, as the number the container listens on."""
    if isinstance(port, int):
        return port
    for entry in container.get("ports", []):
        if entry.get("name") == port:
            return entry["containerPort"]
    raise AssertionError(f"no port named {port}")


def test_web_probes_point_at_real_routes_on_the_web_port():
    (container,) = pod_containers(k8s_workload("buffer-bridge-web"))
    assert WEB_PORT in [p["containerPort"] for p in container["ports"]]
    liveness = container["livenessProbe"]["httpGet"]
    readiness = container["readinessProbe"]["httpGet"]
    assert liveness["path"] == "/healthz"
    assert readiness["path"] == "/readyz"
    for probe in (liveness, readiness):
        assert container_port(container, probe["port"]) == WEB_PORT


def test_every_http_probe_and_scrape_path_is_a_route():
    for workload, container in all_containers():
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            http = container.get(probe, {}).get("httpGet")
            if http:
                assert http["path"] in ROUTES, f"{workload['metadata']['name']} {probe}"
        annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
        if "prometheus.io/path" in annotations:
            assert annotations["prometheus.io/path"] in ROUTES


def test_web_service_targets_the_web_port():
    service = k8s_object("Service", "buffer-bridge-web")
    web = k8s_workload("buffer-bridge-web")
    assert service["spec"]["selector"] == web["spec"]["selector"]["matchLabels"]
    (container,) = pod_containers(web)
    targets = [container_port(container, p["targetPort"]) for p in service["spec"]["ports"]]
    assert targets == [WEB_PORT]


def mounted_at(workload: dict[str, Any], container: dict[str, Any], path: str) -> dict:
    """The volume mounted at `path` in `container`."""
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"].get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        if mount["mountPath"] == path:
            return volumes[mount["name"]]
    raise AssertionError(f"nothing mounted at {path}")


# What every container must be given in a cluster, from bridge/config.py: every secret
# setting (no default; the app is incomplete without it: no Buffer account, /ui off, an
# open /metrics, /chat/slack off) and the settings whose defaults suit one laptop only.
CLUSTER_SETTINGS = {name for name in VARIABLES if SECRET_RE.match(name) and "<" not in name} | {
    "DATABASE_URL",
    "REDIS_URL",
    "PROMETHEUS_MULTIPROC_DIR",
}


def generated_secret() -> dict[str, Any]:
    """The Secret kustomize generates from secrets.env (here: from the example)."""
    (secret,) = [
        doc
        for doc in k8s_objects("Secret")
        if doc["metadata"]["name"].startswith(f"{SECRET_NAME}-")
    ]
    return secret


def container_environment(container: dict[str, Any]) -> dict[str, str]:
    """The environment a container starts with: its envFrom sources in order (a later
    one wins), then its own env."""
    maps = {
        ("ConfigMap", d["metadata"]["name"]): d.get("data", {}) for d in k8s_objects("ConfigMap")
    }
    for secret in k8s_objects("Secret"):
        decoded = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
        maps[("Secret", secret["metadata"]["name"])] = decoded
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            key = ("ConfigMap", source["configMapRef"]["name"])
        else:
            key = ("Secret", source["secretRef"]["name"])
        assert key in maps, f"envFrom names {key}, which the render does not make"
        environment.update(maps[key])
    environment.update({e["name"]: e.get("value", "") for e in container.get("env", [])})
    return environment


def test_cluster_settings_are_the_apps_own():
    assert not CLUSTER_SETTINGS - set(VARIABLES)
    assert {"SECRET_KEY", "METRICS_TOKEN", "BUFFER_API_KEY", "BUFFER_ACCESS_TOKEN"} <= (
        CLUSTER_SETTINGS
    )


def test_every_container_is_given_every_setting_the_app_needs():
    """Issue 20 §5: no SECRET_KEY, BUFFER_API_KEY or METRICS_TOKEN in any deploy file."""
    for workload, container in all_containers():
        environment = container_environment(container)
        missing = CLUSTER_SETTINGS - set(environment)
        assert not missing, f"{workload['metadata']['name']} is not given {sorted(missing)}"
        filled = {**environment, "SECRET_KEY": "s" * 48}  # what an operator fills in
        load_settings(filled)  # every value given parses


def test_compose_and_systemd_are_given_every_setting_the_app_needs():
    """compose's services read .env (from .env.example), systemd's units bridge.env (from
    bridge.env.example); PROMETHEUS_MULTIPROC_DIR is set per service and per unit."""
    per_process = {"PROMETHEUS_MULTIPROC_DIR"}
    for path in (ENV_EXAMPLE, SYSTEMD_ENV_EXAMPLE):
        given = set(env_file_names(path, commented=False))
        missing = CLUSTER_SETTINGS - per_process - given
        assert not missing, f"{path.relative_to(ROOT)} does not give {sorted(missing)}"


def test_the_image_tag_is_the_package_version():
    """Issue 20 §5: the manifests ran image 0.1.0 for package 0.2.0."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    images = {container["image"] for _, container in all_containers()}
    assert images == {f"ghcr.io/buffer-bridge/buffer-bridge:{version}"}


def test_the_metrics_dir_is_writable_in_every_container():
    """PROMETHEUS_MULTIPROC_DIR must exist and be writable wherever it is set: the root
    filesystem is read-only, and beat's emptyDir over /tmp hid the image's /tmp/metrics
    (beat stopped at start; issue 20 §5)."""
    for workload, container in all_containers():
        name = workload["metadata"]["name"]
        directory = container_environment(container).get("PROMETHEUS_MULTIPROC_DIR")
        if not directory:
            continue
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        volume = mounted_at(workload, container, directory)
        assert "emptyDir" in volume, name
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == directory]
        assert not mount.get("readOnly"), name


def test_docs_create_the_secret_the_way_the_kustomization_does():
    text = OPERATIONS.read_text()
    assert "create secret generic" not in text  # kustomize would apply its own over it
    assert "cp deploy/kubernetes/secrets.env.example deploy/kubernetes/secrets.env" in text


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_renderer_agrees_with_kubectl_kustomize(tmp_path):
    copy = tmp_path / "kubernetes"
    shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns(SECRETS_ENV.name))
    shutil.copy(SECRETS_ENV_EXAMPLE, copy / SECRETS_ENV.name)
    out = subprocess.run(
        ["kubectl", "kustomize", str(copy)], capture_output=True, text=True, check=True
    ).stdout
    suffix = re.compile(rf"\b{SECRET_NAME}-[a-z0-9]{{10}}\b")

    def normal(objects: list[dict[str, Any]]) -> list[str]:
        texts = []
        for obj in objects:
            if obj["kind"] == "Secret":  # kubectl wraps long base64 values
                obj = {**obj, "data": {k: "".join(v.split()) for k, v in obj["data"].items()}}
            texts.append(suffix.sub(f"{SECRET_NAME}-HASH", json.dumps(obj, sort_keys=True)))
        return sorted(texts)

    theirs = [doc for doc in yaml.safe_load_all(out) if doc]
    assert normal(kustomize.render(copy)) == normal(theirs)


def test_worker_probe_and_metrics_port():
    configmap = k8s_object("ConfigMap", "buffer-bridge-config")["data"]
    assert int(configmap["WORKER_METRICS_PORT"]) == WORKER_METRICS_PORT
    (container,) = pod_containers(k8s_workload("buffer-bridge-worker"))
    exec_probe = container["livenessProbe"]["exec"]["command"]
    assert exec_probe == ["bridge", "healthcheck", "worker"]
    assert WORKER_METRICS_PORT in [p["containerPort"] for p in container["ports"]]


def test_beat_is_a_singleton():
    beat = k8s_workload("buffer-bridge-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    (container,) = pod_containers(beat)
    assert container["livenessProbe"]["exec"]["command"] == ["bridge", "healthcheck", "beat"]


def test_no_autoscaler_targets_beat():
    for hpa in k8s_objects("HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"]["name"] != "buffer-bridge-beat"


# ---- systemd -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(UNITS))
def test_systemd_unit_is_hardened_and_configured_by_env_file(name):
    unit = parse_unit(UNITS[name])
    service = dict(unit["Service"])
    assert unit_values(unit, "Service", "EnvironmentFile") == ["/etc/buffer-bridge/bridge.env"]
    assert service["User"] not in ("root", "0")
    # a long-running piece comes back however it ended (Celery can exit 0 after a crash)
    assert service["Restart"] == ("on-failure" if name == "bridge-migrate.service" else "always")
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
    }.items():
        assert service.get(key) == value, f"{name}: {key}"


def test_systemd_migrate_runs_first():
    migrate = dict(parse_unit(UNITS["bridge-migrate.service"])["Service"])
    assert migrate["Type"] == "oneshot"
    for name in APP_UNITS:
        unit = parse_unit(UNITS[name])
        after = " ".join(unit_values(unit, "Unit", "After")).split()
        requires = " ".join(unit_values(unit, "Unit", "Requires")).split()
        assert "bridge-migrate.service" in after, name
        assert "bridge-migrate.service" in requires, name


def test_systemd_workers_are_a_template_and_beat_is_not():
    assert "bridge-worker@.service" in UNITS
    assert not [name for name in UNITS if name.startswith("bridge-beat@")]
    worker = parse_unit(UNITS["bridge-worker@.service"])
    # several instances on one machine need their own metrics port and directory
    environment = " ".join(unit_values(worker, "Service", "Environment"))
    assert "WORKER_METRICS_PORT=%i" in environment
    assert re.search(r"PROMETHEUS_MULTIPROC_DIR=\S*%i", environment)


def test_systemd_web_runs_gunicorn_with_a_fresh_metrics_dir():
    web = parse_unit(UNITS["bridge-web.service"])
    (exec_start,) = unit_values(web, "Service", "ExecStart")
    assert Path(shlex.split(exec_start)[0]).name == "gunicorn"
    environment = " ".join(unit_values(web, "Service", "Environment"))
    directory = re.search(r"PROMETHEUS_MULTIPROC_DIR=(\S+)", environment).group(1)
    runtime = unit_values(web, "Service", "RuntimeDirectory")
    assert directory.startswith(tuple(f"/run/{r}" for r in runtime))


# ---- docs ----------------------------------------------------------------------------


def test_operations_doc_covers_the_essentials():
    text = OPERATIONS.read_text()
    for family in METRIC_FAMILIES:
        assert family in text, f"docs/operations.md does not describe {family}"
    for topic in ("docker compose", "kubectl", "systemctl", "pg_dump", "rotate"):
        assert topic in text.lower(), topic


# ---- the two kinds of worker -----------------------------------------------------------


def _queue_of(environment: dict[str, str]) -> str:
    return environment.get("WORKER_QUEUE", WORK_QUEUE)


def test_every_deployment_runs_both_kinds_of_worker():
    """Deliveries have workers of their own in compose, Kubernetes and systemd (issue 20:
    a receiver holding every request starved the syncs sharing their workers)."""
    services = compose()["services"]
    assert _queue_of(services["worker"]["environment"]) == WORK_QUEUE
    assert _queue_of(services["deliveries"]["environment"]) == DELIVERY_QUEUE
    assert healthcheck_argv(services["deliveries"]["healthcheck"]["test"])[-1] == "worker"
    for name, queue in (
        ("buffer-bridge-worker", WORK_QUEUE),
        ("buffer-bridge-deliveries", DELIVERY_QUEUE),
    ):
        (container,) = pod_containers(k8s_workload(name))
        env = {e["name"]: e["value"] for e in container.get("env", [])}
        assert _queue_of(env) == queue, name
    for unit, queue in (
        ("bridge-worker@.service", WORK_QUEUE),
        ("bridge-deliveries@.service", DELIVERY_QUEUE),
    ):
        assignments = [
            a.partition("=")
            for value in unit_values(parse_unit(UNITS[unit]), "Service", "Environment")
            for a in shlex.split(value)
        ]
        assert _queue_of({k: v for k, _, v in assignments}) == queue, unit
