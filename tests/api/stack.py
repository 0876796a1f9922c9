#!/usr/bin/env python3
"""A real stack for API tests: redis-server and both services (the built binaries) on free
loopback ports, plaintext, with per-call tokens of each role. Used as a module (Stack) or to run a
command against it:

  stack.py PYTHON_GEN ENROLLMENT_SVC CLASSIFIER_SVC -- COMMAND...

runs COMMAND with UHC_ENROLLMENT_ADDR, UHC_CLASSIFIER_ADDR, UHC_TOKEN (every role) and PYTHONPATH
(the generated API code) set, and exits with its status."""
import os, shutil, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# One token per role, and one with every role. Test tokens only.
TOKENS = {"ingest": "api-test-token-ingest", "admin": "api-test-token-admin",
          "read": "api-test-token-read", "ingest,admin,read": "api-test-token-every-role"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, pygen, enrollment, classifier):
        sys.path.insert(0, pygen)
        self.pygen, self.enrollment_bin, self.classifier_bin = pygen, enrollment, classifier
        self.procs = []
        self.work = tempfile.mkdtemp(prefix="uhc-api-")

    def __enter__(self):
        self.redis_port = free_port()
        self.enrollment = f"127.0.0.1:{free_port()}"
        self.classifier = f"127.0.0.1:{free_port()}"
        self.redis = self._start(["redis-server", "--port", str(self.redis_port), "--bind",
                                  "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.work])
        with open(os.path.join(self.work, "tokens"), "w") as f:
            f.writelines(f"{roles} {token}\n" for roles, token in TOKENS.items())
        common = ["--plaintext", "--token_file", os.path.join(self.work, "tokens"), "--redis_port",
                  str(self.redis_port), "--data_dir", os.path.join(ROOT, "data"),
                  "--metrics_port", "0", "--drain_seconds", "0"]
        env = dict(os.environ, UHC_NIK_HMAC_SECRET="api-test-secret-0123456789abcdefghij")
        self._start([self.enrollment_bin, "--listen", self.enrollment] + common, env)
        self._start([self.classifier_bin, "--listen", self.classifier, "--policy_dir",
                     os.path.join(ROOT, "config/policies"), "--refresh_ms", "100"] + common, env)
        try:
            self.wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *unused):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                p.wait()
        shutil.rmtree(self.work, ignore_errors=True)

    def _start(self, argv, env=None):
        log = open(os.path.join(self.work, os.path.basename(argv[0]) + ".log"), "w")
        p = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def wait_ready(self, timeout=60):
        """Until both services answer a read call (not UNAVAILABLE)."""
        import grpc
        from uhc.v1 import classifier_pb2, classifier_pb2_grpc, enrollment_pb2, enrollment_pb2_grpc
        meta = [("authorization", "Bearer " + TOKENS["read"])]
        deadline = time.time() + timeout
        calls = [(self.classifier, lambda ch: classifier_pb2_grpc.ClassifierServiceStub(ch)
                  .ListPolicies(classifier_pb2.ListPoliciesRequest(), metadata=meta, timeout=2)),
                 (self.enrollment, lambda ch: enrollment_pb2_grpc.RegionAdminServiceStub(ch)
                  .ListCutoffs(enrollment_pb2.ListCutoffsRequest(), metadata=meta, timeout=2))]
        for address, call in calls:
            while True:
                for p in self.procs:
                    if p.poll() is not None:
                        raise SystemExit(f"FAIL: {p.args[0]} exited with {p.returncode}: "
                                         + open(os.path.join(self.work, os.path.basename(p.args[0]) + ".log")).read()[-2000:])
                try:
                    with grpc.insecure_channel(address) as channel:
                        call(channel)
                    break
                except grpc.RpcError as e:
                    if time.time() > deadline:
                        raise SystemExit(f"FAIL: {address} not ready: {e.code()} {e.details()}")
                    time.sleep(0.1)

    def stop_redis(self):
        self.redis.terminate()
        self.redis.wait()


def main():
    if "--" not in sys.argv or len(sys.argv) < 6:
        print(__doc__)
        return 2
    cut = sys.argv.index("--")
    pygen, enrollment, classifier = sys.argv[1:4]
    with Stack(pygen, enrollment, classifier) as stack:
        env = dict(os.environ, UHC_ENROLLMENT_ADDR=stack.enrollment,
                   UHC_CLASSIFIER_ADDR=stack.classifier, UHC_TOKEN=TOKENS["ingest,admin,read"],
                   PYTHONPATH=pygen + os.pathsep + os.environ.get("PYTHONPATH", ""))
        return subprocess.run(sys.argv[cut + 1:], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
