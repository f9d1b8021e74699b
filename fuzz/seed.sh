#!/usr/bin/env bash
# Seeds the fuzz corpora: every XML file under ../shared (and decoded .b64
# responses) for the parser targets, the generated messages in seeds/<target>/
# (examples/seeds.rs) for the newer ones, real signed responses for `dsig`
# and posted values for `post`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# Resolved, so that `find` descends into it when it is a symbolic link.
shared="$(cd "${SAML_SHARED_DIR:-$here/../../shared}" && pwd -P)"
# Named by the path inside the shared folder, so re-seeding from another
# checkout overwrites instead of duplicating.
name() { echo "${1#"$shared"/}" | md5sum | cut -c1-16; }
for target in xml_reader c14n response redirect metadata; do
    mkdir -p "$here/corpus/$target"
    find "$shared" -name '*.xml' -size -256k | while read -r f; do
        cp "$f" "$here/corpus/$target/$(name "$f").xml"
    done
    find "$shared" -name '*.b64' -size -256k | while read -r f; do
        base64 -d "$f" > "$here/corpus/$target/$(name "$f").b64.xml" 2>/dev/null || true
    done
done
for target in dsig soap artifact logout post; do
    mkdir -p "$here/corpus/$target"
    cp "$here/seeds/$target"/* "$here/corpus/$target/"
done
# Signed documents (small ones: large seeds slow every run down).
find "$shared/testdata/real-idp" "$shared/bench-fixtures" -name '*.xml' -size -32k | while read -r f; do
    if grep -q 'SignatureValue' "$f"; then cp "$f" "$here/corpus/dsig/$(name "$f").xml"; fi
done
find "$shared/testdata/real-idp" "$shared/bench-fixtures" -name '*.b64' -size -32k | while read -r f; do
    cp "$f" "$here/corpus/post/$(name "$f").b64"
    if base64 -d "$f" 2>/dev/null | grep -q 'SignatureValue'; then
        base64 -d "$f" > "$here/corpus/dsig/$(name "$f").b64.xml" 2>/dev/null || true
    fi
done
