# shellcheck shell=bash
# Installation on a Raspberry Pi (station) or a Debian server (central store).
# Sourced by deploy.sh after deploy/lib.sh; `here` is the checkout. See docs/install.md.
: "${here:?deploy/install.sh is sourced by deploy.sh}"

OPT=/opt/fabrique-station
SRC=$OPT/src
VENV=$OPT/venv
CONSTRAINTS=deploy/constraints-pi.txt
ETC=/etc/fabrique-station
STATION_DATA=/var/lib/fabrique-station
CENTRAL_DATA=/var/lib/fabrique-central
STATION_UNIT=/etc/systemd/system/fabrique-station.service
CENTRAL_UNIT=/etc/systemd/system/fabrique-central.service
STATION_TMPFILES=/etc/tmpfiles.d/fabrique-station.conf
CENTRAL_TMPFILES=/etc/tmpfiles.d/fabrique-central.conf
RETENTION_UNITS=(fabrique-retention.service fabrique-retention.timer)
KIOSK_BIN=$OPT/bin/fabrique-kiosk
KIOSK_MARK="# fabrique-station kiosk"
# The kiosk key: only a browser that presents it from the Pi itself acts as the touchscreen
# (confirms the safety checklist, reports a problem). The station reads it from its data; the
# kiosk's desktop user gets a copy only it can read. No web request ever hands it out.
KIOSK_SECRET=$STATION_DATA/kiosk-secret
KIOSK_SECRET_COPY=.config/fabrique-kiosk-secret

# Raspberry Pi OS ships lgpio and spidev built for its kernel: the venv sees them
# (--system-site-packages), so `pip install .[pi]` normally finds them installed. python3-dev
# and gcc are there in case pip still has to build one of them from source.
STATION_PACKAGES=(python3 python3-venv python3-pip python3-dev gcc python3-lgpio python3-spidev
  sqlite3 curl)
KIOSK_PACKAGES=(chromium-browser)
CENTRAL_PACKAGES=(python3 python3-venv python3-pip sqlite3 curl fonts-dejavu-core)

# Options (set by parse_install_options).
STATION_ID=""
MACHINE_NAME=""
KIND="unconfigured"
PORT=8080
KIOSK=1
KIOSK_USER=""
SELF_TEST=1
FORCE=0
PURGE=0
# install-central: "" (SQLite), "local" (--postgresql: a server on this machine) or "remote"
# (--dsn: an existing server).
PG_MODE=""
PG_DSN=""
PG_DATABASE=fabrique
PG_ROLE=fabrique-central

REBOOT_NEEDED=0
APP_CHANGED=0

# shellcheck disable=SC2034 # DRY_RUN is read by deploy/lib.sh
parse_install_options() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --dry-run) DRY_RUN=1 ;;
      --station-id) STATION_ID="${2:?--station-id needs a value}" && shift ;;
      --machine-name) MACHINE_NAME="${2:?--machine-name needs a value}" && shift ;;
      --kind) KIND="${2:?--kind needs a value}" && shift ;;
      --port) PORT="${2:?--port needs a value}" && shift ;;
      --kiosk-user) KIOSK_USER="${2:?--kiosk-user needs a value}" && shift ;;
      --no-kiosk) KIOSK=0 ;;
      --no-self-test) SELF_TEST=0 ;;
      --force) FORCE=1 ;;
      --purge) PURGE=1 ;;
      --postgresql) PG_MODE=local ;;
      --dsn) PG_DSN="${2:?--dsn needs a value}" && PG_MODE=remote && shift ;;
      *) die "unknown option '$1' (see ./deploy.sh help)" ;;
    esac
    shift
  done
}

need_root() {
  if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
    die "this changes the system: run it with sudo"
  fi
}

os_codename() {
  local f="$ROOT/etc/os-release"
  [ -f "$f" ] || return 0
  sed -n 's/^VERSION_CODENAME=//p' "$f" | tr -d '"'
}

pi_model() {
  local f="$ROOT/proc/device-tree/model"
  [ -f "$f" ] && tr -d '\0' <"$f"
  return 0
}

