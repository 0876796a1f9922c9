// libFuzzer: ParseNik on arbitrary bytes never crashes, and an accepted NIK is 16 digits with a
// real date; a rejection never quotes a digit-string input (a would-be NIK).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/domain/nik.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<uhc::Nik> nik = uhc::ParseNik(text);
  if (nik.ok()) {
    if (text.size() != 16 || nik->birth_day < 1 || nik->birth_day > 31 || nik->birth_month < 1 ||
        nik->birth_month > 12 || nik->serial < 1) {
      std::abort();
    }
  } else if (size >= 8 && text.find_first_not_of("0123456789") == std::string::npos &&
             std::string(nik.status().message()).find(text) != std::string::npos) {
    std::abort();  // a NIK-like input (digits) must never be echoed: it is personal data
  }
  return 0;
}
