"""``station-central credentials …``: keys, consent, issuing and revoking from a terminal.

Called from ``central/cli.py``, which hands it the central catalogs (the credentials' French
words). Keys are never printed: ``keys`` lists their names and dates, ``rotate-key``
makes a new one, ``retire-key`` withdraws a leaked one.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from central.config import CentralConfig, load_config
from central.credentials import consent, issue, verify
from central.credentials.errors import CredentialError
from central.credentials.issue import Issuing
from central.credentials.issuer import Issuer
from central.credentials.keys import KeyRing
from central.credentials.openbadge import Words


def add_parser(
    sub: Any, words: Callable[[], Words], open_store: Callable[[CentralConfig], Any]
) -> None:
    """``words`` loads the central catalogs and ``open_store`` opens the configured store: the
    composition root (central/cli.py) gives both, so this package imports neither web/ nor
    the CLI."""
    cred = sub.add_parser("credentials", help="Open Badges credentials: keys, consent, issue")
    cred.set_defaults(words=words, open_store=open_store)
    c = cred.add_subparsers(dest="credentials_command", required=True)
    keys = c.add_parser("keys", help="list the signing keys (names and dates, never the keys)")
    keys.add_argument("--config", required=True)
    keys.set_defaults(func=cmd_keys)
    rot = c.add_parser("rotate-key", help="make a new signing key; older ones keep verifying")
    rot.add_argument("--config", required=True)
    rot.set_defaults(func=cmd_rotate)
    ret = c.add_parser("retire-key", help="withdraw a leaked key: what it signed stops verifying")
    ret.add_argument("kid")
    ret.add_argument("--config", required=True)
    ret.add_argument("--reason", default="")
    ret.set_defaults(func=cmd_retire)
    con = c.add_parser("consent", help="record a member's consent and the name on the badge")
    con.add_argument("member")
    con.add_argument("--config", required=True)
    con.add_argument("--name", default="", help="default: first name and last initial")
    con.add_argument("--minor", action="store_true")
    con.add_argument("--guardian", default="", help="the parent who signed (for a minor)")
    con.add_argument("--by", required=True, help="the educator recording it")
    con.set_defaults(func=cmd_consent)
    iss = c.add_parser("issue", help="issue a member's credential for a machine kind")
    iss.add_argument("member")
    iss.add_argument("kind")
    iss.add_argument("--config", required=True)
    iss.add_argument("--by", required=True, help="the educator issuing it")
    iss.add_argument("--out", help="also write the baked PNG badge here")
    iss.set_defaults(func=cmd_issue)
    rev = c.add_parser("revoke", help="revoke a credential (its bit in the status list is set)")
    rev.add_argument("id")
    rev.add_argument("--config", required=True)
    rev.add_argument("--by", required=True)
    rev.add_argument("--reason", default="")
    rev.set_defaults(func=cmd_revoke)
    ls = c.add_parser("list", help="a member's credentials")
    ls.add_argument("member")
    ls.add_argument("--config", required=True)
    ls.set_defaults(func=cmd_list)
    ver = c.add_parser("verify", help="check a badge image or a .jwt file as /verify does")
    ver.add_argument("file")
    ver.add_argument("--config", required=True)
    ver.set_defaults(func=cmd_verify)


def _now() -> datetime:
    return datetime.now(UTC)


def _keys(config: CentralConfig) -> KeyRing:
    return KeyRing.in_data_dir(config.data_path)


def _issuing(config: CentralConfig, store: Any, words: Callable[[], Words]) -> Issuing:
    if not config.credentials.public_url:
        raise CredentialError(
            "no_public_url",
            f"{config.path}: set [credentials] public_url (the address verifiers reach) first",
        )
    c = config.credentials
    return Issuing(
        store=store,
        keys=_keys(config),
        issuer=Issuer(c.public_url, c.issuer_name, c.website),
        words=words(),
    )


def cmd_keys(args: argparse.Namespace) -> int:
    now = _now()
    for k in _keys(load_config(args.config)).infos():
        state = (
            f"retired {k.retired_at}" if k.retired_at
            else f"expired {k.expires_at}" if k.expired(now)
            else "usable" + (f" until {k.expires_at}" if k.expires_at else "")
        )  # fmt: skip
        print(f"{k.kid}\tmade {k.created_at}\t{state}")
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    info = _keys(config).rotate(_now(), valid_days=config.credentials.key_valid_days)
    print(f"new signing key {info.kid}: it signs from now on; older keys keep verifying")
    return 0


def cmd_retire(args: argparse.Namespace) -> int:
    info = _keys(load_config(args.config)).retire(args.kid, _now(), args.reason)
    print(f"key {info.kid} retired: credentials it signed no longer verify; reissue them")
    return 0


def cmd_consent(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    with closing(args.open_store(config)) as store:
        member = issue._member(store, args.member)
        name = consent.check_display_name(args.name or consent.first_and_initial(member["name"]))
        store.record_consent(
            args.member,
            display_name=name,
            minor=args.minor,
            consent_by=consent.check_consent_by(args.minor, args.guardian),
            by=args.by,
            at=_now().isoformat(),
        )
    print(f"consent recorded for {args.member}; the badge will carry « {name} »")
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    with closing(args.open_store(config)) as store:
        ctx = _issuing(config, store, args.words)
        row = issue.issue(ctx, args.member, args.kind, by=args.by, now=_now())
        if args.out:
            Path(args.out).write_bytes(issue.badge_png(ctx, row))
    print(f"issued {row['id']} ({row['kind']}, {row['level']}) to {args.member}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    with closing(args.open_store(config)) as store:
        issue.revoke(
            _issuing(config, store, args.words), args.id, by=args.by, now=_now(), reason=args.reason
        )
    print(f"revoked {args.id}: the status list says so from now on")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    with closing(args.open_store(config)) as store:
        for row in store.credentials_of(args.member):
            print(json.dumps({k: v for k, v in row.items() if k != "token"}, ensure_ascii=False))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    with closing(args.open_store(config)) as store:
        ctx = _issuing(config, store, args.words)

        def revoked(index: int) -> dict[str, Any] | None:
            row = store.credential_at_index(index)
            return row if row and row["revoked_at"] else None

        v = verify.verify_upload(
            Path(args.file).read_bytes(), issuer=ctx.issuer, keys=ctx.keys, now=_now(),
            revoked=revoked,
        )  # fmt: skip
    print(json.dumps({"verdict": v.verdict, **v.details}, ensure_ascii=False, default=str))
    return 0 if v.ok else 1
