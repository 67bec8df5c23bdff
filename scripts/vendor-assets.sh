#!/usr/bin/env bash
# Refreshes the console's vendored browser libraries from the npm registry (npm pack: no
# install, no build). The versions are pinned here; change one, run this, commit the result.
#   scripts/vendor-assets.sh
set -euo pipefail
PACKAGES=("preact@10.27.2" "htm@3.1.1" "uplot@1.6.32" "axe-core@4.14.1")
# package -> files kept from its tarball (under package/), beside its licence
declare -A FILES=(
  [preact]="dist/preact.module.js hooks/dist/hooks.module.js"
  [htm]="dist/htm.module.js"
  [uplot]="dist/uPlot.iife.min.js dist/uPlot.min.css"
  [axe-core]="axe.min.js"
)
root="$(cd "$(dirname "$0")/.." && pwd)"
# what the pages load ships in the package; what only the tests use stays with them
declare -A DEST=(
  [preact]="$root/callcenter/console/static/vendor"
  [htm]="$root/callcenter/console/static/vendor"
  [uplot]="$root/callcenter/console/static/vendor"
  [axe-core]="$root/tests/vendor"
)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for spec in "${PACKAGES[@]}"; do
  name="${spec%@*}"
  dest="${DEST[$name]}"
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  mkdir -p "$work/$name" && tar -xzf "$work/$name"-*.tgz -C "$work/$name"
  rm -rf "${dest:?}/$name" && mkdir -p "$dest/$name"
  for file in ${FILES[$name]}; do
    cp "$work/$name/package/$file" "$dest/$name/$(basename "$file")"
  done
  cp "$work/$name/package/"LICENSE* "$dest/$name/"
  echo "$spec $(npm view "$spec" dist.integrity)" > "$dest/$name/VERSION"
done
cat "$root"/callcenter/console/static/vendor/*/VERSION "$root"/tests/vendor/*/VERSION
