#!/usr/bin/python3
"""An integrator's example client of the UHC tier API (docs/API.md).

It walks through the calls a BPJS backend or a dashboard makes, the way they should be made:
  * a deadline on every call;
  * retries with exponential backoff and jitter, only on UNAVAILABLE, RESOURCE_EXHAUSTED and
    ABORTED, never sooner than the server's google.rpc.RetryInfo asks;
  * errors told apart by google.rpc.ErrorInfo.reason (from the grpc-status-details-bin trailer),
    not by parsing the message;
  * writes that are safe to retry: Enroll with a request_id, events with a stable event_id.

Environment: UHC_ENROLLMENT_ADDR and UHC_CLASSIFIER_ADDR (host:port), UHC_TOKEN (a bearer token
with the ingest, admin and read roles), optionally UHC_TLS_CA (a CA file: use TLS; otherwise
plaintext). The generated code (protoc + grpc_python_plugin, see README.md) must be on PYTHONPATH.
It expects a fresh stack (empty Redis): it checks exact counts. Exits 0 when every step passed.
"""
import os
import random
import sys
import time
from datetime import datetime, timezone

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2
from uhc.v1 import (classifier_pb2, classifier_pb2_grpc, common_pb2, enrollment_pb2,
                    enrollment_pb2_grpc)

REGION = "12.19"  # Kabupaten Batu Bara, Sumatera Utara
AUTH = [("authorization", "Bearer " + os.environ["UHC_TOKEN"])]  # sent with every call

# ---- Errors -------------------------------------------------------------------------------------


def status_details(rpc_error):
    """The google.rpc.Status the server put in the grpc-status-details-bin trailer, or None."""
    for key, value in rpc_error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)  # binary metadata arrives as bytes
    return None


def error_reason(rpc_error):
    """ErrorInfo.reason of a failed call (e.g. "REGION_NOT_FOUND"), or "" if there is none.
    Branch on this, not on the message: reasons are stable, messages are for people."""
    status = status_details(rpc_error)
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):  # False when this detail is another type
            return info.reason
    return ""


def retry_delay(rpc_error):
    """RetryInfo.retry_delay in seconds, when the server said how long to wait; else None."""
    status = status_details(rpc_error)
    for detail in status.details if status else ():
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.ToTimedelta().total_seconds()
    return None

# ---- Calls: deadline + retry --------------------------------------------------------------------


# Only these mean "the same request may succeed later". Anything else (INVALID_ARGUMENT,
# NOT_FOUND, PERMISSION_DENIED, ...) fails the same way again: fix the request instead.
# DEADLINE_EXCEEDED is not retried here either: the deadline is the caller's budget.
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED,
             grpc.StatusCode.ABORTED}


def with_retry(attempt, attempts=5, base=0.1, cap=5.0):
    """Runs attempt() until it succeeds, a non-retryable error, or `attempts` tries. Waits
    between tries: random in [0, min(cap, base * 2^n)] ("full jitter", so that many clients do not
    retry in step), plus RetryInfo.retry_delay when the server sent one."""
    for n in range(attempts):
        try:
            return attempt()
        except grpc.RpcError as e:
            if e.code() not in RETRYABLE or n == attempts - 1:
                raise
            wait = (retry_delay(e) or 0.0) + random.uniform(0, min(cap, base * 2 ** n))
            print(f"  {e.code().name} ({error_reason(e) or 'no details'}): retrying in "
                  f"{wait:.2f} s")
            time.sleep(wait)


def call(method, request, timeout=5.0):
    """A unary call with a deadline (`timeout` seconds per attempt), the token and retries.
    Retrying is safe for every write below: they are all idempotent."""
    return with_retry(lambda: method(request, timeout=timeout, metadata=AUTH))


def channel(address):
    """Plaintext, or TLS checked against UHC_TLS_CA. Send tokens in plaintext only on loopback."""
    ca = os.environ.get("UHC_TLS_CA")
    if not ca:
        return grpc.insecure_channel(address)
    with open(ca, "rb") as f:
        credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
    return grpc.secure_channel(address, credentials)


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAIL: {what}")  # exit status 1

