#include "absl/strings/string_view.h"
#include "common/nik.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace uhc {
namespace {

// Province codes in use since NIKs were introduced (Papua's 93-96 date from 2022; NIKs issued
// before a split keep the old code, e.g. 92 in Papua Barat Daya).
bool PlausibleProvince(int code) {
  return (code >= 11 && code <= 19) || code == 21 || (code >= 31 && code <= 36) ||
         (code >= 51 && code <= 53) || (code >= 61 && code <= 65) ||
         (code >= 71 && code <= 76) || code == 81 || code == 82 || (code >= 91 && code <= 96);
}

int DaysIn(int month, int year2) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  // YY % 4 == 0 is a leap year in 19YY or 20YY alike, except 1900; 2000 was one, so accept.
  if (month == 2 && year2 % 4 == 0) return 29;
  return kDays[month - 1];
}

int TwoDigits(absl::string_view s, size_t at) { return (s[at] - '0') * 10 + (s[at + 1] - '0'); }

}  // namespace

absl::StatusOr<Nik> ParseNik(absl::string_view text) {
  if (text.size() != 16) {
    return absl::InvalidArgumentError(absl::StrCat("must be 16 digits, got ", text.size()));
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return absl::InvalidArgumentError(
          absl::StrCat("must contain only digits (position ", i + 1, " is not a digit)"));
    }
  }
  Nik nik;
  nik.province = TwoDigits(text, 0);
  nik.regency = TwoDigits(text, 2);
  nik.district = TwoDigits(text, 4);
  int day = TwoDigits(text, 6);
  nik.birth_month = TwoDigits(text, 8);
  nik.birth_year2 = TwoDigits(text, 10);
  nik.serial = (text[12] - '0') * 1000 + TwoDigits(text, 13) * 10 + (text[15] - '0');
  if (!PlausibleProvince(nik.province)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("province code %02d is not a plausible province", nik.province));
  }
  if (nik.regency == 0) return absl::InvalidArgumentError("regency code 00 is not valid");
  if (nik.district == 0) return absl::InvalidArgumentError("district code 00 is not valid");
  if (nik.birth_month < 1 || nik.birth_month > 12) {
    return absl::InvalidArgumentError(
        absl::StrFormat("birth month %02d is not 01-12", nik.birth_month));
  }
  nik.female = day > 40;
  nik.birth_day = nik.female ? day - 40 : day;
  if (nik.birth_day < 1 || nik.birth_day > DaysIn(nik.birth_month, nik.birth_year2)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("birth day %02d does not exist in month %02d (women: day + 40)", day,
                        nik.birth_month));
  }
  if (nik.serial == 0) return absl::InvalidArgumentError("serial 0000 is not valid");
  return nik;
}

}  // namespace uhc
