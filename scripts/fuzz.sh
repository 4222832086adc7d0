#!/usr/bin/env bash
# make fuzz: fuzz every Go fuzz target for FUZZTIME each (default 1m). New failing inputs are
# written to the package's testdata/fuzz/, where `make test` replays them from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-1m}
for pkg in ./session ./server; do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
    echo "== $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
