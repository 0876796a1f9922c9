#!/usr/bin/env python3
"""Renders every kustomize overlay with `kubectl kustomize` and checks the invariants of
deploy/k8s on the output: native gRPC probes on a plaintext health port, requests and limits, hardened securityContext,
pinned images, a preStop pause within the grace period, and every referenced Secret and ConfigMap
present. Exits 77 (skipped) when kubectl is not installed."""
import glob, os, shutil, subprocess, sys, tempfile
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
failures = []

def fail(overlay, message):
    failures.append(f"{overlay}: {message}")

def check(overlay, docs, services=True):
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    # Secrets written at run time: by the External Secrets Operator or cert-manager.
    names |= {("Secret", d["spec"]["target"]["name"]) for d in docs if d["kind"] == "ExternalSecret"}
    names |= {("Secret", d["spec"]["secretName"]) for d in docs if d["kind"] == "Certificate"}
    autoscaled = {d["spec"]["scaleTargetRef"]["name"] for d in docs
                  if d["kind"] == "HorizontalPodAutoscaler"}
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    if services and not any(d["kind"] == "Deployment" for d in workloads):
        fail(overlay, "no Deployment rendered")
    for w in workloads:
        name = w["metadata"]["name"]
        spec = w["spec"]["template"]["spec"]
        pod_sc = spec.get("securityContext", {})
        if not pod_sc.get("runAsNonRoot"):
            fail(overlay, f"{name}: pod not runAsNonRoot")
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if spec.get("automountServiceAccountToken") is not False:
            fail(overlay, f"{name}: mounts a service-account token it never uses")
        if name in autoscaled and "replicas" in w["spec"]:
            fail(overlay, f"{name}: sets replicas beside its HorizontalPodAutoscaler")
        if name == "enrollment-svc" and w["spec"].get("strategy", {}).get("type") != "Recreate":
            fail(overlay, "enrollment-svc: a rollout would run two releases side by side")
        for c in spec["containers"]:
            image = c.get("image", "")
            if ":" not in image or image.endswith(":latest"):
                fail(overlay, f"{name}: image {image!r} is not pinned")
            # No secret on a command line: the process list would show it to anyone on the node.
            secret_envs = {e["name"] for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}
            words = c.get("command", []) + c.get("args", [])
            probes = [c.get(p, {}).get("exec", {}).get("command", [])
                      for p in ("readinessProbe", "livenessProbe", "startupProbe")]
            for word in words + [w for probe in probes for w in probe]:
                if "password" in word.lower() or any(f"$({e})" in word or f"${e}" in word
                                                     for e in secret_envs):
                    fail(overlay, f"{name}: a secret on the command line: {word!r}")
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(res.get(kind, {})):
                    fail(overlay, f"{name}: {kind} lack cpu or memory")
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False:
                fail(overlay, f"{name}: allowPrivilegeEscalation not false")
            if sc.get("readOnlyRootFilesystem") is not True:
                fail(overlay, f"{name}: root filesystem writable")
            if w["kind"] == "Deployment":
                args = c.get("args", [])
                plaintext_ports = [a.rsplit(":", 1)[1] for a in args
                                   if a.startswith("--health_listen=")]
                if "--plaintext" in args:
                    plaintext_ports += [a.rsplit(":", 1)[1] for a in args if a.startswith("--listen=")]
                elif not any(a.startswith("--tls_cert=") for a in args):
                    fail(overlay, f"{name}: neither TLS nor --plaintext")
                for probe in ("readinessProbe", "livenessProbe"):
                    if "grpc" not in c.get(probe, {}):
                        fail(overlay, f"{name}: {probe} is not a native gRPC probe")
                    elif str(c[probe]["grpc"]["port"]) not in plaintext_ports:
                        # kubelet gRPC probes speak plaintext only.
                        fail(overlay, f"{name}: {probe} port is not a plaintext health port")
                pause = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
                if not pause or not pause[-1].isdigit():
                    fail(overlay, f"{name}: no preStop pause")
                else:
                    drain = [a for a in c.get("args", []) if a.startswith("--drain_seconds=")]
                    total = int(pause[-1]) + (int(drain[0].split("=")[1]) if drain else 10)
                    if total >= grace:
                        fail(overlay, f"{name}: preStop {pause[-1]}s + drain exceed grace {grace}s")
            refs = []
            for e in c.get("env", []):
                ref = e.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    refs.append(("Secret", ref["secretKeyRef"]["name"]))
                if "configMapKeyRef" in ref:
                    refs.append(("ConfigMap", ref["configMapKeyRef"]["name"]))
            for v in spec.get("volumes", []):
                if "secret" in v:
                    refs.append(("Secret", v["secret"]["secretName"]))
                if "configMap" in v:
                    refs.append(("ConfigMap", v["configMap"]["name"]))
            for ref in refs:
                if ref not in names:
                    fail(overlay, f"{name}: references missing {ref[0]} {ref[1]}")
    if overlay == "production":
        for w in workloads:
            env = {e["name"]: e.get("value") for c in w["spec"]["template"]["spec"]["containers"]
                   for e in c.get("env", [])}
            if env.get("UHC_REDIS_CLUSTER") != "true":
                fail(overlay, f"{w['metadata']['name']}: not pointed at Redis Cluster")
            if w["metadata"]["name"] == "enrollment-svc" and int(env.get("UHC_REDIS_WAIT_REPLICAS", "0")) < 1:
                fail(overlay, "enrollment-svc: acknowledges writes no replica has")
            # The largest kab/kota (data/population-2025.csv) in compact buckets: 2^bits x 768.
            if w["metadata"]["name"] == "enrollment-svc":
                import csv
                rows = csv.DictReader(open(os.path.join(ROOT, "data/population-2025.csv")))
                largest = max(int(r["total"]) for r in rows if "." in r["code"])
                bits = int(env.get("UHC_BUCKET_BITS", "8"))
                if largest > (1 << bits) * 768:
                    fail(overlay, f"enrollment-svc: bucket_bits {bits} cannot hold {largest} people")
    for d in docs:
        if d["kind"] == "PodDisruptionBudget" and "maxUnavailable" not in d["spec"]:
            fail(overlay, f"{d['metadata']['name']}: PDB without maxUnavailable")
        if d["kind"] == "Secret" and overlay == "production":
            fail(overlay, f"Secret {d['metadata']['name']} rendered: secret values in the tree")
    # Least privilege: only enrollment-svc sees the NIK key.
    for w in workloads:
        if w["metadata"]["name"] == "enrollment-svc":
            continue
        text = yaml.safe_dump(w["spec"]["template"]["spec"])
        if "nik-hmac-secret" in text:
            fail(overlay, f"{w['metadata']['name']}: can read the NIK key")
        for v in w["spec"]["template"]["spec"].get("volumes", []):
            if v.get("secret", {}).get("secretName") == "uhc-secrets" and "items" not in v["secret"]:
                fail(overlay, f"{w['metadata']['name']}: mounts every key of uhc-secrets")
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    if policies and "monitoring" not in yaml.safe_dump(policies):
        fail(overlay, "no NetworkPolicy admits the monitoring namespace")
    kinds = {d["kind"] for d in docs}
    needed_kinds = ["Service", "PodDisruptionBudget", "NetworkPolicy", "ConfigMap"]
    if services:
        needed_kinds.append("HorizontalPodAutoscaler")
    for needed in needed_kinds:
        if needed not in kinds:
            fail(overlay, f"no {needed}")
    if not any(d["kind"] == "Service" and d["spec"].get("clusterIP") == "None" for d in docs):
        fail(overlay, "no headless Service")

