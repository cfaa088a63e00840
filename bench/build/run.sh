#!/usr/bin/env bash
# Image build benchmark for user-service: a cold build and push (empty layer cache, new
# repository), then a warm rebuild after a one-line code change. Prints wall times and bytes
# pushed. Targets (issue: build, ship and up): the warm rebuild pushes only the code layer,
# under 1 MiB, in at most 2 s.
#
#   bash bench/build/run.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/bench/prepare.sh"

work=$(mktemp -d)
app=services/user-service/src/app.ts
cp "$app" "$work/app.ts.orig"
restore() { cp "$work/app.ts.orig" "$app"; npx tsc -b; rm -rf "$work"; }
trap restore EXIT

spec=$work/gantry.yaml
sed "s#^image: .*#image: $GANTRY_REGISTRY/bench/user-service-$(date +%s)#; s#context: ../../services/user-service#context: $ROOT/services/user-service#" \
  deploy/user-service/gantry.yaml >"$spec"

build() {
  local t0 t1 out
  t0=$(date +%s.%N)
  out=$(GANTRY_CACHE=$work/cache node packages/gantry/bin/gantry.js build -f "$spec" -o json 2>/dev/null)
  t1=$(date +%s.%N)
  printf '%s %s\n' "$(echo "$t1 - $t0" | bc)" "$(echo "$out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).bytesPushed))')"
}

read -r cold_s cold_b < <(build)
echo "// bench: one-line change $(date +%s%N)" >>"$app"
npm run build --silent
read -r warm_s warm_b < <(build)

printf '\nbench/build — %s — user-service, %s cores\n' "$(date -u +%FT%TZ)" "$(nproc)"
printf 'cold build + push   %6.2f s   %8.1f KiB pushed\n' "$cold_s" "$(echo "$cold_b / 1024" | bc -l)"
printf 'warm code change    %6.2f s   %8.1f KiB pushed   (targets: <= 2 s, < 1024 KiB)\n' "$warm_s" "$(echo "$warm_b / 1024" | bc -l)"
