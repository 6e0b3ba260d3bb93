#!/usr/bin/env bash
# Re-fetch the vendored web assets from the npm registry (run by `make assets`).
#
# The web pages load nothing from any outside host: every asset they use is committed under
# src/tidings/web/static/vendor/. This script is how those files were obtained, pinned by version,
# so that an upgrade is one edit here and one run. It needs `npm` (the registry client only: no
# package is installed, `npm pack` downloads the published tarball and we copy files out of it).
set -euo pipefail

WORLD_ATLAS_VERSION=2.0.2      # Natural Earth 1:110m countries as TopoJSON (ISC; the data is public domain)
SWAGGER_UI_VERSION=5.35.0      # Swagger UI for /docs (Apache-2.0)

cd "$(dirname "$0")/.."
VENDOR=src/tidings/web/static/vendor
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch NAME@VERSION -> unpacked into $work/NAME
  local spec="$1" name="${1%@*}"
  mkdir -p "$work/$name"
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  tar -xzf "$work/${name}-${spec#*@}.tgz" -C "$work/$name" --strip-components=1
}

fetch "world-atlas@${WORLD_ATLAS_VERSION}"
mkdir -p "$VENDOR/world-atlas"
cp "$work/world-atlas/countries-110m.json" "$work/world-atlas/LICENSE" "$VENDOR/world-atlas/"

fetch "swagger-ui-dist@${SWAGGER_UI_VERSION}"
mkdir -p "$VENDOR/swagger-ui"
cp "$work/swagger-ui-dist/swagger-ui-bundle.js" "$work/swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt" \
   "$work/swagger-ui-dist/swagger-ui.css" "$work/swagger-ui-dist/LICENSE" "$work/swagger-ui-dist/NOTICE" \
   "$VENDOR/swagger-ui/"
# the bundle ends with a source-map comment; the map is not shipped, so drop the reference
sed -i '/^\/\/# sourceMappingURL=/d' "$VENDOR/swagger-ui/swagger-ui-bundle.js"
sed -i 's#/\*\# sourceMappingURL=[^*]*\*/##' "$VENDOR/swagger-ui/swagger-ui.css"

echo "vendored: world-atlas@${WORLD_ATLAS_VERSION}, swagger-ui-dist@${SWAGGER_UI_VERSION} into ${VENDOR}"
