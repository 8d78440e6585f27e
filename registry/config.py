"""NodeConfig: one node's settings from ``idnode.toml``, ``IDNODE_*`` variables and CLI flags.

Sources are applied in order of strength: built-in defaults, then the TOML file,
then the environment, then explicit overrides (the CLI's flags).  Keys are flat
(``handle_port``); in the TOML file they may also be written in sections, where
``[handle] port = 2641`` means ``handle_port``.  The environment variable for a
key is ``IDNODE_`` + the key in upper case (``IDNODE_HANDLE_PORT``).  A bad value
raises :class:`ConfigError` naming the key and where the value came from.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from registry.partitions import DEFAULT_PG_PARTITIONS, MAX_PG_PARTITIONS

CONFIG_FILE_NAME = "idnode.toml"
ENV_PREFIX = "IDNODE_"
ROLES = ("node", "root")
SUSPENDED_RESOLUTION = ("serve", "refuse")
#: the longest validity a certificate is issued for (ten years)
MAX_CERT_DAYS = 3650


#: loopback and private networks: who may ask for recursion by default (BIND's "localnets")
LOCAL_NETWORKS = (
    "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
)


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the key."""


def parse_host_port(text: str, what: str, default_port: int | None = None) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` as (host, port); with ``default_port`` also a bare
    ``HOST``, ``[IPv6]`` or unbracketed IPv6 address on that port.  ConfigError naming
    ``what`` and the text when malformed."""
    text = text.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        colon, port = rest[:1], rest[1:]
        ok = bool(bracket) and (colon == ":" or not rest)
    elif default_port is None or text.count(":") == 1:
        host, colon, port = text.rpartition(":")
        ok = True
    else:  # a bare host, or an unbracketed IPv6 address, on the default port
        host, colon, port, ok = text, "", "", True
    if not colon and default_port is not None:
        port = str(default_port)
    if not ok or not host or not port.isdigit() or not 0 < int(port) < 65536:
        expected = "HOST or HOST:PORT" if default_port is not None else "HOST:PORT"
        raise ConfigError(f"{what}: expected {expected}, got {text!r}")
    return host, int(port)


@dataclass(frozen=True)
class NodeConfig:
    """Every setting of one node.  See the module docstring for how it is loaded.

    ``database_schema`` (PostgreSQL only) puts the registry tables in that
    schema; empty means the server's default search path.
    ``database_read_urls`` are PostgreSQL streaming replicas of
    ``database_url`` that answer resolution reads; one more than
    ``database_read_max_lag`` seconds behind (checked every
    ``database_read_check_seconds``) or unreachable is left out until it
    catches up (:mod:`registry.replicas`).
    ``pg_partitions`` is how many hash partitions the handle tables get on
    PostgreSQL when the node's migrations create them (:mod:`registry.partitions`;
    a later change needs a dump and reload).
    ``discovery_domain`` (with ``discovery_nameserver``, ``HOST[:PORT]``) finds
    the root from DNS SRV/URI records when ``root_address`` is empty.
    ``upper_report_url`` (a URL, or a file path) receives the statistics
    report every ``upper_report_hours`` (:mod:`resolver.core.upper_report`).
    ``site_servers`` (``HOST[:PORT]`` each, port ``handle_port`` by default)
    are every host of a site of several servers sharing this node's registry,
    Redis and server key, ``public_host`` one of them: the published HS_SITE
    lists them all in this order (:mod:`resolver.site_sync`); empty means a
    site of one server, ``public_host``; ``site_mirrors`` also publishes each
    of them as a secondary site of its own (what CNRI's resolver fails over to).
    ``redis_sentinels`` (``HOST[:PORT]`` each) with ``redis_master_name``
    find the Redis master through Redis Sentinel (``redis_url`` then gives
    only the database and credentials); ``redis_wait_replicas`` is how many
    Redis replicas must hold a cache invalidation before a write is
    acknowledged (Redis ``WAIT``; 1 with Sentinel), an unconfirmed one is
    retried (:mod:`resolver.core.redis_cache`).
    ``redis_prefix`` namespaces this node's cache keys and invalidation
    channel in a shared Redis (default ``idnode:<first prefix>:``).
    ``http_tls_cert``/``http_tls_key`` (PEM files) make the HTTP front end
    serve HTTPS; REST credentials are only accepted over TLS unless
    ``http_insecure_auth`` is true (for a node behind a TLS-terminating proxy).
    The answer cache of each process holds at most ``cache_size`` answers and
    ``cache_bytes`` bytes; answers that a handle does not exist have their own
    ``negative_cache_bytes`` and live ``negative_ttl`` seconds
    (:mod:`resolver.core.stack`).
    ``suspended_resolution`` is how identifiers of a suspended enterprise
    resolve: ``serve`` answers them as usual (they are only frozen against
    writes), ``refuse`` answers as if they did not exist.
    ``trust_anchor_path`` (default: ``keys/trust_anchor.pub`` if present) is the
    root's public key (PEM or HS_PUBKEY data) that record signatures are verified
    up to; ``sign_on_behalf`` lists hosted enterprise prefixes whose handles the
    node signs after each write with the key in ``keys/enterprises/<prefix>.pem``,
    signatures valid for ``signature_days`` (see :mod:`registry.signing_policy`).
    ``revocation_ttl`` (seconds) is the oldest a cached copy of a handle holding
    certificates or revocations (the issuers up a signature chain) may be when a
    verification reads it: an older one is fetched again from its authority (the
    store for a hosted prefix, else upstream), so an HS_REVOCATION counts within
    ``revocation_ttl`` seconds at the latest, however long its record's TTL; 0
    fetches them afresh on every verification; plain resolution is not affected
    (:mod:`resolver.core.verification`).
    ``cert_issuer_key_path`` (relative to the data dir unless absolute; empty:
    none) is the node's certificate-issuer key, an encrypted private key file
    as ``idnode keys gen`` writes it, whose passphrase is read from the
    environment variable named by ``cert_issuer_passphrase_env`` (a name not
    starting with ``IDNODE_``) or from the file ``cert_issuer_passphrase_file``,
    never from this configuration; ``cert_issuer`` (``INDEX:HANDLE``) is the
    value reference that key is certified as (``idnode cert approve
    --issuer``).  With them the console approves certificate requests, each
    certificate valid for ``cert_issuer_days`` unless the reviewer says
    otherwise (:mod:`registry.cert_issuer`); a key that cannot be read or
    decrypted stops the node at startup.
    Abuse limits, on every front end: ``rate_limit`` requests per second per
    client (an IPv4 address or an IPv6 /64; 0 = off) with bursts of
    ``rate_burst``, over at most ``rate_limit_clients`` remembered clients, a
    separate budget for each front end and transport; over UDP a refused
    request is dropped but every ``rate_limit_slip``-th one per client gets a
    truncated reply (0 = drop all) so real clients retry over TCP
    (:mod:`resolver.core.ratelimit`); a UDP answer may be
    ``udp_amplification_factor`` times its request, and up to
    ``udp_answer_floor`` bytes (DNS: 512) only for a client address that
    completed a TCP connection within the last hour (factor 0 = no cap,
    :mod:`resolver.handle.amplification`); ``udp_segmentation`` sends the
    datagrams of a UDP answer in one system call where the kernel can (Linux
    UDP_SEGMENT, :mod:`resolver.handle.udp_send`; false: one call each); a
    request must arrive whole within ``request_read_timeout`` seconds of its
    first byte (HTTP: of the connection or the previous response); at most ``max_inflight_requests``
    HTTP or UDP requests per process are worked on at once, more are answered
    busy; a process holds at most ``max_tcp_connections`` Handle (and DNS) TCP
    connections and ``max_http_connections`` HTTP ones, at most
    ``max_connections_per_client`` of each from one client (0: no per-client
    cap, :mod:`resolver.core.connections`); a TLS handshake must end within
    ``tls_handshake_timeout`` seconds.  Recursion connects only to public
    addresses and to the networks in ``upstream_allow`` (and the root), at
    most ``max_upstream_connections`` per client request
    (:mod:`resolver.core.upstream`); a Handle protocol request asks for
    recursion only from an address in ``recursion_allow`` (default: loopback and
    private networks), from others the flag is ignored (the client is referred).
    ``dns_nameservers`` are the DNS zone's name servers, ``NAME`` or
    ``NAME=IP`` (one entry per address; names relative to ``dns_zone`` unless
    they end with a dot; in-zone ones are answered with their A/AAAA records);
    empty means ``ns.<zone>`` at ``public_host``; ``dns_hostmaster`` is the
    SOA's mailbox; the SOA's negative-caching TTL is ``negative_ttl``
    (:mod:`resolver.dns.zone`).
    ``console`` serves the web console at ``/console/`` on the HTTP port;
    ``console_port`` (0 = none) serves it on a listener of its own as well, so
    operators can firewall it apart from the public resolution pages.
    Where-used across nodes (:mod:`resolver.core.backlinks`): every
    ``backlinks_interval`` seconds (0: never) the node delivers the back-links
    its writes queued to the parts' home nodes over ``backlinks_scheme``
    (``http`` or ``https``), retrying failures with back-off; it keeps at most
    ``backlinks_max_per_prefix`` active back-links from one product prefix.
    """

    data_dir: Path = Path("idnode-data")
    role: str = "node"
    prefixes: tuple[str, ...] = ("88.118",)
    database_url: str = ""
    database_schema: str = ""
    database_read_urls: tuple[str, ...] = ()
    database_read_max_lag: float = 5.0
    database_read_check_seconds: float = 1.0
    pg_partitions: int = DEFAULT_PG_PARTITIONS
    redis_url: str = ""
    redis_sentinels: tuple[str, ...] = ()
    redis_master_name: str = ""
    redis_wait_replicas: int = 0
    redis_prefix: str = ""
    listen_hosts: tuple[str, ...] = ("127.0.0.1",)
    public_host: str = "127.0.0.1"
    site_servers: tuple[str, ...] = ()
    site_mirrors: bool = False
    handle_port: int = 2641
    http_port: int = 8000
    dns_port: int = 0
    dns_zone: str = "id.local."
    dns_nameservers: tuple[str, ...] = ()
    dns_hostmaster: str = "hostmaster"
    workers: int = 1
    root_address: str = ""
    discovery_domain: str = ""
    discovery_nameserver: str = ""
    root_admin: str = ""
    server_key_path: Path = Path("keys/server_key.pem")
    server_pubkey_path: Path = Path("keys/server_pubkey.bin")
    trust_anchor_path: Path = Path("")
    sign_on_behalf: tuple[str, ...] = ()
    signature_days: int = 365
    revocation_ttl: int = 300
    cert_issuer_key_path: Path = Path("")
    cert_issuer: str = ""
    cert_issuer_passphrase_env: str = ""
    cert_issuer_passphrase_file: Path = Path("")
    cert_issuer_days: int = 365
    cache_size: int = 100_000
    cache_bytes: int = 256 << 20
    negative_cache_bytes: int = 16 << 20
    negative_ttl: int = 60
    stale_if_error: int = 3600
    max_message_size: int = 4 * 1024 * 1024
    max_values_per_handle: int = 1024
    max_handle_length: int = 1024
    max_tcp_connections: int = 1024
    max_http_connections: int = 1024
    max_connections_per_client: int = 32
    tls_handshake_timeout: float = 10.0
    upstream_allow: tuple[str, ...] = ()
    max_upstream_connections: int = 32
    recursion_allow: tuple[str, ...] = LOCAL_NETWORKS
    tcp_idle_timeout: float = 60.0
    rate_limit: float = 100.0
    rate_burst: int = 200
    rate_limit_clients: int = 65536
    rate_limit_slip: int = 2
    udp_amplification_factor: float = 16.0
    udp_answer_floor: int = 4096
    udp_segmentation: bool = True
    request_read_timeout: float = 10.0
    max_inflight_requests: int = 1024
    log_level: str = "INFO"
    stats_flush_seconds: float = 60.0
    upper_report_url: str = ""
    upper_report_hours: float = 24.0
    suspended_resolution: str = "serve"
    http_tls_cert: Path = Path("")
    http_tls_key: Path = Path("")
    http_insecure_auth: bool = False
    console: bool = True
    console_port: int = 0
    backlinks_interval: float = 30.0
    backlinks_max_per_prefix: int = 1_000_000
    backlinks_scheme: str = "http"

    @property
    def public_http_url(self) -> str:
        """Where people reach this node's pages: ``http(s)://public_host:http_port``."""
        scheme = "https" if str(self.http_tls_cert) not in ("", ".") else "http"
        host = f"[{self.public_host}]" if ":" in self.public_host else self.public_host
        return f"{scheme}://{host}:{self.http_port}"

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to an SQLite file under the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'registry.db').resolve()}"

    @property
    def site_addresses(self) -> list[tuple[str, int]]:
        """The (host, Handle port) of every server of this node's site (``site_servers``,
        else ``public_host`` alone)."""
        if not self.site_servers:
            return [(self.public_host, self.handle_port)]
        return [parse_host_port(s, "site_servers", self.handle_port) for s in self.site_servers]

    def path(self, relative: Path) -> Path:
        """A configured path resolved against the data dir when it is relative."""
        return relative if relative.is_absolute() else self.data_dir / relative


_FIELDS = {f.name: f for f in fields(NodeConfig)}


def _coerce(key: str, raw: Any, origin: str) -> Any:
    """Convert ``raw`` to the type of field ``key`` or raise ConfigError."""
    default = getattr(NodeConfig, key)
    try:
        if isinstance(default, bool):
            return _to_bool(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(str(raw))
        if isinstance(default, tuple):
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(str(item).strip() for item in items if str(item).strip())
        if isinstance(raw, (str, int, float)):
            return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: cannot use {raw!r} from {origin}: {exc}") from exc
    raise ConfigError(f"{key}: cannot use {raw!r} from {origin}: expected a string")


def _to_bool(raw: Any) -> bool:
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _flatten(table: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """Turn ``{"handle": {"port": 1}}`` into ``{"handle_port": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            for sub_key, sub_value in _flatten(value, origin).items():
                flat[f"{key}_{sub_key}"] = sub_value
        else:
            flat[key] = value
    return flat


def _validate(config: NodeConfig) -> NodeConfig:
    checks: list[tuple[bool, str]] = [
        (config.role in ROLES, f"role: must be one of {', '.join(ROLES)}, got {config.role!r}"),
        (
            config.suspended_resolution in SUSPENDED_RESOLUTION,
            f"suspended_resolution: must be one of {', '.join(SUSPENDED_RESOLUTION)}, "
            f"got {config.suspended_resolution!r}",
        ),
        (bool(config.prefixes), "prefixes: at least one prefix is needed"),
        (config.workers >= 1, f"workers: must be at least 1, got {config.workers}"),
        (
            1 <= config.pg_partitions <= MAX_PG_PARTITIONS,
            f"pg_partitions: must be 1 to {MAX_PG_PARTITIONS}, got {config.pg_partitions}",
        ),
        (config.cache_size >= 0, "cache_size: must not be negative"),
        (config.revocation_ttl >= 0,
         f"revocation_ttl: must not be negative (0: issuers fetched afresh on every "
         f"verification), got {config.revocation_ttl}"),
        (config.cache_bytes >= 0, "cache_bytes: must not be negative (0: no byte bound)"),
        (
            config.negative_cache_bytes >= 0,
            "negative_cache_bytes: must not be negative (0: no byte bound)",
        ),
        (config.database_read_max_lag > 0, "database_read_max_lag: must be positive"),
        (
            config.database_read_check_seconds > 0,
            "database_read_check_seconds: must be positive",
        ),
        (
            not config.database_read_urls or config.database_url.startswith("postgres"),
            "database_read_urls: read replicas need a PostgreSQL database_url",
        ),
        (
            not config.redis_sentinels or bool(config.redis_master_name and config.redis_url),
            "redis_sentinels: needs redis_master_name and redis_url (for the database number)",
        ),
        (config.redis_wait_replicas >= 0, "redis_wait_replicas: must not be negative"),
        (config.stats_flush_seconds > 0, "stats_flush_seconds: must be positive"),
        (config.upper_report_hours > 0, "upper_report_hours: must be positive"),
        (config.backlinks_interval >= 0, "backlinks_interval: must not be negative (0: off)"),
        (config.backlinks_max_per_prefix >= 1, "backlinks_max_per_prefix: must be at least 1"),
        (config.backlinks_scheme in ("http", "https"),
         f"backlinks_scheme: must be http or https, got {config.backlinks_scheme!r}"),
        (config.signature_days >= 1, "signature_days: must be at least 1"),
        (
            1 <= config.cert_issuer_days <= MAX_CERT_DAYS,
            f"cert_issuer_days: must be 1 to {MAX_CERT_DAYS}, got {config.cert_issuer_days}",
        ),
        (
            not config.cert_issuer_passphrase_env.upper().startswith(ENV_PREFIX),
            f"cert_issuer_passphrase_env: {config.cert_issuer_passphrase_env!r} would be read "
            f"as a setting: name a variable not starting with {ENV_PREFIX}",
        ),
        (config.max_message_size >= 1024, "max_message_size: must be at least 1024 bytes"),
        (config.rate_limit >= 0, "rate_limit: must not be negative (0 turns it off)"),
        (config.rate_burst >= 1, "rate_burst: must be at least 1"),
        (config.rate_limit_clients >= 1, "rate_limit_clients: must be at least 1"),
        (config.rate_limit_slip >= 0, "rate_limit_slip: must not be negative (0: drop all)"),
        (
            config.udp_amplification_factor == 0 or config.udp_amplification_factor >= 1,
            "udp_amplification_factor: must be 0 (no cap) or at least 1",
        ),
        (config.udp_answer_floor >= 0, "udp_answer_floor: must not be negative"),
        (config.request_read_timeout > 0, "request_read_timeout: must be positive"),
        (config.max_inflight_requests >= 1, "max_inflight_requests: must be at least 1"),
        (config.max_tcp_connections >= 1, "max_tcp_connections: must be at least 1"),
        (config.max_http_connections >= 1, "max_http_connections: must be at least 1"),
        (
            config.max_connections_per_client >= 0,
            "max_connections_per_client: must not be negative (0: no per-client cap)",
        ),
        (config.tls_handshake_timeout > 0, "tls_handshake_timeout: must be positive"),
        (bool(config.listen_hosts), "listen_hosts: at least one address is needed"),
    ]
    checks.append((
        config.max_upstream_connections >= 1, "max_upstream_connections: must be at least 1"
    ))
    for entry in config.dns_nameservers:
        name, equals, address = entry.partition("=")
        checks.append((
            bool(name.strip()) and (not equals or _is_address(address.strip())),
            f"dns_nameservers: {entry!r} is not NAME or NAME=IP-ADDRESS",
        ))
    for network_key in ("upstream_allow", "recursion_allow"):
        for item in getattr(config, network_key):
            checks.append((_is_network(item), f"{network_key}: {item!r} is not an address or "
                                              "network like 10.0.0.0/8"))
    for port_key in ("handle_port", "http_port", "dns_port", "console_port"):
        port = getattr(config, port_key)
        checks.append((0 <= port <= 65535, f"{port_key}: must be 0-65535, got {port}"))
    hosts = [parse_host_port(s, "site_servers", config.handle_port)[0]
             for s in config.site_servers]
    checks.append((
        not hosts or config.public_host in hosts,
        f"site_servers: public_host {config.public_host!r} must be one of them",
    ))
    checks.append((not config.site_mirrors or bool(hosts),
                   "site_mirrors: needs site_servers (the servers to mirror)"))
    for sentinel in config.redis_sentinels:
        parse_host_port(sentinel, "redis_sentinels", 26379)
    for prefix in config.prefixes:
        checks.append((
            bool(prefix) and "/" not in prefix and all(prefix.split(".")),
            f"prefixes: {prefix!r} is not a prefix like 88.118",
        ))
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    return config


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def load_config(
    config_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> NodeConfig:
    """Load the configuration: defaults < TOML file < ``IDNODE_*`` env < ``overrides``.

    Without ``config_file`` the file ``idnode.toml`` in the data dir is read if
    it exists (the data dir itself may come from the environment or overrides).
    """
    environ = os.environ if environ is None else environ
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    env_values = {
        name[len(ENV_PREFIX):].lower(): value
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX) and name != ENV_PREFIX + "CONFIG"
    }
    if config_file is None and environ.get(ENV_PREFIX + "CONFIG"):
        config_file = Path(environ[ENV_PREFIX + "CONFIG"])
    if config_file is None:
        data_dir = overrides.get("data_dir") or env_values.get("data_dir") or NodeConfig.data_dir
        candidate = Path(str(data_dir)) / CONFIG_FILE_NAME
        config_file = candidate if candidate.exists() else None

    layers: list[tuple[str, Mapping[str, Any]]] = []
    if config_file is not None:
        layers.append((str(config_file), _read_toml(config_file)))
    layers.append(("the environment (IDNODE_*)", env_values))
    layers.append(("the command line", overrides))

    values: dict[str, Any] = {}
    for origin, layer in layers:
        for key, raw in layer.items():
            if key not in _FIELDS:
                raise ConfigError(f"{key}: unknown setting in {origin}")
            values[key] = _coerce(key, raw, origin)
    return _validate(replace(NodeConfig(), **values))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return _flatten(tomllib.load(handle), str(path))
    except FileNotFoundError as exc:
        raise ConfigError(f"config: file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path} is not valid TOML: {exc}") from exc


def render_toml(config: NodeConfig) -> str:
    """The configuration as TOML text (for ``idnode init`` to write)."""
    lines = []
    for key in _FIELDS:
        value = getattr(config, key)
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, tuple):
            rendered = "[" + ", ".join(f'"{item}"' for item in value) + "]"
        elif isinstance(value, (int, float)):
            rendered = repr(value)
        else:
            rendered = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{key} = {rendered}")
    return "\n".join(lines) + "\n"
