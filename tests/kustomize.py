"""A small kustomize, enough to render deploy/kubernetes without kubectl.

It does what deploy/kubernetes/kustomization.yaml uses and nothing more: `resources`
(files), `namespace`, `labels` (pairs, on metadata only), `secretGenerator` (`envs`
files and `literals`, with a content-hash name suffix like kustomize's, and the references to
the generated Secret renamed in envFrom, env and volumes) and `images` (`newName`,
`newTag`). Anything else in the kustomization is refused, so a feature added there is
never silently left out of what the tests check. tests/test_deploy_files.py compares
this output with `kubectl kustomize` where kubectl is installed.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "namespace", "labels", "resources", "secretGenerator", "images"}
CLUSTER_WIDE = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def read_env_file(path: Path) -> dict[str, str]:
    """NAME -> value of a kustomize `envs` file: `NAME=value` lines, `#` comments and
    blank lines skipped, values kept as written (quotes included, as kustomize does)."""
    pairs: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if not sep or not name:
            raise ValueError(f"{path}:{number}: not NAME=value: {line!r}")
        pairs[name] = value
    return pairs


def name_suffix(kind: str, name: str, type_: str, data: dict[str, str]) -> str:
    """A ten-letter suffix that changes with the Secret's contents, as kustomize's does
    (not kustomize's exact digest: comparisons with kubectl ignore the suffix)."""
    encoded = json.dumps([kind, name, type_, data], sort_keys=True)
    return (
        hashlib.sha256(encoded.encode()).hexdigest()[:10].translate(str.maketrans("013ae", "ghkmt"))
    )


def _generate_secret(base: Path, spec: dict[str, Any], env_files: dict[str, Path]) -> dict:
    unknown = set(spec) - {"name", "type", "envs", "literals"}
    if unknown:
        raise ValueError(f"secretGenerator: unsupported {sorted(unknown)}")
    values: dict[str, str] = {}
    for env in spec.get("envs", []):
        values.update(read_env_file(env_files.get(env, base / env)))
    for literal in spec.get("literals", []):
        name, _, value = literal.partition("=")
        values[name] = value
    data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    type_ = spec.get("type", "Opaque")
    name = f"{spec['name']}-{name_suffix('Secret', spec['name'], type_, data)}"
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": type_,
        "data": data,
    }


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return obj["spec"]["template"]["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return pod.get("initContainers", []) + pod.get("containers", [])


def _rename_secrets(pod: dict[str, Any], renamed: dict[str, str]) -> None:
    for container in _containers(pod):
        for source in container.get("envFrom", []):
            ref = source.get("secretRef")
            if ref and ref.get("name") in renamed:
                ref["name"] = renamed[ref["name"]]
        for var in container.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref.get("name") in renamed:
                ref["name"] = renamed[ref["name"]]
    for volume in pod.get("volumes", []):
        secret = volume.get("secret")
        if secret and secret.get("secretName") in renamed:
            secret["secretName"] = renamed[secret["secretName"]]


def _set_image(pod: dict[str, Any], images: list[dict[str, Any]]) -> None:
    for container in _containers(pod):
        image = container["image"]
        name, _, tag = image.partition("@")[0].rpartition(":")
        if not name or "/" in tag:  # no tag: the colon, if any, was a registry's port
            name, tag = image, ""
        for rule in images:
            if rule["name"] == name:
                new_name = rule.get("newName", name)
                new_tag = rule.get("newTag", tag)
                container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name


def render(directory: Path, env_files: dict[str, Path] | None = None) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize directory` prints. `env_files` maps an `envs` entry
    to another file (tests render with secrets.env.example, secrets.env being the
    operator's own)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED
    if unsupported:
        raise ValueError(f"tests/kustomize.py does not render {sorted(unsupported)}")
    objects: list[dict[str, Any]] = []
    for resource in kustomization.get("resources", []):
        text = (directory / resource).read_text()
        objects += [copy.deepcopy(doc) for doc in yaml.safe_load_all(text) if doc]
    renamed: dict[str, str] = {}
    for spec in kustomization.get("secretGenerator", []):
        secret = _generate_secret(directory, spec, env_files or {})
        renamed[spec["name"]] = secret["metadata"]["name"]
        objects.append(secret)
    labels: dict[str, str] = {}
    for entry in kustomization.get("labels", []):
        if entry.get("includeSelectors") or entry.get("includeTemplates"):
            raise ValueError("labels: includeSelectors/includeTemplates are not rendered")
        labels.update(entry["pairs"])
    for obj in objects:
        metadata = obj.setdefault("metadata", {})
        if "namespace" in kustomization and obj["kind"] not in CLUSTER_WIDE:
            metadata["namespace"] = kustomization["namespace"]
        if labels:
            metadata["labels"] = {**metadata.get("labels", {}), **labels}
        pod = _pod_spec(obj)
        if pod is not None:
            _rename_secrets(pod, renamed)
            _set_image(pod, kustomization.get("images", []))
    return objects
