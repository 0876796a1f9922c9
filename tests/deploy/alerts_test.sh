#!/usr/bin/env bash
# The alert rules of deploy/observability/prometheus-rules.yaml under promtool (Debian's
# prometheus package): they load (`promtool check rules`), tests/deploy/alerts_test.yml passes
# (`promtool test rules`), and every alert's runbook_url names a section of docs/RUNBOOK.md.
# Exits 77 (skipped) without promtool (scripts/test.sh fails on the skip: setup installs it).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
if ! command -v promtool >/dev/null; then
  echo "promtool not installed: skipped"; exit 77
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
python3 - "$ROOT" "$work" <<'PY'
import re, sys, yaml
root, work = sys.argv[1], sys.argv[2]
rule = yaml.safe_load(open(f"{root}/deploy/observability/prometheus-rules.yaml"))
yaml.safe_dump({"groups": rule["spec"]["groups"]}, open(f"{work}/rules.yml", "w"))
runbook = open(f"{root}/docs/RUNBOOK.md").read()
anchors = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
           for h in re.findall(r"^#+ (.+)$", runbook, re.M)}
bad = []
for group in rule["spec"]["groups"]:
    for r in group["rules"]:
        if "alert" not in r:
            continue
        url = r.get("annotations", {}).get("runbook_url", "")
        if not url.startswith("docs/RUNBOOK.md#") or url.split("#", 1)[1] not in anchors:
            bad.append(f"{r['alert']}: runbook_url {url!r} names no section of docs/RUNBOOK.md")
if bad:
    print("\n".join("FAIL " + b for b in bad)); sys.exit(1)
PY
cp "$ROOT/tests/deploy/alerts_test.yml" "$work/"
promtool check rules "$work/rules.yml"
promtool test rules "$work/alerts_test.yml"