check_station_platform() {
  local model codename
  model="$(pi_model)"
  codename="$(os_codename)"
  case "$model" in
    *"Raspberry Pi 5"* | *"Raspberry Pi 4"* | *"Raspberry Pi 3 Model B Plus"* | *"Raspberry Pi Zero 2"*)
      note "board: $model" ;;
    *"Raspberry Pi"*) warn "untested board: $model (tested: Pi 3B+, 4, 5, Zero 2 W)" ;;
    *)
      [ "$FORCE" = 1 ] || die "not a Raspberry Pi (no /proc/device-tree/model); --force to go on"
      warn "not a Raspberry Pi: installing anyway (--force)"
      ;;
  esac
  if [ "$codename" != bookworm ]; then
    [ "$FORCE" = 1 ] || die "Raspberry Pi OS Bookworm expected, found '${codename:-unknown}'; --force to go on"
    warn "OS '${codename:-unknown}' is not Bookworm: installing anyway (--force)"
  fi
}

# --- steps ---------------------------------------------------------------------------------

step_packages() {
  local p status missing=()
  for p in "$@"; do
    # shellcheck disable=SC2016 # ${Status} is dpkg-query's field, not a shell variable
    status="$(look dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null || true)"
    [ "$status" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  act apt-get update -qq
  act apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# step_user NAME HOME [GROUP...]: a system user with its own group, member of GROUPs.
step_user() {
  local name="$1" home="$2" g current
  shift 2
  if ! look getent passwd "$name" >/dev/null 2>&1; then
    act useradd --system --user-group --home-dir "$home" --no-create-home \
      --shell /usr/sbin/nologin --comment "Fabrique ($name)" "$name"
  fi
  current=" $(look id -nG "$name" 2>/dev/null || true) "
  for g in "$@"; do
    if ! look getent group "$g" >/dev/null 2>&1; then
      act groupadd --system "$g"
    fi
    case "$current" in
      *" $g "*) ;;
      *) act usermod -a -G "$g" "$name" ;;
    esac
  done
}

# raspi-config answers 0 for "yes / enabled" and 1 for "no / disabled".
step_interfaces() {
  if ! command -v raspi-config >/dev/null 2>&1; then
    warn "no raspi-config: enable SPI (dtparam=spi=on) and the UART yourself"
    return 0
  fi
  if [ "$(look raspi-config nonint get_spi)" != 0 ]; then
    act raspi-config nonint do_spi 0
    REBOOT_NEEDED=1
  fi
  if [ "$(look raspi-config nonint get_serial_hw)" != 0 ]; then
    act raspi-config nonint do_serial_hw 0
    REBOOT_NEEDED=1
  fi
  # A login console on the serial port would talk to whatever sensor is wired there.
  if [ "$(look raspi-config nonint get_serial_cons)" != 1 ]; then
    act raspi-config nonint do_serial_cons 1
    REBOOT_NEEDED=1
  fi
  if [ "$KIOSK" = 1 ]; then
    # The kiosk needs the desktop to start by itself after a power cut: B4 = desktop autologin.
    if [ "$(look raspi-config nonint get_boot_cli)" != 1 ] ||
      [ "$(look raspi-config nonint get_autologin)" != 0 ]; then
      act raspi-config nonint do_boot_behaviour B4
      REBOOT_NEEDED=1
    fi
  fi
}

# The files copied to /opt/fabrique-station/src: what pip needs, the docs, and this script.
manifest() {
  (
    cd "$here" &&
      find pyproject.toml README.md deploy.sh deploy station central hardware mocks web \
        -type f ! -path '*/__pycache__/*' ! -name '*.pyc' &&
      find docs -maxdepth 1 -type f \( -name '*.md' -o -name '*.svg' \)
  ) | LC_ALL=C sort
}

