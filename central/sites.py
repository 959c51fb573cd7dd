"""Sites: the fablabs of a network sharing one central store (docs/network.md).

Every station, member, session and web account belongs to one site; an account with no site is
the network's (an admin without a site administers every fablab). A store from before sites has
one, :data:`DEFAULT_SITE`, named by ``[site] name`` in central.toml.
"""

from __future__ import annotations

from central.errors import BadRequest
from station.config import ID_PATTERN

DEFAULT_SITE = "default"
"""The site of everything a store held before sites (and of a one-fablab store)."""


def check_site_id(site_id: str) -> None:
    """A site id is a short name in URLs and configs: a clear error otherwise."""
    if not ID_PATTERN.match(site_id):
        raise BadRequest(
            f"site id {site_id!r}: use lower-case letters, digits, - and _ (max 63), e.g. gonesse",
            "site",
            code="site_id_bad",
            site=site_id,
        )
