// uhc-bench-pg: the PostgreSQL 15 peer of the ingest benchmark. Generates the realistic mix of
// uhc-loadgen (tools/loadgen/mix.h: same seed, same events), keys every participant as
// enrollment-svc does (NikKeyer, a fixed bench secret), and applies each batch with one call of
// uhc_pg.apply_batch (tests/bench/pg_peer.sql: uhc_apply_v1's semantics, exact aggregates) on one
// of --connections connections, one call in flight per connection. Then recounts every region
// from its records against its aggregate row. Prints one JSON line:
//   events, seconds, events_per_second, applied, other (duplicate + stale + rejected), retries,
//   backend_cpu_seconds (the connections' backends, from /proc), cluster_cpu_seconds (the
//   postmaster and all its processes: walwriter, checkpointer, autovacuum, ...), cpu_us_per_event
//   (backends), cluster_cpu_us_per_event, records, live_participants, bytes_per_participant
//   (pg_total_relation_size of the record table per record), mismatched_fields.
// Exit 0 when every aggregate matches its recount, 1 when not, 2 on errors.
// The server must run on this machine (its CPU is read from /proc).
#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/config/files.h"
#include "common/domain/identity.h"
#include "common/redis/schema.h"
#include "tests/bench/pg_client.h"
#include "tests/bench/proc_cpu.h"
#include "tools/loadgen/mix.h"

ABSL_FLAG(int64_t, events, 1000000, "events to apply (the realistic mix of uhc-loadgen)");
ABSL_FLAG(int, batch, 2000, "events per call");
ABSL_FLAG(int, connections, 1, "connections, one call in flight on each");
ABSL_FLAG(int64_t, participants, 0, "distinct participants (0: events * 0.6)");
ABSL_FLAG(bool, enroll_only, false, "only enrolments (bytes per participant)");
ABSL_FLAG(int64_t, nik_offset, 0, "first participant number");
ABSL_FLAG(std::string, data_dir, "data", "region CSVs");
ABSL_FLAG(std::string, host, "127.0.0.1", "server address (ignored with --socket_dir)");
ABSL_FLAG(int, port, 5432, "server port");
ABSL_FLAG(std::string, socket_dir, "", "connect through the Unix socket in this directory");
ABSL_FLAG(std::string, user, "uhc", "database user");
ABSL_FLAG(std::string, dbname, "postgres", "database");
ABSL_FLAG(bool, unlogged, false, "UNLOGGED tables (no WAL, like Redis without persistence)");
ABSL_FLAG(std::string, secret, "bench-secret-0123456789abcdef", "NIK HMAC secret");

