"""deploy.sh install, upgrade, uninstall and install-central, run into a temporary root.

Every path deploy.sh writes goes under ``FABRIQUE_ROOT``; every system command it calls
(apt-get, useradd, raspi-config, systemctl...) is found on PATH, where these tests put
``STUBS``: one bash script that logs each call and keeps the state a real system would keep, so
that a second run sees what the first one did. Nothing here runs on a Raspberry Pi.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI") == "true"

STUBS = r"""#!/usr/bin/env bash
# Stand-ins for the system commands deploy.sh calls, for tests/test_deploy.py.
#
# One script, linked under each command's name and put first on PATH. Each call is logged to
# $FAKE_STATE/calls.log; the state a real system would keep (installed packages, users,
# groups, raspi-config settings, enabled and active units) lives in files under $FAKE_STATE,
# so that a second run of deploy.sh sees what the first one did.
set -euo pipefail
name="$(basename "$0")"
state="${FAKE_STATE:?}"
mkdir -p "$state"
printf '%s %s\n' "$name" "$*" >>"$state/calls.log"
touch "$state/packages" "$state/passwd" "$state/group" "$state/members"

has_line() { grep -qxF -- "$1" "$2"; }

case "$name" in
  dpkg-query)
    pkg="${*: -1}"
    has_line "$pkg" "$state/packages" || exit 1
    echo "install ok installed"
    ;;
  apt-get)
    if [ "${1:-}" = install ] || [[ " $* " == *" install "* ]]; then
      seen=0
      for a in "$@"; do
        [ "$a" = install ] && seen=1 && continue
        [ "$seen" = 1 ] && [[ "$a" != -* ]] && echo "$a" >>"$state/packages"
      done
    fi
    ;;
  getent)
    db="$1" key="$2"
    if [ "$db" = passwd ]; then
      grep -E "^$key:|^[^:]*:[^:]*:$key:" "$state/passwd" | head -1 | grep . || exit 2
    else
      grep -E "^$key:" "$state/group" | head -1 | grep . || exit 2
    fi
    ;;
  useradd)
    user="${*: -1}" home=/nonexistent
    while [ $# -gt 0 ]; do
      [ "$1" = --home-dir ] && home="$2"
      shift
    done
    echo "$user:x:999:999::$home:/usr/sbin/nologin" >>"$state/passwd"
    echo "$user:x:999:" >>"$state/group"
    ;;
  groupadd) echo "${*: -1}:x:998:" >>"$state/group" ;;
  usermod) echo "${*: -1} $3" >>"$state/members" ;;
  userdel)
    grep -v "^$1:" "$state/passwd" >"$state/passwd.new" || true
    mv "$state/passwd.new" "$state/passwd"
    ;;
  id)
    if [ "${1:-}" = -nG ]; then
      grep -q "^$2:" "$state/passwd" || exit 1
      groups="$2"
      while read -r u g; do [ "$u" = "$2" ] && groups="$groups $g"; done <"$state/members"
      echo "$groups"
    else
      exec /usr/bin/id "$@"
    fi
    ;;
  raspi-config)
    mkdir -p "$state/raspi"
    op="$2"
    case "$op" in
      get_*)
        key="${op#get_}"
        if [ -f "$state/raspi/$key" ]; then
          cat "$state/raspi/$key"
        else
          case "$key" in
            spi | serial_hw | autologin) echo 1 ;;
            serial_cons | boot_cli) echo 0 ;;
          esac
        fi
        ;;
      do_boot_behaviour)
        echo 1 >"$state/raspi/boot_cli"
        echo 0 >"$state/raspi/autologin"
        ;;
      do_*) echo "$3" >"$state/raspi/${op#do_}" ;;
    esac
    ;;
  systemctl)
    mkdir -p "$state/enabled" "$state/active"
    quiet=0
    args=()
    for a in "$@"; do
      case "$a" in
        --quiet) quiet=1 ;;
        --now) args+=(--now) ;;
        *) args+=("$a") ;;
      esac
    done
    verb="${args[0]}" unit="${args[-1]}"
    case "$verb" in
      is-enabled) [ -e "$state/enabled/$unit" ] ;;
      is-active)
        if [ -e "$state/active/$unit" ]; then
          [ "$quiet" = 1 ] || echo active
        else
          [ "$quiet" = 1 ] || echo inactive
          exit 3
        fi
        ;;
      enable) touch "$state/enabled/$unit" ;;
      disable) rm -f "$state/enabled/$unit" "$state/active/$unit" ;;
      start | restart) touch "$state/active/$unit" ;;
      stop) rm -f "$state/active/$unit" ;;
      daemon-reload) ;;
    esac
    ;;
  python3)
    if [ "${1:-}" = -m ] && [ "${2:-}" = venv ]; then
      venv="${*: -1}"
      mkdir -p "$venv/bin"
      # shellcheck disable=SC2016 # expanded by the wrapper, not here
      printf '#!/bin/sh\nFAKE_VENV_BIN="$(dirname "$0")" exec venv-python "$@"\n' \
        >"$venv/bin/python"
      chmod +x "$venv/bin/python"
    else
      exec "${REAL_PYTHON3:?}" "$@"
    fi
    ;;
  venv-python)
    if [ "${1:-}" = -m ] && [ "${2:-}" = pip ]; then
      bin="${FAKE_VENV_BIN:?}"
      for tool in station station-central; do
        printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$tool" "$state/calls.log" >"$bin/$tool"
        chmod +x "$bin/$tool"
      done
    fi
    ;;
  runuser)
    # psql as postgres (install-central --postgresql): roles and databases kept in $state/pg.
    sql="${*: -1}"
    touch "$state/pg"
    case "$sql" in
      *"FROM pg_roles WHERE rolname = '"*)
        r="${sql#*rolname = \'}"
        has_line "role ${r%%\'*}" "$state/pg" && echo 1
        ;;
      *"FROM pg_database WHERE datname = '"*)
        d="${sql#*datname = \'}"
        has_line "database ${d%%\'*}" "$state/pg" && echo 1
        ;;
      "CREATE ROLE \""*)
        r="${sql#CREATE ROLE \"}"
        echo "role ${r%%\"*}" >>"$state/pg"
        ;;
      "CREATE DATABASE "*)
        d="${sql#CREATE DATABASE }"
        echo "database ${d%% *}" >>"$state/pg"
        ;;
    esac
    exit 0
    ;;
  hostname) echo "${FAKE_HOSTNAME:-Fablab-Laser}" ;;
  curl)
    url="${*: -1}"
    case "$url" in
      */api/status)
        echo '{"machine": {"state": "available", "relay_on": false},'
        echo ' "health": {"reader": {"ok": true, "type": "mfrc522", "chip": "v2.0"}}}'
        ;;
    esac
    [ -z "${FAKE_CURL_FAIL:-}" ]
    ;;
  *) ;;
