#!/usr/bin/env bash
# config/policies is the one source of the tier policies. kustomize cannot read files outside a
# kustomization, so deploy/k8s/base/policies holds copies for the ConfigMap: they must be the
# same files, byte for byte (refresh them with: cp config/policies/*.textproto
# deploy/k8s/base/policies/). Runs always; needs nothing but coreutils.
set -euo pipefail
cd "$(dirname "$0")/../.."
status=0
src=$(cd config/policies && ls *.textproto | sort)
copy=$(cd deploy/k8s/base/policies && ls *.textproto | sort)
if [ "$src" != "$copy" ]; then
  echo "deploy/k8s/base/policies holds other files than config/policies:"
  diff <(echo "$src") <(echo "$copy") || true
  status=1
fi
for f in $src; do
  if ! cmp -s "config/policies/$f" "deploy/k8s/base/policies/$f"; then
    echo "deploy/k8s/base/policies/$f differs from config/policies/$f"
    status=1
  fi
  grep -q "policies/$f" deploy/k8s/base/kustomization.yaml ||
    { echo "deploy/k8s/base/kustomization.yaml does not list policies/$f"; status=1; }
done
[ $status -eq 0 ] && echo "policy copies match config/policies ($(echo $src | wc -w) files)"
exit $status
