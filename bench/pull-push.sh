#!/usr/bin/env bash
# Pull/push throughput of `builder` against skopeo, on a local registry.
#
# Builds a ~200 MB image of 5 random-data layers (gzip, as registries hold
# them), pushes it to registry A, then measures:
#   pull: builder pull A/bench/src:1 (into an empty store)  vs  skopeo copy docker://A/... oci:DIR
#   push: builder push ... B/bench/dst:1 (empty registry B)  vs  skopeo copy oci:DIR docker://C/bench/dst:1 (empty C)
# and reports wall times, builder/skopeo ratios and builder's peak RSS.
#
# Usage: bench/pull-push.sh            (builds builder in release mode)
#        BUILDER=/path/to/builder bench/pull-push.sh
# Env: LAYER_MB (default 40), LAYERS (default 5), CARGO_TARGET_DIR.
# Needs (installed if missing, as root): docker-registry skopeo time curl.
set -euo pipefail
cd "$(dirname "$0")/.."
LAYER_MB=${LAYER_MB:-40}
LAYERS=${LAYERS:-5}

need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
[ -x /usr/bin/time ] || need+=(time)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; }
fi

if [ -z "${BUILDER:-}" ]; then
  cargo build --release --quiet --bin builder
  BUILDER=${CARGO_TARGET_DIR:-target}/release/builder
fi
[ -x "$BUILDER" ] || { echo "builder binary not found at $BUILDER" >&2; exit 1; }

WORK=$(mktemp -d /tmp/builder-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_registry() { # name -> echoes host:port
  local name=$1 port; port=$(free_port)
  mkdir -p "$WORK/$name"
  cat >"$WORK/$name/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/$name/data
http:
  addr: 127.0.0.1:$port
EOF
  docker-registry serve "$WORK/$name/config.yml" >"$WORK/$name/log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break
    sleep 0.1
  done
  echo "127.0.0.1:$port"
}

A=$(start_registry a)
B=$(start_registry b)
C=$(start_registry c)

echo "== building a ${LAYERS}x${LAYER_MB} MB image"
L=$WORK/layout
mkdir -p "$L/blobs/sha256"
echo '{"imageLayoutVersion":"1.0.0"}' >"$L/oci-layout"
layers_json="" diffids_json=""
for i in $(seq "$LAYERS"); do
  d=$WORK/layer$i
  mkdir -p "$d"
  head -c "${LAYER_MB}M" /dev/urandom >"$d/data$i.bin"
  tar -C "$d" --sort=name --mtime=@0 --owner=0 --group=0 -cf "$WORK/layer$i.tar" .
  diff=$(sha256sum "$WORK/layer$i.tar" | cut -d' ' -f1)
  gzip -1 -n -c "$WORK/layer$i.tar" >"$WORK/layer$i.tgz"
  dg=$(sha256sum "$WORK/layer$i.tgz" | cut -d' ' -f1)
  sz=$(stat -c %s "$WORK/layer$i.tgz")
  mv "$WORK/layer$i.tgz" "$L/blobs/sha256/$dg"
  rm -rf "$d" "$WORK/layer$i.tar"
  layers_json+="${layers_json:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$dg\",\"size\":$sz}"
  diffids_json+="${diffids_json:+,}\"sha256:$diff\""
done
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[%s]}}' "$diffids_json" >"$WORK/config.json"
cd_=$(sha256sum "$WORK/config.json" | cut -d' ' -f1); cs=$(stat -c %s "$WORK/config.json")
mv "$WORK/config.json" "$L/blobs/sha256/$cd_"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' "$cd_" "$cs" "$layers_json" >"$WORK/manifest.json"
md=$(sha256sum "$WORK/manifest.json" | cut -d' ' -f1); ms=$(stat -c %s "$WORK/manifest.json")
mv "$WORK/manifest.json" "$L/blobs/sha256/$md"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' "$md" "$ms" >"$L/index.json"
total=$(du -sb "$L/blobs" | cut -f1)
skopeo copy -q --dest-tls-verify=false "oci:$L:bench" "docker://$A/bench/src:1"
echo "image sha256:$md, $((total / 1000000)) MB on registry $A"

timed() { # label cmd... -> sets T (seconds) and RSS (kB)
  local label=$1; shift
  /usr/bin/time -v -o "$WORK/time.$label" "$@" >/dev/null 2>"$WORK/err.$label" || { cat "$WORK/err.$label" >&2; exit 1; }
  T=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$WORK/time.$label")
  RSS=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.$label")
}

export BUILDER_ROOT=$WORK/store DOCKER_CONFIG=$WORK/docker
echo "== pull"
timed builder_pull "$BUILDER" pull -q "$A/bench/src:1"; bp=$T; bp_rss=$RSS
timed skopeo_pull skopeo copy -q --src-tls-verify=false "docker://$A/bench/src:1" "oci:$WORK/skopeo-layout:bench"; sp=$T
echo "== push"
timed builder_push "$BUILDER" push -q "$A/bench/src:1" "$B/bench/dst:1"; bu=$T; bu_rss=$RSS
timed skopeo_push skopeo copy -q --dest-tls-verify=false "oci:$WORK/skopeo-layout:bench" "docker://$C/bench/dst:1"; su=$T

got=$(skopeo inspect --raw --tls-verify=false "docker://$B/bench/dst:1" | sha256sum | cut -d' ' -f1)
[ "$got" = "$md" ] || { echo "pushed digest sha256:$got != sha256:$md" >&2; exit 1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
printf '%-6s %12s %12s %16s %18s\n' op builder_s skopeo_s builder/skopeo builder_peak_rss
printf '%-6s %12s %12s %16s %15s MB\n' pull "$bp" "$sp" "$(ratio "$bp" "$sp")" "$((bp_rss / 1024))"
printf '%-6s %12s %12s %16s %15s MB\n' push "$bu" "$su" "$(ratio "$bu" "$su")" "$((bu_rss / 1024))"
echo "image: $LAYERS layers, $((total / 1000000)) MB; pushed digest verified (sha256:$md)"
