"""The ``station-central`` command: a thin layer over :mod:`central.store`.

Like ``station``: library errors become one clear message and exit status 2 (bad input) or 1
(the server failed). Until the console script is installed: ``python -m central.cli``.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from central import cli_sites, wiring
from central.config import CentralConfig, load_config, write_config
from central.credentials import cli as credentials_cli
from central.ingest import parse_command
from central.roster_export import roster_csv
from central.roster_import import file_date, import_file, parse_date
from central.sites import DEFAULT_SITE
from central.store import ROLES, CentralStore
from station import __version__
from station.commands import dispatch
from station.errors import StationError
from station.protocol import COMMAND_ACTIONS
from station.roster import read_roster_file

log = logging.getLogger("central")


def main(argv: list[str] | None = None) -> int:
    return dispatch(build_parser(), argv)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="station-central", description="Fabrique station: the central store."
    )
    p.add_argument("--version", action="version", version=f"fabrique-station {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    init = sub.add_parser("init", help="write a commented sample config")
    init.add_argument("--config", required=True)
    init.add_argument("--port", type=int, default=8000)
    init.add_argument("--host", default="127.0.0.1")
    init.add_argument("--data-dir", default="central-data")
    init.add_argument("--dsn", default="", help="PostgreSQL (without the password)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=cmd_init)

    run = sub.add_parser("run", help="serve the sync API and the web pages (waitress)")
    run.add_argument("--config", required=True)
    run.add_argument("--verbose", action="store_true")
    run.set_defaults(func=cmd_run)

    mig = sub.add_parser(
        "migrate", help="bring the store's schema up to date (also done at every start)"
    )
    mig.add_argument("--config", required=True)
    mig.add_argument("--dry-run", action="store_true", help="list the pending migrations only")
    mig.set_defaults(func=cmd_migrate)

    bk = sub.add_parser("backup", help="a consistent copy of the store (pg_dump, or SQLite's)")
    bk.add_argument("--config", required=True)
    bk.add_argument("--to", help="the file (default: DATA_DIR/backups/central-<time>)")
    bk.set_defaults(func=cmd_backup)
    rs = sub.add_parser("restore", help="restore a backup into a store that holds nothing yet")
    rs.add_argument("backup")
    rs.add_argument("--config", required=True)
    rs.set_defaults(func=cmd_restore)

    mv = sub.add_parser(
        "migrate-to-postgresql",
        help="move a SQLite central store into an empty PostgreSQL one (stop the store first)",
    )
    mv.add_argument("--from", dest="source", required=True, help="the SQLite store's config")
    mv.add_argument("--config", required=True, help="the PostgreSQL store's config")
    mv.set_defaults(func=cmd_move_to_postgresql)

    demo = sub.add_parser(
        "demo", help="run a central store and three simulated stations (same as `station demo`)"
    )
    demo.add_argument("--port", type=int, default=8080, help="the first station's port")
    demo.add_argument("--data-dir", default="demo-data")
    demo.set_defaults(func=cmd_demo)

    st = sub.add_parser("station", help="register stations and manage their tokens")
    ssub = st.add_subparsers(dest="station_command", required=True)
    add = ssub.add_parser("add", help="register a station and print its token once")
    add.add_argument("id")
    add.add_argument("--config", required=True)
    add.add_argument("--name", default="")
    add.add_argument("--machine", default="", help="machine id (default: the station id)")
    add.add_argument("--kind", default="", help="machine kind, e.g. laser")
    add.add_argument("--site", default=DEFAULT_SITE, help="the fablab it is at (site add first)")
    add.set_defaults(func=cmd_station_add)
    tok = ssub.add_parser("token", help="give a station a new token (the old one stops working)")
    tok.add_argument("id")
    tok.add_argument("--config", required=True)
    tok.set_defaults(func=cmd_station_token)
    rev = ssub.add_parser("revoke", help="revoke a station's token")
    rev.add_argument("id")
    rev.add_argument("--config", required=True)
    rev.set_defaults(func=cmd_station_revoke)
    ls = ssub.add_parser("list", help="list the stations, their high-water mark and last contact")
    ls.add_argument("--config", required=True)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_station_list)

    ev = sub.add_parser("events", help="print the stored events")
    ev.add_argument("--config", required=True)
    ev.add_argument("--json", action="store_true", help="one JSON object per line")
    ev.add_argument("--station", help="only this station's events")
    ev.add_argument("--after", type=int, default=0, help="with --station: only after this seq")
    ev.set_defaults(func=cmd_events)

    roster = sub.add_parser("roster", help="import or export the roster (the stations' CSV)")
    rsub = roster.add_subparsers(dest="roster_command", required=True)
    imp = rsub.add_parser("import", help="import a roster CSV (all rows or none)")
    imp.add_argument("csv")
    imp.add_argument("--config", required=True)
    imp.add_argument("--merge", action="store_true", help="add and update only")
    add_grant_options(imp)
    imp.set_defaults(func=cmd_roster_import)
    exp = rsub.add_parser("export", help="print the active roster as CSV")
    exp.add_argument("--config", required=True)
    exp.set_defaults(func=cmd_roster_export)

    user = sub.add_parser("user", help="accounts of the web pages")
    usub = user.add_subparsers(dest="user_command", required=True)
    uadd = usub.add_parser("add", help="create an account (asks for the password)")
    uadd.add_argument("username")
    uadd.add_argument("--role", choices=ROLES, required=True)
    uadd.add_argument("--config", required=True)
    uadd.add_argument("--password-stdin", action="store_true")
    uadd.add_argument("--replace", action="store_true")
    uwhere = uadd.add_mutually_exclusive_group()
    uwhere.add_argument("--site", help="limit it to one fablab (default: the default site)")
    uwhere.add_argument("--network", action="store_true", help="every site (an admin's default)")
    uadd.set_defaults(func=cmd_user_add)
    ulist = usub.add_parser("list", help="list the accounts")
    ulist.add_argument("--config", required=True)
    ulist.set_defaults(func=cmd_user_list)
    udis = usub.add_parser("disable", help="disable an account: its open sessions end at once")
    udis.add_argument("username")
    udis.add_argument("--config", required=True)
    udis.set_defaults(func=cmd_user_disable)
    uen = usub.add_parser("enable", help="enable a disabled account again")
    uen.add_argument("username")
    uen.add_argument("--config", required=True)
    uen.set_defaults(func=cmd_user_enable)

    cmd = sub.add_parser("command", help="send a command to a station (its next sync gets it)")
    csub = cmd.add_subparsers(dest="command_command", required=True)
    send = csub.add_parser("send")
    send.add_argument("station")
    send.add_argument("action", choices=COMMAND_ACTIONS)
    send.add_argument("--reason", default="")
    send.add_argument("--uid", help="the badge, for revoke_badge")
    send.add_argument("--config", required=True)
    send.set_defaults(func=cmd_command_send)
    clist = csub.add_parser("list")
    clist.add_argument("--config", required=True)
    clist.add_argument("--station")
    clist.set_defaults(func=cmd_command_list)
    priv = sub.add_parser("privacy", help="a member's data: export, erasure, retention")
    psub = priv.add_subparsers(dest="privacy_command", required=True)
    pexp = psub.add_parser("export", help="print everything held about a member, as JSON")
    pexp.add_argument("member")
    pexp.add_argument("--config", required=True)
    pexp.set_defaults(func=cmd_privacy_export)
    perase = psub.add_parser("erase", help="pseudonymise a member everywhere (events are kept)")
    perase.add_argument("member")
    perase.add_argument("--config", required=True)
    perase.add_argument("--yes", action="store_true", help="do it (without: say what it would do)")
    perase.set_defaults(func=cmd_privacy_erase)
    pret = psub.add_parser("retention", help="erase members inactive for [privacy] retention_days")
    pret.add_argument("--config", required=True)
    pret.add_argument("--dry-run", action="store_true")
    pret.set_defaults(func=cmd_privacy_retention)
    credentials_cli.add_parser(sub, credential_words, open_store)
    cli_sites.add_parsers(sub, open_store)
    return p


def credential_words() -> Any:
    """The central catalogs, in which the credentials' French words live."""
    from web.common.i18n import Translator

    return Translator.load("central", "fr")


