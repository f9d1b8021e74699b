#!/usr/bin/env bash
# Seeds the fuzz corpora with every XML file under ../shared (and decoded .b64 responses).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
shared="${SAML_SHARED_DIR:-$here/../../shared}"
for target in xml_reader c14n response redirect metadata; do
    mkdir -p "$here/corpus/$target"
    find "$shared" -name '*.xml' -size -256k | while read -r f; do
        cp "$f" "$here/corpus/$target/$(echo "$f" | md5sum | cut -c1-16).xml"
    done
    find "$shared" -name '*.b64' -size -256k | while read -r f; do
        base64 -d "$f" > "$here/corpus/$target/$(echo "$f" | md5sum | cut -c1-16).b64.xml" 2>/dev/null || true
    done
done
