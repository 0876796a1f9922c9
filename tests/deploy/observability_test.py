#!/usr/bin/env python3
"""The Grafana dashboard and the Prometheus rules in deploy/observability parse, and every metric
they name is one a running service exposes: starts redis-server and both services (the built
binaries, loopback, free ports), makes a call of each (uhcctl), reads their /metrics, and
compares. Then a real Prometheus (Debian's prometheus package) scrapes them under the job names
of deploy/observability/podmonitor.yaml and must hold every named series and `up` = 1 for both
jobs. Usage: observability_test.py ENROLLMENT_SVC CLASSIFIER_SVC UHCCTL"""
import json, os, re, socket, subprocess, sys, tempfile, time, urllib.parse, urllib.request

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


def prometheus_scrape(work, jobs, named):
    """Runs Prometheus scraping `jobs` (name -> metrics port) every second; returns what it lacks
    after scraping (empty: nothing), or None when Prometheus is not installed."""
    import shutil
    binary = shutil.which("prometheus")
    if not binary:
        print("prometheus not installed: the real-scrape part is skipped")
        return None
    port = free_port()
    config = {"global": {"scrape_interval": "1s"},
              "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{p}"]}]}
                                 for job, p in jobs.items()]}
    with open(os.path.join(work, "prometheus.yml"), "w") as f:
        yaml.safe_dump(config, f)
    proc = subprocess.Popen([binary, f"--config.file={work}/prometheus.yml",
                             f"--storage.tsdb.path={work}/tsdb", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wanted = [f'up{{job="{job}"}} == 1' for job in jobs] + sorted(named)
        deadline = time.time() + 60
        lacking = wanted
        while time.time() < deadline:
            lacking = []
            for query in wanted:
                q = query if " " in query else f"count({{__name__=~'{query}(_bucket)?'}})"
                try:
                    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
                    result = json.load(urllib.request.urlopen(url, timeout=2))["data"]["result"]
                except OSError:
                    result = []
                if not result:
                    lacking.append(query)
            if not lacking:
                return []
            time.sleep(0.5)
        return lacking
    finally:
        proc.terminate()
        proc.wait()


def main():
    enrollment, classifier, uhcctl = sys.argv[1], sys.argv[2], sys.argv[3]
    dashboard = json.load(open(os.path.join(ROOT, "deploy/observability/grafana-dashboard.json")))
    rules = yaml.safe_load(open(os.path.join(ROOT, "deploy/observability/prometheus-rules.yaml")))
    assert rules["kind"] == "PrometheusRule", "not a PrometheusRule"
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [r["expr"] for g in rules["spec"]["groups"] for r in g["rules"]]
    named = {re.sub(r"_(bucket|sum|count)$", "", m) for e in exprs for m in re.findall(r"\buhc_[a-z_]+", e)}

    work = tempfile.mkdtemp(prefix="uhc-obs-")
    redis_port, m1, m2 = free_port(), free_port(), free_port()
    e_port, c_port = free_port(), free_port()
    procs = [subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                               "--save", "", "--dir", work], stdout=subprocess.DEVNULL)]
    try:
        env = dict(os.environ, UHC_NIK_HMAC_SECRET="observability-test-secret-0123456789")
        # Both services serve TLS (a self-signed certificate), as in production, so the
        # certificate's expiry gauge is there too.
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-keyout", f"{work}/tls.key", "-out", f"{work}/tls.crt", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        common = ["--tls_cert", f"{work}/tls.crt", "--tls_key", f"{work}/tls.key",
                  "--redis_port", str(redis_port), "--data_dir", os.path.join(ROOT, "data")]
        procs.append(subprocess.Popen([enrollment, "--listen", f"127.0.0.1:{e_port}",
                                       "--metrics_port", str(m1)] + common, env=env,
                                      stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([classifier, "--listen", f"127.0.0.1:{c_port}",
                                       "--metrics_port", str(m2), "--policy_dir",
                                       os.path.join(ROOT, "config/policies")] + common,
                                      env=env, stderr=subprocess.DEVNULL))
        deadline = time.time() + 20
        # One call of each service, so the per-RPC series exist (they are made at a method's first
        # call).
        call_env = dict(os.environ, UHC_ENROLLMENT_ADDR=f"127.0.0.1:{e_port}",
                        UHC_CLASSIFIER_ADDR=f"127.0.0.1:{c_port}",
                        UHC_POLICY_DIR=os.path.join(ROOT, "config/policies"),
                        UHC_TLS_CA=f"{work}/tls.crt")
        for args in (["cutoff", "list"], ["tier", "12.19"]):
            while subprocess.run([uhcctl] + args, env=call_env, capture_output=True).returncode != 0:
                if time.time() > deadline:
                    raise SystemExit(f"FAIL: uhcctl {' '.join(args)} never succeeded")
                time.sleep(0.2)
        exposed = set()
        for port in (m1, m2):
            for line in metrics(port, deadline).splitlines():
                if line.startswith("# TYPE "):
                    exposed.add(line.split()[2])
        scraped = prometheus_scrape(work, {"uhc/enrollment-svc": m1, "uhc/classifier-svc": m2},
                                    named)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    missing = sorted(named - exposed)
    if missing:
        print(f"FAIL: named in the dashboard or rules but not exposed: {missing}")
        return 1
    if scraped is None:
        print("SKIPPED: the files match the services, but without prometheus (scripts/setup.sh "
              "installs it) the real scrape did not run")
        return 77
    if scraped:
        print(f"FAIL: a real Prometheus did not get: {scraped}")
        return 1
    print("a real Prometheus scraped both jobs (up = 1) and holds every named series")
    print(f"dashboard ({len(dashboard['panels'])} panels) and {sum(len(g['rules']) for g in rules['spec']['groups'])} "
          f"alert rules name {len(named)} metrics, all exposed: {sorted(named)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
