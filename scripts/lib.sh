# Shared helpers of the scripts; source it.

# go_tags prints the build tags: pocketsphinx when its library is installed.
go_tags() {
  if pkg-config --exists pocketsphinx sphinxbase 2>/dev/null; then echo pocketsphinx; fi
}

# apt_install installs Debian packages when we may (root with apt-get); otherwise it prints the
# command and returns 1.
apt_install() {
  local missing=("$@")
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
    return
  fi
  echo "missing: ${missing[*]} — install with: sudo apt-get install -y ${missing[*]}" >&2
  return 1
}

# offline_packages prints the Debian packages the offline engines need that are missing.
offline_packages() {
  local pkgs=()
  command -v espeak-ng >/dev/null 2>&1 || pkgs+=(espeak-ng)
  command -v pocketsphinx_continuous >/dev/null 2>&1 || pkgs+=(pocketsphinx)
  [ -d /usr/share/pocketsphinx/model/en-us/en-us ] || pkgs+=(pocketsphinx-en-us)
  if command -v apt-get >/dev/null 2>&1 && ! pkg-config --exists pocketsphinx 2>/dev/null; then
    pkgs+=(libpocketsphinx-dev pkg-config)
  fi
  echo "${pkgs[@]}"
}

# test_packages prints the Debian packages `make test` needs that are missing: the offline
# engines, headless Chromium for the browser tests, ffmpeg for compressed uploads, HAProxy for
# the multi-instance test, Node and npm for the official Realtime clients' tests and PostgreSQL
# for the database tests (pg.sh installs PostgreSQL
# itself when it can).
test_packages() {
  local pkgs
  read -r -a pkgs <<<"$(offline_packages)"
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || pkgs+=(chromium)
  command -v ffmpeg >/dev/null 2>&1 || pkgs+=(ffmpeg)
  command -v haproxy >/dev/null 2>&1 || pkgs+=(haproxy)
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
  if [ -z "${TEST_DATABASE_URL:-}" ] && ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    pkgs+=(postgresql)
  fi
  echo "${pkgs[@]}"
}

# realtime_node_packages installs the official Realtime clients that server/realtime_node_test.go
# runs (server/testdata/realtime-node, pinned by its package-lock.json) when they are missing or
# older than the lock file.
realtime_node_packages() {
  local dir=server/testdata/realtime-node
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The SeaweedFS the object store tests run (AUDIO_STORE=s3 against a real S3-compatible server).
WEED_MODULE=github.com/seaweedfs/seaweedfs
WEED_VERSION=v0.0.0-20261109003541-7506e5f91cd6

# weed_path prints the SeaweedFS binary: $WEED, weed on the PATH, or $(go env GOPATH)/bin/weed.
weed_path() {
  if [ -n "${WEED:-}" ]; then echo "$WEED"; return; fi
  if command -v weed >/dev/null 2>&1; then command -v weed; return; fi
  echo "$(go env GOPATH | cut -d: -f1)/bin/weed"
}

# ensure_weed builds SeaweedFS into $(go env GOPATH)/bin when it is missing: a few minutes on two
# cores, once per machine. `go install module@version` refuses this module (its go.mod has
# replace directives), so the module is downloaded and built inside its own directory, where
# they apply.
ensure_weed() {
  local bin dir
  bin=$(weed_path)
  [ -x "$bin" ] && return 0
  echo "building SeaweedFS ($WEED_VERSION) for the object store tests: a few minutes, once" >&2
  dir=$(cd /tmp && go mod download -json "$WEED_MODULE@$WEED_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [ -z "$dir" ] || [ ! -d "$dir/weed" ]; then
    echo "could not download $WEED_MODULE@$WEED_VERSION" >&2
    return 1
  fi
  mkdir -p "$(dirname "$bin")"
  (cd "$dir" && GOFLAGS=-mod=readonly go build -o "$bin.tmp" ./weed) && mv "$bin.tmp" "$bin"
}

# weed_port prints a free loopback port p whose p+10000 (SeaweedFS serves gRPC there) is free too.
# Both are below Linux's ephemeral range (32768 up), where an outgoing connection could take the
# port between this check and SeaweedFS binding it (a benchmark holds tens of thousands).
weed_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 2700 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && ! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 10000))") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  return 1
}

# start_weed DIR ACCESS_KEY SECRET_KEY starts SeaweedFS (master, volume server, filer and S3
# gateway in one process) on loopback with its data and log in DIR, signing S3 requests with the
# given keys; it prints the S3 port once S3 answers, and leaves the process id in DIR/weed.pid.
start_weed() {
  local dir=$1 key=$2 secret=$3 bin s3
  bin=$(weed_path)
  mkdir -p "$dir/data"
  printf '{"identities":[{"name":"aitutor","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","List","Tagging","Write"]}]}\n' \
    "$key" "$secret" >"$dir/s3.json"
  s3=$(weed_port)
  "$bin" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$dir/data" -master.port="$(weed_port)" \
    -volume.port="$(weed_port)" -filer.port="$(weed_port)" -s3 -s3.port="$s3" -s3.port.iceberg=0 \
    -s3.port.lance=0 -s3.config="$dir/s3.json" -volume.max=0 -master.volumeSizeLimitMB=1024 \
    >"$dir/weed.log" 2>&1 &
  echo $! >"$dir/weed.pid"
  for _ in $(seq 1 300); do
    # Any S3 answer (403 to an unsigned request) means the gateway is up.
    if curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$s3/" 2>/dev/null | grep -q '^[2-5]'; then
      echo "$s3"
      return
    fi
    sleep 0.2
  done
  echo "SeaweedFS did not start:" >&2
  tail -20 "$dir/weed.log" >&2
  return 1
}