# step_app EXTRA SYSTEM_SITE UNIT: copy the sources, (re)install them into the venv when they
# changed. Stops UNIT's service first and migrates the station store after (upgrade).
step_app() {
  local extra="$1" system_site="$2" unit="$3" files=() stamp want have
  mapfile -t files < <(manifest)
  ensure_dir "$OPT" 755
  ensure_dir "$OPT/bin" 755
  ensure_dir "$SRC" 755
  sync_files "$here" "$SRC" "${files[@]}"
  # Files an older version had and this one has not (build/ and egg-info are pip's).
  if [ -d "$ROOT$SRC" ]; then
    local old f
    local -A wanted=()
    for f in "${files[@]}"; do wanted["$f"]=1; done
    while IFS= read -r old; do
      [ -n "${wanted[$old]:-}" ] || remove_path "$SRC/$old"
    done < <(cd "$ROOT$SRC" && find . -type f ! -path './build/*' ! -path '*.egg-info/*' \
      ! -path '*/__pycache__/*' ! -name '*.pyc' | sed 's|^\./||' | LC_ALL=C sort)
  fi
  put_file "$here/deploy/fabrique-kiosk" "$KIOSK_BIN" 755 || true

  stamp="$VENV/.fabrique-installed"
  want="$(sha_of_files "$here" "${files[@]}") ${extra:-base}"
  have="$(cat "$ROOT$stamp" 2>/dev/null || true)"
  [ "$want" = "$have" ] && return 0
  APP_CHANGED=1
  if [ -n "$unit" ] && look systemctl is-active --quiet "$unit" 2>/dev/null; then
    act systemctl stop "$unit"
  fi
  if [ ! -x "$ROOT$VENV/bin/python" ]; then
    if [ "$system_site" = 1 ]; then
      act python3 -m venv --system-site-packages "$ROOT$VENV"
    else
      act python3 -m venv "$ROOT$VENV"
    fi
  fi
  local target="$ROOT$SRC"
  [ -n "$extra" ] && target="${ROOT}${SRC}[${extra}]"
  # The pinned versions CI tested (deploy/constraints-pi.txt), not whatever is newest today.
  act "$ROOT$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --constraint "$ROOT$SRC/$CONSTRAINTS" "$target"
  # Same version number, new code: reinstall the project itself (its dependencies stay).
  act "$ROOT$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-deps --force-reinstall "$ROOT$SRC"
  printf '%s\n' "$want" | put_text "$stamp" 644 || true
}

# The station's config: written once from station/sample_config.toml, never replaced.
step_station_config() {
  local id="$STATION_ID" name="$MACHINE_NAME" t tmp
  if [ -z "$id" ]; then
    id="$(look hostname 2>/dev/null | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9_\n-' '-' | cut -c1-63)"
    [[ "$id" =~ ^[a-z0-9][a-z0-9_-]*$ ]] || id=station
  fi
  [[ "$id" =~ ^[a-z0-9][a-z0-9_-]{0,62}$ ]] || die "--station-id '$id': use a-z, 0-9, - and _"
  [[ "$KIND" =~ ^[a-z0-9_]+$ ]] || die "--kind '$KIND': use a-z, 0-9 and _"
  [[ "$PORT" =~ ^[0-9]+$ ]] || die "--port '$PORT': a number"
  [ -n "$name" ] || name="$id"
  name="${name//\\/\\\\}"
  name="${name//\"/\\\"}"
  shopt -u patsub_replacement 2>/dev/null || true
  t="$(cat "$here/station/sample_config.toml")"
  t="${t//\{station_id\}/$id}"
  t="${t//\{machine_id\}/$id}"
  t="${t//\{machine_name\}/$name}"
  t="${t//\{kind\}/$KIND}"
  t="${t//\{backend\}/pi}"
  t="${t//\{reader_type\}/mfrc522}"
  t="${t//\{simulated\}/false}"
  t="${t//\{port\}/$PORT}"
  t="${t//\{data_dir\}/$STATION_DATA}"
  ensure_dir "$ETC" 755
  tmp="$(mktemp)"
  printf '%s\n' "$t" >"$tmp"
  if put_config "$tmp" "$ETC/station.toml" 640; then
    [ "$KIND" = unconfigured ] &&
      warn "machine.kind is \"unconfigured\": nobody is qualified until you set it in $ETC/station.toml"
  fi
  rm -f "$tmp"
}

# The web port of the installed config ([web] port), for the kiosk and the self-test.
config_port() {
  local f="$ROOT$ETC/station.toml" p=""
  [ -f "$f" ] && p="$(awk '/^\[/{s=$0} s=="[web]" && /^port *=/{gsub(/[^0-9]/,"",$0); print; exit}' "$f")"
  echo "${p:-$PORT}"
}

# step_units UNIT_SRC UNIT_DEST TMPFILES_SRC TMPFILES_DEST: the unit and the owners of config
# and data (tmpfiles.d, applied now and at every boot).
UNIT_CHANGED=0
OWNERS_CHANGED=0
step_units() {
  put_file "$1" "$2" 644 && UNIT_CHANGED=1
  put_file "$3" "$4" 644 && OWNERS_CHANGED=1
  if [ "$UNIT_CHANGED" = 1 ]; then
    act systemctl daemon-reload
  fi
  if [ "$OWNERS_CHANGED" = 1 ]; then
    act systemd-tmpfiles --create "$4"
  fi
}

