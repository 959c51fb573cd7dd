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
from contextlib import closing
from pathlib import Path
from typing import Any

from station import __version__
from station.clock import SystemClock
from station.commands import dispatch
from station.config import Config, load_config
from station.config_template import write_config
from station.errors import StationError
from station.roster import read_roster_file, roster_to_csv
from station.roster_age import Anchor
from station.store import Store

log = logging.getLogger("station")


def main(argv: list[str] | None = None) -> int:
    return dispatch(build_parser(), argv)


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
    add_badge_commands(sub)
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


def cmd_roster_import(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    csv_path = Path(args.csv)
    parsed = read_roster_file(csv_path)
    clock = SystemClock()  # the real clocks, even for a simulated station: see roster_age.py
    fresh = Anchor.taken(clock.now(), clock.boot_id)
    with closing(Store(config.db_path, config.station.id, config.machine.id)) as store:
        counts = store.import_roster(parsed, replace_all=not args.merge, fresh=fresh)
    print(
        f"imported {counts['members']} members, {counts['badges']} badges, "
        f"{counts['qualifications']} qualifications from {csv_path}"
    )
    return 0


def cmd_roster_export(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    with closing(Store(config.db_path, config.station.id, config.machine.id)) as store:
        r = store.roster()
    sys.stdout.write(
        roster_to_csv(r.members.values(), r.badges.values(), r.qualifications.values())
    )
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if not config.db_path.exists():
        raise StationError(f"no store at {config.db_path}: run the station or `station init`")
    with closing(Store(config.db_path, config.station.id, config.machine.id)) as store:
        for e in store.events(after_seq=args.after):
            if args.json:
                print(json.dumps(e, ensure_ascii=False))
            else:
                print(f"{e['seq']:>6} {e['at']} {e['type']:<24} {json.dumps(e['data'])}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    return run_station(load_config(args.config))


def run_station(config: Config, *, banner: str | None = None) -> int:
    """Run until SIGTERM or SIGINT (exit 0) or a controller failure (exit 1); relay off always.

    A stop latches the relay off first (no code path can switch it on again in this process),
    then stops the controller (which ends the session as ``station_stopped``), then the sync
    client and the web server, each join bounded so the whole stays within systemd's
    ``TimeoutStopSec``.
    """
    import waitress  # imported here: the domain and the other commands don't need it

    from station.controller import Controller, ControllerStopped
    from station.wiring import build_clock, build_hardware
    from web.station.app import create_app, server_options

    clock = build_clock(config)
    hardware = build_hardware(config, clock)
    controller = Controller(config, hardware, clock)
    atexit.register(controller.latch_relay)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        controller.latch_relay()  # first, before any clean-up that could hang
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sync = None
    mqtt_state = None
    web: tuple[Any, threading.Thread] | None = None
    try:
        try:
            controller.start()
        except ControllerStopped as e:
            print(f"station: {e}", file=sys.stderr)  # one sentence; the relay is off
            return 1
        sync = _start_sync(config, controller)
        mqtt_state = _start_mqtt_state(config, controller)
        app = create_app(controller)
        server = waitress.create_server(
            app, host=config.web.host, port=config.web.port, **server_options(config)
        )
        thread = threading.Thread(target=server.run, name="web", daemon=True)
        thread.start()
        web = (server, thread)
        url = f"http://{config.web.host}:{server.effective_port}"
        print(banner or f"station {config.station.id} ready on {url}", flush=True)
        controller.notifier.status(f"ready on {url}")
        while not stop.is_set() and controller.running:
            stop.wait(0.5)
        if controller.failure is not None:
            print(
                f"station: stopped with the relay off: {controller.failure_message()}",
                file=sys.stderr,
            )
            return 1
        return 0
    finally:
        controller.latch_relay()
        controller.notifier.stopping()
        controller.stop(timeout=STOP_CONTROLLER_S)
        if sync is not None:
            sync.stop(timeout=STOP_THREAD_S)
        if mqtt_state is not None:
            mqtt_state.stop(timeout=STOP_THREAD_S)
        if web is not None:
            _stop_web(*web)


STOP_CONTROLLER_S = 5.0
"""How long a stop waits for the controller to record the end of the session."""
STOP_THREAD_S = 2.0
"""How long a stop waits for the sync thread and the web server (daemon threads: then left)."""


def _stop_web(server: Any, thread: threading.Thread) -> None:
    """Close the listening socket and the connections from the server's own loop thread."""

    def close_all() -> None:
        for channel in list(server._map.values()):
            channel.close()

    try:
        server.trigger.pull_trigger(close_all)
    except Exception:  # the server never ran: nothing to close
        return
    thread.join(STOP_THREAD_S)


# --- sync with the central store (station/sync.py): started only when [central] url is set ---


def _start_mqtt_state(config: Config, controller: Any) -> Any:
    """The machine on MQTT for Home Assistant ([mqtt] publish_state; hardware/mqtt_state.py)."""
    from hardware.mqtt_state import start_state_publisher

    return start_state_publisher(config, controller)


def _start_sync(config: Config, controller: Any) -> Any:
    from station.sync import start_sync

    return start_sync(config, controller)


def cmd_demo(args: argparse.Namespace) -> int:
    """A central store and three simulated stations, each its own process (central/demo.py)."""
    from central.demo import run_demo

    return run_demo(Path(args.data_dir), args.port)


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


# --- badges for the anti-clone check ([reader] verify_badges; station/badge_check.py) -----------


def add_badge_commands(sub: Any) -> None:
    badge = sub.add_parser("badge", help="prepare badges for the anti-clone check")
    bsub = badge.add_subparsers(dest="badge_command", required=True)
    secret = bsub.add_parser("secret", help="create the site's badge secret (0600) if missing")
    secret.add_argument("--config", required=True)
    secret.set_defaults(func=cmd_badge_secret)
    for name, func, text in (
        ("write", cmd_badge_write, "write the anti-clone value and keys on a badge"),
        ("check", cmd_badge_check, "tell whether the badge on the reader passes the check"),
    ):
        cmd = bsub.add_parser(name, help=text)
        cmd.add_argument("--config", required=True)
        cmd.add_argument(
            "--uid",
            help="the badge expected on the reader; on the mock backend, the emulated card's UID",
        )
        cmd.add_argument(
            "--timeout", type=float, default=30.0, help="seconds to wait for a badge (30)"
        )
        if name == "check":
            cmd.add_argument(
                "--cloned",
                action="store_true",
                help="mock backend: the emulated card is a UID-only clone, not a prepared card",
            )
        cmd.set_defaults(func=func)


def _badge_secret_path(config: Config) -> Path:
    from station.badge_check import secret_path

    r = config.reader
    return secret_path(r.badge_secret_file, config.data_path, config.path)


def cmd_badge_secret(args: argparse.Namespace) -> int:
    from station.badge_check import create_secret

    config = load_config(args.config)
    path = _badge_secret_path(config)
    if create_secret(path):
        print(f"created the badge secret {path} (0600)")
        print("copy this same file (mode 0600) to every station that verifies badges; keep a")
        print("backup: every prepared card depends on it")
    else:
        print(f"{path} exists already; it is kept (prepared cards depend on it)")
    return 0


def _badge_setup(args: argparse.Namespace) -> tuple[Config, bytes, int, str | None]:
    from station.badge_check import load_secret, value_block

    config = load_config(args.config)
    try:
        value_block(config.reader.badge_sector)
    except ValueError as e:
        raise StationError(f"{config.path}: reader.badge_sector: {e}") from None
    secret = load_secret(_badge_secret_path(config), config.path)
    uid = None
    if args.uid is not None:
        from station.roster import normalise_uid

        try:
            uid = normalise_uid(args.uid)
        except ValueError as e:
            raise StationError(f"--uid: {e}") from None
    return config, secret, config.reader.badge_sector, uid


def _open_badge_reader(config: Config, uid: str | None, secret: bytes, prepared: bool) -> Any:
    """The real driver, not started (no taps): on the Pi the reader on SPI (stop the station
    service first: both cannot use it); on the mock backend an emulated chip holding one card,
    blank (to write) or prepared / cloned (to check)."""
    if config.hardware.backend == "pi":
        from hardware.mfrc522_reader import open_pi_reader

        r = config.reader
        return open_pi_reader(
            bus=r.spi_bus, device=r.spi_device, reset_pin=r.reset_pin, poll_hz=r.poll_hz
        )
    if uid is None:
        raise StationError(
            "on the mock backend give --uid: the emulated card to put on the emulated reader"
        )
    from mocks.mfrc522_chip import EmulatedBadges, build_emulated_reader

    reader, chip = build_emulated_reader(threaded=False)
    badges = EmulatedBadges(secret, config.reader.badge_sector)
    chip.place(badges.card(bytes.fromhex(uid), cloned=not prepared))
    return reader


def _card_on_reader(reader: Any, uid: str | None, timeout: float) -> str:
    print(f"put the badge on the reader (waiting up to {timeout:g} s)…", flush=True)
    found = reader.wait_for_card(timeout)
    if uid is not None and found != uid:
        raise StationError(f"the badge on the reader is {found}, not {uid}")
    return str(found)


def cmd_badge_write(args: argparse.Namespace) -> int:
    from hardware.mfrc522_reader import RfidError

    config, secret, sector, uid = _badge_setup(args)
    reader = _open_badge_reader(config, uid, secret, prepared=False)
    try:
        found = _card_on_reader(reader, uid, args.timeout)
        outcome = reader.prepare_badge(found, secret, sector)
    except RfidError as e:
        print(f"station: {e}", file=sys.stderr)
        return 1
    finally:
        reader.close()
    print(f"{found} {outcome}: sector {sector} holds its value and keys; it passes the check")
    return 0


def cmd_badge_check(args: argparse.Namespace) -> int:
    from hardware.mfrc522_reader import RfidError

    config, secret, sector, uid = _badge_setup(args)
    reader = _open_badge_reader(config, uid, secret, prepared=not args.cloned)
    try:
        found = _card_on_reader(reader, uid, args.timeout)
        ok = reader.check_badge(found, secret, sector)
    except RfidError as e:
        print(f"station: {e}", file=sys.stderr)
        return 1
    finally:
        reader.close()
    if ok:
        print(f"{found} valid: prepared for this site")
        return 0
    print(f"{found} invalid: not prepared for this site (blank, a clone, or another secret)")
    return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