def check_data_tier(kubectl):
    """deploy/k8s/data/production: the Redis Cluster the production services use."""
    path = os.path.join(ROOT, "deploy/k8s/data/production")
    out = subprocess.run([kubectl, "kustomize", path], capture_output=True, text=True)
    if out.returncode != 0:
        fail("data", "kustomize failed: " + out.stderr.strip())
        return
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    check("data", docs, services=False)
    sets = [d for d in docs if d["kind"] == "StatefulSet"]
    if len(sets) != 1 or sets[0]["spec"]["replicas"] < 6:
        fail("data", "no StatefulSet of 3 primaries with a replica each")
        return
    claims = sets[0]["spec"].get("volumeClaimTemplates", [])
    if not claims or not claims[0]["spec"].get("storageClassName"):
        fail("data", "the nodes' volumes name no (Retain) StorageClass")
    if sets[0]["spec"].get("persistentVolumeClaimRetentionPolicy", {}).get("whenDeleted") != "Retain":
        fail("data", "deleting the StatefulSet would delete its volumes")
    conf = "".join(d["data"].get("redis.conf", "") for d in docs if d["kind"] == "ConfigMap")
    settings = dict(line.split(None, 1) for line in conf.splitlines()
                    if line.strip() and not line.startswith("#"))
    wanted = {"appendonly": "yes", "appendfsync": "everysec", "aof-use-rdb-preamble": "yes",
              "maxmemory-policy": "noeviction", "hash-max-listpack-entries": "1024",
              "cluster-enabled": "yes", "cluster-require-full-coverage": "no"}
    for key, value in wanted.items():
        if settings.get(key) != value:
            fail("data", f"redis.conf: {key} is {settings.get(key)!r}, not {value!r}")
    if "uhc_module.so" not in settings.get("loadmodule", ""):
        fail("data", "redis.conf loads no uhc_module.so")
    if not any(d["kind"] == "CronJob" for d in docs):
        fail("data", "no backup CronJob")
    if not any(d["kind"] == "PodDisruptionBudget" for d in docs):
        fail("data", "no PodDisruptionBudget for the nodes")
    print("rendered data/production")

