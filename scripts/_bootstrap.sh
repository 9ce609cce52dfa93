# Sourced by scripts/run and scripts/test: a virtual environment in .venv with the pinned
# requirements given as $1, reinstalled only when that file changes. Needs Python 3.11+.
set -euo pipefail
req_file="$1"
pick_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3 python; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Crucible needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  return 1
}
if [ ! -x .venv/bin/python ]; then
  py=$(pick_python)
  echo "==> Creating the virtual environment in .venv ($($py --version))"
  "$py" -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
stamp=".venv/.installed-$(basename "$req_file")"
want=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> Installing pinned dependencies from $req_file"
  python -m pip install --quiet --disable-pip-version-check --upgrade pip
  python -m pip install --quiet --disable-pip-version-check -r "$req_file"
  echo "$want" > "$stamp"
fi
export DJANGO_SETTINGS_MODULE=crucible.settings