def open_store(config: CentralConfig) -> CentralStore:
    """The backend named in ``[storage]`` (central/wiring.py)."""
    return wiring.open_store(config)


# --- commands ------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.config)
    if path.exists() and not args.force:
        raise StationError(f"{path} exists already; use --force to overwrite it")
    write_config(path, host=args.host, port=args.port, data_dir=args.data_dir, dsn=args.dsn)
    config = load_config(path)
    if config.storage.backend == "sqlite":
        open_store(config).close()
    else:  # the database may not be ready yet (deploy.sh install-central makes it next)
        print(f"next: station-central migrate --config {path} (as the service's user)")
    print(f"wrote {path}; data in {config.data_path}")
    print(f"next: station-central station add laser-1 --kind laser --config {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The demo module both command lines call (central/demo.py)."""
    from central.demo import run_demo

    return run_demo(Path(args.data_dir), args.port)


def cmd_run(args: argparse.Namespace) -> int:
    return run_central(load_config(args.config))


def run_central(config: CentralConfig, *, ready: threading.Event | None = None) -> int:
    """Serve until SIGTERM or SIGINT. Prints ``central store ready on URL`` once listening."""
    import waitress

    from web.central.app import SERVER_OPTIONS, create_central_app

    store = open_store(config)
    app = create_central_app(store, config)
    server = waitress.create_server(
        app,
        host=config.server.host,
        port=config.server.port,
        threads=config.server.threads,
        ident="fabrique-central",
        max_request_body_size=config.server.max_request_kb * 1024 + 1024,
        **SERVER_OPTIONS,
    )
    stop = threading.Event()

    def close_all() -> None:
        for channel in list(server._map.values()):  # type: ignore[union-attr]
            channel.close()

    def on_signal(signum: int, _frame: Any) -> None:
        # Close from the server's own loop; the loop ends when no socket is left.
        stop.set()
        server.trigger.pull_trigger(close_all)  # type: ignore[union-attr]

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    url = f"http://{config.server.host}:{server.effective_port}"  # type: ignore[union-attr]
    print(f"central store ready on {url}", flush=True)
    if ready is not None:
        ready.set()
    try:
        server.run()
    finally:
        server.task_dispatcher.shutdown()  # type: ignore[union-attr]
        store.close()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from central.wiring import migrate

    config = load_config(args.config)
    todo, applied = migrate(config, dry_run=args.dry_run)
    where = config.storage.backend
    if args.dry_run:
        print(f"{where}: {len(todo)} pending migration(s){': ' if todo else ''}{', '.join(todo)}")
    elif todo:
        print(f"{where}: applied {', '.join(todo)}; the schema is up to date ({len(applied)})")
    else:
        print(f"{where}: the schema is up to date ({len(applied)} migrations), nothing to do")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    path = wiring.backup(config, Path(args.to) if args.to else None)
    print(f"backup written: {path} ({path.stat().st_size} bytes)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    wiring.restore(config, Path(args.backup))
    print(f"restored {args.backup}; start the central store (its schema migrates at start)")
    return 0


def cmd_move_to_postgresql(args: argparse.Namespace) -> int:
    counts = wiring.move_to_postgresql(load_config(args.source), load_config(args.config))
    for table, n in sorted(counts.items()):
        print(f"{table}\t{n}")
    print(
        f"moved {sum(counts.values())} rows ({counts.get('events', 0)} events), every table's "
        f"count checked; run the central store with --config {args.config} from now on"
    )
    return 0


def cmd_station_add(args: argparse.Namespace) -> int:
    with closing(open_store(load_config(args.config))) as store:
        token = store.add_station(
            args.id, name=args.name, machine_id=args.machine, kind=args.kind, site_id=args.site
        )
    print(f"station {args.id} added. Its token (shown once; put it in the station's [central]):")
    print(token)
    return 0


def cmd_station_token(args: argparse.Namespace) -> int:
    with closing(open_store(load_config(args.config))) as store:
        token = store.rotate_token(args.id)
    print(f"new token for {args.id} (the old one no longer works):")
    print(token)
    return 0


def cmd_station_revoke(args: argparse.Namespace) -> int:
    with closing(open_store(load_config(args.config))) as store:
        store.revoke_station(args.id)
    print(f"station {args.id}: token revoked; its events are kept")
    return 0


def cmd_station_list(args: argparse.Namespace) -> int:
    with closing(open_store(load_config(args.config))) as store:
        for s in store.stations():
            if args.json:
                print(json.dumps(s, ensure_ascii=False))
            else:
                state = "active" if s["active"] else "revoked"
                print(
                    f"{s['id']}\t{s['site_id']}\t{state}\t{s['kind'] or '-'}\t"
                    f"acked {s['high_water']}\t"
                    f"held {s['held']}\tlast contact {s['last_contact_at'] or '-'}"
                )
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if config.storage.backend == "sqlite" and not config.db_path.exists():
        raise StationError(f"no central store at {config.db_path}: run `station-central init`")
    with closing(open_store(config)) as store:
        for e in store.events(station_id=args.station, after_seq=args.after):
            if args.json:
                print(json.dumps(e, ensure_ascii=False))
            else:
                print(
                    f"{e['station_id']:<12} {e['seq']:>7} {e['at']} {e['type']:<24} "
                    f"{json.dumps(e['data'], ensure_ascii=False)}"
                )
    return 0


def cmd_roster_import(args: argparse.Namespace) -> int:
    path = Path(args.csv)
    parsed = read_roster_file(path)
    since = grants_since(args, path)
    with closing(open_store(load_config(args.config))) as store:
        counts, lines = import_file(
            store, parsed, replace_all=not args.merge, since=since, undo_grants=args.undo_grants
        )
        version = store.roster_version()
    for line in lines:
        print(line)
    print(
        f"imported {_count(counts['members'], 'member')}, {_count(counts['badges'], 'badge')}, "
        f"{_count(counts['qualifications'], 'qualification')} from {path}: "
        f"{_count(counts['changed'], 'change')}, roster version {version}"
    )
    return 0


def _count(n: int, word: str) -> str:
    """« 1 change », « 3 changes » (the CLI speaks English to technicians)."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def add_grant_options(imp: argparse.ArgumentParser) -> None:
    """Levels set since the file was written (grants at the machines) are kept unless told."""
    imp.add_argument(
        "--as-of",
        metavar="DATE",
        help="the date the file describes (2026-11-01); levels set after it are kept "
        "(default: the file's modification time)",
    )
    imp.add_argument(
        "--undo-grants",
        action="store_true",
        help="apply the file's levels even where they lower a level set since its date "
        "(each one is listed)",
    )


def grants_since(args: argparse.Namespace, path: Path) -> datetime:
    if args.as_of is None:
        return file_date(path)
    try:
        return parse_date(args.as_of)
    except ValueError as e:
        raise StationError(f"--as-of: {e}") from None


def cmd_roster_export(args: argparse.Namespace) -> int:
    with closing(open_store(load_config(args.config))) as store:
        sys.stdout.write(roster_csv(store))
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    import getpass

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            raise StationError("the two passwords differ")
    with closing(open_store(load_config(args.config))) as store:
        site = None if args.network else (args.site or "")
        created = store.add_user(
            args.username, password, args.role, replace=args.replace, site_id=site
        )
    print(f"{args.role} {args.username} {'created' if created else 'updated'}")
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    with closing(open_store(load_config(args.config))) as store:
        store.set_user_active(args.username, False)
    print(f"{args.username} disabled: logged out everywhere, cannot log in")
    return 0


def cmd_user_enable(args: argparse.Namespace) -> int:
    with closing(open_store(load_config(args.config))) as store:
        store.set_user_active(args.username, True)
    print(f"{args.username} enabled")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    with closing(open_store(load_config(args.config))) as store:
        for u in store.users():
            state = "active" if u["active"] else "inactive"
            site = u["site_id"] or "network"
            print(
                f"{u['username']}\t{u['role']}\t{site}\t{state}\t"
                f"last login {u['last_login_at'] or '-'}"
            )
    return 0


def cmd_command_send(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"action": args.action, "reason": args.reason}
    if args.uid:
        body["uid"] = args.uid
    command = parse_command(body)
    with closing(open_store(load_config(args.config))) as store:
        sent = store.add_command(args.station, command, by="cli")
    print(f"command {sent['id']} ({args.action}) queued for {args.station}")
    return 0


def cmd_command_list(args: argparse.Namespace) -> int:
    with closing(open_store(load_config(args.config))) as store:
        for c in store.commands(args.station):
            print(json.dumps(c, ensure_ascii=False))
    return 0


def cmd_privacy_export(args: argparse.Namespace) -> int:
    from central.privacy import export_member

    with closing(open_store(load_config(args.config))) as store:
        print(json.dumps(export_member(store, args.member), ensure_ascii=False, indent=2))
    return 0


def cmd_privacy_erase(args: argparse.Namespace) -> int:
    from central.privacy import erase_member, export_member

    with closing(open_store(load_config(args.config))) as store:
        if not args.yes:
            data = export_member(store, args.member)
            print(
                f"would pseudonymise {args.member}: {len(data['events'])} events, "
                f"{len(data['sessions'])} sessions; run again with --yes to do it"
            )
            return 0
        result = erase_member(store, args.member)
    print(
        f"{args.member} erased: now {result['pseudonym']} in {result['events']} events and "
        f"{result['sessions']} sessions; stations forget the name at their next sync"
    )
    return 0


def cmd_privacy_retention(args: argparse.Namespace) -> int:
    from central.privacy import apply_retention

    config = load_config(args.config)
    days = config.privacy.retention_days
    with closing(open_store(config)) as store:
        ids = apply_retention(store, days, dry_run=args.dry_run)  # recorded in retention_runs
    # One line per run in the journal (the timer's service); member ids only in a dry run.
    if days == 0:
        print("retention run: privacy.retention_days is 0, nothing is erased by retention")
    elif args.dry_run:
        print(f"retention run (dry): would erase {len(ids)} member(s) inactive for {days} days: "
              f"{', '.join(ids) or '-'}")  # fmt: skip
    else:
        print(f"retention run: erased {len(ids)} member(s) inactive for {days} days")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