def check_adapter(rendered, docs):
    """The kube play adapter (tests/deploy/kube_play_adapter.py) changes only what it documents:
    every container keeps its image, command, args, env, mounts, resources, probes and
    securityContext; only `ports` go, and secret volumes point at the decoded copy."""
    with tempfile.TemporaryDirectory() as out:
        path = os.path.join(out, "rendered.yaml")
        with open(path, "w") as f:
            f.write(rendered)
        run = subprocess.run([sys.executable, os.path.join(ROOT, "tests/deploy/kube_play_adapter.py"),
                              path, out], capture_output=True, text=True)
        if run.returncode != 0:
            fail("dev", f"kube play adapter failed: {run.stderr.strip()}")
            return
        played = [d for d in yaml.safe_load_all(open(os.path.join(out, "play.yaml"))) if d]

    def containers(d):
        spec = d["spec"]["template"]["spec"] if d["kind"] in ("Deployment", "StatefulSet") else d["spec"]
        return {c["name"]: c for c in spec.get("containers", [])}

    before = {d["metadata"]["name"]: containers(d) for d in docs
              if d["kind"] in ("Deployment", "StatefulSet")}
    after = {d["metadata"]["name"]: containers(d) for d in played if d["kind"] in ("Deployment", "Pod")}
    if set(before) != set(after):
        fail("dev", f"adapter: workloads {sorted(before)} became {sorted(after)}")
    for workload, cs in before.items():
        for name, c in cs.items():
            kept = {k: v for k, v in c.items() if k != "ports"}
            if after.get(workload, {}).get(name) != kept:
                fail("dev", f"adapter changed {workload}/{name} beyond its documented translations")

def main():
    kubectl = shutil.which("kubectl")
    if not kubectl:
        print("kubectl not installed: skipped")
        return 77
    # The policy copies are checked by policy_copies_test.sh, which runs without kubectl.
    overlays = sorted(glob.glob(os.path.join(ROOT, "deploy/k8s/overlays/*")))
    images = {}
    for overlay in overlays:
        out = subprocess.run([kubectl, "kustomize", overlay], capture_output=True, text=True)
        name = os.path.basename(overlay)
        if out.returncode != 0:
            fail(name, "kustomize failed: " + out.stderr.strip())
            continue
        docs = [d for d in yaml.safe_load_all(out.stdout) if d]
        check(name, docs)
        images[name] = sorted(c["image"] for d in docs if d["kind"] == "Deployment"
                              for c in d["spec"]["template"]["spec"]["containers"])
        if name == "dev":
            check_adapter(out.stdout, docs)
        print(f"rendered {name}")
    # Production runs the very images the kube play test builds and runs from the dev overlay, from
    # one registry and by digest.
    def repository(image):
        return image.split("@")[0].split(":")[0].split("/", 1)[-1] if "@" in image else image.split(":")[0]
    prod = images.get("production", [])
    if [repository(i) for i in images.get("dev", [])] != [repository(i) for i in prod]:
        fail("production", f"service images {prod} differ from dev's {images.get('dev')}")
    if any("@sha256:" not in i for i in prod) or len({i.split("/")[0] for i in prod}) != 1:
        fail("production", f"images {prod} not by digest from one registry")
    check_data_tier(kubectl)
    for f in failures:
        print("FAIL", f)
    return 1 if failures or len(overlays) < 2 else 0

if __name__ == "__main__":
    sys.exit(main())