namespace uhc {

extern const char kPgPeerSql[];

namespace {

constexpr int kMaxRetries = 100;

// One batch as the six array arguments of apply_batch (binary format), and the step operations
// to read the result codes back (a relocation is two steps: LEAVE, then ENTER).
struct Batch {
  std::string args[6];
  std::vector<int16_t> ops;
  int events = 0;
};

struct Tally {
  int64_t applied = 0, duplicate = 0, stale = 0, rejected = 0;
};

// The big-endian value of the 8-byte participant field, as PostgreSQL's bigint.
int64_t FieldAsBigint(const std::array<char, 8>& field) {
  uint64_t v = 0;
  for (char c : field) v = (v << 8) | static_cast<unsigned char>(c);
  return static_cast<int64_t>(v);
}

std::vector<Batch> MakeBatches(const RegionRegistry& regions, const NikKeyer& keyer) {
  MixOptions options;
  options.events = absl::GetFlag(FLAGS_events);
  options.participants = absl::GetFlag(FLAGS_participants);
  options.enroll_only = absl::GetFlag(FLAGS_enroll_only);
  options.nik_offset = absl::GetFlag(FLAGS_nik_offset);
  const int batch_size = absl::GetFlag(FLAGS_batch);
  EventMix mix(regions, options);
  std::vector<Batch> batches;
  std::vector<int64_t> op, region, pkey, ts, idh, arg;
  auto flush = [&] {
    Batch& b = batches.emplace_back();
    b.args[0] = PgBinaryArray(kInt2Oid, 2, op);
    b.args[1] = PgBinaryArray(kInt2Oid, 2, region);
    b.args[2] = PgBinaryArray(kInt8Oid, 8, pkey);
    b.args[3] = PgBinaryArray(kInt8Oid, 8, ts);
    b.args[4] = PgBinaryArray(kInt4Oid, 4, idh);
    b.args[5] = PgBinaryArray(kInt2Oid, 2, arg);
    b.ops.assign(op.begin(), op.end());
    for (auto* v : {&op, &region, &pkey, &ts, &idh, &arg}) v->clear();
  };
  int in_batch = 0;
  MixEvent e;
  while (mix.Next(&e)) {
    const int64_t key = FieldAsBigint(keyer.Key(e.nik).field);
    const int64_t ms = e.occurred_at_seconds * 1000;
    // Unsigned order of the 32-bit hash as signed order.
    const int64_t hash = static_cast<int64_t>(EventIdHash(e.event_id)) - (int64_t{1} << 31);
    auto step = [&](uint8_t o, int r, int a) {
      op.push_back(o);
      region.push_back(r);
      pkey.push_back(key);
      ts.push_back(ms);
      idh.push_back(hash);
      arg.push_back(a);
    };
    switch (e.op) {
      case MixOp::kEnroll:
        step(apply_abi::kEnroll, e.region, e.segment | (e.active ? 8 : 0));
        break;
      case MixOp::kStatus:
        step(apply_abi::kStatus, e.region, e.active ? 1 : 0);
        break;
      case MixOp::kSegment:
        step(apply_abi::kSegment, e.region, e.segment);
        break;
      case MixOp::kRelocate:
        step(apply_abi::kLeave, e.region, 0);
        step(apply_abi::kEnter, e.to_region, apply_abi::kEnterFromLeave);
        break;
      case MixOp::kTerminate:
        step(apply_abi::kTerminate, e.region, 0);
        break;
    }
    if (++in_batch == batch_size) {
      flush();
      batches.back().events = in_batch;
      in_batch = 0;
    }
  }
  if (in_batch > 0) {
    flush();
    batches.back().events = in_batch;
  }
  return batches;
}

// Per event, from the result codes of its steps: a relocation's two outcomes combine as
// enrollment-svc's do (event_applier.cc); NOT_FOUND, GONE and SKIPPED are rejections.
absl::Status Count(const std::vector<int16_t>& ops, const std::vector<int16_t>& codes,
                   Tally* tally) {
  if (codes.size() != ops.size()) return absl::InternalError("one result code per step expected");
  for (size_t i = 0; i < ops.size(); ++i) {
    uint8_t code = apply_abi::Outcome(static_cast<uint8_t>(codes[i]));
    if (ops[i] == apply_abi::kLeave) {
      const uint8_t enter = apply_abi::Outcome(static_cast<uint8_t>(codes[++i]));
      if (code == apply_abi::kDuplicate && enter == apply_abi::kApplied) {
        code = apply_abi::kApplied;
      } else if (code == apply_abi::kDuplicate && enter == apply_abi::kStale) {
        code = apply_abi::kStale;
      }
    }
    switch (code) {
      case apply_abi::kApplied:
        ++tally->applied;
        break;
      case apply_abi::kDuplicate:
        ++tally->duplicate;
        break;
      case apply_abi::kStale:
        ++tally->stale;
        break;
      default:
        ++tally->rejected;
    }
  }
  return absl::OkStatus();
}

std::string ConnInfo() {
  const std::string socket_dir = absl::GetFlag(FLAGS_socket_dir);
  return absl::StrCat("host=", socket_dir.empty() ? absl::GetFlag(FLAGS_host) : socket_dir,
                      " port=", absl::GetFlag(FLAGS_port), " user=", absl::GetFlag(FLAGS_user),
                      " dbname=", absl::GetFlag(FLAGS_dbname),
                      " application_name=uhc-bench-pg connect_timeout=10");
}

// One worker connection: its backend's pid and the prepared call.
struct Worker {
  PgConn conn;
  int backend_pid = 0;
};

absl::StatusOr<Worker> OpenWorker(const std::string& function) {
  absl::StatusOr<PgConn> conn = PgConnect(ConnInfo());
  if (!conn.ok()) return conn.status();
  Worker w{std::move(*conn)};
  w.backend_pid = PQbackendPID(w.conn.get());
  const Oid types[6] = {kInt2ArrayOid, kInt2ArrayOid, kInt8ArrayOid,
                        kInt8ArrayOid, kInt4ArrayOid, kInt2ArrayOid};
  PgResult prepared(PQprepare(
      w.conn.get(), "apply",
      absl::StrCat("SELECT uhc_pg.", function, "($1, $2, $3, $4, $5, $6)").c_str(), 6, types));
  if (absl::Status s = PgResultStatus(prepared.get()); !s.ok()) return s;
  return w;
}

// Applies one batch, retrying it whole when the server aborted it (serialization failure or
// deadlock: nothing of it was applied). Returns the step result codes.
absl::StatusOr<std::vector<int16_t>> Apply(PGconn* conn, const Batch& batch,
                                           std::atomic<int64_t>* retries) {
  const char* values[6];
  int lengths[6];
  const int formats[6] = {1, 1, 1, 1, 1, 1};
  for (int i = 0; i < 6; ++i) {
    values[i] = batch.args[i].data();
    lengths[i] = static_cast<int>(batch.args[i].size());
  }
  for (int attempt = 0;; ++attempt) {
    PgResult result(PQexecPrepared(conn, "apply", 6, values, lengths, formats, 1));
    absl::Status status = PgResultStatus(result.get());
    if (absl::IsAborted(status) && attempt < kMaxRetries) {
      ++*retries;
      continue;
    }
    if (!status.ok()) return status;
    if (PQntuples(result.get()) != 1 || PQgetisnull(result.get(), 0, 0)) {
      return absl::InternalError("apply: no result codes");
    }
    return PgParseInt2Array(
        absl::string_view(PQgetvalue(result.get(), 0, 0), PQgetlength(result.get(), 0, 0)));
  }
}

int64_t ScalarInt(PGconn* conn, const std::string& sql, absl::Status* error) {
  absl::StatusOr<std::string> text = PgScalar(conn, sql);
  int64_t value = 0;
  if (!text.ok()) {
    *error = text.status();
  } else if (!absl::SimpleAtoi(*text, &value)) {
    *error = absl::InternalError(absl::StrCat("not an integer: ", *text));
  }
  return value;
}

int Run() {
  absl::StatusOr<RegionRegistry> regions = LoadRegions(absl::GetFlag(FLAGS_data_dir));
  if (!regions.ok()) {
    std::cerr << regions.status() << "\n";
    return 2;
  }
  // The bucket is not part of a PostgreSQL record's key; only the field is.
  absl::StatusOr<NikKeyer> keyer = NikKeyer::Create(absl::GetFlag(FLAGS_secret), 5);
  if (!keyer.ok()) {
    std::cerr << keyer.status() << "\n";
    return 2;
  }
  const int connections = std::max(1, absl::GetFlag(FLAGS_connections));
  const std::vector<Batch> batches = MakeBatches(*regions, *keyer);

  absl::StatusOr<PgConn> control = PgConnect(ConnInfo());
  if (!control.ok()) {
    std::cerr << control.status() << "\n";
    return 2;
  }
  absl::Status setup = PgExec(control->get(), kPgPeerSql);
  if (setup.ok() && absl::GetFlag(FLAGS_unlogged)) {
    setup = PgExec(control->get(),
                   "ALTER TABLE uhc_pg.participant SET UNLOGGED;"
                   "ALTER TABLE uhc_pg.region_agg SET UNLOGGED;");
  }
  if (!setup.ok()) {
    std::cerr << "schema: " << setup << "\n";
    return 2;
  }
  std::vector<Worker> workers;
  for (int c = 0; c < connections; ++c) {
    absl::StatusOr<Worker> w = OpenWorker("apply_batch");
    if (!w.ok()) {
      std::cerr << w.status() << "\n";
      return 2;
    }
    workers.push_back(std::move(*w));
  }
  std::vector<int> backends;
  for (const Worker& w : workers) backends.push_back(w.backend_pid);
  std::optional<ProcCpu> backend = ReadProcCpu(backends[0]);
  if (!backend) {
    std::cerr << "uhc-bench-pg: cannot read /proc/" << backends[0]
              << "/stat: the server must run on this machine\n";
    return 2;
  }
  const int postmaster = backend->ppid;

  std::atomic<size_t> next{0};
  std::atomic<int64_t> retries{0};
  std::vector<Tally> tallies(connections);
  std::vector<absl::Status> errors(connections);
  const double backend_before = ProcessesCpuSeconds(backends);
  const double cluster_before = TreeCpuSeconds(postmaster);
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      for (size_t b = next++; b < batches.size(); b = next++) {
        absl::StatusOr<std::vector<int16_t>> codes =
            Apply(workers[c].conn.get(), batches[b], &retries);
        absl::Status counted =
            codes.ok() ? Count(batches[b].ops, *codes, &tallies[c]) : codes.status();
        if (!counted.ok()) {
          errors[c] = counted;
          next = batches.size();
          return;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double backend_cpu = ProcessesCpuSeconds(backends) - backend_before;
  const double cluster_cpu = TreeCpuSeconds(postmaster) - cluster_before;
  for (const absl::Status& e : errors) {
    if (!e.ok()) {
      std::cerr << "apply: " << e << "\n";
      return 2;
    }
  }
  Tally total;
  int64_t events = 0;
  for (const Batch& b : batches) events += b.events;
  for (const Tally& t : tallies) {
    total.applied += t.applied;
    total.duplicate += t.duplicate;
    total.stale += t.stale;
    total.rejected += t.rejected;
  }

  absl::Status query;
  PGconn* db = control->get();
  const int64_t mismatched = ScalarInt(db, "SELECT uhc_pg.mismatched_fields()", &query);
  const int64_t records = ScalarInt(db, "SELECT count(*) FROM uhc_pg.participant", &query);
  const int64_t live =
      ScalarInt(db, "SELECT count(*) FROM uhc_pg.participant WHERE flags < 80", &query);
  const int64_t bytes =
      ScalarInt(db, "SELECT pg_total_relation_size('uhc_pg.participant')", &query);
  if (!query.ok()) {
    std::cerr << "verify: " << query << "\n";
    return 2;
  }
  std::cout << absl::StrFormat(
      "{\"store\":\"postgresql\",\"method\":\"set\",\"unlogged\":%s,\"events\":%d,"
      "\"seconds\":%.3f,\"events_per_second\":%.0f,\"applied\":%d,\"other\":%d,"
      "\"duplicate\":%d,\"stale\":%d,\"rejected\":%d,\"retries\":%d,\"connections\":%d,"
      "\"batch\":%d,\"backend_cpu_seconds\":%.2f,\"cluster_cpu_seconds\":%.2f,"
      "\"cpu_us_per_event\":%.2f,\"cluster_cpu_us_per_event\":%.2f,\"records\":%d,"
      "\"live_participants\":%d,\"bytes_per_participant\":%.1f,\"mismatched_fields\":%d}\n",
      absl::GetFlag(FLAGS_unlogged) ? "true" : "false", events, seconds, events / seconds,
      total.applied, total.duplicate + total.stale + total.rejected, total.duplicate, total.stale,
      total.rejected, retries.load(), connections, absl::GetFlag(FLAGS_batch), backend_cpu,
      cluster_cpu, backend_cpu * 1e6 / events, cluster_cpu * 1e6 / events, records, live,
      records == 0 ? 0.0 : static_cast<double>(bytes) / records, mismatched);
  return mismatched == 0 ? 0 : 1;
}

}  // namespace
}  // namespace uhc

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "uhc-bench-pg: the realistic ingest mix applied exactly in PostgreSQL 15 (see the comment "
      "at the top of tests/bench/pg_peer.cc). Prints one JSON object.");
  absl::ParseCommandLine(argc, argv);
  return uhc::Run();
}