# ---- The steps ----------------------------------------------------------------------------------


def main():
    # One channel per service for the whole program: channels are expensive, stubs are cheap.
    enrollment_channel = channel(os.environ["UHC_ENROLLMENT_ADDR"])
    classifier_channel = channel(os.environ["UHC_CLASSIFIER_ADDR"])
    admin = enrollment_pb2_grpc.RegionAdminServiceStub(enrollment_channel)
    enrollment = enrollment_pb2_grpc.EnrollmentServiceStub(enrollment_channel)
    classifier = classifier_pb2_grpc.ClassifierServiceStub(classifier_channel)

    # 1. Administrative inputs (role admin). Both calls set values, so they are idempotent.
    settings = call(admin.SetPopulation, enrollment_pb2.SetPopulationRequest(
        region_code=REGION, population=1000, as_of_date="2025-12-31"))
    check(settings.population == 1000, f"population is {settings.population}")
    settings = call(admin.SetRegionStatus, enrollment_pb2.SetRegionStatusRequest(
        region_code=REGION, uhc_prioritas=True, dues_paid_through="2026-12"))  # effective today
    check(settings.uhc_prioritas, "uhc_prioritas not set")
    print(f"step 1: {REGION} population {settings.population}, UHC Prioritas, dues paid through "
          f"{settings.dues_paid_through} (version {settings.version})")

    # 2. Enrol one resident. The request_id makes retries safe: if a first attempt was applied
    #    but its answer lost, the retry answers DUPLICATE instead of enrolling twice. So the
    #    first outcome may be APPLIED or DUPLICATE; both mean "enrolled".
    enroll = enrollment_pb2.EnrollRequest(
        request_id="example-enroll-1", nik="1219010101900001", region_code=REGION,
        segment=common_pb2.SEGMENT_PBPU_PEMDA)
    first = call(enrollment.Enroll, enroll)
    again = call(enrollment.Enroll, enroll)  # e.g. a retry after a timeout
    check(again.outcome == enrollment_pb2.EVENT_OUTCOME_DUPLICATE,
          f"second Enroll is {enrollment_pb2.EventOutcome.Name(again.outcome)}")
    print(f"step 2: enrolled ({enrollment_pb2.EventOutcome.Name(first.outcome)}, cover from "
          f"{first.cover_starts}); same request_id again: "
          f"{enrollment_pb2.EventOutcome.Name(again.outcome)}")

    # 3. A batch of 50 enrolment events. Each event has a stable event_id and its own event_time
    #    (when it happened at the source): resending the batch is harmless.
    start = int(datetime(2026, 1, 15, tzinfo=timezone.utc).timestamp())
    batch = enrollment_pb2.IngestEventsRequest(batch_id="example-batch-1", events=[
        common_pb2.ParticipantEvent(
            event_id=f"example-ev-{i}", nik=f"121901010190{i + 1:04d}", region_code=REGION,
            event_time=Timestamp(seconds=start + i),
            enrolled=common_pb2.Enrolled(segment=common_pb2.SEGMENT_PBI_APBN, active=True))
        for i in range(1, 51)])  # NIKs ...0002 to ...0051
    ack = call(enrollment.IngestBatch, batch, timeout=10.0)
    rejected = [f"{r.field}: {r.reason}" for r in ack.results
                if r.outcome == enrollment_pb2.EVENT_OUTCOME_REJECTED]
    check(ack.applied == 50, f"applied {ack.applied}, rejected {rejected}")
    replay = call(enrollment.IngestBatch, batch, timeout=10.0)
    check(replay.duplicate == 50, f"replay: {replay.duplicate} duplicates")
    print(f"step 3: batch {ack.batch_id}: applied {ack.applied}; sent again: duplicate "
          f"{replay.duplicate}")

    # 4. The tier. The classifier answers from a snapshot refreshed from Redis every few hundred
    #    ms, so a write shows up shortly after its ack: poll, within an overall deadline.
    give_up = time.monotonic() + 10
    while True:
        tier = call(classifier.GetRegionTier,
                    classifier_pb2.GetRegionTierRequest(region_code=REGION), timeout=2.0)
        if tier.metrics.participants >= 51 or time.monotonic() > give_up:
            break
        time.sleep(0.1)
    check(tier.metrics.participants == 51, f"participants {tier.metrics.participants}, want 51")
    print(f"step 4: {tier.region_name}: tier {tier.tier} ({tier.tier_name}), coverage_bp "
          f"{tier.metrics.coverage_bp}, data_version {tier.data_version}")

    # 5. Every region, page by page, in the BASIC view (the default for lists: small rows).
    codes, token = [], ""
    while True:
        page = call(classifier.ListRegionTiers, classifier_pb2.ListRegionTiersRequest(
            page_size=100, page_token=token))
        codes += [r.region_code for r in page.regions]
        token = page.next_page_token
        if not token:  # empty on the last page
            break
    check(len(codes) == page.total_size == 553, f"{len(codes)} regions, total_size "
          f"{page.total_size}, want 553")
    # The order is by code with the nation first: "ID", "11", "11.01", ..., "96.71".
    check(codes[0] == "ID" and all(a < b for a, b in zip(codes[1:], codes[2:])),
          "regions not in code order (nation first)")
    print(f"step 5: {len(codes)} regions in {-(-len(codes) // 100)} pages, {codes[0]} to "
          f"{codes[-1]}")

    # 6. An error, told apart by its reason. NOT_FOUND is not retried: it would fail again.
    try:
        call(classifier.GetRegionTier, classifier_pb2.GetRegionTierRequest(region_code="99.99"))
        check(False, "GetRegionTier 99.99 succeeded")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.NOT_FOUND and error_reason(e) == "REGION_NOT_FOUND",
              f"GetRegionTier 99.99: {e.code().name} {error_reason(e)!r}")
        print(f"step 6: region 99.99: {e.code().name}, reason {error_reason(e)}")

    # 7. Watching tier changes. The server sends a keep-alive at once, then changes as they come
    #    (and keep-alives when idle). Every message carries resume_token: keep the latest and
    #    reconnect with it to get, exactly once, every change recorded meanwhile. The deadline of
    #    a stream bounds the whole stream; a long-lived watcher uses a long one and reconnects.
    def first_message(resume_token, timeout):
        stream = classifier.WatchTierChanges(classifier_pb2.WatchTierChangesRequest(
            region_code=REGION, resume_token=resume_token), timeout=timeout, metadata=AUTH)
        try:
            return next(stream)  # errors (UNAVAILABLE, ...) surface here, so with_retry sees them
        finally:
            stream.cancel()  # done with this stream: free it on both sides

    hello = with_retry(lambda: first_message("", 10.0))
    check(hello.WhichOneof("message") == "keepalive_time", "first watch message not a keep-alive")
    resume_token = hello.resume_token  # may be empty: the server does not know its position yet
    # ... the connection drops, the process restarts, ...: reconnect from where it was.
    message = with_retry(lambda: first_message(resume_token, 5.0))
    kind = message.WhichOneof("message")
    check(kind in ("keepalive_time", "change"), f"watch message carries {kind}")
    print(f"step 7: watch: keep-alive at {hello.keepalive_time.ToJsonString()}, resume_token "
          f"{resume_token or '(empty)'}; reconnected {'with' if resume_token else 'without'} it, "
          f"got a {kind}")

    enrollment_channel.close()
    classifier_channel.close()
    print("example client: all steps passed")


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as e:  # an unexpected failure: show code, reason and message
        sys.exit(f"FAIL: {e.code().name} ({error_reason(e) or 'no details'}): {e.details()}")
