"""The production shape's files agree with each other and with the code (issue 15): compose,
the Dockerfile, cluster.env (read by compose and by deploy/local-cluster alike) and prefect.yaml.
Docker is not on the development machines, so the structure is what can be checked here; the
local cluster (test_local_cluster.py) runs the same processes with the same settings."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
PREFECT_SERVICES = ("prefect-api", "prefect-services")
APP_IMAGE = "healthpass:latest"


def local_cluster():
    """deploy/local-cluster as a module (it has no .py suffix: it is run as a command)."""
    loader = importlib.machinery.SourceFileLoader("local_cluster", str(DEPLOY / "local-cluster"))
    spec = importlib.util.spec_from_loader("local_cluster", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def dockerfile_lines() -> list[str]:
    return [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip() and not line.strip().startswith("#")]


def env_file_keys(service: dict) -> set[str]:
    keys = set()
    for f in service.get("env_file", []):
        keys |= set(local_cluster().read_env_file(DEPLOY / f, {}))
    return keys


# ----------------------------------------------------------------- compose ---

def test_the_compose_file_has_the_production_shape():
    assert {"postgres", "redis", "migrate", "prefect-api", "prefect-services", "worker", "api"} <= set(SERVICES)
    replicas = {name: s.get("deploy", {}).get("replicas", 1) for name, s in SERVICES.items()}
    assert replicas["prefect-api"] >= 2 and replicas["worker"] >= 2 and replicas["api"] >= 2
    assert replicas["prefect-services"] == 1, "the services process (scheduler, late runs...) runs once"
    assert "--no-services" in SERVICES["prefect-api"]["command"]
    assert SERVICES["prefect-services"]["command"][-3:] == ["server", "services", "start"]
    assert SERVICES["worker"]["command"] == ["healthpass", "worker"]
    assert SERVICES["migrate"]["restart"] == "no"
    # Nothing of the cluster starts before the migrations have run, once.
    for name in ("prefect-api", "prefect-services", "worker", "api"):
        assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name


def test_every_image_is_built_by_the_dockerfile_or_is_postgres_or_redis():
    for name, service in SERVICES.items():
        image = service["image"]
        if image.split(":")[0] in ("postgres", "redis"):
            assert "build" not in service
            continue
        assert image == APP_IMAGE, name
        build = service["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile", name


def test_every_file_compose_names_exists():
    for name, service in SERVICES.items():
        for f in service.get("env_file", []):
            assert (DEPLOY / f).is_file(), f"{name}: env_file {f}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).is_file(), f"{name}: {source}"
            else:
                assert source in COMPOSE["volumes"], f"{name}: volume {source}"


def test_the_app_services_share_one_data_volume_for_keys_and_secrets():
    for name in ("migrate", "worker", "api"):
        assert "hpdata:/data" in SERVICES[name]["volumes"], name
    assert local_cluster().read_env_file(DEPLOY / "cluster.env", {})["HEALTHPASS_DATA_DIR"] == "/data"


def test_compose_and_the_local_cluster_read_the_same_settings():
    """Every app service takes cluster.env whole; what a service sets itself is only which
    Prefect API it talks to, never a cluster setting (it would differ from the local cluster)."""
    lc = local_cluster()
    cluster_keys = set(lc.read_env_file(DEPLOY / "cluster.env", {}))
    local = lc.Config().cluster_env()
    assert set(local) == cluster_keys
    for name, service in SERVICES.items():
        if service["image"] != APP_IMAGE:
            continue
        assert service["env_file"] == ["cluster.env"], name
        own = set(service.get("environment", {}))
        assert own <= {"PREFECT_API_URL", "HEALTHPASS_PREFECT_API_URL"}, f"{name} overrides {own - {'PREFECT_API_URL', 'HEALTHPASS_PREFECT_API_URL'}}"
    # The local cluster's per-process env adds the same kind of keys, nothing from cluster.env.
    for proc in lc.process_table(lc.Config()):
        assert not set(proc["env"]) & cluster_keys, proc["name"]
    for name in PREFECT_SERVICES:
        assert env_file_keys(SERVICES[name]) == cluster_keys


def test_cluster_env_has_the_scale_out_settings_and_compose_defaults():
    raw = local_cluster().read_env_file(DEPLOY / "cluster.env", {})
    assert raw["PREFECT_API_DATABASE_CONNECTION_URL"] == "postgresql+asyncpg://postgres@postgres:5432/prefect"
    assert raw["PREFECT_MESSAGING_BROKER"] == raw["PREFECT_MESSAGING_CACHE"] == "prefect_redis.messaging"
    assert raw["PREFECT_SERVER_EVENTS_CAUSAL_ORDERING"] == "prefect_redis.ordering"
    assert raw["PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"] == "prefect_redis.lease_storage"
    assert raw["PREFECT_SERVER_DOCKET_URL"] == "redis://redis:6379/0"
    assert raw["PREFECT_REDIS_MESSAGING_HOST"] == "redis"
    assert raw["HEALTHPASS_DATABASE_URL"] == "postgresql://postgres@postgres:5432/healthpass"
    # The Prefect server's pool as `healthpass serve` keeps it (no new backend per burst, R14's runs).
    from ops.prefect_server import POSTGRES_POOL_SIZE

    assert raw["PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE"] == str(POSTGRES_POOL_SIZE)
    # The compose defaults name real services and the databases postgres-init.sql creates.
    init = (DEPLOY / "postgres-init.sql").read_text()
    for db in ("prefect", "healthpass"):
        assert f"CREATE DATABASE {db};" in init


def test_every_setting_in_cluster_env_is_one_the_programs_read():
    """A misspelt key is ignored silently by Prefect and pydantic-settings alike."""
    from prefect.settings import Settings as PrefectSettings
    from prefect.settings.legacy import _get_settings_fields
    from prefect_redis.client import RedisMessagingSettings

    from cases.settings import Settings

    prefect_keys = set(_get_settings_fields(PrefectSettings))
    redis_keys = {f"PREFECT_REDIS_MESSAGING_{f.upper()}" for f in RedisMessagingSettings.model_fields}
    healthpass_keys = {f"HEALTHPASS_{f.upper()}" for f in Settings.model_fields}
    for key in local_cluster().read_env_file(DEPLOY / "cluster.env", {}):
        assert key in prefect_keys | redis_keys | healthpass_keys, key
    for module in ("prefect_redis.messaging", "prefect_redis.ordering", "prefect_redis.lease_storage"):
        assert importlib.util.find_spec(module), module


def test_pyproject_pins_prefect_redis():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(re.fullmatch(r"prefect-redis==[\d.]+", d) for d in deps)


# ------------------------------------------------------- entry points ---

def _healthpass_command_exists(words: list[str]) -> bool:
    import typer

    from ops.cli import app

    command = typer.main.get_command(app)
    for word in words:
        if word.startswith("-"):
            break
        if word not in getattr(command, "commands", {}):  # a group has subcommands, a command none
            return False
        command = command.commands[word]
    return True


def _commands() -> list[list[str]]:
    out = []
    for service in SERVICES.values():
        command = service.get("command")
        if not command or service["image"] != APP_IMAGE:
            continue
        if command[:2] == ["sh", "-c"]:
            out += [part.split() for part in command[2].split("&&")]
        else:
            out.append(list(command))
    return out


def test_commands_refer_to_real_entry_points():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "healthpass" in scripts
    prefect_commands = []
    for argv in _commands():
        program, args = argv[0], argv[1:]
        if program == "healthpass":
            assert _healthpass_command_exists(args), argv
        elif program == "python":
            assert args[0] == "-m" and importlib.util.find_spec(args[1]), argv
        elif program == "uvicorn":
            module, _, attr = args[0].partition(":")
            assert hasattr(importlib.import_module(module), attr), argv
            from ops.cli import uvicorn_argv

            # The same options as `serve` and the benchmarks (uvloop and httptools named).
            shipped = uvicorn_argv(args[0], host="0.0.0.0", port=8000)[3:]
            assert args == shipped, (args, shipped)
        elif program == "prefect":
            prefect_commands.append(args)
        else:
            pytest.fail(f"unknown program {program}: {argv}")
    assert prefect_commands
    # Prefect's CLI itself answers `--help` for each subcommand used, options included.
    procs = []
    for args in prefect_commands:
        words = [a for a in args if not a.startswith("-") and not a.isdigit() and a != "0.0.0.0"]
        procs.append((args, subprocess.Popen([sys.executable, "-m", "prefect", *words, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    for args, proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, (args, out[-2000:])
        for option in (a for a in args if a.startswith("--")):
            assert option in out, (args, option)


def test_local_cluster_runs_the_same_programs():
    lc = local_cluster()
    table = {p["name"]: p["argv"] for p in lc.process_table(lc.Config())}
    assert sorted(table) == ["api-1", "api-2", "prefect-api-1", "prefect-api-2", "prefect-services", "worker-1", "worker-2"]
    assert table["prefect-api-1"][1:5] == ["-m", "prefect", "server", "start"] and "--no-services" in table["prefect-api-1"]
    assert table["prefect-services"][1:] == ["-m", "prefect", "server", "services", "start"]
    assert table["worker-1"][1:] == ["-m", "ops.cli", "worker"]
    assert table["api-1"][1:4] == ["-m", "uvicorn", "web.main:app"]


# -------------------------------------------------------------- Dockerfile ---

def test_the_dockerfile_copies_what_pyproject_needs():
    lines = dockerfile_lines()
    assert lines[0] == "FROM python:3.11-slim"
    copied = {line.split()[1].rstrip("/") for line in lines if line.startswith("COPY ")}
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {p.rstrip("*") for p in setuptools["packages"]["find"]["include"]}
    assert "pyproject.toml" in copied
    assert packages <= copied, packages - copied
    for package in packages:
        assert (ROOT / package / "__init__.py").is_file(), package
    # package data lives inside the packages copied above
    assert {name.split(".")[0] for name in setuptools["package-data"]} <= packages
    assert "RUN pip install ." in lines
    user = [line for line in lines if line.startswith("USER ")]
    assert user and user[-1] != "USER root", "the image runs as a non-root user"
    # The .dockerignore keeps nothing out that a COPY needs.
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")}
    assert not ignored & copied


# ------------------------------------------------------------ prefect.yaml ---

PREFECT_YAML = yaml.safe_load((DEPLOY / "prefect.yaml").read_text())


def test_prefect_yaml_registers_both_deployments_on_the_healthpass_pool():
    deployments = {d["name"]: d for d in PREFECT_YAML["deployments"]}
    assert set(deployments) == {"application", "sla-sweep"}
    assert all(d["work_pool"]["name"] == "healthpass" for d in deployments.values())
    assert deployments["application"]["entrypoint"] == "flows/application.py:application"
    assert deployments["sla-sweep"]["entrypoint"] == "flows/sla_sweep.py:sla_sweep"
    assert deployments["sla-sweep"]["tags"] == ["healthpass:sweep"]
    assert deployments["sla-sweep"]["schedules"] == [{"interval": 60}]
    assert "schedules" not in deployments["application"]
    import prefect

    assert PREFECT_YAML["prefect-version"] == prefect.__version__


@pytest.mark.parametrize("name", ["application", "sla-sweep"])
def test_prefect_yaml_entrypoints_import_and_name_real_flows(name):
    from prefect import Flow

    deployment = next(d for d in PREFECT_YAML["deployments"] if d["name"] == name)
    path, _, attr = deployment["entrypoint"].partition(":")
    assert (ROOT / path).is_file()
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    flow = getattr(module, attr)
    assert isinstance(flow, Flow)
    assert flow.name == name
