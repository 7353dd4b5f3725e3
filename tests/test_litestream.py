"""The optional Litestream backup: its config and compose service agree with the bot's.

Litestream itself cannot be installed here, so this checks structure: the replicated path is
the bot's BOT_DB_PATH, on the same shared volume, replicated to a URL taken from the
environment, by a service that only starts with its profile.
"""

import re
from pathlib import Path, PurePosixPath

import yaml

ROOT = Path(__file__).resolve().parent.parent


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def mounts(service: dict) -> dict[str, str]:
    """Container path -> host path for a service's bind mounts."""
    pairs = (volume.split(":")[:2] for volume in service.get("volumes", []))
    return {container: host for host, container in pairs}


def test_litestream_replicates_the_bots_database_on_the_shared_volume():
    compose = load("docker-compose.yml")["services"]
    bot, litestream = compose["bot"], compose["litestream"]
    db_path = PurePosixPath(bot["environment"]["BOT_DB_PATH"])
    (database,) = load("litestream.yml")["dbs"]
    assert PurePosixPath(database["path"]) == db_path
    data_dir = str(db_path.parent)
    assert mounts(bot)[data_dir] == mounts(litestream)[data_dir] == "./data"


def test_the_replica_url_comes_from_the_environment():
    (database,) = load("litestream.yml")["dbs"]
    (replica,) = database["replicas"]
    assert replica["url"] == "${LITESTREAM_REPLICA_URL}"
    assert re.fullmatch(r"[1-9]s", replica["sync-interval"])  # seconds of data at risk, not more
    example = (ROOT / "litestream.env.example").read_text()
    assert "LITESTREAM_REPLICA_URL=" in example
    assert load("docker-compose.yml")["services"]["litestream"]["env_file"] == "litestream.env"


def test_litestream_is_optional_and_reads_the_mounted_config():
    compose = load("docker-compose.yml")["services"]
    assert "profiles" not in compose["bot"]  # the bot starts without the backup
    litestream = compose["litestream"]
    assert litestream["profiles"] == ["litestream"]
    assert litestream["command"] == ["replicate"]
    assert mounts(litestream)["/etc/litestream.yml"] == "./litestream.yml"


def test_litestream_runs_as_the_bots_user_to_read_the_owner_only_file():
    uid = re.search(r"--uid (\d+)", (ROOT / "Dockerfile").read_text())[1]
    assert str(load("docker-compose.yml")["services"]["litestream"]["user"]) == uid
