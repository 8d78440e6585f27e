"""NodeConfig: layering of defaults, TOML, environment and flags, and clear errors."""

import re
from pathlib import Path

import pytest

from registry.config import ConfigError, NodeConfig, load_config, parse_host_port, render_toml


def test_defaults_give_an_embedded_sqlite_node(tmp_path: Path) -> None:
    config = load_config(environ={}, overrides={"data_dir": tmp_path})
    assert config.role == "node"
    assert config.handle_port == 2641
    assert config.http_port == 8000
    assert config.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert config.effective_database_url.endswith("registry.db")
    assert str(tmp_path.resolve()) in config.effective_database_url


def test_layers_apply_in_order_of_strength(tmp_path: Path) -> None:
    toml = tmp_path / "idnode.toml"
    toml.write_text('role = "root"\n[handle]\nport = 3000\n[http]\nport = 3001\n')
    env = {"IDNODE_HANDLE_PORT": "4000", "IDNODE_DATA_DIR": str(tmp_path)}
    config = load_config(environ=env, overrides={"http_port": 5001})
    assert config.role == "root"          # file
    assert config.handle_port == 4000     # env beats file
    assert config.http_port == 5001       # flag beats file


def test_file_found_in_data_dir_and_explicit_file(tmp_path: Path) -> None:
    (tmp_path / "idnode.toml").write_text('prefixes = ["88.118", "88.119"]\n')
    config = load_config(environ={}, overrides={"data_dir": tmp_path})
    assert config.prefixes == ("88.118", "88.119")
    other = tmp_path / "other.toml"
    other.write_text("workers = 2\n")
    assert load_config(other, environ={}).workers == 2


def test_list_from_environment() -> None:
    config = load_config(environ={"IDNODE_PREFIXES": "88.118, 88.120"})
    assert config.prefixes == ("88.118", "88.120")


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"IDNODE_HANDLE_PORT": "abc"}, "handle_port"),
        ({"IDNODE_HANDLE_PORT": "70000"}, "handle_port"),
        ({"IDNODE_ROLE": "leaf"}, "role"),
        ({"IDNODE_WORKERS": "0"}, "workers"),
        ({"IDNODE_PREFIXES": "88..1"}, "prefixes"),
        ({"IDNODE_HANDEL_PORT": "1"}, "handel_port"),
        ({"IDNODE_CACHE_BYTES": "-1"}, "cache_bytes"),
        ({"IDNODE_NEGATIVE_CACHE_BYTES": "-1"}, "negative_cache_bytes"),
        ({"IDNODE_REVOCATION_TTL": "-1"}, "revocation_ttl"),
        ({"IDNODE_REDIS_SENTINELS": "127.0.0.1:26379"}, "redis_sentinels"),
        ({"IDNODE_REDIS_SENTINELS": "a:b", "IDNODE_REDIS_URL": "redis://x/0",
          "IDNODE_REDIS_MASTER_NAME": "m"}, "redis_sentinels"),
        ({"IDNODE_DATABASE_READ_URLS": "postgresql://r/db"}, "database_read_urls"),
        ({"IDNODE_DATABASE_READ_MAX_LAG": "0"}, "database_read_max_lag"),
        ({"IDNODE_SITE_SERVERS": "127.0.0.2,127.0.0.3"}, "site_servers"),
        ({"IDNODE_SITE_SERVERS": "127.0.0.1:x"}, "site_servers"),
    ],
)
def test_invalid_values_name_the_key(environ: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_config(environ=environ)


def test_bad_toml_and_unknown_key_in_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("role = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad, environ={})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 1\n")
    with pytest.raises(ConfigError, match="colour"):
        load_config(unknown, environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml", environ={})


def test_render_round_trips(tmp_path: Path) -> None:
    config = NodeConfig(data_dir=tmp_path, prefixes=("88.118", "88.7"), handle_port=1234)
    path = tmp_path / "idnode.toml"
    path.write_text(render_toml(config))
    assert load_config(path, environ={}) == config


def test_booleans(tmp_path: Path) -> None:
    assert load_config(environ={"IDNODE_HTTP_INSECURE_AUTH": "yes"}).http_insecure_auth is True
    assert load_config(environ={"IDNODE_HTTP_INSECURE_AUTH": "off"}).http_insecure_auth is False
    with pytest.raises(ConfigError, match="http_insecure_auth"):
        load_config(environ={"IDNODE_HTTP_INSECURE_AUTH": "maybe"})
    config = NodeConfig(data_dir=tmp_path, http_insecure_auth=True)
    path = tmp_path / "idnode.toml"
    path.write_text(render_toml(config))
    assert load_config(path, environ={}) == config


def test_host_port_is_parsed_one_way_everywhere() -> None:
    assert parse_host_port("root.example:2641", "root_address") == ("root.example", 2641)
    assert parse_host_port("[::1]:2641", "root_address") == ("::1", 2641)
    assert parse_host_port("::1:2641", "root_address") == ("::1", 2641)
    assert parse_host_port("ns.example", "nameserver", default_port=53) == ("ns.example", 53)
    assert parse_host_port("::1", "nameserver", default_port=53) == ("::1", 53)
    for bad in ("root.example", "root.example:x", ":2641", "h:0", "h:65536", "[::1"):
        message = f"root_address: expected HOST:PORT, got '{bad}'"
        with pytest.raises(ConfigError, match=re.escape(message)):
            parse_host_port(bad, "root_address")
