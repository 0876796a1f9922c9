#include "tests/bench/pg_client.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace uhc {
namespace {

void PutBigEndian(std::string* out, uint64_t value, int width) {
  for (int shift = (width - 1) * 8; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

uint64_t GetBigEndian(const char* p, int width) {
  uint64_t value = 0;
  for (int i = 0; i < width; ++i) value = (value << 8) | static_cast<unsigned char>(p[i]);
  return value;
}

}  // namespace

absl::StatusOr<PgConn> PgConnect(const std::string& conninfo) {
  PgConn conn(PQconnectdb(conninfo.c_str()));
  if (conn == nullptr) return absl::UnavailableError("libpq: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("connect: ", PQerrorMessage(conn.get())));
  }
  return conn;
}

absl::Status PgResultStatus(const PGresult* result) {
  if (result == nullptr) return absl::InternalError("libpq: no result");
  ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return absl::OkStatus();
  const char* sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  std::string message = PQresultErrorMessage(result);
  if (sqlstate != nullptr &&
      (std::strcmp(sqlstate, "40001") == 0 || std::strcmp(sqlstate, "40P01") == 0)) {
    return absl::AbortedError(message);
  }
  return absl::InternalError(absl::StrCat(sqlstate == nullptr ? "" : sqlstate, " ", message));
}

absl::Status PgExec(PGconn* conn, const std::string& sql) {
  // PQexec returns the last statement's result; an error stops the string there.
  PgResult result(PQexec(conn, sql.c_str()));
  return PgResultStatus(result.get());
}

absl::StatusOr<std::string> PgScalar(PGconn* conn, const std::string& sql) {
  PgResult result(PQexec(conn, sql.c_str()));
  if (absl::Status s = PgResultStatus(result.get()); !s.ok()) return s;
  if (PQntuples(result.get()) != 1 || PQnfields(result.get()) != 1) {
    return absl::InternalError(absl::StrCat("expected one value from: ", sql));
  }
  return std::string(PQgetvalue(result.get(), 0, 0));
}

std::string PgBinaryArray(Oid element, int width, const std::vector<int64_t>& values) {
  std::string out;
  out.reserve(20 + values.size() * (4 + width));
  PutBigEndian(&out, 1, 4);  // dimensions
  PutBigEndian(&out, 0, 4);  // no NULLs
  PutBigEndian(&out, element, 4);
  PutBigEndian(&out, values.size(), 4);
  PutBigEndian(&out, 1, 4);  // lower bound
  for (int64_t v : values) {
    PutBigEndian(&out, width, 4);
    PutBigEndian(&out, static_cast<uint64_t>(v), width);
  }
  return out;
}

absl::StatusOr<std::vector<int16_t>> PgParseInt2Array(absl::string_view bytes) {
  std::vector<int16_t> values;
  if (bytes.size() < 12) return absl::InternalError("short array");
  const uint64_t dimensions = GetBigEndian(bytes.data(), 4);
  if (dimensions == 0) return values;  // an empty array has no dimensions
  if (dimensions != 1 || bytes.size() < 20 || GetBigEndian(bytes.data() + 8, 4) != kInt2Oid) {
    return absl::InternalError("not a one-dimensional smallint array");
  }
  const uint64_t n = GetBigEndian(bytes.data() + 12, 4);
  size_t pos = 20;
  values.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    if (pos + 6 > bytes.size() || GetBigEndian(bytes.data() + pos, 4) != 2) {
      return absl::InternalError("malformed smallint array (NULL or truncated element)");
    }
    values.push_back(static_cast<int16_t>(GetBigEndian(bytes.data() + pos + 4, 2)));
    pos += 6;
  }
  return values;
}

}  // namespace uhc
