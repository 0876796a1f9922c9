#!/usr/bin/env python3
"""The Grafana dashboard and the Prometheus rules in deploy/observability parse, and every metric
they name is one a running service exposes: starts redis-server and both services (the built
binaries, loopback, free ports), reads their /metrics, and compares.
Usage: observability_test.py ENROLLMENT_SVC CLASSIFIER_SVC"""
import json, os, re, socket, subprocess, sys, tempfile, time, urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(port, deadline):
    while time.time() < deadline:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"FAIL: no /metrics on port {port}")


def main():
    enrollment, classifier = sys.argv[1], sys.argv[2]
    dashboard = json.load(open(os.path.join(ROOT, "deploy/observability/grafana-dashboard.json")))
    rules = yaml.safe_load(open(os.path.join(ROOT, "deploy/observability/prometheus-rules.yaml")))
    assert rules["kind"] == "PrometheusRule", "not a PrometheusRule"
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [r["expr"] for g in rules["spec"]["groups"] for r in g["rules"]]
    named = {re.sub(r"_(bucket|sum|count)$", "", m) for e in exprs for m in re.findall(r"\buhc_[a-z_]+", e)}

    work = tempfile.mkdtemp(prefix="uhc-obs-")
    redis_port, m1, m2 = free_port(), free_port(), free_port()
    procs = [subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                               "--save", "", "--dir", work], stdout=subprocess.DEVNULL)]
    try:
        env = dict(os.environ, UHC_NIK_HMAC_SECRET="observability-test-secret-0123456789")
        common = ["--plaintext", "--redis_port", str(redis_port), "--data_dir", os.path.join(ROOT, "data")]
        procs.append(subprocess.Popen([enrollment, "--listen", f"127.0.0.1:{free_port()}",
                                       "--metrics_port", str(m1)] + common, env=env,
                                      stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([classifier, "--listen", f"127.0.0.1:{free_port()}",
                                       "--metrics_port", str(m2), "--policy_dir",
                                       os.path.join(ROOT, "config/policies")] + common,
                                      stderr=subprocess.DEVNULL))
        deadline = time.time() + 20
        exposed = set()
        for port in (m1, m2):
            for line in metrics(port, deadline).splitlines():
                if line.startswith("# TYPE "):
                    exposed.add(line.split()[2])
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    missing = sorted(named - exposed)
    if missing:
        print(f"FAIL: named in the dashboard or rules but not exposed: {missing}")
        return 1
    print(f"dashboard ({len(dashboard['panels'])} panels) and {sum(len(g['rules']) for g in rules['spec']['groups'])} "
          f"alert rules name {len(named)} metrics, all exposed: {sorted(named)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
