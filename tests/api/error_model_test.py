#!/usr/bin/env python3
"""Every RPC against docs/API.md's error model, on a real stack (tests/api/stack.py).

Reads three tables of docs/API.md: the roles (RPC -> role), the model (reason -> code and the
details it carries) and the cases (RPC, role, request in text format, Redis up or down, expected
reason or OK, the field a BadRequest must name). For every RPC in the roles table it calls
without a token, with an unknown token and with a token of each other role; then runs every case
in order (Redis stopped before the first `down` case). Each error must have the model's code, an
ErrorInfo with the reason and domain uhc.v1, and exactly the details the model names.
Every method of every uhc.v1 service must be in the roles table and have at least one case.

Usage: error_model_test.py PYTHON_GEN ENROLLMENT_SVC CLASSIFIER_SVC"""
import os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack import ROOT, TOKENS, Stack  # noqa: E402

DETAIL_TYPES = {"BadRequest": "google.rpc.BadRequest", "ResourceInfo": "google.rpc.ResourceInfo",
                "RetryInfo": "google.rpc.RetryInfo"}


def table(text, header):
    """The rows of the markdown table whose header row starts with `header`, as lists of cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| " + header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip().strip("`") for c in line.strip()[1:-1].split(" | ")])
    return rows


def main():
    pygen, enrollment, classifier = sys.argv[1:4]
    doc = open(os.path.join(ROOT, "docs/API.md")).read()
    roles = {rpc: role for rpc, role in table(doc, "RPC | Role |")}
    model = {}
    for _, code, reason, details in table(doc, "Mistake | Code |"):
        model[reason] = (code, set() if details == "-" else {details.split()[0]})
    cases = table(doc, "RPC | Role | Request")

    with Stack(pygen, enrollment, classifier) as stack:
        import grpc
        from google.protobuf import descriptor_pool, text_format
        from google.protobuf import message_factory
        from google.rpc import error_details_pb2, status_pb2  # noqa: F401 (registers the types)
        from uhc.v1 import classifier_pb2, enrollment_pb2  # noqa: F401

        pool = descriptor_pool.Default()
        factory = message_factory.MessageFactory(pool)  # protobuf 3.21: GetPrototype

        def message_class(descriptor):
            return factory.GetPrototype(descriptor)
        methods = {}
        for file in ("uhc/v1/enrollment.proto", "uhc/v1/classifier.proto"):
            for service in pool.FindFileByName(file).services_by_name.values():
                for m in service.methods:
                    methods[f"{service.full_name}/{m.name}"] = m
        failures = []

        def fail(what):
            failures.append(what)
            print("FAIL:", what)

        missing_roles = sorted(set(methods) - set(roles))
        missing_cases = sorted(set(methods) - {c[0] for c in cases})
        if missing_roles or missing_cases:
            fail(f"RPCs without a role row: {missing_roles}; without a case: {missing_cases}")
        channels = {}

        def call(rpc, token, request_text):
            m = methods[rpc]
            address = stack.enrollment if "Enrollment" in rpc or "RegionAdmin" in rpc else stack.classifier
            channel = channels.setdefault(address, grpc.insecure_channel(address))
            request_class = message_class(m.input_type)
            response_class = message_class(m.output_type)
            request = text_format.Parse(request_text, request_class())
            metadata = [("authorization", "Bearer " + token)] if token else []
            kwargs = dict(request_serializer=request_class.SerializeToString,
                          response_deserializer=response_class.FromString)
            path = "/" + rpc
            try:
                if m.client_streaming:
                    stub = channel.stream_stream(path, **kwargs)
                    for _ in stub(iter([request]), metadata=metadata, timeout=10):
                        break
                elif m.server_streaming:
                    stub = channel.unary_stream(path, **kwargs)
                    for _ in stub(request, metadata=metadata, timeout=3):
                        pass
                else:
                    channel.unary_unary(path, **kwargs)(request, metadata=metadata, timeout=10)
            except grpc.RpcError as e:
                if m.server_streaming and e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    return None  # a healthy watch stream runs until its deadline
                return e
            return None

        def check(what, error, reason, field=""):
            if reason == "OK":
                if error is not None:
                    fail(f"{what}: {error.code().name} {error.details()}, wanted OK")
                return
            code, details = model[reason]
            if error is None:
                return fail(f"{what}: OK, wanted {code} {reason}")
            if error.code().name != code:
                return fail(f"{what}: {error.code().name} ({error.details()}), wanted {code}")
            raw = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
            if raw is None:
                return fail(f"{what}: no grpc-status-details-bin")
            status = status_pb2.Status.FromString(raw)
            found = {}
            for any_ in status.details:
                name = any_.TypeName()
                message = message_class(pool.FindMessageTypeByName(name))()
                any_.Unpack(message)
                found[name] = message
            info = found.pop("google.rpc.ErrorInfo", None)
            if info is None or info.reason != reason or info.domain != "uhc.v1":
                return fail(f"{what}: ErrorInfo {info}, wanted reason {reason} in uhc.v1")
            wanted = {DETAIL_TYPES[d] for d in details}
            if set(found) != wanted:
                return fail(f"{what}: details {sorted(found)}, wanted {sorted(wanted)}")
            if field:
                fields = [v.field for v in found["google.rpc.BadRequest"].field_violations]
                if field not in fields:
                    fail(f"{what}: BadRequest names {fields}, wanted {field}")
            if "google.rpc.ResourceInfo" in found and not found["google.rpc.ResourceInfo"].resource_type.startswith("uhc.v1."):
                fail(f"{what}: ResourceInfo {found['google.rpc.ResourceInfo']}")

        checked = 0
        for rpc in sorted(methods):
            role = roles.get(rpc)
            if role is None:
                continue
            check(f"{rpc} without a token", call(rpc, "", ""), "CREDENTIALS_MISSING")
            check(f"{rpc} with an unknown token", call(rpc, "not-a-token", ""), "CREDENTIALS_INVALID")
            for other in ("ingest", "admin", "read"):
                if other != role:
                    check(f"{rpc} with a {other} token", call(rpc, TOKENS[other], ""), "ROLE_DENIED")
                    checked += 1
            checked += 2
        redis_up = True
        for rpc, role, request, redis, reason, field in cases:
            if redis == "down" and redis_up:
                stack.stop_redis()
                redis_up = False
            check(f"{rpc} {{{request}}} (Redis {redis})", call(rpc, TOKENS[role], request), reason, field)
            checked += 1
        for channel in channels.values():
            channel.close()
    if failures:
        print(f"{len(failures)} of {checked} checks failed")
        return 1
    print(f"{checked} calls of {len(methods)} RPCs match docs/API.md's error model "
          f"({len(model)} kinds of mistake)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
