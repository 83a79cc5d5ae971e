#!/usr/bin/env bash
# The classic example and a two-stage Debian build, cold and fully cached, for builder, BuildKit and
# buildah:
#   hello      FROM ubuntu:16.04 / COPY helloworld /usr/local/bin / RUN chmod +x ... / CMD ["helloworld"]
#              (ubuntu:16.04 = scripts/mkbase-debian.sh's rootfs pushed as library/ubuntu:16.04)
#   two-stage  FROM debian:bookworm AS build: RUN makes files; FROM debian:bookworm: COPY --from + RUN
#   bench/hello.sh             env: COLD_RUNS (3), CACHED_RUNS (5), TOOLS, OUT, BUILDER, RUN_TIMEOUT
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# The whole body is one function: bash reads it completely before running it, so editing
# this file during a long run cannot change the run.
main() {

  setup_tools
  base_debian

  hello=$OUT/ctx/hello
  rm -rf "$hello"; mkdir -p "$hello"
  cp "$REPO/examples/hello/helloworld" "$hello/helloworld"
  cat >"$hello/Dockerfile" <<'DF'
FROM ubuntu:16.04
COPY helloworld /usr/local/bin
RUN chmod +x /usr/local/bin/helloworld
CMD ["helloworld"]
DF

  two=$OUT/ctx/two-stage
  rm -rf "$two"; mkdir -p "$two"
  cat >"$two/Dockerfile" <<'DF'
FROM debian:bookworm AS build
RUN mkdir -p /out/lib && for i in $(seq 1 500); do seq 1 $i > /out/lib/f$i.txt; done \
 && dd if=/dev/zero of=/out/blob bs=1M count=20 status=none && echo done > /out/stamp
FROM debian:bookworm
COPY --from=build /out /opt/app
RUN ls /opt/app/lib | wc -l > /opt/app/count && test "$(cat /opt/app/count)" = 500
CMD ["cat", "/opt/app/count"]
DF

  bench_build hello "$hello"
  bench_build two-stage "$two"
  table hello two-stage
}
main "$@"; exit $?
