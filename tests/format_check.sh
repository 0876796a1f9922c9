#!/usr/bin/env bash
# The tree is formatted with the committed .clang-format (Debian 12's clang-format 14).
# Fix with: git ls-files '*.cc' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cc' '*.h')
if ! out=$(echo "$files" | xargs clang-format --dry-run --Werror 2>&1); then
  echo "$out" | grep -E '^[^ ].*(warning|error):' | cut -d: -f1 | sort -u | sed 's/^/not formatted: /'
  exit 1
fi
echo "formatted: $(echo "$files" | wc -l) files"