# step_start NAME: enabled at boot, and (re)started when something changed.
step_start() {
  local name="$1"
  if ! look systemctl is-enabled --quiet "$name" 2>/dev/null; then
    act systemctl enable "$name"
  fi
  if [ "$REBOOT_NEEDED" = 1 ]; then
    note "not starting $name before the reboot (SPI, UART or boot mode changed)"
  elif [ "$UNIT_CHANGED" = 1 ] || [ "$APP_CHANGED" = 1 ]; then
    act systemctl restart "$name"
  elif ! look systemctl is-active --quiet "$name" 2>/dev/null; then
    act systemctl start "$name"
  fi
}

step_migrate() {
  [ "$APP_CHANGED" = 1 ] || return 0
  [ -f "$ROOT$ETC/station.toml" ] || dry || return 0
  act runuser -u station -- "$ROOT$VENV/bin/python" "$ROOT$SRC/deploy/migrate.py" \
    --config "$ROOT$ETC/station.toml" --backup-dir "$ROOT$STATION_DATA/backups"
}

kiosk_user() {
  local u="$KIOSK_USER"
  if [ -z "$u" ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    u="$SUDO_USER"
  fi
  if [ -z "$u" ]; then
    u="$(look getent passwd 1000 2>/dev/null | cut -d: -f1 || true)"
  fi
  echo "$u"
}

# The kiosk key in the station's data (0600, user station), made once: 256 random bits.
step_kiosk_secret() {
  local tmp
  if [ -s "$ROOT$KIOSK_SECRET" ]; then
    put_file "$ROOT$KIOSK_SECRET" "$KIOSK_SECRET" 600 || true
    return 0
  fi
  tmp="$(mktemp)"
  head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$tmp"
  echo >>"$tmp"
  put_file "$tmp" "$KIOSK_SECRET" 600 || true
  rm -f "$tmp"
  act chown station:station "$ROOT$KIOSK_SECRET"
}

# The kiosk user's copy of the key (0600, theirs), read by fabrique-kiosk at each start.
step_kiosk_secret_copy() {
  local user="$1" home="$2" copy="$2/$KIOSK_SECRET_COPY"
  if [ ! -f "$ROOT$KIOSK_SECRET" ]; then
    change "write $copy"
    act chown "$user:" "$ROOT$copy"
    return 0
  fi
  if put_file "$ROOT$KIOSK_SECRET" "$copy" 600; then
    act chown "$user:" "$ROOT$copy"
  fi
}

# The kiosk line in the desktop user's labwc autostart; other lines are left alone.
step_kiosk() {
  local user home file line tmp dir created=()
  user="$(kiosk_user)"
  [ -n "$user" ] || die "no desktop user found for the kiosk: use --kiosk-user NAME or --no-kiosk"
  home="$(look getent passwd "$user" 2>/dev/null | cut -d: -f6 || true)"
  [ -n "$home" ] || die "kiosk user '$user' does not exist (use --kiosk-user NAME or --no-kiosk)"
  [ -x "$ROOT/usr/bin/labwc" ] || warn "labwc is not installed: the kiosk starts only in a labwc session (raspi-config, Advanced, Wayland)"
  file="$home/.config/labwc/autostart"
  line="$KIOSK_BIN http://127.0.0.1:$(config_port)/ & $KIOSK_MARK"
  for dir in "$home/.config" "$home/.config/labwc"; do
    if [ ! -d "$ROOT$dir" ]; then
      ensure_dir "$dir" 755
      created+=("$ROOT$dir")
    fi
  done
  tmp="$(mktemp)"
  if [ -f "$ROOT$file" ]; then
    grep -vF -- "$KIOSK_MARK" "$ROOT$file" >"$tmp" || true
  else
    printf '%s\n' "# labwc autostart of $user (the desktop session)." \
      "# deploy.sh manages the kiosk line below; ./deploy.sh uninstall removes it." >"$tmp"
  fi
  printf '%s\n' "$line" >>"$tmp"
  if put_file "$tmp" "$file" 644; then
    created+=("$ROOT$file")
  fi
  rm -f "$tmp"
  if [ ${#created[@]} -gt 0 ]; then
    act chown "$user:" "${created[@]}"
  fi
  step_kiosk_secret_copy "$user" "$home"
}

# --- self-test ---------------------------------------------------------------------------------

# wait_active UNIT SECONDS: "active" once the service sent READY=1 (Type=notify).
wait_active() {
  local unit="$1" left="$2" state
  while :; do
    state="$(look systemctl is-active "$unit" 2>/dev/null || true)"
    case "$state" in
      active) return 0 ;;
      failed) return 1 ;;
    esac
    [ "$left" -le 0 ] && return 1
    sleep 1
    left=$((left - 1))
  done
}

self_test_station() {
  local failed=0 port status chips=() serial=()
  say "self-test"
  if dry; then
    echo "self-test: skipped in a dry run"
    return 0
  fi
  if [ "$REBOOT_NEEDED" = 1 ]; then
    echo "self-test: SPI, the serial port and the kiosk start after the reboot."
    echo "self-test: Reboot, then run: sudo ./deploy.sh self-test"
    return 0
  fi
  # 1. Hardware the kernel sees.
  chips=("$ROOT"/dev/gpiochip*)
  if [ -e "${chips[0]}" ]; then
    echo "self-test: ok   GPIO: ${chips[*]#"$ROOT"}"
  else
    echo "self-test: FAIL GPIO: no /dev/gpiochip*"
    failed=1
  fi
  if [ -e "$ROOT/dev/spidev0.0" ]; then
    echo "self-test: ok   SPI: /dev/spidev0.0"
  else
    echo "self-test: FAIL SPI: no /dev/spidev0.0 (dtparam=spi=on in /boot/firmware/config.txt, then reboot)"
    failed=1
  fi
  serial=("$ROOT"/dev/serial/by-id/*)
  if [ -e "${serial[0]}" ]; then
    echo "self-test: ok   serial sensors: ${serial[*]#"$ROOT"}"
  else
    echo "self-test: info no USB serial adapter plugged in (energy meter and air sensor are optional)"
  fi
  # 2. The service is ready (it sent READY=1).
  if wait_active fabrique-station "${FABRIQUE_SELF_TEST_TIMEOUT:-90}"; then
    echo "self-test: ok   service fabrique-station is active (ready)"
  else
    echo "self-test: FAIL service fabrique-station is not ready: journalctl -u fabrique-station -n 50"
    failed=1
  fi
  # 3. The kiosk page and the status API are served; the reader answered.
  port="$(config_port)"
  if look curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$port/"; then
    echo "self-test: ok   kiosk page served on http://127.0.0.1:$port/"
  else
    echo "self-test: FAIL no kiosk page on http://127.0.0.1:$port/"
    failed=1
  fi
  if status="$(look curl -fsS --max-time 5 "http://127.0.0.1:$port/api/status")"; then
    if printf '%s' "$status" | python3 -c '
import json, sys
s = json.load(sys.stdin)
reader = s.get("health", {}).get("reader", {})
relay = s.get("machine", {}).get("relay_on")
print("self-test: %s reader: %s" % ("ok  " if reader.get("ok") else "FAIL", reader))
print("self-test: ok   relay_on is %s, machine %s" % (relay, s.get("machine", {}).get("state")))
sys.exit(0 if reader.get("ok") else 1)
'; then :; else failed=1; fi
  else
    echo "self-test: FAIL no /api/status on port $port"
    failed=1
  fi
  if [ "$failed" = 1 ]; then
    echo "self-test: FAILED (see docs/troubleshooting.md)"
    return 1
  fi
  echo "self-test: passed"
}

self_test_central() {
  say "self-test"
  if dry; then
    echo "self-test: skipped in a dry run"
    return 0
  fi
  if wait_active fabrique-central "${FABRIQUE_SELF_TEST_TIMEOUT:-90}"; then
    echo "self-test: ok   service fabrique-central is active"
    echo "self-test: passed"
  else
    echo "self-test: FAIL fabrique-central is not running: journalctl -u fabrique-central -n 50"
    return 1
  fi
}

# --- commands ------------------------------------------------------------------------------------

installed_station() { [ -e "$ROOT$STATION_UNIT" ] || [ -e "$ROOT$VENV" ]; }

cmd_install() {
  need_root
  check_station_platform
  say "system packages"
  if [ "$KIOSK" = 1 ]; then
    step_packages "${STATION_PACKAGES[@]}" "${KIOSK_PACKAGES[@]}"
  else
    step_packages "${STATION_PACKAGES[@]}"
  fi
  say "SPI, serial port and boot"
  step_interfaces
  say "user station (groups gpio, spi, dialout)"
  step_user station "$STATION_DATA" gpio spi dialout
  say "application in $OPT"
  step_app pi 1 fabrique-station
  say "config in $ETC, data in $STATION_DATA"
  local before="$CHANGES"
  step_station_config
  ensure_dir "$STATION_DATA" 750
  step_kiosk_secret
  if [ "$CHANGES" -gt "$before" ]; then OWNERS_CHANGED=1; fi
  say "systemd unit"
  step_units "$here/deploy/fabrique-station.service" "$STATION_UNIT" \
    "$here/deploy/tmpfiles-station.conf" "$STATION_TMPFILES"
  step_migrate
  step_start fabrique-station
  if [ "$KIOSK" = 1 ]; then
    say "kiosk (labwc autostart)"
    step_kiosk
  fi
  summary
  [ "$REBOOT_NEEDED" = 1 ] && ! dry && echo "reboot needed: sudo reboot, then sudo ./deploy.sh self-test"
  if [ "$SELF_TEST" = 1 ]; then
    self_test_station
  fi
}

cmd_upgrade() {
  if [ -e "$ROOT$CENTRAL_UNIT" ] && [ ! -e "$ROOT$STATION_UNIT" ]; then
    cmd_install_central
    return
  fi
  installed_station || die "no station installed here: use ./deploy.sh install"
  cmd_install
}

cmd_install_central() {
  need_root
  local codename
  codename="$(os_codename)"
  case "$codename" in
    bookworm | trixie) ;;
    *) [ "$FORCE" = 1 ] || die "Debian 12 (bookworm) expected, found '${codename:-unknown}'; --force to go on" ;;
  esac
  local packages=("${CENTRAL_PACKAGES[@]}") extra=""
  case "$PG_MODE" in
    local) packages+=(postgresql postgresql-client) ;;
    remote) packages+=(postgresql-client) ;;
  esac
  [ -n "$PG_MODE" ] && extra=postgresql
  say "system packages"
  step_packages "${packages[@]}"
  say "user fabrique-central"
  step_user fabrique-central "$CENTRAL_DATA"
  say "application in $OPT"
  step_app "$extra" 0 fabrique-central
  if [ "$PG_MODE" = local ]; then
    say "PostgreSQL: role $PG_ROLE and database $PG_DATABASE (peer authentication, no password)"
    step_pg_local
  fi
  say "config in $ETC, data in $CENTRAL_DATA"
  local before="$CHANGES"
  ensure_dir "$ETC" 755
  ensure_dir "$CENTRAL_DATA" 750
  if [ ! -e "$ROOT$ETC/central.toml" ]; then
    if dry || [ -x "$ROOT$VENV/bin/station-central" ]; then
      local init=("$ROOT$VENV/bin/station-central" init --config "$ROOT$ETC/central.toml")
      [ -n "$PG_MODE" ] && init+=(--dsn "$(central_dsn)")
      act "${init[@]}"
    else
      warn "no station-central command: write $ETC/central.toml yourself (docs/install.md)"
    fi
  fi
  if [ "$CHANGES" -gt "$before" ]; then OWNERS_CHANGED=1; fi
  say "systemd unit"
  step_units "$here/deploy/fabrique-central.service" "$CENTRAL_UNIT" \
    "$here/deploy/tmpfiles-central.conf" "$CENTRAL_TMPFILES"
  step_central_migrate
  step_start fabrique-central
  say "retention timer"
  step_retention_timer
  summary
  if [ "$SELF_TEST" = 1 ]; then
    self_test_central
  fi
}

# The DSN install-central writes: the local server over its Unix socket (peer authentication:
# the service's user is the role, no password anywhere), or the --dsn given.
central_dsn() {
  if [ "$PG_MODE" = local ]; then
    echo "host=/var/run/postgresql dbname=$PG_DATABASE user=$PG_ROLE"
  else
    echo "$PG_DSN"
  fi
}

# psql as the server's superuser, through its socket (a real server on this machine).
pg_admin() { runuser -u postgres -- psql -v ON_ERROR_STOP=1 -tAc "$1"; }

# The role and the database of the central store, once.
step_pg_local() {
  if ! look systemctl is-active --quiet postgresql 2>/dev/null; then
    act systemctl enable --now postgresql
  fi
  if [ "$(look pg_admin "SELECT 1 FROM pg_roles WHERE rolname = '$PG_ROLE'" 2>/dev/null)" != 1 ]; then
    act pg_admin "CREATE ROLE \"$PG_ROLE\" LOGIN"
  fi
  if [ "$(look pg_admin "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'" 2>/dev/null)" != 1 ]; then
    act pg_admin "CREATE DATABASE $PG_DATABASE OWNER \"$PG_ROLE\" ENCODING 'UTF8'"
  fi
}

# New code on PostgreSQL: the schema's migrations, as the service's user, before the start
# (every start migrates too; this shows a failure here rather than in the journal).
step_central_migrate() {
  [ -n "$PG_MODE" ] || grep -qs '^backend = "postgresql"' "$ROOT$ETC/central.toml" || return 0
  [ "$APP_CHANGED" = 1 ] || return 0
  act runuser -u fabrique-central -- "$ROOT$VENV/bin/station-central" migrate \
    --config "$ROOT$ETC/central.toml"
}

# The daily retention run ([privacy] retention_days): a oneshot service and its timer.
step_retention_timer() {
  local unit changed=0
  for unit in "${RETENTION_UNITS[@]}"; do
    put_file "$here/deploy/$unit" "/etc/systemd/system/$unit" 644 && changed=1
  done
  if [ "$changed" = 1 ]; then
    act systemctl daemon-reload
  fi
  if ! look systemctl is-enabled --quiet fabrique-retention.timer 2>/dev/null; then
    act systemctl enable --now fabrique-retention.timer
  fi
}

# uninstall [--purge]: services, units, /opt and the kiosk line go; config and data stay
# unless --purge.
cmd_uninstall() {
  need_root
  local unit name user home file tmp
  for unit in "$STATION_UNIT" "$CENTRAL_UNIT"; do
    name="$(basename "$unit" .service)"
    if [ -e "$ROOT$unit" ]; then
      act systemctl disable --now "$name"
      remove_path "$unit"
    fi
  done
  if [ -e "$ROOT/etc/systemd/system/fabrique-retention.timer" ]; then
    act systemctl disable --now fabrique-retention.timer
  fi
  for unit in "${RETENTION_UNITS[@]}"; do
    remove_path "/etc/systemd/system/$unit"
  done
  if [ "$CHANGES" -gt 0 ]; then
    act systemctl daemon-reload
  fi
  remove_path "$STATION_TMPFILES"
  remove_path "$CENTRAL_TMPFILES"
  remove_path "$OPT"
  user="$(kiosk_user)"
  if [ -n "$user" ]; then
    home="$(look getent passwd "$user" 2>/dev/null | cut -d: -f6 || true)"
    file="$home/.config/labwc/autostart"
    if [ -n "$home" ] && [ -f "$ROOT$file" ] && grep -qF -- "$KIOSK_MARK" "$ROOT$file"; then
      tmp="$(mktemp)"
      grep -vF -e "$KIOSK_MARK" -e "deploy.sh manages the kiosk line" \
        -e "# labwc autostart of $user (the desktop session)." \
        "$ROOT$file" >"$tmp" || true
      if [ -s "$tmp" ]; then
        put_file "$tmp" "$file" 644 || true
      else
        remove_path "$file"
      fi
      rm -f "$tmp"
    fi
    [ -n "$home" ] && remove_path "$home/$KIOSK_SECRET_COPY"
  fi
  if [ "$PURGE" = 1 ]; then
    remove_path "$ETC"
    remove_path "$STATION_DATA"
    remove_path "$CENTRAL_DATA"
    for user in station fabrique-central; do
      if look getent passwd "$user" >/dev/null 2>&1; then
        act userdel "$user"
      fi
    done
  else
    for dir in "$ETC" "$STATION_DATA" "$CENTRAL_DATA"; do
      [ -e "$ROOT$dir" ] && note "kept $dir (./deploy.sh uninstall --purge deletes it)"
    done
  fi
  summary
}
