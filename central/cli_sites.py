"""``station-central site …`` and ``station-central rollups rebuild``: the network's fablabs
and the reports' roll-ups (docs/network.md). Thin: each command is one store call."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from contextlib import closing
from typing import Any

from central.config import CentralConfig, load_config
from central.store import CentralStore

OpenStore = Callable[[CentralConfig], CentralStore]


def add_parsers(sub: Any, open_store: OpenStore) -> None:
    """The commands, on the CLI's subparsers; ``open_store`` is the CLI's (the wiring)."""

    def with_store(run: Callable[[CentralStore, argparse.Namespace], int]) -> Any:
        def cmd(args: argparse.Namespace) -> int:
            with closing(open_store(load_config(args.config))) as store:
                return run(store, args)

        return cmd

    site = sub.add_parser("site", help="the fablabs of a network (sites)")
    ssub = site.add_subparsers(dest="site_command", required=True)
    add = ssub.add_parser("add", help="create a site, or rename it")
    add.add_argument("id", help="a short id, e.g. sarcelles")
    add.add_argument("--name", default="", help="as the pages show it")
    add.add_argument("--config", required=True)
    add.set_defaults(func=with_store(site_add))
    ls = ssub.add_parser("list", help="the sites, their stations and active members")
    ls.add_argument("--config", required=True)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=with_store(site_list))
    mv = ssub.add_parser("move-station", help="a station belongs to another site from now on")
    mv.add_argument("station")
    mv.add_argument("site")
    mv.add_argument("--config", required=True)
    mv.set_defaults(func=with_store(move_station))
    mm = ssub.add_parser("move-member", help="a member's home site (whose educators manage them)")
    mm.add_argument("member")
    mm.add_argument("site")
    mm.add_argument("--config", required=True)
    mm.set_defaults(func=with_store(move_member))
    acc = ssub.add_parser(
        "account", help="limit a web account to one site, or --network for every site"
    )
    acc.add_argument("username")
    where = acc.add_mutually_exclusive_group(required=True)
    where.add_argument("--site")
    where.add_argument("--network", action="store_true")
    acc.add_argument("--config", required=True)
    acc.set_defaults(func=with_store(account_site))
    ind = ssub.add_parser(
        "induction", help="whether a site asks for its own induction before a kind of machine"
    )
    ind.add_argument("site")
    ind.add_argument("kind")
    ind.add_argument("--off", action="store_true", help="no longer ask for it")
    ind.add_argument("--config", required=True)
    ind.set_defaults(func=with_store(induction))

    roll = sub.add_parser("rollups", help="the reports' roll-ups")
    rsub = roll.add_subparsers(dest="rollups_command", required=True)
    rb = rsub.add_parser("rebuild", help="recompute every roll-up from the sessions")
    rb.add_argument("--config", required=True)
    rb.set_defaults(func=with_store(rebuild))


def site_add(store: CentralStore, args: argparse.Namespace) -> int:
    created = store.add_site(args.id, args.name)
    print(f"site {args.id} {'created' if created else 'renamed'}")
    return 0


def site_list(store: CentralStore, args: argparse.Namespace) -> int:
    for s in store.sites():
        if args.json:
            print(json.dumps(s, ensure_ascii=False))
        else:
            print(f"{s['id']}\t{s['name']}\t{s['stations']} stations\t{s['members']} members")
    return 0


def move_station(store: CentralStore, args: argparse.Namespace) -> int:
    store.move_station(args.station, args.site)
    print(f"station {args.station} now at {args.site}; its past sessions stay where they were")
    return 0


def move_member(store: CentralStore, args: argparse.Namespace) -> int:
    store.move_member(args.member, args.site)
    print(f"member {args.member} now at {args.site}; their levels count at every site")
    return 0


def account_site(store: CentralStore, args: argparse.Namespace) -> int:
    site = None if args.network else args.site
    store.set_user_site(args.username, site)
    print(f"{args.username}: {site or 'the whole network'} (logged out everywhere)")
    return 0


def induction(store: CentralStore, args: argparse.Namespace) -> int:
    store.set_induction_required(args.site, args.kind, not args.off)
    state = "no longer asks" if args.off else "asks"
    print(f"{args.site} {state} for its own induction before {args.kind}")
    return 0


def rebuild(store: CentralStore, args: argparse.Namespace) -> int:
    rows = store.rebuild_rollups()
    print(f"roll-ups rebuilt from the sessions: {rows} rows")
    return 0
