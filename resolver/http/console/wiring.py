"""Building the console for a running node from its configuration."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from registry.cert_issuer import load_cert_issuer
from registry.config import NodeConfig
from resolver.core.metrics import Metrics
from resolver.core.redis_link import RedisLink
from resolver.core.service import ResolutionService
from resolver.http.console.app import make_console_app, standalone_console_app
from resolver.http.console.context import ConsoleSettings
from resolver.http.console.sessions import RegistrySessions

UPLOADS = "console-uploads"


def console_settings(
    config: NodeConfig, service: ResolutionService, metrics: Metrics | None
) -> ConsoleSettings:
    """The console's settings for a node (login sessions in the registry); the certificate
    issuer key is loaded here, a :class:`~registry.config.ConfigError` naming the file if it
    cannot be."""
    return ConsoleSettings(
        service=service, sessions=RegistrySessions(service.store), node_prefix=config.prefixes[0],
        site=service.site_info, public_url=config.public_http_url,
        uploads=config.path(Path(UPLOADS)), metrics=metrics,
        redis=RedisLink.of(config) if config.redis_url else None,
        secure_cookies=config.public_http_url.startswith("https:"),
        issuer=load_cert_issuer(config),
        signature_days=config.signature_days,
    )


def console_for_http(settings: ConsoleSettings) -> web.Application:
    """The console to mount on the HTTP port."""
    return make_console_app(settings)


async def run_console_listener(
    settings: ConsoleSettings, host: str, port: int, *, reuse_port: bool = False
) -> tuple[web.AppRunner, int]:
    """Serve the console alone on ``host:port`` (the ``console_port`` listener)."""
    runner = web.AppRunner(standalone_console_app(settings))
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port)
    await site.start()
    return runner, int(runner.addresses[-1][1])
