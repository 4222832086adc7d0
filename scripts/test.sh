#!/usr/bin/env bash
# make test: every test, against a throwaway PostgreSQL (or TEST_DATABASE_URL), with -race.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

# What the tests need: installed here when we may (root with apt-get), as make run does;
# otherwise stop with the one command to run.
read -r -a need <<<"$(test_packages)"
if [ ${#need[@]} -gt 0 ] && ! apt_install "${need[@]}"; then
  echo "make test needs these packages; install them and run make test again." >&2
  exit 1
fi

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  tmp=$(mktemp -d /tmp/aitutor-test.XXXXXX)
  chmod 755 "$tmp"
  cleanup() { scripts/pg.sh stop "$tmp/pg"; rm -rf "$tmp"; }
  trap cleanup EXIT
  port=$(scripts/pg.sh freeport)
  base=$(scripts/pg.sh start "$tmp/pg" "$port" fast)
  export TEST_DATABASE_URL=${base%/aitutor*}/postgres?sslmode=disable
  echo "throwaway PostgreSQL on port $port"
fi
realtime_node_packages
ensure_weed || { echo "make test needs SeaweedFS for the object store tests (see scripts/lib.sh)." >&2; exit 1; }
mkdir -p test-artifacts
tags=$(go_tags)
echo "go test${tags:+ -tags $tags} -race ./..."
go vet -tags "$tags" ./...
go test -tags "$tags" -race -count=1 -timeout 20m "$@" ./...
if [ -n "$tags" ]; then
  # The offline recognizer's other path: one pocketsphinx process per turn (builds without cgo).
  echo "go test -race ./session/offline/ (without tags)"
  go test -race -count=1 -timeout 10m "$@" ./session/offline/
fi
