"""Issue 11 item 13: installs come from the lock file; the image and compose are hardened."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def locked() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.lock").read_text(), re.M)
    return {name.lower().replace("_", "-"): version for name, version in pins}


def declared() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [re.match(r"[A-Za-z0-9_.-]+", spec)[0].lower().replace("_", "-") for spec in specs]


def test_every_declared_dependency_is_pinned_in_the_lock_file():
    pins = locked()
    missing = [name for name in declared() if name not in pins]
    assert not missing, f"run `make lock`: {missing} not in requirements.lock"


def test_runtime_dependencies_have_upper_bounds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    unbounded = [d for d in project["dependencies"] if "<" not in d and "tzdata" not in d]
    assert not unbounded, unbounded


def test_makefile_and_docker_install_from_the_lock_file():
    assert "pip install -q -r requirements.lock" in (ROOT / "Makefile").read_text()
    docker = (ROOT / "Dockerfile").read_text()
    assert (
        "-c requirements.lock" in docker
        and "COPY pyproject.toml README.md requirements.lock" in docker
    )


def test_the_base_image_is_an_exact_version_and_there_is_a_health_check():
    docker = (ROOT / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", docker, re.M)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    assert re.search(r'HEALTHCHECK .*\n?.*"python", "-m", "bot", "health"', docker)


def test_each_container_reads_only_its_own_env_file_and_has_a_memory_limit():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["bot"]["env_file"] == services["bot-webhook"]["env_file"] == "bot.env"
    assert services["litestream"]["env_file"] == "litestream.env"
    bot_example = (ROOT / "bot.env.example").read_text()
    storage_example = (ROOT / "litestream.env.example").read_text()
    assert "LITESTREAM" not in re.sub(r"#.*", "", bot_example)
    assert "TELEGRAM_BOT_TOKEN" not in storage_example
    for name, service in services.items():
        assert service.get("mem_limit"), name


def test_webhook_mode_runs_behind_a_tls_proxy_in_its_own_profile():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    hook, proxy = services["bot-webhook"], services["tls-proxy"]
    assert hook["profiles"] == proxy["profiles"] == ["webhook"]
    assert "--webhook" in hook["command"] and "ports" not in hook  # reachable via the proxy only
    assert "443:443" in proxy["ports"] and "bot-webhook:8443" in proxy["command"]
