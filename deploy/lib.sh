# shellcheck shell=bash
# Helpers for deploy.sh: every change goes through one of these functions.
#
# - Every path written is "$ROOT$path": FABRIQUE_ROOT=/tmp/x installs into a directory, which
#   is how tests check where files land. Paths are printed without the root.
# - Every system command (apt-get, useradd, systemctl, raspi-config...) is called by its bare
#   name, so tests can put stubs first on PATH. Commands that change the system go through
#   `act`; commands that only look go through `look` (they also run in --dry-run).
# - Nothing is written when it is already right: a second run makes no change, keeps mtimes
#   and says "nothing to change".
# - With --dry-run (DRY_RUN=1) every change is printed as "would ..." and nothing is done.

ROOT="${FABRIQUE_ROOT:-}"
ROOT="${ROOT%/}"
DRY_RUN="${DRY_RUN:-0}"
CHANGES=0

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
warn() { printf 'deploy.sh: warning: %s\n' "$*" >&2; }
die() {
  printf 'deploy.sh: %s\n' "$*" >&2
  exit 1
}

dry() { [ "$DRY_RUN" = 1 ]; }

# change WHAT: count one change and print it ("would WHAT" in a dry run).
change() {
  CHANGES=$((CHANGES + 1))
  if dry; then
    printf 'would %s\n' "$*"
  else
    printf 'change: %s\n' "$*"
  fi
}

# act CMD ARGS...: a command that changes the system (printed, not run, in a dry run).
act() {
  change "run $*"
  dry && return 0
  "$@"
}

# look CMD ARGS...: a command that only reads the system; runs even in a dry run.
look() { "$@"; }

# summary: the last line of every run.
summary() {
  if [ "$CHANGES" -eq 0 ]; then
    echo "nothing to change"
  elif dry; then
    echo "dry run: $CHANGES changes would be made"
  else
    echo "$CHANGES changes made"
  fi
}

mode_of() { stat -c '%a' "$1"; }

# ensure_dir PATH MODE
ensure_dir() {
  local path="$ROOT$1" mode="$2"
  if [ -d "$path" ]; then
    if [ "$(mode_of "$path")" != "$mode" ]; then
      change "chmod $mode $1"
      dry || chmod "$mode" "$path"
    fi
    return 0
  fi
  change "create directory $1 (mode $mode)"
  dry && return 0
  mkdir -p "$path"
  chmod "$mode" "$path"
}

# put_file SRC DEST MODE: install SRC's content at DEST unless it is there already.
# Returns 0 when it wrote DEST, 2 when it only changed its mode, 1 when DEST was right.
put_file() {
  local src="$1" dest="$ROOT$2" mode="$3"
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    if [ "$(mode_of "$dest")" != "$mode" ]; then
      change "chmod $mode $2"
      dry || chmod "$mode" "$dest"
      return 2
    fi
    return 1
  fi
  if [ -e "$dest" ]; then
    change "update $2"
  else
    change "write $2"
  fi
  dry && return 0
  mkdir -p "$(dirname "$dest")"
  # Write beside the target and rename: a power cut never leaves half a file.
  local tmp
  tmp="$(mktemp "$dest.XXXXXX")"
  cat "$src" >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dest"
  return 0
}

# put_text DEST MODE <<< content: like put_file, from stdin.
put_text() {
  local tmp rc=0
  tmp="$(mktemp)"
  cat >"$tmp"
  put_file "$tmp" "$1" "$2" || rc=$?
  rm -f "$tmp"
  return "$rc"
}

# put_config SRC DEST MODE: a file people edit. Written once; never replaced afterwards.
put_config() {
  if [ -e "$ROOT$2" ]; then
    if ! cmp -s "$1" "$ROOT$2"; then
      note "keeping $2 as it is (edited or written by an earlier version)"
    fi
    return 1
  fi
  put_file "$@"
}

# remove_path PATH: remove a file or a whole directory.
remove_path() {
  case "$1" in
    /?*) ;;
    *) die "refusing to remove '$1'" ;;
  esac
  [ -e "$ROOT$1" ] || [ -L "$ROOT$1" ] || return 0
  change "remove $1"
  dry || rm -rf -- "$ROOT$1"
}

# sync_files SRC_BASE DEST_DIR FILE...: make DEST_DIR/FILE a copy of SRC_BASE/FILE for each FILE
# (mode 755 when the source is executable, else 644). One hash pass over each side, so an
# up-to-date tree costs three commands, not three per file.
sync_files() {
  local base="$1" dest="$2" f mode want_mode
  shift 2
  local -A src_sum=() dst_sum=() dst_mode=()
  local sum name
  while read -r sum name; do src_sum["$name"]="$sum"; done < <(cd "$base" && sha256sum -- "$@")
  if [ -d "$ROOT$dest" ]; then
    while read -r sum name; do dst_sum["$name"]="$sum"; done < <(
      cd "$ROOT$dest" && for f in "$@"; do [ -f "$f" ] && printf '%s\0' "$f"; done |
        xargs -0r sha256sum --
    )
    while read -r mode name; do dst_mode["$name"]="$mode"; done < <(
      cd "$ROOT$dest" && for f in "$@"; do [ -f "$f" ] && printf '%s\0' "$f"; done |
        xargs -0r stat -c '%a %n' --
    )
  fi
  local todo=() plain=() executable=()
  for f in "$@"; do
    want_mode=644
    [ -x "$base/$f" ] && want_mode=755
    if [ "${dst_sum[$f]:-}" = "${src_sum[$f]}" ]; then
      if [ "${dst_mode[$f]}" != "$want_mode" ]; then
        change "chmod $want_mode $dest/$f"
        dry || chmod "$want_mode" "$ROOT$dest/$f"
      fi
      continue
    fi
    if [ -n "${dst_sum[$f]:-}" ]; then
      change "update $dest/$f"
    else
      change "write $dest/$f"
    fi
    todo+=("$f")
    if [ "$want_mode" = 755 ]; then executable+=("$f"); else plain+=("$f"); fi
  done
  if [ ${#todo[@]} -gt 0 ] && ! dry; then
    mkdir -p "$ROOT$dest"
    (cd "$base" && cp --parents --remove-destination -t "$ROOT$dest" -- "${todo[@]}")
    (
      cd "$ROOT$dest" || exit 1
      [ ${#plain[@]} -eq 0 ] || chmod 644 -- "${plain[@]}"
      [ ${#executable[@]} -eq 0 ] || chmod 755 -- "${executable[@]}"
    )
  fi
}

# sha_of_files BASE FILE...: one hash over the names and contents of the files.
sha_of_files() {
  local base="$1"
  shift
  (cd "$base" && sha256sum -- "$@") | sha256sum | cut -c1-64
}
