#!/usr/bin/env bash
# Refreshes the console's vendored browser libraries from the npm registry (npm pack: no
# install, no build). The versions are pinned here; change one, run this, commit the result.
#   scripts/vendor-assets.sh
set -euo pipefail
PACKAGES=("preact@10.27.2" "htm@3.1.1")
# package -> files kept from its tarball (under package/), beside its licence
declare -A FILES=(
  [preact]="dist/preact.module.js hooks/dist/hooks.module.js"
  [htm]="dist/htm.module.js"
)
dest="$(cd "$(dirname "$0")/.." && pwd)/callcenter/console/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for spec in "${PACKAGES[@]}"; do
  name="${spec%@*}"
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  mkdir -p "$work/$name" && tar -xzf "$work/$name"-*.tgz -C "$work/$name"
  rm -rf "${dest:?}/$name" && mkdir -p "$dest/$name"
  for file in ${FILES[$name]}; do
    cp "$work/$name/package/$file" "$dest/$name/$(basename "$file")"
  done
  cp "$work/$name/package/LICENSE"* "$dest/$name/LICENSE"
  echo "$spec $(npm view "$spec" dist.integrity)" > "$dest/$name/VERSION"
done
echo "vendored into $dest:" && cat "$dest"/*/VERSION
