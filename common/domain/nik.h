#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace uhc {

// The parts of a NIK (Nomor Induk Kependudukan), 16 digits:
// province (2) regency (2) district (2) DDMMYY (women: day + 40) serial (4).
struct Nik {
  int province = 0;     // e.g. 12
  int regency = 0;      // 01..99
  int district = 0;     // kecamatan, 01..99
  int birth_day = 0;    // real day 1..31 (women's +40 already removed)
  int birth_month = 0;  // 1..12
  int birth_year2 = 0;  // YY, 0..99
  bool female = false;
  int serial = 0;  // 1..9999
};

// Parses and validates a NIK. The prefix is where the NIK was first issued, so a regency code
// that is no longer a current region is accepted (NIKs outlive region splits); the province code
// must be one in use since NIKs exist.
//
// On failure returns InvalidArgument with a precise reason, e.g. "must be 16 digits, got 15" or
// "birth month 13 is not 01-12". The reason never contains the NIK itself (personal data); it
// quotes at most the offending digit groups.
absl::StatusOr<Nik> ParseNik(absl::string_view text);

}  // namespace uhc
