#!/bin/sh
# Installs Debian's headless-capable Chromium for the report screenshot tests, if it is missing.
# The tests look for `chromium` (or `chromium-browser`, `google-chrome`) on PATH; CI sets
# DLNGRAPH_REQUIRE_CHROMIUM=1 so that a missing browser fails the tests instead of skipping them.
set -eu

for browser in chromium chromium-browser google-chrome; do
    if command -v "$browser" >/dev/null 2>&1; then
        echo "install-chromium: $browser is already installed ($(command -v "$browser"))"
        exit 0
    fi
done

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# fonts-dejavu-core: a page with text needs at least one font to render that text.
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "install-chromium: installed $(command -v chromium)"
