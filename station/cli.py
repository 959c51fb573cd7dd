"""The ``station`` command: a thin layer that parses arguments and reports errors cleanly.

Everything it does is callable from Python; library errors become one clear message and exit
status 2 (bad input) or 1 (the station failed).
"""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import signal
import sys
import threading
from importlib import resources
from pathlib import Path
from typing import Any

from station import __version__
from station.config import Config, load_config
from station.errors import StationError
from station.roster import parse_roster_csv, roster_to_csv
from station.store import Store

log = logging.getLogger("station")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except StationError as e:
        print(f"station: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="station", description="Fabrique station: machine access.")
    p.add_argument("--version", action="version", version=f"fabrique-station {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    init = sub.add_parser("init", help="write a commented sample config and create the data dir")
    init.add_argument("--config", required=True, help="the config file to write")
    init.add_argument("--station-id", default="laser-1")
    init.add_argument("--machine-name", default="Découpe laser")
    init.add_argument("--kind", default="laser")
    init.add_argument("--backend", choices=["mock", "pi"], default="mock")
    init.add_argument("--simulated-clock", action="store_true")
    init.add_argument("--port", type=int, default=8080)
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=cmd_init)

    roster = sub.add_parser("roster", help="import or export the roster (CSV)")
    rsub = roster.add_subparsers(dest="roster_command", required=True)
    imp = rsub.add_parser("import", help="import a roster CSV (all rows or none)")
    imp.add_argument("csv", help="member_id,name,role,badge_uid,qualifications")
    imp.add_argument("--config", required=True)
    imp.add_argument(
        "--merge",
        action="store_true",
        help="add and update only; without it, members missing from the file become inactive",
    )
    imp.set_defaults(func=cmd_roster_import)
    exp = rsub.add_parser("export", help="print the roster as CSV")
    exp.add_argument("--config", required=True)
    exp.set_defaults(func=cmd_roster_export)

    run = sub.add_parser("run", help="run the station")
    run.add_argument("--config", required=True)
    run.add_argument("--verbose", action="store_true")
    run.set_defaults(func=cmd_run)

    events = sub.add_parser("events", help="print the event log")
    events.add_argument("--config", required=True)
    events.add_argument("--json", action="store_true", help="one JSON object per line")
    events.add_argument("--after", type=int, default=0, help="only events after this seq")
    events.set_defaults(func=cmd_events)

    demo = sub.add_parser(
        "demo", help="run a central store and three simulated stations with a sample roster"
    )
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--data-dir", default="demo-data")
    demo.set_defaults(func=cmd_demo)
    add_technician_commands(sub)
    return p


# --- commands ------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.config)
    if path.exists() and not args.force:
        raise StationError(f"{path} exists already; use --force to overwrite it")
    reader = "mfrc522" if args.backend == "pi" else "mfrc522-emulated"
    write_config(
        path,
        station_id=args.station_id,
        machine_name=args.machine_name,
        kind=args.kind,
        backend=args.backend,
        reader_type=reader,
        simulated=args.simulated_clock,
        port=args.port,
    )
    config = load_config(path)
    config.data_path.mkdir(parents=True, exist_ok=True)
    Store(config.db_path, config.station.id, config.machine.id).close()
    print(f"wrote {path}; data in {config.data_path}")
    print(f"next: station roster import roster.csv --config {path}")
    return 0


def write_config(
    path: Path,
    *,
    station_id: str,
    machine_name: str,
    kind: str,
    backend: str = "mock",
    reader_type: str = "mfrc522-emulated",
    simulated: bool = False,
    port: int = 8080,
    data_dir: str = "data",
) -> None:
    template = resources.files("station").joinpath("sample_config.toml").read_text("utf-8")
    text = template.format(
        station_id=station_id,
        machine_id=station_id,
        machine_name=machine_name,
        kind=kind,
        backend=backend,
        reader_type=reader_type,
        simulated="true" if simulated else "false",
        port=port,
        data_dir=data_dir,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def cmd_roster_import(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    csv_path = Path(args.csv)
    try:
        text = csv_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StationError(f"{csv_path}: no such file") from None
    except UnicodeDecodeError as e:
        raise StationError(f"{csv_path}: not UTF-8 text ({e}); save it as CSV UTF-8") from None
    parsed = parse_roster_csv(text, str(csv_path))
    store = Store(config.db_path, config.station.id, config.machine.id)
    try:
        counts = store.import_roster(parsed, replace_all=not args.merge)
    finally:
        store.close()
    print(
        f"imported {counts['members']} members, {counts['badges']} badges, "
        f"{counts['qualifications']} qualifications from {csv_path}"
    )
    return 0


def cmd_roster_export(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = Store(config.db_path, config.station.id, config.machine.id)
    try:
        r = store.roster()
    finally:
        store.close()
    sys.stdout.write(
        roster_to_csv(r.members.values(), r.badges.values(), r.qualifications.values())
    )
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if not config.db_path.exists():
        raise StationError(f"no store at {config.db_path}: run the station or `station init`")
    store = Store(config.db_path, config.station.id, config.machine.id)
    try:
        for e in store.events(after_seq=args.after):
            if args.json:
                print(json.dumps(e, ensure_ascii=False))
            else:
                print(f"{e['seq']:>6} {e['at']} {e['type']:<24} {json.dumps(e['data'])}")
    finally:
        store.close()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    return run_station(load_config(args.config))


def run_station(config: Config, *, banner: str | None = None) -> int:
    """Run until SIGTERM or SIGINT (exit 0) or a controller failure (exit 1); relay off always."""
    import waitress  # imported here: the domain and the other commands don't need it

    from station.controller import Controller
    from station.wiring import build_clock, build_hardware
    from web.app import create_app

    clock = build_clock(config)
    hardware = build_hardware(config, clock)
    atexit.register(hardware.relay.off)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        hardware.relay.off()  # first, before any clean-up that could hang
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    controller = Controller(config, hardware, clock)
    sync = None
    try:
        controller.start()
        sync = _start_sync(config, controller)
        app = create_app(controller)
        server = waitress.create_server(
            app,
            host=config.web.host,
            port=config.web.port,
            threads=config.web.threads,
            ident="fabrique-station",
        )
        threading.Thread(target=server.run, name="web", daemon=True).start()
        url = f"http://{config.web.host}:{server.effective_port}"
        print(banner or f"station {config.station.id} ready on {url}", flush=True)
        controller.notifier.status(f"ready on {url}")
        while not stop.is_set() and controller.running:
            stop.wait(0.5)
        if controller.failure is not None:
            print(f"station: the controller failed: {controller.failure!r}", file=sys.stderr)
            return 1
        return 0
    finally:
        hardware.relay.off()
        controller.notifier.stopping()
        if sync is not None:
            sync.stop()
        controller.stop()


# --- sync with the central store (station/sync.py): started only when [central] url is set ---


def _start_sync(config: Config, controller: Any) -> Any:
    from station.sync import start_sync

    return start_sync(config, controller)


def cmd_demo(args: argparse.Namespace) -> int:
    """A central store and three simulated stations, each its own process (central/demo.py)."""
    from central.demo import run_demo

    return run_demo(Path(args.data_dir), args.port)


def _emulated_reader_available() -> bool:
    try:
        import mocks.mfrc522_chip  # noqa: F401
    except ImportError:
        return False
    return True


# --- technician accounts (the technician page's logins) ------------------------------------------


def add_technician_commands(sub: Any) -> None:
    tech = sub.add_parser("technician", help="manage technician accounts for the technician page")
    tsub = tech.add_subparsers(dest="technician_command", required=True)
    add = tsub.add_parser("add", help="create an account (asks for the password)")
    add.add_argument("username")
    add.add_argument("--config", required=True)
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (scripts)"
    )
    add.add_argument("--replace", action="store_true", help="set a new password if it exists")
    add.set_defaults(func=cmd_technician_add)
    ls = tsub.add_parser("list", help="list the accounts")
    ls.add_argument("--config", required=True)
    ls.set_defaults(func=cmd_technician_list)


def cmd_technician_add(args: argparse.Namespace) -> int:
    import getpass

    from station.accounts import AccountError, add_technician, open_accounts

    config = load_config(args.config)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            raise AccountError("the two passwords differ")
    db = open_accounts(config.db_path)
    try:
        created = add_technician(db, args.username, password, replace=args.replace)
    finally:
        db.close()
    print(f"technician {args.username} {'created' if created else 'updated'}")
    return 0


def cmd_technician_list(args: argparse.Namespace) -> int:
    from station.accounts import list_technicians, open_accounts

    db = open_accounts(load_config(args.config).db_path)
    try:
        for row in list_technicians(db):
            state = "active" if row["active"] else "inactive"
            print(f"{row['username']}\t{state}\tlast login {row['last_login_at'] or '-'}")
    finally:
        db.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
