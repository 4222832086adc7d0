#!/usr/bin/env bash
# make bench: measure what docs/BENCHMARKS.md reports and rewrite it.
#  1. a durable throwaway PostgreSQL, the OpenAI simulator (standard profile) and the server,
#     each its own process on loopback; `aitutor bench` drives them (protocol v1, REST, wrk)
#  2. Go benchmarks of the hot paths and of the offline engines
#     (and, for overhead-s3 and audio-writes, SeaweedFS and a second server with AUDIO_STORE=s3)
# Options through the environment: BENCH_ONLY=first-audio,overhead,... BENCH_IDLE=10000
# BENCH_STEPS=250,500,1000,1500,2000 BENCH_WINDOW=20s BENCH_COUNT=5
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
tmp=$(mktemp -d /tmp/aitutor-bench.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
  status=$?
  if [ "$status" -ne 0 ]; then
    # A failed run keeps its servers' logs for the post-mortem.
    mkdir -p test-artifacts/bench-logs
    cp "$tmp"/*.log test-artifacts/bench-logs/ 2>/dev/null || true
    echo "make bench failed; the servers' logs are in test-artifacts/bench-logs" >&2
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$tmp/instance2.pid" ] && kill "$(cat "$tmp/instance2.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  scripts/pg.sh stop "$tmp/pg"
  rm -rf "$tmp"
}
trap cleanup EXIT

tags=$(go_tags)
go build -tags "$tags" -o bin/aitutor ./cmd/aitutor
mkdir -p test-artifacts

pgport=$(scripts/pg.sh freeport)
export DATABASE_URL=$(scripts/pg.sh start "$tmp/pg" "$pgport")
simport=$(scripts/pg.sh freeport)
port=$(scripts/pg.sh freeport)
dbgport=$(scripts/pg.sh freeport)

bin/aitutor sim --addr "127.0.0.1:$simport" --profile standard >"$tmp/sim.log" 2>&1 &
pids+=($!)

export JWT_SECRET=bench-secret-bench-secret-bench-secret-0123
env APP_ENV=production LOG_LEVEL=warn PORT="$port" DEBUG_ADDR="127.0.0.1:$dbgport" \
  AI_PROVIDER=openai OPENAI_BASE_URL="http://127.0.0.1:$simport/v1" OPENAI_API_KEY=sim \
  MAX_SESSIONS=50000 SESSION_IDLE_TIMEOUT=1h AUTH_RATE_LIMIT=100000 GOMAXPROCS="$(nproc)" \
  bin/aitutor serve >"$tmp/server.log" 2>&1 &
server_pid=$!
pids+=($server_pid)
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$tmp/server.log"; exit 1; }

only=${BENCH_ONLY:-}
# The object store items need a second server on the same database whose audio goes to an
# S3-compatible store: SeaweedFS on loopback.
s3args=()
case ",$only," in
,,|*,overhead-s3,*|*,audio-writes,*)
  ensure_weed
  s3port=$(start_weed "$tmp/weed" bench-access-key bench-secret-key-0123456789)
  pids+=("$(cat "$tmp/weed/weed.pid")")
  s3srvport=$(scripts/pg.sh freeport)
  env APP_ENV=production LOG_LEVEL=warn PORT="$s3srvport" \
    AI_PROVIDER=openai OPENAI_BASE_URL="http://127.0.0.1:$simport/v1" OPENAI_API_KEY=sim \
    MAX_SESSIONS=50000 SESSION_IDLE_TIMEOUT=1h AUTH_RATE_LIMIT=100000 GOMAXPROCS="$(nproc)" \
    AUDIO_STORE=s3 S3_ENDPOINT="http://127.0.0.1:$s3port" S3_BUCKET=aitutor-bench S3_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=bench-access-key AWS_SECRET_ACCESS_KEY=bench-secret-key-0123456789 \
    bin/aitutor serve >"$tmp/server-s3.log" 2>&1 &
  s3_pid=$!
  pids+=($s3_pid)
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$s3srvport/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs "http://127.0.0.1:$s3srvport/readyz" >/dev/null || { cat "$tmp/server-s3.log"; exit 1; }
  s3args=(-s3-url "http://127.0.0.1:$s3srvport" -s3-server-pid "$s3_pid")
  ;;
esac
cmd="bin/aitutor bench -url http://127.0.0.1:PORT -debug-url http://127.0.0.1:DEBUG -server-pid PID${s3args:+ -s3-url http://127.0.0.1:PORT2 -s3-server-pid PID2} -profile standard${only:+ -only $only}"
bin/aitutor bench -url "http://127.0.0.1:$port" -debug-url "http://127.0.0.1:$dbgport" -server-pid "$server_pid" \
  "${s3args[@]}" -profile standard ${only:+-only "$only"} -idle "${BENCH_IDLE:-10000}" \
  -capacity-steps "${BENCH_STEPS:-250,500,1000,1500,2000}" -capacity-window "${BENCH_WINDOW:-20s}" \
  -json test-artifacts/bench.json -md "$tmp/load.md" -command "make bench  # runs: $cmd" 2> >(tee "$tmp/bench.log" >&2)

# Several instances: a second server on the same database and simulator, HAProxy (Debian's) in
# front of both; halfway the second one is restarted as a deploy does (SIGTERM, start again).
if [ -z "$only" ] || [[ ",$only," == *",cluster,"* ]]; then
  command -v haproxy >/dev/null || { echo "make bench needs haproxy for the cluster run: apt-get install haproxy" >&2; exit 1; }
  port2=$(scripts/pg.sh freeport)
  lbport=$(scripts/pg.sh freeport)
  cat >"$tmp/instance2.sh" <<SH
#!/usr/bin/env bash
# Starts (or, with restart, drains, stops and starts again) the second instance.
set -euo pipefail
if [ "\${1:-}" = restart ] && [ -f "$tmp/instance2.pid" ]; then
  pid=\$(cat "$tmp/instance2.pid")
  kill -TERM "\$pid" 2>/dev/null || true
  while kill -0 "\$pid" 2>/dev/null; do sleep 0.1; done
fi
env APP_ENV=production LOG_LEVEL=warn PORT=$port2 JWT_SECRET=$JWT_SECRET DATABASE_URL='$DATABASE_URL' \\
  AI_PROVIDER=openai OPENAI_BASE_URL=http://127.0.0.1:$simport/v1 OPENAI_API_KEY=sim \\
  MAX_SESSIONS=50000 SESSION_IDLE_TIMEOUT=1h AUTH_RATE_LIMIT=100000 SHUTDOWN_TIMEOUT=20s \\
  nohup bin/aitutor serve >>"$tmp/server2.log" 2>&1 </dev/null &
echo \$! >"$tmp/instance2.pid"
for _ in \$(seq 1 100); do curl -fs http://127.0.0.1:$port2/readyz >/dev/null 2>&1 && exit 0; sleep 0.1; done
echo "the second instance did not start" >&2; exit 1
SH
  chmod +x "$tmp/instance2.sh"
  "$tmp/instance2.sh"
  # deploy/haproxy.cfg, what docker compose runs, with this run's ports.
  { sed -e "s/^\([[:space:]]*bind[[:space:]]\).*/\1127.0.0.1:$lbport/" -e '/^[[:space:]]*server[[:space:]]/d' deploy/haproxy.cfg
    echo "    server a 127.0.0.1:$port check"
    echo "    server b 127.0.0.1:$port2 check"
  } >"$tmp/haproxy.cfg"
  haproxy -f "$tmp/haproxy.cfg" -db >"$tmp/haproxy.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$lbport/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs "http://127.0.0.1:$lbport/readyz" >/dev/null || { cat "$tmp/haproxy.log" >&2; exit 1; }
  ccmd="bin/aitutor bench -only cluster -url http://127.0.0.1:LB -instances http://127.0.0.1:A,http://127.0.0.1:B -restart-command 'instance2.sh restart'"
  bin/aitutor bench -only cluster -url "http://127.0.0.1:$lbport" -profile standard \
    -instances "http://127.0.0.1:$port,http://127.0.0.1:$port2" -restart-command "$tmp/instance2.sh restart" \
    -md "$tmp/cluster.md" -json test-artifacts/bench-cluster.json -command "make bench  # runs: $ccmd" 2> >(tee -a "$tmp/bench.log" >&2)
  sed -n '/^### Several instances/,$p' "$tmp/cluster.md" >>"$tmp/load.md"
  kill "$(cat "$tmp/instance2.pid")" 2>/dev/null || true
