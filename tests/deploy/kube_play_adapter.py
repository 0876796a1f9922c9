#!/usr/bin/env python3
"""Translates a rendered overlay for `podman kube play` (podman 4.3), minimally, and says what it
did. Usage: kube_play_adapter.py RENDERED.yaml OUT_DIR

What podman 4.3.1 lacks, and the translation (nothing else is changed, so a defect of the
manifests still shows):
  - Secrets from YAML are not usable by secretKeyRef, and a secret volume without `optional:`
    crashes kube play: each Secret is written to OUT_DIR/secret-<name>.json for
    `podman secret create` (a JSON map of base64 values, which kube play resolves secretKeyRef
    from) and, because podman 4.3 writes a secret volume's `data` values into the files without
    decoding them, to secret-<name>-files.json (a Secret holding the decoded values) for the
    secret volumes, which also get `optional: false`.
  - StatefulSets are skipped: each becomes a bare Pod of the same name (so its Service name
    resolves by pod name on the test's network), its volumeClaimTemplates PersistentVolumeClaims.
  - Services, HPA, PDB and NetworkPolicy are ignored: they are left out (only a real cluster can
    check them; the render test checks their invariants).
  - containerPorts are published on the host, so equal ports of two pods collide: `ports` are
    dropped (the test reaches pods by their IP on its own network).
Writes OUT_DIR/play.yaml and prints one line per translation."""
import base64
import json
import os
import sys

import yaml

IGNORED = {"Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"}


def main():
    rendered, out_dir = sys.argv[1], sys.argv[2]
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    play = []
    secrets = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    for d in docs:
        kind, name = d["kind"], d["metadata"]["name"]
        if kind == "Secret":
            # podman 4.3 reads a secret used by secretKeyRef as a JSON map of base64 values, and
            # a secret used as a volume as a Secret whose `data` values it writes to the files
            # without decoding them. So the volumes get a second secret, <name>-files, whose
            # `data` holds the decoded values.
            data = d.get("data", {})
            with open(os.path.join(out_dir, f"secret-{name}.json"), "w") as f:
                json.dump(data, f)
            files = dict(d, metadata={"name": f"{name}-files"},
                         data={k: base64.b64decode(v).decode() for k, v in data.items()})
            with open(os.path.join(out_dir, f"secret-{name}-files.json"), "w") as f:
                json.dump(files, f)
            print(f"adapter: Secret {name} -> podman secret")
            continue
        if kind in IGNORED:
            print(f"adapter: {kind} {name} left out (podman ignores it)")
            continue
        if kind == "StatefulSet":
            template = d["spec"]["template"]
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": name, "labels": template["metadata"].get("labels", {})},
                   "spec": template["spec"]}
            for claim in d["spec"].get("volumeClaimTemplates", []):
                claim_name = f"{name}-{claim['metadata']['name']}"
                play.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                             "metadata": {"name": claim_name}, "spec": claim["spec"]})
                pod["spec"].setdefault("volumes", []).append(
                    {"name": claim["metadata"]["name"],
                     "persistentVolumeClaim": {"claimName": claim_name}})
            print(f"adapter: StatefulSet {name} -> Pod {name} with its claims")
            d = pod
        if d["kind"] not in ("Deployment", "Pod"):
            play.append(d)
            continue
        spec = d["spec"]["template"]["spec"] if d["kind"] == "Deployment" else d["spec"]
        for v in spec.get("volumes", []):
            if "secret" in v:
                v["secret"].setdefault("optional", False)
                if v["secret"]["secretName"] in secrets:
                    v["secret"]["secretName"] += "-files"
        for c in spec.get("containers", []):
            if c.pop("ports", None) is not None:
                print(f"adapter: {name}/{c['name']}: containerPorts dropped")
        play.append(d)
    with open(os.path.join(out_dir, "play.yaml"), "w") as f:
        yaml.safe_dump_all(play, f)


if __name__ == "__main__":
    main()
