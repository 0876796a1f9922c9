#pragma once

#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace uhc {

// The parts of a NIK (Nomor Induk Kependudukan), 16 digits:
// province (2) regency (2) district (2) DDMMYY (women: day + 40) serial (4).
struct Nik {
  int province = 0;
  int regency = 0;
  int district = 0;
  int birth_day = 0;  // 1..31, the +40 of women removed
  int birth_month = 0;
  int birth_year2 = 0;  // YY
  bool female = false;
  int serial = 0;  // 1..9999
};

// Parses and validates a NIK. The prefix is where the NIK was first issued, so a regency code
// that is no longer a current region is accepted (NIKs outlive region splits); the province code
// must be one in use since NIKs exist. On failure: InvalidArgument with a precise reason that
// never contains the NIK itself (personal data).
absl::StatusOr<Nik> ParseNik(absl::string_view text);

}  // namespace uhc
