#!/usr/bin/env bash
# The optional Rasa NLU server for aito-bot (NLU_BACKEND=rasa), in its own Python 3.10 virtualenv.
#
# Rasa 3.6 needs Python < 3.11 and pins SQLAlchemy 1.4, so it can never share the bot's environment.
# Every step is idempotent: the virtualenv is rebuilt only when the pinned constraints change, and a
# model is trained only when nlu_data/train or nlu_data/config.yml change (models are named by hash).
#
# Usage: scripts/rasa_env.sh [install|train|serve|model-path|status]   (default: install + train)
#   install     create the virtualenv and install rasa from scripts/rasa-constraints.txt
#   train       install if needed, then train an NLU model from nlu_data/ (skipped when up to date)
#   serve       install and train if needed, then run the server on 127.0.0.1 (foreground, exec)
#   model-path  print the up-to-date model's path; exit 1 when there is none
#   status      say whether the virtualenv and the model are up to date; exit 1 when not
#   smoke-data  write a small slice of nlu_data (the first SMOKE_EXAMPLES examples of every intent in
#               every language, DIET for SMOKE_EPOCHS epochs, the same pipeline otherwise) under the
#               cache and print its directory: with AITO_NLU_DATA_DIR set to it, `train` takes about
#               two minutes instead of an hour, which lets CI run the integration tests on a real server
#
# Environment: AITO_CACHE_DIR (default ~/.cache/aito-bot), RASA_VENV, RASA_MODELS, RASA_PYTHON
# (a python3.10 to use), RASA_PORT (default 5005), RASA_TOKEN (required by `serve`),
# AITO_NLU_DATA_DIR (default <repo>/nlu_data).
set -euo pipefail

RASA_VERSION="3.6.21"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${AITO_CACHE_DIR:-$HOME/.cache/aito-bot}"
VENV="${RASA_VENV:-$CACHE/rasa-venv}"
MODELS="${RASA_MODELS:-$CACHE/rasa-models}"
NLU_DIR="${AITO_NLU_DATA_DIR:-$ROOT/nlu_data}"
CONSTRAINTS="$ROOT/scripts/rasa-constraints.txt"
PORT="${RASA_PORT:-5005}"

# Rasa phones home and writes a training cache into the current directory unless told otherwise;
# keep both out of the repository and off the network.
export RASA_TELEMETRY_ENABLED=false
export RASA_CACHE_DIRECTORY="$CACHE/rasa-train-cache"
export TF_CPP_MIN_LOG_LEVEL=2
export SQLALCHEMY_SILENCE_UBER_WARNING=1

log() { printf 'rasa_env: %s\n' "$*" >&2; }

is_python310() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }

# Finds a Python 3.10 interpreter: RASA_PYTHON, then pyenv (installing 3.10 if it has none), then PATH.
find_python310() {
    if [[ -n "${RASA_PYTHON:-}" ]] && is_python310 "$RASA_PYTHON"; then
        echo "$RASA_PYTHON"; return 0
    fi
    if command -v pyenv >/dev/null 2>&1; then
        local version
        version="$(pyenv latest 3.10 2>/dev/null || true)"
        if [[ -z "$version" ]]; then
            log "no Python 3.10 in pyenv; installing it (pyenv install -s 3.10)"
            pyenv install -s 3.10 >&2
            version="$(pyenv latest 3.10)"
        fi
        local candidate
        candidate="$(pyenv root)/versions/$version/bin/python3.10"
        if is_python310 "$candidate"; then echo "$candidate"; return 0; fi
    fi
    local candidate
    for candidate in python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
        if command -v "$candidate" >/dev/null 2>&1 && is_python310 "$(command -v "$candidate")"; then
            command -v "$candidate"; return 0
        fi
    done
    log "Python 3.10 not found: install it (pyenv install 3.10) or set RASA_PYTHON"
    return 1
}

sha() { sha256sum | cut -c1-16; }

install_stamp() { { echo "rasa==$RASA_VERSION"; cat "$CONSTRAINTS"; } | sha; }

venv_up_to_date() {
    [[ -x "$VENV/bin/rasa" && -f "$VENV/.aito-stamp" && "$(cat "$VENV/.aito-stamp")" == "$(install_stamp)" ]]
}

do_install() {
    if venv_up_to_date; then
        log "virtualenv up to date: $VENV"
        return 0
    fi
    local python
    python="$(find_python310)"
    if [[ -d "$VENV" ]] && ! is_python310 "$VENV/bin/python"; then
        log "removing $VENV: not a Python 3.10 virtualenv"
        rm -rf "$VENV"
    fi
    mkdir -p "$(dirname "$VENV")"
    log "creating $VENV with $python"
    "$python" -m venv "$VENV"
    log "installing rasa==$RASA_VERSION (about 80 s and 2.7 GB)"
    # pip's notes about configured local indexes that do not exist here are noise; errors still show.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "rasa==$RASA_VERSION" -c "$CONSTRAINTS" 2>&1 | grep -v "is ignored: it is neither" >&2 || true
    "$VENV/bin/rasa" --version >/dev/null 2>&1 || { log "rasa did not install"; return 1; }
    # The stamp is written last, so an interrupted install is redone rather than trusted.
    install_stamp > "$VENV/.aito-stamp"
    log "installed: $("$VENV/bin/python" -m pip show rasa 2>/dev/null | grep '^Version')"
}

