#!/usr/bin/env bash
# make screenshots: regenerate docs/screenshots. TestEveryPage (web/pages_test.go) seeds a
# server like the demo's and opens every page in headless Chromium at a phone's and a desktop's
# size in both themes; with SCREENSHOTS_TO set it also saves the selection named in its
# docShots. Against a throwaway PostgreSQL unless TEST_DATABASE_URL is set. The screenshots
# replace docs/screenshots only when the test passes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

need=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "${CHROMIUM:-}" ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ] && ! apt_install "${need[@]}"; then
  echo "make screenshots needs Chromium; install it (or set CHROMIUM) and run it again." >&2
  exit 1
fi

tmp=$(mktemp -d /tmp/aitutor-shots.XXXXXX)
chmod 755 "$tmp"
cleanup() {
  [ -d "$tmp/pg" ] && scripts/pg.sh stop "$tmp/pg"
  rm -rf "$tmp"
}
trap cleanup EXIT
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  port=$(scripts/pg.sh freeport)
  base=$(scripts/pg.sh start "$tmp/pg" "$port" fast)
  export TEST_DATABASE_URL=${base%/aitutor*}/postgres?sslmode=disable
fi
mkdir -p "$tmp/shots"
SCREENSHOTS_TO="$tmp/shots" go test -count=1 -run '^TestEveryPage$' ./web/
rm -f docs/screenshots/*.png
cp "$tmp"/shots/*.png docs/screenshots/
ls docs/screenshots
