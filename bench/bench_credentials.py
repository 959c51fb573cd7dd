"""Credentials benchmark: issuing on SQLite, verifying a token and a baked PNG, the status list.

1. Issue N credentials (default 200), each in its own transaction with its signature, on a real
   SQLite central store: ms per credential.
2. Verify one token and one baked PNG as ``/verify`` does (key read from its file, Ed25519, the
   claims, the revocation lookup): ms each, median of many.
3. Draw and bake a PNG badge; sign the status list as ``/credentials/status/revocation`` serves
   it; the sizes of the token, the PNG and the SVG.

    .venv/bin/python bench/bench_credentials.py          # the figures in docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from central.credentials import issue, status_list, verify
from central.credentials.issue import Issuing
from central.credentials.issuer import Issuer
from central.credentials.keys import KeyRing
from central.sqlite import SqliteCentralStore
from station.model import Level, Role
from web.common.i18n import Translator


def _median_ms(fn: Callable[[], Any], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--issue", type=int, default=200)
    args = p.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteCentralStore(Path(tmp) / "central.sqlite")
        keys = KeyRing(Path(tmp) / "credential-keys")
        keys.rotate(now - timedelta(days=1))
        issuer = Issuer("https://badges.fabrique.example", "Fabrique de Gonesse")
        ctx = Issuing(store, keys, issuer, Translator.load("central", "fr"))
        for i in range(args.issue):
            store.upsert_member(f"m{i}", f"Membre {i}", Role.TRAINEE)
            store.set_qualification(f"m{i}", "laser", Level.AUTONOMOUS, "ines")
            store.record_consent(
                f"m{i}", display_name=f"Membre {i}", minor=False, consent_by="", by="ines", at="-"
            )
        t = time.perf_counter()
        rows = [issue.issue(ctx, f"m{i}", "laser", by="ines", now=now) for i in range(args.issue)]
        per_issue = (time.perf_counter() - t) / args.issue * 1000
        token = rows[0]["token"]
        png, svg = issue.badge_png(ctx, rows[0]), issue.badge_svg(ctx, rows[0])

        def revoked(index: int) -> dict[str, Any] | None:
            row = store.credential_at_index(index)
            return row if row and row["revoked_at"] else None

        common: dict[str, Any] = {"issuer": issuer, "keys": keys, "now": now, "revoked": revoked}
        assert verify.verify_token(token, **common).ok
        print(f"issue: {per_issue:.2f} ms per credential ({args.issue}, one transaction each)")
        token_ms = _median_ms(lambda: verify.verify_token(token, **common), 500)
        print(f"verify a token: {token_ms:.2f} ms")
        png_ms = _median_ms(lambda: verify.verify_upload(png, **common), 300)
        print(f"verify a baked PNG: {png_ms:.2f} ms")
        print(
            f"draw and bake a PNG: {_median_ms(lambda: issue.badge_png(ctx, rows[0]), 30):.1f} ms"
        )
        sign_list = _median_ms(
            lambda: keys.sign(
                status_list.list_credential(issuer, store.revoked_indices(), now),
                now,
                issuer.kid_url,
            ),
            200,
        )
        print(f"sign the status list: {sign_list:.2f} ms")
        print(f"sizes: token {len(token)} B, PNG {len(png)} B, SVG {len(svg)} B")
        store.close()


if __name__ == "__main__":
    main()