fi
kill "$server_pid" ${s3_pid:-} 2>/dev/null || true

count=${BENCH_COUNT:-5}
echo "Go benchmarks (count $count)..." >&2
go test -run '^$' -bench . -benchmem -count "$count" ./session/ >"$tmp/hot.txt"
go test -tags "$tags" -run '^$' -bench . -benchmem -count 3 ./session/offline/ >"$tmp/offline.txt" 2>&1 || true
# The recognizer's other path (no cgo): one pocketsphinx_continuous process per turn.
go test -run '^$' -bench STT -benchmem -count 3 ./session/offline/ >"$tmp/offline-exec.txt" 2>&1 || true

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
pgv=$(psql "$DATABASE_URL" -Atc 'SHOW server_version' 2>/dev/null || echo unknown)
{
  cat <<HDR
# Benchmarks

Generated by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d) — do not edit by hand; the
analysis of these figures is in [PERFORMANCE.md](PERFORMANCE.md).

Machine: $cpu, $(nproc) cores, $mem RAM, Linux $(uname -r), $(go version | cut -d' ' -f3), PostgreSQL $pgv
(durable settings), everything on one machine over loopback: PostgreSQL, the OpenAI simulator
(\`aitutor sim --profile standard\`), the server (\`aitutor serve\`) and the load generator
(\`aitutor bench\`, plus wrk for REST).

## Load (aitutor bench)

HDR
  cat "$tmp/load.md"
  cat <<HOT

## Hot paths (Go benchmarks)

\`go test -run '^\$' -bench . -benchmem -count $count ./session/\` (benchstat-friendly; compare runs with
\`benchstat old.txt new.txt\`):

\`\`\`
$(grep -E '^(Benchmark|goos|goarch|pkg|cpu)' "$tmp/hot.txt")
\`\`\`

## Offline engines (espeak-ng, pocketsphinx, scripted tutor)

\`go test${tags:+ -tags $tags} -run '^\$' -bench . -benchmem -count 3 ./session/offline/\`:

\`\`\`
$(grep -E '^(Benchmark|goos|goarch|pkg|cpu|ok|FAIL)|ms/|first' "$tmp/offline.txt" || cat "$tmp/offline.txt")
\`\`\`

Speech recognition without cgo (a pocketsphinx_continuous process per turn, which loads the model
each time): \`go test -run '^\$' -bench STT -benchmem -count 3 ./session/offline/\`:

\`\`\`
$(grep -E '^(Benchmark|ok|FAIL)' "$tmp/offline-exec.txt" || cat "$tmp/offline-exec.txt")
\`\`\`

BenchmarkSTT transcribes a 3 s espeak-ng utterance; BenchmarkTTS synthesizes one sentence (5 s of
audio), with the time to its first byte; BenchmarkTutorReply is the scripted tutor without its
typing pace.
HOT
} >docs/BENCHMARKS.md
echo "wrote docs/BENCHMARKS.md (raw JSON: test-artifacts/bench.json)" >&2
