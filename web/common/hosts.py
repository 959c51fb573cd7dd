"""The Host allow-list both apps share: a page on another site cannot reach them by DNS rebinding.

A rebinding page makes the browser send its own name (``Host: evil.example``) to an address here;
refusing every name the server does not know (400) closes that door. An address typed as such
(``Host: 192.168.1.42:8080``) cannot be rebound, so an app may accept any (``any_address``).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, abort, request
from werkzeug.sansio.utils import host_is_trusted

from station.tomlconfig import is_address

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
EVERY_ADDRESS = ("0.0.0.0", "::", "")


def allowed_hosts(listen_host: str, configured: Iterable[str], *extra: str) -> list[str]:
    """localhost, the listening address unless it is every address, and the configured names."""
    hosts = [*LOCAL_HOSTS, *extra, *configured]
    if listen_host not in EVERY_ADDRESS:
        hosts.append(listen_host)
    return list(dict.fromkeys(h.lower() for h in hosts))


def init_app(
    app: Flask,
    trusted: list[str],
    *,
    setting: str,
    any_address: bool = False,
    exempt: tuple[str, ...] = (),
) -> None:
    """Refuse (400) a request whose Host is not in ``trusted`` (nor an address, if
    ``any_address``), except under the ``exempt`` path prefixes; the message names ``setting``.
    Call it first, so a refused name reaches no other check."""

    def check_host() -> None:
        if exempt and request.path.startswith(exempt):
            return
        host = request.headers.get("Host", "")
        if host_is_trusted(host, trusted) or (any_address and is_address(host)):
            return
        addresses = ", or an IP address" if any_address else ""
        abort(
            400,
            f"this server does not answer to the name {host[:100]!r}: use one of "
            f"{', '.join(trusted)}{addresses}, or add it to {setting}",
        )

    app.before_request(check_host)