esac
"""

STUB_NAMES = [
    "apt-get",
    "chown",
    "curl",
    "dpkg-query",
    "getent",
    "groupadd",
    "hostname",
    "id",
    "python3",
    "raspi-config",
    "runuser",
    "systemctl",
    "systemd-tmpfiles",
    "useradd",
    "userdel",
    "usermod",
    "venv-python",
]
# Calls that change a system; a run that changes nothing makes none of them.
MUTATING = re.compile(
    r"^(apt-get|useradd|usermod|userdel|groupadd|chown|runuser(?! -u postgres -- psql .* SELECT )"
    r"|systemd-tmpfiles"
    r"|raspi-config nonint do_|python3 -m venv|venv-python -m pip"
    r"|systemctl (enable|disable|start|stop|restart|daemon-reload))"
)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    calls: list[str]

    @property
    def changes(self) -> list[str]:
        return [
            line for line in self.stdout.splitlines() if line.startswith(("change: ", "would "))
        ]

    @property
    def mutating_calls(self) -> list[str]:
        return [c for c in self.calls if MUTATING.match(c)]


class Target:
    """A fake Raspberry Pi: a root directory, stub commands and their state."""

    def __init__(
        self,
        base: Path,
        repo: Path,
        *,
        model: str = "Raspberry Pi 4 Model B Rev 1.5",
        like: Target | None = None,
    ):
        self.root = base / "root"
        self.state = base / "state"
        self.stubs = base / "stubs"
        self.repo = repo
        self._log_at = 0
        for d in (self.root, self.state, self.stubs):
            d.mkdir(parents=True, exist_ok=True)
        stub = self.stubs / "stub.sh"
        stub.write_text(STUBS)
        stub.chmod(0o755)
        for name in STUB_NAMES:
            (self.stubs / name).symlink_to(stub)
        if like is not None:
            # A copy of another target's root and state (mtimes kept).
            shutil.copytree(like.root, self.root, symlinks=True, dirs_exist_ok=True)
            shutil.copytree(like.state, self.state, symlinks=True, dirs_exist_ok=True)
            return
        (self.root / "etc").mkdir()
        (self.root / "etc/os-release").write_text("ID=debian\nVERSION_CODENAME=bookworm\n")
        (self.root / "proc/device-tree").mkdir(parents=True)
        (self.root / "proc/device-tree/model").write_bytes(model.encode() + b"\0")
        (self.root / "dev").mkdir()
        (self.root / "dev/gpiochip0").touch()
        (self.root / "dev/spidev0.0").touch()
        (self.root / "usr/bin").mkdir(parents=True)
        (self.root / "usr/bin/labwc").touch(mode=0o755)
        (self.root / "home/pi").mkdir(parents=True)
        (self.state / "passwd").write_text("pi:x:1000:1000::/home/pi:/bin/bash\n")
        (self.state / "group").write_text("pi:x:1000:\ngpio:x:997:\nspi:x:996:\ndialout:x:20:\n")

    def run(self, *args: str, env: dict[str, str] | None = None, check: bool = True) -> Run:
        log = self.state / "calls.log"
        self._log_at = len(log.read_text().splitlines()) if log.exists() else 0
        full_env = {
            "PATH": f"{self.stubs}:{os.environ['PATH']}",
            "HOME": str(self.state),
            "LANG": "C.UTF-8",
            "FABRIQUE_ROOT": str(self.root),
            "FAKE_STATE": str(self.state),
            "REAL_PYTHON3": shutil.which("python3") or sys.executable,
            "FABRIQUE_SELF_TEST_TIMEOUT": "0",
            **(env or {}),
        }
        p = subprocess.run(
            ["bash", str(self.repo / "deploy.sh"), *args],
            env=full_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        calls = log.read_text().splitlines()[self._log_at :] if log.exists() else []
        # Calls show paths as the stubs saw them; strip the root to compare with docs.
        calls = [c.replace(str(self.root), "") for c in calls]
        result = Run(p.returncode, p.stdout, p.stderr, calls)
        if check:
            assert p.returncode == 0, f"deploy.sh {' '.join(args)} failed:\n{p.stdout}\n{p.stderr}"
        return result

    def reboot(self) -> None:
        """What a reboot does to the stubs' state: every enabled unit is running."""
        enabled = self.state / "enabled"
        active = self.state / "active"
        active.mkdir(exist_ok=True)
        for unit in enabled.iterdir() if enabled.exists() else []:
            (active / unit.name).touch()

    def snapshot(self) -> dict[str, tuple[str, int, int]]:
        """Every path under the root: (content hash or 'dir'/'link', mode, mtime in ns)."""
        out: dict[str, tuple[str, int, int]] = {}
        for p in sorted(self.root.rglob("*")):
            st = p.lstat()
            if p.is_symlink():
                kind = "link:" + os.readlink(p)
            elif p.is_dir():
                kind = "dir"
            else:
                kind = hashlib.sha256(p.read_bytes()).hexdigest()
            out["/" + str(p.relative_to(self.root))] = (kind, st.st_mode & 0o7777, st.st_mtime_ns)
        return out

    def files(self) -> set[str]:
        return {k for k, v in self.snapshot().items() if v[0] != "dir"}

    def path(self, p: str) -> Path:
        return self.root / p.lstrip("/")


def copy_checkout(dest: Path) -> Path:
    ignore = shutil.ignore_patterns(
        ".*",
        "node_modules",
        "__pycache__",
        "*.pyc",
        "*.egg-info",
        "screenshots",
        "demo-data",
        "bench",
        "tests",
        "build",
        "dist",
    )
    shutil.copytree(REPO, dest, ignore=ignore)
    return dest


