#pragma once

// The little of libpq the PostgreSQL bench peer needs: owned connections and results, statements
// whose failures become absl::Status (a retryable one, serialization failure or deadlock, as
// ABORTED), and one-dimensional arrays in PostgreSQL's binary wire format.

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace uhc {

struct PgConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgConn = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// A connection from a conninfo string ("host=... port=..."), or UNAVAILABLE.
absl::StatusOr<PgConn> PgConnect(const std::string& conninfo);

// The status of a finished statement: OK for a command or rows; ABORTED for a serialization
// failure (40001) or deadlock (40P01), which a retry of the whole transaction may pass; otherwise
// INTERNAL with the server's message.
absl::Status PgResultStatus(const PGresult* result);

// Runs `sql` (several statements allowed) with the simple query protocol, results discarded.
absl::Status PgExec(PGconn* conn, const std::string& sql);
// One row, one column of a text-format query, as a string.
absl::StatusOr<std::string> PgScalar(PGconn* conn, const std::string& sql);

// Type OIDs of the binary arrays below and of their elements.
inline constexpr Oid kInt2Oid = 21;
inline constexpr Oid kInt4Oid = 23;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kInt2ArrayOid = 1005;
inline constexpr Oid kInt4ArrayOid = 1007;
inline constexpr Oid kInt8ArrayOid = 1016;

// A one-dimensional array without NULLs in the binary format array_recv reads; `width` 2, 4 or 8
// bytes per element (of type `element`, one of the OIDs above).
std::string PgBinaryArray(Oid element, int width, const std::vector<int64_t>& values);
// The elements of a binary one-dimensional smallint array (array_send's format).
absl::StatusOr<std::vector<int16_t>> PgParseInt2Array(absl::string_view bytes);

}  // namespace uhc
