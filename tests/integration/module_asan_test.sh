#!/usr/bin/env bash
# apply_module_test with uhc_module.so built with ASan and UBSan (target uhc_module_asan), loaded
# into Debian's redis-server started with the sanitizer runtimes preloaded (a `redis-server` first
# on PATH that adds LD_PRELOAD). Fails if the test fails or a sanitizer reported anything.
# Usage: tests/integration/module_asan_test.sh APPLY_MODULE_TEST UHC_MODULE_ASAN_SO
set -euo pipefail
TEST=$(realpath "$1") MODULE=$(realpath "$2")
WORK=$(mktemp -d /tmp/uhc-module-asan-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/bin"
runtimes="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
cat > "$WORK/bin/redis-server" <<WRAP
#!/bin/sh
LD_PRELOAD="$runtimes" ASAN_OPTIONS=detect_leaks=0:log_path=$WORK/asan \
  UBSAN_OPTIONS=print_stacktrace=1:log_path=$WORK/ubsan exec $(command -v redis-server) "\$@"
WRAP
chmod +x "$WORK/bin/redis-server"
status=0
PATH="$WORK/bin:$PATH" UHC_TEST_MODULE="$MODULE" "$TEST" || status=$?
if compgen -G "$WORK/asan*" >/dev/null || compgen -G "$WORK/ubsan*" >/dev/null; then
  cat "$WORK"/asan* "$WORK"/ubsan* 2>/dev/null
  echo "module_asan_test: a sanitizer reported the module (above)" >&2
  exit 1
fi
((status == 0)) || exit "$status"
# The sanitized build was the one loaded.
[[ "$(nm -D "$MODULE")" == *__asan_* ]] ||
  { echo "module_asan_test: $MODULE is not built with ASan" >&2; exit 1; }
echo "module_asan_test: apply_module_test passed with the ASan+UBSan module, no reports"
