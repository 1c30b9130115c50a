#!/usr/bin/env bash
# Vendor the Swagger UI and Redoc files /docs and /redoc serve into bridge/static/docs/,
# from the npm registry at the pinned versions below (npm checks each tarball against
# the registry's integrity hash). Run by hand when bumping a version; nothing is fetched
# at run time, so the pages where people paste tokens load no third-party script.
set -euo pipefail
SWAGGER_UI_VERSION=5.35.0
REDOC_VERSION=2.5.2
here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/bridge/static/docs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "swagger-ui-dist@$SWAGGER_UI_VERSION" "redoc@$REDOC_VERSION" >/dev/null
mkdir swagger redoc
tar xzf "swagger-ui-dist-$SWAGGER_UI_VERSION.tgz" -C swagger
tar xzf "redoc-$REDOC_VERSION.tgz" -C redoc
rm -rf "$dest"
mkdir -p "$dest/swagger-ui" "$dest/redoc"
for f in swagger-ui.css swagger-ui-bundle.js swagger-ui-standalone-preset.js LICENSE; do
  cp "swagger/package/$f" "$dest/swagger-ui/$f"
done
cp redoc/package/bundles/redoc.standalone.js redoc/package/LICENSE "$dest/redoc/"
{
  echo "swagger-ui-dist $SWAGGER_UI_VERSION"
  echo "redoc $REDOC_VERSION"
  (cd "$dest" && sha256sum swagger-ui/* redoc/*)
} >"$dest/VERSIONS"
echo "vendored swagger-ui-dist $SWAGGER_UI_VERSION and redoc $REDOC_VERSION into $dest"
