"""The deployment files (deploy/) cannot be built or run on the development machine (no
container engine), so they are held to the code here: every command, port, variable and
probe they use must exist in the CLI, the settings and the gateway's routes."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.app import create_app
from ops.cli import app as cli_app
from ops.cli import command_names
from ops.config import Settings
from streams.worker_main import WORKERS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
IMAGE = "crm:latest"


def _documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in [DEPLOY / "compose.yaml", *sorted((DEPLOY / "k8s").glob("*.yaml"))]:
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append((path.name, document))
    return found


def _crm_containers() -> Iterator[tuple[str, list[str], dict[str, str], dict[str, Any]]]:
    """(where, arguments after `crm`, literal env, the container/service) for each crm process."""
    for name, document in _documents():
        if name == "compose.yaml":
            for service_name, service in document["services"].items():
                if service.get("image") == IMAGE:
                    env = {k: str(v) for k, v in service.get("environment", {}).items()}
                    yield f"compose {service_name}", service["command"], env, service
            continue
        template = document.get("spec", {}).get("template", {}).get("spec", {})
        for container in template.get("containers", []):
            if container["image"] == IMAGE:
                env = {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}
                yield f"{name} {document['metadata']['name']}", container["args"], env, container


def _dockerfile() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        (line.split(None, 1)[0], line.split(None, 1)[1])
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    ]


def _env_names_and_values() -> Iterator[tuple[str, str, str]]:
    for where, _, env, _ in _crm_containers():
        for key, value in env.items():
            yield where, key, value
    for name, document in _documents():
        if document.get("kind") in {"ConfigMap", "Secret"}:
            data = document.get("data") or document.get("stringData") or {}
            for key, value in data.items():
                yield f"{name} {document['metadata']['name']}", key, str(value)
    for instruction, rest in _dockerfile():
        if instruction == "ENV":
            for key, value in re.findall(r"(\w+)=(\S+)", rest):
                yield "Dockerfile", key, value


def _gateway_paths() -> set[str]:
    app = create_app(Settings(data_dir=ROOT / ".crm-deploy-check"))
    return {path for route in app.routes if (path := getattr(route, "path", None))}


def test_every_crm_process_runs_a_verb_the_cli_has() -> None:
    verbs = command_names(cli_app)
    seen = []
    for where, args, _, _ in _crm_containers():
        assert args[0] in verbs, f"{where}: `crm {args[0]}` is not a crm verb"
        if args[0] == "worker":
            assert args[1] in WORKERS, f"{where}: no worker named {args[1]!r}"
        seen.append(tuple(args))
    for instruction, rest in _dockerfile():
        if instruction == "CMD":
            assert yaml.safe_load(rest)[0] in verbs
        if instruction == "ENTRYPOINT":
            assert yaml.safe_load(rest) == ["crm"]
    # Every part of the platform is deployed: each worker, the relay, the gateway.
    for needed in [("gateway",), ("relay",), *[("worker", name) for name in WORKERS]]:
        assert any(args[: len(needed)] == needed for args in seen), f"nothing runs {needed}"


def test_every_crm_variable_is_a_setting_with_a_valid_value() -> None:
    fields = {f"CRM_{name.upper()}": name for name in Settings.model_fields}
    checked = 0
    for where, key, value in _env_names_and_values():
        if not key.startswith("CRM_"):
            continue
        assert key in fields, f"{where}: {key} is not a setting (ops/config.py)"
        if key in {"CRM_MASTER_KEY", "CRM_JWT_SECRET", "CRM_DATABASE_URL"}:
            continue  # placeholders the operator replaces
        Settings.model_validate({fields[key]: value})
        checked += 1
    assert checked > 0


def test_ports_agree_with_the_port_setting_and_probes_exist() -> None:
    paths = _gateway_paths()
    gateways = [c for c in _crm_containers() if c[1][0] == "gateway"]
    assert gateways
    for where, _, env, container in gateways:
        port = int(env["CRM_PORT"])
        if "ports" in container and isinstance(container["ports"][0], str):
            assert all(p.split(":")[-1] == str(port) for p in container["ports"]), where
        else:
            assert [p["containerPort"] for p in container["ports"]] == [port], where
        for probe in ("livenessProbe", "readinessProbe"):
            if probe in container:
                get = container[probe]["httpGet"]
                assert get["port"] == port, f"{where}: {probe} probes another port"
                assert get["path"] in paths, f"{where}: {probe} path {get['path']} not served"
    docker = dict(_dockerfile())
    exposed = docker["EXPOSE"]
    assert f"CRM_PORT={exposed}" in docker["ENV"]
    health = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", docker["HEALTHCHECK"])
    assert health and health[1] == exposed and health[2] in paths


def test_the_image_copies_every_package_the_project_installs() -> None:
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = {rest.split()[0] for instruction, rest in _dockerfile() if instruction == "COPY"}
    copied_packages = {c for c in copied if (ROOT / c).is_dir()}
    assert copied_packages == packages
    assert all((ROOT / c).exists() for c in copied if not c.startswith("--"))


@pytest.mark.parametrize("broken", ["crm relayy", "CRM_NO_SUCH_SETTING"])
def test_the_checks_catch_drift(
    broken: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renamed verb or an unknown variable in a manifest fails the checks above."""
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    streams = copy / "k8s" / "streams.yaml"
    if broken == "crm relayy":
        streams.write_text(streams.read_text().replace('args: ["relay"]', 'args: ["relayy"]'))
        check = test_every_crm_process_runs_a_verb_the_cli_has
    else:
        config = copy / "k8s" / "config.yaml"
        config.write_text(config.read_text().replace("CRM_KAFKA_TOPIC", broken))
        check = test_every_crm_variable_is_a_setting_with_a_valid_value
    monkeypatch.setattr(f"{__name__}.DEPLOY", copy)
    with pytest.raises(AssertionError):
        check()