# The model's name is a hash of everything that shapes it, so a changed example retrains.
model_hash() {
    local file
    {
        echo "rasa==$RASA_VERSION"
        cat "$NLU_DIR/config.yml"
        while IFS= read -r file; do
            echo "== $(basename "$file")"
            cat "$file"
        done < <(find "$NLU_DIR/train" -maxdepth 1 -name '*.yml' | LC_ALL=C sort)
    } | sha
}

model_path() {
    if [[ -f "$NLU_DIR/config.yml" && -d "$NLU_DIR/train" ]]; then
        echo "$MODELS/nlu-$(model_hash).tar.gz"
    else
        echo "$MODELS/missing-nlu-data"
    fi
}

do_train() {
    if [[ ! -f "$NLU_DIR/config.yml" || ! -d "$NLU_DIR/train" ]]; then
        log "no $NLU_DIR/config.yml or $NLU_DIR/train/: nothing to train"
        return 1
    fi
    do_install
    local model
    model="$(model_path)"
    if [[ -f "$model" ]]; then
        log "model up to date: $model"
        return 0
    fi
    mkdir -p "$MODELS" "$RASA_CACHE_DIRECTORY"
    local started
    started="$(date +%s)"
    log "training $(basename "$model") from $NLU_DIR/train"
    # A scratch working directory: rasa writes files next to where it runs.
    local work
    work="$(mktemp -d)"
    (
        trap 'rm -rf "$work"' EXIT
        cd "$work"
        "$VENV/bin/rasa" train nlu --config "$NLU_DIR/config.yml" --nlu "$NLU_DIR/train" \
            --out "$MODELS" --fixed-model-name "$(basename "$model" .tar.gz)" >&2
    )
    [[ -f "$model" ]] || { log "training did not produce $model"; return 1; }
    printf '{"model": "%s", "training_seconds": %s}\n' "$(basename "$model")" \
        "$(( $(date +%s) - started ))" > "$model.json"
    log "trained in $(( $(date +%s) - started )) s: $model"
    # Models are about 100 MB each: keep the three newest (other checkouts may share the cache).
    find "$MODELS" -maxdepth 1 -name 'nlu-*.tar.gz' -printf '%T@ %p\n' | sort -rn | tail -n +4 |
        cut -d' ' -f2- | while IFS= read -r old; do rm -f "$old" "$old.json"; done
}

# The slice is named by a hash of its source and its settings: a changed example makes a new slice.
SMOKE_EXAMPLES="${SMOKE_EXAMPLES:-12}"
SMOKE_EPOCHS="${SMOKE_EPOCHS:-20}"

do_smoke_data() {
    do_install
    local digest out
    digest="$({ echo "$SMOKE_EXAMPLES $SMOKE_EPOCHS"; cat "$NLU_DIR/config.yml" "$NLU_DIR"/train/*.yml; } | sha)"
    out="$CACHE/rasa-smoke-data/$digest"
    if [[ ! -d "$out" ]]; then
        # Written aside and moved into place whole, so an interrupted run never leaves half a slice.
        local partial="$out.partial.$$"
        rm -rf "$partial"
        mkdir -p "$partial/train"
        # Rasa's own virtualenv has PyYAML; the slice keeps each file's intents in their order.
        "$VENV/bin/python" - "$NLU_DIR" "$partial" "$SMOKE_EXAMPLES" "$SMOKE_EPOCHS" <<'PY'
import re, sys
from pathlib import Path
import yaml
source, out, keep, epochs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
# Multi-line strings as `|` blocks, as Rasa's own files have them.
yaml.SafeDumper.add_representer(
    str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)
)
config = (source / "config.yml").read_text(encoding="utf-8")
config, changed = re.subn(r"(?m)^(\s*epochs:\s*)\d+", rf"\g<1>{epochs}", config)
assert changed == 1, "config.yml: expected one DIET epochs setting"
(out / "config.yml").write_text(config, encoding="utf-8")
for path in sorted((source / "train").glob("*.yml")):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for block in data["nlu"]:
        lines = [line for line in block["examples"].splitlines() if line.strip()]
        block["examples"] = "\n".join(lines[:keep]) + "\n"
    (out / "train" / path.name).write_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8"
    )
PY
        mv -T "$partial" "$out" 2>/dev/null || rm -rf "$partial"  # another run made it meanwhile
    fi
    echo "$out"
}

do_serve() {
    if [[ -z "${RASA_TOKEN:-}" ]]; then
        log "set RASA_TOKEN: the server's API is never started without an auth token"
        return 2
    fi
    do_train
    local model
    model="$(model_path)"
    log "serving $model on 127.0.0.1:$PORT"
    # rasa writes beside where it runs; the cache directory is ours, the repository is not.
    mkdir -p "$CACHE/rasa-run"
    cd "$CACHE/rasa-run"
    exec "$VENV/bin/rasa" run --enable-api --auth-token "$RASA_TOKEN" -i 127.0.0.1 -p "$PORT" \
        --model "$model"
}

case "${1:-train}" in
    install) do_install ;;
    train) do_train ;;
    serve) do_serve ;;
    smoke-data) do_smoke_data ;;
    model-path)
        model="$(model_path)"
        if venv_up_to_date && [[ -f "$model" ]]; then echo "$model"; else exit 1; fi ;;
    status)
        ok=0
        if venv_up_to_date; then echo "virtualenv: up to date ($VENV)"; else echo "virtualenv: missing or stale ($VENV)"; ok=1; fi
        if [[ -f "$(model_path)" ]]; then echo "model: up to date ($(model_path))"; else echo "model: not trained for the current nlu_data"; ok=1; fi
        exit "$ok" ;;
    -h|--help|help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) log "unknown command: $1 (install|train|serve|model-path|status|smoke-data)"; exit 2 ;;
esac
