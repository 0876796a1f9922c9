#include "common/domain/nik.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace uhc {
namespace {

// Province codes in use at any time since NIKs were introduced (2011 e-KTP; older NIKs were
// re-issued in the same scheme): 91-92 are Papua and Papua Barat, 93-96 the provinces split from
// them in 2022. A NIK keeps the code of where it was first issued, so 92 stays valid for a
// resident of Papua Barat Daya (96). Regency codes are not checked against current regions for
// the same reason.
constexpr int kProvinceCodes[] = {
    11, 12, 13, 14, 15, 16, 17, 18, 19,  // Sumatera
    21,                                  // Kepulauan Riau
    31, 32, 33, 34, 35, 36,              // Jawa
    51, 52, 53,                          // Bali, Nusa Tenggara
    61, 62, 63, 64, 65,                  // Kalimantan
    71, 72, 73, 74, 75, 76,              // Sulawesi
    81, 82,                              // Maluku
    91, 92, 93, 94, 95, 96,              // Papua
};

bool PlausibleProvince(int code) {
  return std::find(std::begin(kProvinceCodes), std::end(kProvinceCodes), code) !=
         std::end(kProvinceCodes);
}

// YY % 4 == 0 is a leap year in 19YY and 20YY alike, except 1900; 2000 was one, so accept it.
bool CanBeLeapYear(int year2) { return year2 % 4 == 0; }

int DaysInMonth(int month, int year2) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && CanBeLeapYear(year2)) return 29;
  return kDays[month - 1];
}

// `text` holds only digits here.
int Digits(absl::string_view text, size_t at, size_t count) {
  int value = 0;
  for (size_t i = at; i < at + count; ++i) value = value * 10 + (text[i] - '0');
  return value;
}

// One character of the input, printable or escaped, for "position 5 is 'A'".
std::string Quote(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f && c != '\'' && c != '\\') return std::string(1, c);
  return absl::StrFormat("\\x%02x", u);
}

}  // namespace

absl::StatusOr<Nik> ParseNik(absl::string_view text) {
  if (text.size() != 16) {
    return absl::InvalidArgumentError(absl::StrCat("must be 16 digits, got ", text.size()));
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return absl::InvalidArgumentError(absl::StrCat("must contain only digits (position ", i + 1,
                                                     " is '", Quote(text[i]), "')"));
    }
  }

  Nik nik;
  nik.province = Digits(text, 0, 2);
  nik.regency = Digits(text, 2, 2);
  nik.district = Digits(text, 4, 2);
  const int day_field = Digits(text, 6, 2);
  nik.birth_month = Digits(text, 8, 2);
  nik.birth_year2 = Digits(text, 10, 2);
  nik.serial = Digits(text, 12, 4);

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
  const bool man_day = day_field >= 1 && day_field <= 31;
  const bool woman_day = day_field >= 41 && day_field <= 71;
  if (!man_day && !woman_day) {
    return absl::InvalidArgumentError(
        absl::StrFormat("birth day %02d is not 01-31 or 41-71 (women: day + 40)", day_field));
  }
  nik.female = woman_day;
  nik.birth_day = woman_day ? day_field - 40 : day_field;
  if (nik.birth_day > DaysInMonth(nik.birth_month, nik.birth_year2)) {
    // The year is not quoted: day, month and year together would be the full birth date.
    const bool leap_day = nik.birth_month == 2 && nik.birth_day == 29;
    return absl::InvalidArgumentError(
        absl::StrFormat("birth day %02d does not exist in month %02d%s (women: day + 40)",
                        day_field, nik.birth_month, leap_day ? " of a non-leap year" : ""));
  }
  if (nik.serial == 0) return absl::InvalidArgumentError("serial 0000 is not valid");
  return nik;
}

}  // namespace uhc
