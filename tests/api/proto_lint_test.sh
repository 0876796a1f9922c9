#!/usr/bin/env bash
# Tests proto_lint.py on testdata/good.proto (must pass) and testdata/bad.proto (must fail and
# name every rule), then lints the real protos (proto/uhc/v1) and returns that result.
# Usage: proto_lint_test.sh [PROTOC]   (default: protoc). PYTHON defaults to /usr/bin/python3,
# which has Debian's python3-protobuf.
set -euo pipefail
protoc=${1:-protoc}
python=${PYTHON:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
root=$here/../..
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Descriptor set of testdata/NAME.proto, with imports and source info (line numbers, comments).
descriptors() {
  "$protoc" --proto_path="$here/testdata" --descriptor_set_out="$tmp/$1.pb" --include_imports \
    --include_source_info "$1.proto"
}
descriptors good
descriptors bad

# good.proto: no finding.
if ! "$python" "$here/proto_lint.py" "$tmp/good.pb" --package lint.good; then
  echo "FAIL: proto_lint flags testdata/good.proto" >&2
  exit 1
fi

# bad.proto: exit 1 (not 2, a usage error), and a finding of every rule.
rc=0
"$python" "$here/proto_lint.py" "$tmp/bad.pb" --package lint.bad >"$tmp/bad.out" 2>&1 || rc=$?
if [[ $rc != 1 ]]; then
  cat "$tmp/bad.out" >&2
  echo "FAIL: proto_lint exits $rc on testdata/bad.proto, want 1" >&2
  exit 1
fi
for rule in enum-zero enum-prefix timestamp-name list-paging comment package-options date-int; do
  if ! grep -q "^bad\.proto:[0-9]*: $rule: " "$tmp/bad.out"; then
    cat "$tmp/bad.out" >&2
    echo "FAIL: no $rule finding on testdata/bad.proto" >&2
    exit 1
  fi
done
echo "proto_lint self-test: good.proto passes, bad.proto fails with every rule"

# The real protos; their result is the script's.
cd "$root"
"$protoc" --proto_path=proto --descriptor_set_out="$tmp/uhc.pb" --include_imports \
  --include_source_info proto/uhc/v1/*.proto
"$python" "$here/proto_lint.py" "$tmp/uhc.pb" --package uhc.v1