@pytest.fixture(scope="session")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout, so that work going on in the tree cannot change it mid-test."""
    return copy_checkout(tmp_path_factory.mktemp("checkout") / "repo")


@pytest.fixture
def pi(tmp_path: Path, checkout: Path) -> Target:
    """A fresh Raspberry Pi 4 on Raspberry Pi OS Bookworm, nothing installed."""
    return Target(tmp_path, checkout)


@pytest.fixture(scope="session")
def installed_template(tmp_path_factory: pytest.TempPathFactory, checkout: Path) -> Target:
    target = Target(tmp_path_factory.mktemp("installed"), checkout)
    first_install(target)
    return target


@pytest.fixture
def installed_pi(tmp_path: Path, installed_template: Target) -> Target:
    """A Pi after `sudo ./deploy.sh install` and the reboot it asks for."""
    return Target(tmp_path, installed_template.repo, like=installed_template)


EXPECTED_STATION_FILES = {
    "/etc/fabrique-station/station.toml",
    "/etc/systemd/system/fabrique-station.service",
    "/etc/tmpfiles.d/fabrique-station.conf",
    "/opt/fabrique-station/bin/fabrique-kiosk",
    "/opt/fabrique-station/src/deploy.sh",
    "/opt/fabrique-station/src/deploy/fabrique-station.service",
    "/opt/fabrique-station/src/deploy/migrate.py",
    "/opt/fabrique-station/src/pyproject.toml",
    "/opt/fabrique-station/src/station/cli.py",
    "/opt/fabrique-station/src/hardware/gpio.py",
    "/opt/fabrique-station/src/web/station/app.py",
    "/opt/fabrique-station/src/docs/install.md",
    "/opt/fabrique-station/venv/bin/python",
    "/opt/fabrique-station/venv/bin/station",
    "/opt/fabrique-station/venv/.fabrique-installed",
    "/home/pi/.config/labwc/autostart",
    "/var/lib/fabrique-station/kiosk-secret",
    "/home/pi/.config/fabrique-kiosk-secret",
}


def first_install(pi: Target, *args: str) -> Run:
    result = pi.run(
        "install",
        "--station-id",
        "laser-1",
        "--machine-name",
        "Découpe laser",
        "--kind",
        "laser",
        *args,
    )
    pi.reboot()
    return result


# --- install -------------------------------------------------------------------------------------


def test_install_puts_files_where_documented(pi: Target) -> None:
    result = first_install(pi)
    files = pi.files()
    missing = EXPECTED_STATION_FILES - files
    assert not missing, f"not installed: {sorted(missing)}"
    assert pi.path("/var/lib/fabrique-station").is_dir()
    # Nothing outside the documented places (the fake Pi's own files aside).
    allowed = (
        "/etc/fabrique-station/",
        "/etc/systemd/system/fabrique-station.service",
        "/etc/tmpfiles.d/fabrique-station.conf",
        "/opt/fabrique-station/",
        "/var/lib/fabrique-station",
        "/home/pi/.config/labwc/autostart",
        "/home/pi/.config/fabrique-kiosk-secret",
        "/etc/os-release",
        "/proc/",
        "/dev/",
        "/usr/bin/labwc",
    )
    stray = sorted(f for f in files if not f.startswith(allowed))
    assert not stray, stray
    # Every source file pip needs, and no cache or checkout clutter.
    src = {f for f in files if f.startswith("/opt/fabrique-station/src/")}
    assert not [f for f in src if "__pycache__" in f or f.endswith(".pyc")]
    assert "/opt/fabrique-station/src/mocks/backend.py" in src
    # Modes: config readable by root and the station group only, unit world-readable.
    assert pi.snapshot()["/etc/fabrique-station/station.toml"][1] == 0o640
    assert pi.snapshot()["/var/lib/fabrique-station"][1] == 0o750
    assert pi.snapshot()["/opt/fabrique-station/bin/fabrique-kiosk"][1] == 0o755
    assert pi.snapshot()["/etc/systemd/system/fabrique-station.service"][1] == 0o644
    assert "reboot needed" in result.stdout


def test_install_configures_the_system(pi: Target) -> None:
    result = first_install(pi)
    calls = result.calls
    installs = [c for c in calls if c.startswith("apt-get") and " install " in c]
    assert len(installs) == 1
    for pkg in ("python3-venv", "python3-lgpio", "python3-spidev", "chromium-browser", "sqlite3"):
        assert f" {pkg}" in installs[0]
    assert not [c for c in calls if "mfrc522" in c], "never install the mfrc522 package"
    assert "raspi-config nonint do_spi 0" in calls
    assert "raspi-config nonint do_serial_hw 0" in calls
    assert "raspi-config nonint do_serial_cons 1" in calls
    assert "raspi-config nonint do_boot_behaviour B4" in calls
    useradd = [c for c in calls if c.startswith("useradd")]
    assert len(useradd) == 1 and useradd[0].endswith(" station")
    assert "--system" in useradd[0] and "--home-dir /var/lib/fabrique-station" in useradd[0]
    for group in ("gpio", "spi", "dialout"):
        assert f"usermod -a -G {group} station" in calls
    assert "python3 -m venv --system-site-packages /opt/fabrique-station/venv" in calls
    pip = [c for c in calls if c.startswith("venv-python -m pip install")]
    assert pip[0].endswith("/opt/fabrique-station/src[pi]")
    assert "systemctl enable fabrique-station" in calls
    assert "systemd-tmpfiles --create /etc/tmpfiles.d/fabrique-station.conf" in calls
    assert any(c.startswith("runuser -u station -- ") and "migrate.py" in c for c in calls)
    # SPI needs a reboot first: the service is enabled, not started, and the self-test says so.
    assert not [c for c in calls if c.startswith(("systemctl start", "systemctl restart"))]
    assert "Reboot, then run: sudo ./deploy.sh self-test" in result.stdout
    assert (
        "chown pi: /home/pi/.config /home/pi/.config/labwc /home/pi/.config/labwc/autostart"
        in calls
    )


def test_config_is_the_sample_for_a_pi(installed_pi: Target) -> None:
    pi = installed_pi
    text = pi.path("/etc/fabrique-station/station.toml").read_text()
    assert "{" not in text.replace("[]", "")
    # The station itself parses it: same rules as `station run`.
    import tomllib

    from station.config import parse_config

    config = parse_config(tomllib.loads(text))
    assert config.station.id == "laser-1"
    assert config.machine.name == "Découpe laser"
    assert config.machine.kind == "laser"
    assert config.hardware.backend == "pi"
    assert config.reader.type == "mfrc522"
    assert config.station.data_dir == "/var/lib/fabrique-station"
    assert not config.clock.simulated


def test_default_station_id_and_kind_are_safe(pi: Target) -> None:
    result = pi.run("install", env={"FAKE_HOSTNAME": "Fablab-Laser"})
    text = pi.path("/etc/fabrique-station/station.toml").read_text()
    assert 'id = "fablab-laser"' in text
    # Nobody holds a qualification for "unconfigured": the machine stays off until it is set.
    assert 'kind = "unconfigured"' in text
    assert "nobody is qualified" in result.stderr


def test_machine_name_with_quotes_stays_valid_toml(pi: Target) -> None:
    import tomllib

    pi.run("install", "--station-id", "cnc-1", "--machine-name", 'CNC "Shapeoko" & co \\ 2')
    raw = tomllib.loads(pi.path("/etc/fabrique-station/station.toml").read_text())
    assert raw["machine"]["name"] == 'CNC "Shapeoko" & co \\ 2'


def test_kiosk_line_in_labwc_autostart(pi: Target) -> None:
    autostart = pi.path("/home/pi/.config/labwc/autostart")
    autostart.parent.mkdir(parents=True)
    autostart.write_text("kanshi &\n")
    first_install(pi, "--port", "8090")
    lines = autostart.read_text().splitlines()
    assert lines[0] == "kanshi &"
    assert lines[-1] == (
        "/opt/fabrique-station/bin/fabrique-kiosk http://127.0.0.1:8090/ & # fabrique-station kiosk"
    )
    kiosk = pi.path("/opt/fabrique-station/bin/fabrique-kiosk").read_text()
    for flag in (
        "--kiosk",
        "--noerrdialogs",
        "--disable-session-crashed-bubble",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
    ):
        assert flag in kiosk


def test_install_writes_the_kiosk_key_for_the_station_and_the_kiosk_user_only(
    pi: Target,
) -> None:
    result = first_install(pi)
    key = pi.path("/var/lib/fabrique-station/kiosk-secret")
    copy = pi.path("/home/pi/.config/fabrique-kiosk-secret")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}\n", key.read_text()), "256 random bits, URL-safe"
    assert copy.read_text() == key.read_text()
    snapshot = pi.snapshot()
    assert snapshot["/var/lib/fabrique-station/kiosk-secret"][1] == 0o600
    assert snapshot["/home/pi/.config/fabrique-kiosk-secret"][1] == 0o600
    assert "chown station:station /var/lib/fabrique-station/kiosk-secret" in result.calls
    assert "chown pi: /home/pi/.config/fabrique-kiosk-secret" in result.calls
    tmpfiles = pi.path("/etc/tmpfiles.d/fabrique-station.conf").read_text()
    assert "z /var/lib/fabrique-station/kiosk-secret 0600 station station -" in tmpfiles
    # A second install keeps the key; a lost copy is written again.
    copy.unlink()
    pi.run("install")
    assert (
        copy.read_text()
        == key.read_text()
        == pi.path("/var/lib/fabrique-station/kiosk-secret").read_text()
    )
    pi.run("uninstall")
    assert not copy.exists() and key.exists()


def run_kiosk_launcher(
    tmp_path: Path, secret: str | None, url: str = "http://127.0.0.1:8090/"
) -> tuple[str, str, str]:
    """Run fabrique-kiosk with a fake Chromium that records its last argument and stops it.

    The start page stays in ``tmp_path/run`` (the browser test of the pairing opens it)."""
    bin_dir, home, run_dir = tmp_path / "bin", tmp_path / "home", tmp_path / "run"
    for d in (bin_dir, home / ".config", run_dir):
        d.mkdir(parents=True)
    (bin_dir / "curl").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "chromium").write_text(
        '#!/bin/sh\nfor a; do last="$a"; done\necho "$*" >"$HOME/args"\n'
        'case "$last" in file://*) cp "${last#file://}" "$HOME/start.html" ;; esac\n'
        "kill $PPID\n"
    )
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    if secret is not None:
        (home / ".config/fabrique-kiosk-secret").write_text(secret + "\n")
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(run_dir),
    }
    done = subprocess.run(
        [str(REPO / "deploy/fabrique-kiosk"), url],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    start = home / "start.html"
    return (home / "args").read_text(), start.read_text() if start.exists() else "", done.stderr


def test_kiosk_launcher_pairs_through_a_private_start_page(tmp_path: Path) -> None:
    secret = "k" * 43
    args, start, _ = run_kiosk_launcher(tmp_path, secret)
    assert secret not in args, "the key never shows on Chromium's command line"
    assert args.split()[-1] == f"file://{tmp_path}/run/fabrique-kiosk-start.html"
    assert 'location.replace("http://127.0.0.1:8090/kiosk/?pair=' + secret + '")' in start
    page = tmp_path / "run/fabrique-kiosk-start.html"
    assert page.stat().st_mode & 0o077 == 0, "only the kiosk user reads the start page"


def test_kiosk_launcher_without_a_key_says_so(tmp_path: Path) -> None:
    args, start, stderr = run_kiosk_launcher(tmp_path, None)
    assert args.split()[-1] == "http://127.0.0.1:8090/" and start == ""
    assert "no kiosk key" in stderr and "deploy.sh install" in stderr


def test_no_kiosk(pi: Target) -> None:
    result = pi.run("install", "--station-id", "laser-1", "--no-kiosk")
    assert not pi.path("/home/pi/.config").exists()
    assert "raspi-config nonint do_boot_behaviour B4" not in result.calls
    assert not [c for c in result.calls if "chromium" in c]


def test_refuses_a_machine_that_is_not_a_pi(tmp_path: Path, checkout: Path) -> None:
    target = Target(tmp_path, checkout, model="")
    (target.root / "proc/device-tree/model").unlink()
    result = target.run("install", check=False)
    assert result.returncode != 0
    assert "not a Raspberry Pi" in result.stderr
    assert not Run(0, "", "", result.calls).mutating_calls


# --- idempotence ---------------------------------------------------------------------------------


def test_second_run_changes_nothing(installed_pi: Target) -> None:
    pi = installed_pi
    pi.run("install", "--station-id", "laser-1")  # after the reboot: starts nothing new
    before = pi.snapshot()
    second = pi.run("install", "--station-id", "laser-1", "--kind", "laser")
    assert second.changes == [], second.stdout
    assert "nothing to change" in second.stdout
    assert second.mutating_calls == []
    assert pi.snapshot() == before
    assert "self-test: passed" in second.stdout


def test_first_run_after_reboot_changes_nothing(installed_pi: Target) -> None:
    pi = installed_pi
    before = pi.snapshot()
    again = pi.run("install")
    assert again.changes == [], again.stdout
    assert again.mutating_calls == []
    assert pi.snapshot() == before


def test_edited_config_is_never_overwritten(installed_pi: Target) -> None:
    pi = installed_pi
    config = pi.path("/etc/fabrique-station/station.toml")
    edited = config.read_text().replace("max_session_min = 60", "max_session_min = 90")
    config.write_text(edited)
    result = pi.run("install", "--station-id", "other-1", "--kind", "cnc", "--port", "9000")
    assert config.read_text() == edited
    assert "keeping /etc/fabrique-station/station.toml" in result.stderr
    pi.run("upgrade")
    assert config.read_text() == edited


def test_a_wrong_mode_is_put_right(installed_pi: Target) -> None:
    pi = installed_pi
    unit = pi.path("/etc/systemd/system/fabrique-station.service")
    unit.chmod(0o600)
    result = pi.run("install")
    assert result.changes == ["change: chmod 644 /etc/systemd/system/fabrique-station.service"]
    assert unit.stat().st_mode & 0o777 == 0o644


# --- dry run -------------------------------------------------------------------------------------


def test_dry_run_names_every_change_and_makes_none(tmp_path: Path, checkout: Path) -> None:
    dry = Target(tmp_path / "dry", checkout)
    before = dry.snapshot()
    result = dry.run("install", "--dry-run", "--station-id", "laser-1")
    assert dry.snapshot() == before, "a dry run wrote files"
    assert result.mutating_calls == [], "a dry run ran a command that changes the system"
    assert "dry run:" in result.stdout and "changes would be made" in result.stdout
    planned_files = {
        line.split(" ", 2)[2] for line in result.changes if line.startswith("would write ")
    }
    planned_runs = [
        line.removeprefix("would run ") for line in result.changes if line.startswith("would run ")
    ]

    real = Target(tmp_path / "real", checkout)
    done = real.run("install", "--station-id", "laser-1")
    written = {
        line.removeprefix("change: write ")
        for line in done.changes
        if line.startswith("change: write ")
    }
    assert planned_files == written
    created = real.files() - {f for f in before if before[f][0] != "dir"}
    # Every file the real run created was named by the dry run (the fake venv's are pip's).
    unplanned = {
        f for f in created - planned_files if not f.startswith("/opt/fabrique-station/venv/")
    }
    assert not unplanned, sorted(unplanned)
    # The same commands, in the same order (paths differ only by their root).
    real_runs = [
        line.removeprefix("change: run ")
        for line in done.changes
        if line.startswith("change: run ")
    ]
    strip = lambda s, t: s.replace(str(t.root), "")  # noqa: E731
    assert [strip(r, dry) for r in planned_runs] == [strip(r, real) for r in real_runs]
    for expected in (
        "apt-get install",
        "useradd",
        "raspi-config nonint do_spi 0",
        "systemctl enable fabrique-station",
    ):
        assert any(r.startswith(expected) for r in planned_runs), expected
    assert "would create directory /var/lib/fabrique-station (mode 750)" in result.stdout


def test_install_pins_dependencies_with_the_constraints_file(
    tmp_path: Path, checkout: Path
) -> None:
    dry = Target(tmp_path / "dry", checkout)
    result = dry.run("install", "--dry-run", "--station-id", "laser-1")
    pip = [
        line
        for line in result.changes
        if line.startswith("would run ") and " -m pip install" in line and "--no-deps" not in line
    ]
    assert len(pip) == 1, result.changes
    constraints = "/opt/fabrique-station/src/deploy/constraints-pi.txt"
    assert f"--constraint {dry.root}{constraints} " in pip[0], pip[0]
    assert f"would write {constraints}" in "\n".join(result.changes), "copied with the sources"
    # Every runtime dependency is pinned, and every line is `name==version`.
    pins = {}
    for line in (REPO / "deploy" / "constraints-pi.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert name and version, f"deploy/constraints-pi.txt: {line!r} is not name==version"
            pins[name.lower()] = version
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for dep in project["dependencies"]:
        name = re.split(r"[<>=!~ ;\[]", dep, maxsplit=1)[0].lower()
        assert name in pins, f"{name} is not pinned in deploy/constraints-pi.txt"


def test_dry_run_after_install_says_nothing_to_change(installed_pi: Target) -> None:
    pi = installed_pi
    before = pi.snapshot()
    result = pi.run("install", "--dry-run")
    assert result.changes == []
    assert "nothing to change" in result.stdout
    assert pi.snapshot() == before


# --- upgrade -------------------------------------------------------------------------------------


def test_upgrade_keeps_data_and_migrates(tmp_path: Path) -> None:
    checkout = copy_checkout(tmp_path / "checkout")
    pi = Target(tmp_path / "pi", checkout)
    first_install(pi)
    data = pi.path("/var/lib/fabrique-station/station.sqlite")
    data.write_bytes(b"events")
    config_before = pi.path("/etc/fabrique-station/station.toml").read_text()

    nothing = pi.run("upgrade")
    assert nothing.changes == []

    (checkout / "station/new_module.py").write_text('"""New in this version."""\n')
    (checkout / "hardware/line_sensor.py").unlink()
    result = pi.run("upgrade")
    assert data.read_bytes() == b"events"
    assert pi.path("/etc/fabrique-station/station.toml").read_text() == config_before
    assert pi.path("/opt/fabrique-station/src/station/new_module.py").exists()
    assert not pi.path("/opt/fabrique-station/src/hardware/line_sensor.py").exists()
    calls = result.mutating_calls
    stop = calls.index("systemctl stop fabrique-station")
    pip = next(i for i, c in enumerate(calls) if c.startswith("venv-python -m pip"))
    migrate = next(i for i, c in enumerate(calls) if "migrate.py" in c)
    restart = calls.index("systemctl restart fabrique-station")
    assert stop < pip < migrate < restart
    assert "--backup-dir /var/lib/fabrique-station/backups" in calls[migrate]
    assert not [c for c in calls if c.startswith(("apt-get", "useradd", "raspi-config"))]
    assert "self-test: passed" in result.stdout


def test_upgrade_needs_an_install(pi: Target) -> None:
    result = pi.run("upgrade", check=False)
    assert result.returncode != 0
    assert "no station installed" in result.stderr


def test_migrate_backs_up_and_opens_the_store(tmp_path: Path) -> None:
    """deploy/migrate.py for real, on the project's own Python and a real store."""
    from station.config_template import write_config
    from station.store import Store

    config = tmp_path / "station.toml"
    write_config(config, station_id="laser-1", machine_name="Laser", kind="laser")
    Store(tmp_path / "data/station.sqlite", "laser-1", "laser-1").close()
    p = subprocess.run(
        [
            sys.executable,
            str(REPO / "deploy/migrate.py"),
            "--config",
            str(config),
            "--backup-dir",
            str(tmp_path / "backups"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    backups = list((tmp_path / "backups").glob("station-*.sqlite"))
    assert len(backups) == 1
    import sqlite3

    with sqlite3.connect(backups[0]) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "events" in tables
    assert "is up to date" in p.stdout


# --- uninstall -----------------------------------------------------------------------------------


def test_uninstall_keeps_config_and_data(pi: Target) -> None:
    autostart = pi.path("/home/pi/.config/labwc/autostart")
    autostart.parent.mkdir(parents=True)
    autostart.write_text("kanshi &\n")
    first_install(pi)
    pi.path("/var/lib/fabrique-station/station.sqlite").write_bytes(b"events")
    result = pi.run("uninstall")
    assert "systemctl disable --now fabrique-station" in result.calls
    assert not pi.path("/opt/fabrique-station").exists()
    assert not pi.path("/etc/systemd/system/fabrique-station.service").exists()
    assert not pi.path("/etc/tmpfiles.d/fabrique-station.conf").exists()
    assert pi.path("/var/lib/fabrique-station/station.sqlite").read_bytes() == b"events"
    assert pi.path("/etc/fabrique-station/station.toml").exists()
    assert autostart.read_text() == "kanshi &\n"
    assert "kept /var/lib/fabrique-station" in result.stderr
    assert not [c for c in result.calls if c.startswith("userdel")]
    again = pi.run("uninstall")
    assert again.changes == []


def test_uninstall_purge_deletes_everything(installed_pi: Target) -> None:
    pi = installed_pi
    pi.path("/var/lib/fabrique-station/station.sqlite").write_bytes(b"events")
    result = pi.run("uninstall", "--purge")
    assert not pi.path("/var/lib/fabrique-station").exists()
    assert not pi.path("/etc/fabrique-station").exists()
    assert not pi.path("/home/pi/.config/labwc/autostart").exists()
    assert "userdel station" in result.calls


def test_uninstall_dry_run(installed_pi: Target) -> None:
    pi = installed_pi
    before = pi.snapshot()
    result = pi.run("uninstall", "--purge", "--dry-run")
    assert pi.snapshot() == before
    assert result.mutating_calls == []
    assert "would remove /var/lib/fabrique-station" in result.stdout
    assert "would remove /opt/fabrique-station" in result.stdout


# --- self-test -----------------------------------------------------------------------------------


def test_self_test_reports_what_failed(installed_pi: Target) -> None:
    pi = installed_pi
    ok = pi.run("self-test")
    assert "self-test: passed" in ok.stdout
    assert "self-test: ok   SPI: /dev/spidev0.0" in ok.stdout
    pi.path("/dev/spidev0.0").unlink()
    (pi.state / "active/fabrique-station").unlink()
    bad = pi.run("self-test", env={"FAKE_CURL_FAIL": "1"}, check=False)
    assert bad.returncode != 0
    assert "FAIL SPI" in bad.stdout
    assert "FAIL service fabrique-station is not ready" in bad.stdout
    assert "FAIL no kiosk page" in bad.stdout


# --- central store -------------------------------------------------------------------------------


def test_install_central(pi: Target) -> None:
    first = pi.run("install-central")
    files = pi.files()
    for f in (
        "/etc/systemd/system/fabrique-central.service",
        "/etc/tmpfiles.d/fabrique-central.conf",
        "/etc/systemd/system/fabrique-retention.service",
        "/etc/systemd/system/fabrique-retention.timer",
        "/opt/fabrique-station/src/central/__init__.py",
        "/opt/fabrique-station/venv/bin/station-central",
    ):
        assert f in files, f
    assert pi.path("/var/lib/fabrique-central").is_dir()
    calls = first.calls
    assert "python3 -m venv /opt/fabrique-station/venv" in calls
    assert next(c for c in calls if c.startswith("venv-python -m pip install")).endswith(
        "/opt/fabrique-station/src"
    )
    assert "station-central init --config /etc/fabrique-station/central.toml" in calls
    assert not [c for c in calls if c.startswith("raspi-config nonint do_")]
    assert "systemctl restart fabrique-central" in calls
    assert "systemctl enable --now fabrique-retention.timer" in calls
    assert "self-test: passed" in first.stdout
    assert not [c for c in calls if "chromium" in c]
    pi.path("/etc/fabrique-station/central.toml").write_text("# written by station-central init\n")
    before = pi.snapshot()
    second = pi.run("install-central")
    assert second.changes == [] and second.mutating_calls == []
    assert pi.snapshot() == before


def test_install_central_with_a_local_postgresql(pi: Target) -> None:
    dry = pi.run("install-central", "--postgresql", "--dry-run")
    assert dry.mutating_calls == [] and "dry run:" in dry.stdout
    planned = "\n".join(dry.changes)
    assert "postgresql postgresql-client" in planned
    assert 'CREATE ROLE "fabrique-central" LOGIN' in planned
    assert "CREATE DATABASE fabrique OWNER" in planned
    first = pi.run("install-central", "--postgresql")
    calls = first.calls
    pip = next(c for c in calls if c.startswith("venv-python -m pip install"))
    assert pip.endswith("/opt/fabrique-station/src[postgresql]"), "psycopg comes with the extra"
    dsn = "host=/var/run/postgresql dbname=fabrique user=fabrique-central"
    assert f"station-central init --config /etc/fabrique-station/central.toml --dsn {dsn}" in calls
    assert "systemctl enable --now postgresql" in calls
    migrate = (
        "runuser -u fabrique-central -- /opt/fabrique-station/venv/bin/station-central migrate "
        "--config /etc/fabrique-station/central.toml"
    )
    assert migrate in calls
    assert calls.index(migrate) < calls.index("systemctl restart fabrique-central")
    assert "password" not in " ".join(c for c in calls if "psql" in c).lower()
    pi.path("/etc/fabrique-station/central.toml").write_text('[storage]\nbackend = "postgresql"\n')
    (pi.state / "active/postgresql").touch()
    second = pi.run("install-central", "--postgresql")
    assert second.changes == [] and second.mutating_calls == [], second.changes


def test_install_central_on_an_existing_server(pi: Target) -> None:
    dsn = "postgresql://fabrique@db.reseau.lan:5432/fabrique"
    run = pi.run("install-central", "--dsn", dsn, "--dry-run")
    planned = "\n".join(run.changes)
    assert f"--dsn {dsn}" in planned
    assert "postgresql-client" in planned and "apt-get install" in planned
    assert "CREATE ROLE" not in planned, "an existing server is not ours to change"
    assert run.mutating_calls == []


# --- systemd units -------------------------------------------------------------------------------


def unit_lines(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of a unit file, in order."""
    out = []
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


UNITS = [
    "fabrique-station.service",
    "fabrique-central.service",
    "fabrique-retention.service",
    "fabrique-retention.timer",
]


@pytest.mark.parametrize("unit", UNITS)
def test_unit_has_no_comment_after_a_value(unit: str) -> None:
    """systemd drops a setting whose value is followed by a comment."""
    for section, key, value in unit_lines(REPO / "deploy" / unit):
        assert " #" not in value and " ;" not in value, f"{unit}: [{section}] {key}={value}"


def test_retention_runs_daily_as_the_central_user() -> None:
    service = {f"{s}.{k}": v for s, k, v in unit_lines(REPO / "deploy/fabrique-retention.service")}
    assert service["Service.Type"] == "oneshot"
    assert service["Service.User"] == "fabrique-central"
    assert service["Service.ExecStart"] == (
        "/opt/fabrique-station/venv/bin/station-central privacy retention "
        "--config /etc/fabrique-station/central.toml"
    )
    assert service["Service.ReadWritePaths"] == "/var/lib/fabrique-central"
    timer = {f"{s}.{k}": v for s, k, v in unit_lines(REPO / "deploy/fabrique-retention.timer")}
    assert timer["Timer.OnCalendar"] == "daily" and timer["Timer.Persistent"] == "true"
    assert timer["Install.WantedBy"] == "timers.target"
    central = {f"{s}.{k}": v for s, k, v in unit_lines(REPO / "deploy/fabrique-central.service")}
    # It opens the same database as the central store: PostgreSQL on another host too (a run
    # limited to AF_UNIX failed every day on such a store).
    assert set(service["Service.RestrictAddressFamilies"].split()) >= set(
        central["Service.RestrictAddressFamilies"].split()
    )


def test_station_unit_requirements() -> None:
    lines = unit_lines(REPO / "deploy/fabrique-station.service")
    settings: dict[str, list[str]] = {}
    for section, key, value in lines:
        settings.setdefault(f"{section}.{key}", []).append(value)

    def one(key: str) -> str:
        (value,) = settings[key]
        return value

    assert one("Service.Type") == "notify"
    assert int(one("Service.WatchdogSec")) > 2 * 1.0, "the controller loop waits at most 1 s"
    assert one("Service.Restart") == "always"
    assert one("Unit.StartLimitIntervalSec") == "0"
    assert one("Service.WorkingDirectory") == "/var/lib/fabrique-station"
    assert one("Service.StateDirectory") == "fabrique-station"
    assert one("Service.ReadWritePaths") == "/var/lib/fabrique-station"
    assert one("Service.ProtectSystem") == "strict"
    assert one("Service.NoNewPrivileges") == "yes"
    assert one("Service.SupplementaryGroups").split() == ["gpio", "spi", "dialout"]
    assert one("Service.ExecStart") == (
        "/opt/fabrique-station/venv/bin/station run --config /etc/fabrique-station/station.toml"
    )
    assert one("Service.User") == "station"
    assert one("Service.DevicePolicy") == "closed"
    allowed = {v.split()[0] for v in settings["Service.DeviceAllow"]}
    assert {
        "char-gpiochip",
        "char-spi",
        "char-ttyUSB",
        "char-ttyACM",
        "char-ttyAMA",
        "char-ttyS",
    } <= allowed
    assert "Service.PrivateDevices" not in settings, "PrivateDevices hides /dev/gpiochip*"
    text = (REPO / "deploy/fabrique-station.service").read_text()
    assert "time-sync.target" not in re.sub(r"#.*", "", text), "stations work offline"
    assert "network-online.target" not in re.sub(r"#.*", "", text)


@pytest.fixture(scope="module")
def installed_units(
    tmp_path_factory: pytest.TempPathFactory, installed_template: Target
) -> list[Path]:
    """The units as installed, with ExecStart pointing at an executable that exists here."""
    tmp_path = tmp_path_factory.mktemp("units")
    pi = Target(tmp_path / "pi", installed_template.repo, like=installed_template)
    pi.run("install-central")
    out = []
    for unit in UNITS:
        installed = pi.path(f"/etc/systemd/system/{unit}")
        text = installed.read_text().replace(
            "/opt/fabrique-station/venv/bin/", str(pi.path("/opt/fabrique-station/venv/bin")) + "/"
        )
        copy = tmp_path / "verify" / unit
        copy.parent.mkdir(exist_ok=True)
        copy.write_text(text)
        out.append(copy)
    return out


def test_systemd_analyze_verify(installed_units: list[Path]) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if IN_CI:
            pytest.fail("systemd-analyze is missing in CI: apt-get install -y systemd")
        pytest.skip("systemd-analyze is not installed (apt-get install systemd); CI runs this test")
    units = installed_units
    p = subprocess.run(
        [tool, "verify", "--man=no", *map(str, units)], capture_output=True, text=True, timeout=60
    )
    # verify exits 0 on unknown keys and bad values: any line about our units is a failure.
    complaints = [
        line for line in (p.stdout + p.stderr).splitlines() if any(u.name in line for u in units)
    ]
    assert p.returncode == 0 and not complaints, p.stdout + p.stderr


def test_systemd_analyze_catches_a_comment_after_a_value(
    tmp_path: Path, installed_units: list[Path]
) -> None:
    """The check above would see the mistake it is meant to catch."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if IN_CI:
            pytest.fail("systemd-analyze is missing in CI: apt-get install -y systemd")
        pytest.skip("systemd-analyze is not installed (apt-get install systemd); CI runs this test")
    (installed,) = [u for u in installed_units if u.name == "fabrique-station.service"]
    unit = tmp_path / installed.name
    unit.write_text(
        installed.read_text().replace("WatchdogSec=30", "WatchdogSec=30 # half a minute")
    )
    p = subprocess.run(
        [tool, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert "WatchdogSec" in p.stderr or "sec value" in p.stderr, p.stderr


# --- lint ----------------------------------------------------------------------------------------


def test_shellcheck() -> None:
    tool = shutil.which("shellcheck")
    if tool is None:
        if IN_CI:
            pytest.fail("shellcheck is missing in CI: apt-get install -y shellcheck")
        pytest.skip("shellcheck is not installed (apt-get install shellcheck); CI runs this test")
    scripts = [
        "deploy.sh",
        *sorted(str(p.relative_to(REPO)) for p in (REPO / "deploy").glob("*.sh")),
        "deploy/fabrique-kiosk",
    ]
    p = subprocess.run([tool, *scripts], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    # The stubs these tests put on PATH are shell too.
    p = subprocess.run(
        [tool, "-s", "bash", "-"], input=STUBS, capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0, p.stdout + p.stderr


# --- the two README commands ---------------------------------------------------------------------


def fake_test_tree(tmp_path: Path, mypy_exit: int) -> tuple[Path, Path]:
    """deploy.sh beside a fake .venv whose ruff, mypy and python log their calls."""
    tree = tmp_path / "repo"
    tree.mkdir()
    for name in ("deploy.sh", "pyproject.toml"):
        shutil.copy2(REPO / name, tree / name)
    (tree / "node_modules" / "axe-core").mkdir(parents=True)
    log = tmp_path / "calls.log"
    bin_ = tree / ".venv" / "bin"
    bin_.mkdir(parents=True)
    for tool, code in (("python", 0), ("ruff", 0), ("mypy", mypy_exit)):
        (bin_ / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >>"{log}"\nexit {code}\n')
        (bin_ / tool).chmod(0o755)
    stamp = hashlib.sha256((tree / "pyproject.toml").read_bytes()).hexdigest()[:16]
    (tree / ".venv" / f".fabrique-{stamp}").touch()
    # The test tools are "there", and apt-get is a stub: nothing is ever installed.
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("shellcheck", "systemd-analyze", "apt-get"):
        (tools / tool).write_text("#!/bin/sh\nexit 0\n")
        (tools / tool).chmod(0o755)
    return tree, log


@pytest.mark.parametrize("mypy_exit", [0, 1])
def test_deploy_test_type_checks_before_pytest(tmp_path: Path, mypy_exit: int) -> None:
    tree, log = fake_test_tree(tmp_path, mypy_exit)
    env = {**os.environ, "PATH": f"{tmp_path / 'tools'}:{os.environ['PATH']}"}
    p = subprocess.run(
        ["bash", str(tree / "deploy.sh"), "test", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    calls = log.read_text().splitlines()
    assert calls[0] == "python -", "first: does a PostgreSQL server answer (for its tests)?"
    calls = calls[1:]
    tools = [c.split()[0] for c in calls]
    if mypy_exit:
        assert p.returncode != 0, "a type error must fail ./deploy.sh test"
        assert tools == ["ruff", "ruff", "mypy"], calls
    else:
        assert p.returncode == 0, p.stderr
        assert tools == ["ruff", "ruff", "mypy", "python"], calls
        assert calls[-1] == "python -m pytest -q"


def test_mypy_checks_every_package() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    checked = set(project["tool"]["mypy"]["files"])
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= checked, sorted(packages - checked)
    assert "bench" in checked


def test_a_hung_test_times_out(pytestconfig: pytest.Config) -> None:
    # pytest-timeout, with room for the slowest test on a loaded CI machine.
    assert float(pytestconfig.getini("timeout")) >= 120


def test_help_and_unknown_command() -> None:
    p = subprocess.run(
        ["bash", str(REPO / "deploy.sh"), "help"], capture_output=True, text=True, timeout=30
    )
    assert p.returncode == 0
    for word in ("demo", "test", "install", "upgrade", "uninstall", "install-central", "--dry-run"):
        assert word in p.stdout
    p = subprocess.run(
        ["bash", str(REPO / "deploy.sh"), "nonsense"], capture_output=True, text=True, timeout=30
    )
    assert p.returncode == 2
    assert "unknown command" in p.stderr


# --- docs that cannot drift ----------------------------------------------------------------------

DOCS = REPO / "docs"
# BCM GPIO -> physical pin on the 40-pin header.
PHYSICAL = {8: 24, 9: 21, 10: 19, 11: 23, 13: 33, 17: 11, 22: 15, 24: 18, 25: 22, 26: 37, 27: 13}


def test_wiring_docs_match_the_config_defaults() -> None:
    from station.config import PinsSection, ReaderSection

    pins, reader = PinsSection(), ReaderSection()
    defaults = {
        "hardware.pins.relay": pins.relay,
        "hardware.pins.green_led": pins.green_led,
        "hardware.pins.red_led": pins.red_led,
        "hardware.pins.buzzer": pins.buzzer,
        "hardware.pins.button": pins.button,
        "reader.reset_pin": reader.reset_pin,
    }
    md = (DOCS / "wiring.md").read_text(encoding="utf-8")
    svg = (DOCS / "wiring.svg").read_text(encoding="utf-8")
    for key, gpio in defaults.items():
        row = next((line for line in md.splitlines() if f"`{key}`" in line), None)
        assert row is not None, f"wiring.md has no row for {key}"
        assert f"| GPIO{gpio} | {PHYSICAL[gpio]} |" in row, row
        assert f"pin {PHYSICAL[gpio]}</tspan> · GPIO{gpio} " in svg, f"wiring.svg: GPIO{gpio}"
    assert (reader.spi_bus, reader.spi_device) == (0, 0)
    for gpio in (8, 9, 10, 11):
        assert f"pin {PHYSICAL[gpio]}</tspan> · GPIO{gpio} · SPI0" in svg


def test_wiring_svg_is_well_formed() -> None:
    import xml.etree.ElementTree as ET

    root = ET.parse(DOCS / "wiring.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}title") is not None


def test_operations_explains_every_buzzer_cue() -> None:
    from hardware.gpio import CUES

    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    missing = [cue for cue in CUES if f"| `{cue}` |" not in text]
    assert not missing, f"explain these cues in docs/operations.md: {missing}"


@pytest.mark.parametrize(
    "doc", ["install.md", "wiring.md", "buying.md", "operations.md", "troubleshooting.md"]
)
def test_doc_links_resolve(doc: str) -> None:
    text = (DOCS / doc).read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+?)(?:#[^)]*)?\)", text)
    broken = [link for link in links if "://" not in link and not (DOCS / link).exists()]
    assert not broken, f"{doc}: broken links {broken}"


def test_upgrade_on_the_central_server(pi: Target) -> None:
    pi.run("install-central")
    pi.path("/etc/fabrique-station/central.toml").write_text("# written by station-central init\n")
    again = pi.run("upgrade")
    assert again.changes == [], again.stdout
    assert "fabrique-station.service" not in " ".join(again.calls)
