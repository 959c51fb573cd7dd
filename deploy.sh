#!/usr/bin/env bash
# Fabrique station: the one set-up script.
#
#   ./deploy.sh demo [--port 8080]   create .venv, install, run the demo on 127.0.0.1
#   ./deploy.sh test [pytest args]   create .venv, install, lint, type-check, run the whole test suite
#
# On a Raspberry Pi (Raspberry Pi OS Bookworm) or the central store's Debian server:
#   sudo ./deploy.sh install [--station-id ID] [--machine-name NAME] [--kind KIND] [--port N]
#                            [--kiosk-user USER | --no-kiosk] [--no-self-test] [--force]
#   sudo ./deploy.sh upgrade          new code, same config and data; backs up and migrates the store
#   sudo ./deploy.sh self-test        hardware found, service ready, page served
#   sudo ./deploy.sh uninstall [--purge]   keeps /etc and /var/lib data unless --purge
#   sudo ./deploy.sh install-central [--postgresql | --dsn DSN]   the central store on a Debian
#                                     server (SQLite; --postgresql: a PostgreSQL server here too;
#                                     --dsn: an existing PostgreSQL server)
# Every one of them takes --dry-run: print each change, make none. A second run changes
# nothing. FABRIQUE_ROOT=DIR writes every file under DIR instead of / (tests). docs/install.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
venv="$here/.venv"
python="${PYTHON:-python3}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_venv() {
  if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv"
    "$python" -m venv "$venv"
  fi
  # Reinstall only when the packaging changed: the stamp is the hash of pyproject.toml.
  local stamp
  stamp="$venv/.fabrique-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -e "$stamp" ]; then
    say "installing fabrique-station and its dev tools into $venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e '.[dev]'
    rm -f "$venv"/.fabrique-*
    touch "$stamp"
  fi
}

ensure_test_tools() {
  # Browser tests run in Debian's Chromium; the install tests need shellcheck and
  # systemd-analyze; axe-core comes from npm (package-lock.json). As root on Debian (CI), the
  # missing ones are installed; elsewhere the tests that need them say how to get them.
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v shellcheck >/dev/null || missing+=(shellcheck)
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing ${missing[*]} for the tests (Debian packages)"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    else
      say "missing ${missing[*]}: those tests will be skipped (sudo apt-get install ${missing[*]})"
    fi
  fi
  if [ -f package-lock.json ] && [ ! -d node_modules/axe-core ]; then
    if command -v npm >/dev/null; then
      say "installing axe-core (npm ci)"
      npm ci --silent --no-audit --no-fund
    else
      say "no npm: accessibility checks will be skipped"
    fi
  fi
}

broker_answers() {
  timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/1883' 2>/dev/null
}

ensure_broker() {
  # The smart-plug tests talk to a real MQTT broker at 127.0.0.1:1883. When nothing answers
  # there, start Debian's mosquitto on loopback (installed first as root on Debian, as CI is);
  # elsewhere the tests that need it are skipped and say how to get it.
  broker_answers && return 0
  if [ ! -x /usr/sbin/mosquitto ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing mosquitto for the smart-plug tests (Debian package)"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        mosquitto >/dev/null
    else
      say "no MQTT broker on 127.0.0.1:1883: smart-plug tests will be skipped" \
        "(sudo apt-get install mosquitto)"
      return 0
    fi
  fi
  say "starting mosquitto on 127.0.0.1:1883 for the tests"
  /usr/sbin/mosquitto -d -c "$here/deploy/mosquitto-test.conf"
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    broker_answers && return 0
    sleep 0.5
  done
  say "mosquitto did not start: smart-plug tests will fail under CI=true"
}

pg_answers() {
  "$venv/bin/python" - <<'PY' 2>/dev/null
import psycopg
psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3).close()
PY
}

ensure_postgresql() {
  # The central store's tests run on SQLite and on PostgreSQL (tests/pg_server.py): they need a
  # server on 127.0.0.1:5432 that trusts local TCP. As root on Debian (CI) one is installed and
  # started when none answers; elsewhere the PostgreSQL tests skip and say how to get one.
  pg_answers && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "no PostgreSQL on 127.0.0.1:5432: its tests will be skipped (docs/install.md, Tests)"
    return 0
  fi
  if ! command -v pg_ctlcluster >/dev/null; then
    say "installing postgresql for the tests (Debian package)"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql >/dev/null; }; then
      say "could not install postgresql: its tests fail in CI (see above)"
      return 0
    fi
  fi
  local version hba
  version="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null |
    sort -V | tail -1)"
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  if [ -f "$hba" ] && ! grep -q 'fabrique-tests' "$hba"; then
    say "PostgreSQL $version: trusting 127.0.0.1 for the tests ($hba)"
    sed -i '1i host all all 127.0.0.1/32 trust # fabrique-tests' "$hba"
  fi
  say "starting PostgreSQL $version"
  pg_ctlcluster "$version" main start 2>/dev/null || pg_ctlcluster "$version" main reload || true
  local tries=0
  until pg_answers; do
    tries=$((tries + 1))
    if [ "$tries" -gt 30 ]; then
      say "PostgreSQL does not answer on 127.0.0.1:5432: its tests fail in CI (see above)"
      return 0
    fi
    sleep 1
  done
}

cmd="${1:-help}"
[ $# -gt 0 ] && shift
case "$cmd" in
  demo)
    ensure_venv
    exec "$venv/bin/station" demo "$@"
    ;;
  test)
    ensure_venv
    ensure_test_tools
    ensure_broker
    ensure_postgresql
    say "ruff"
    "$venv/bin/ruff" check .
    "$venv/bin/ruff" format --check .
    say "mypy"
    "$venv/bin/mypy" # the packages listed in pyproject.toml's [tool.mypy]
    say "pytest"
    exec "$venv/bin/python" -m pytest "$@"
    ;;
  install | upgrade | uninstall | install-central | self-test)
    # shellcheck source=deploy/lib.sh
    . "$here/deploy/lib.sh"
    # shellcheck source=deploy/install.sh
    . "$here/deploy/install.sh"
    parse_install_options "$@"
    case "$cmd" in
      install) cmd_install ;;
      upgrade) cmd_upgrade ;;
      uninstall) cmd_uninstall ;;
      install-central) cmd_install_central ;;
      self-test) self_test_station ;;
    esac
    ;;
  help|-h|--help)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    echo "deploy.sh: unknown command '$cmd'; use demo, test, install, upgrade, uninstall," \
      "install-central or self-test (see ./deploy.sh help)" >&2
    exit 2
    ;;
esac
