#include "common/domain/text.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace uhc {
namespace {

// The character at the start of `text` (not empty) and its length in bytes; length 0 for
// invalid UTF-8 (a stray or missing continuation byte, an overlong form, a surrogate, a value
// above U+10FFFF).
struct Decoded {
  char32_t code_point = 0;
  size_t length = 0;
};

Decoded DecodeOne(absl::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return {lead, 1};
  size_t length = 0;
  char32_t code_point = 0;
  char32_t smallest = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code_point = lead & 0x1F;
    smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code_point = lead & 0x0F;
    smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code_point = lead & 0x07;
    smallest = 0x10000;
  } else {
    return {};
  }
  if (text.size() < length) return {};
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return {};
    code_point = (code_point << 6) | (byte(i) & 0x3F);
  }
  if (code_point < smallest || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return {};
  }
  return {code_point, length};
}

bool IsControl(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x061C || c == 0x200E || c == 0x200F ||
         (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

std::string CodePoint(char32_t c) { return absl::StrFormat("U+%04X", static_cast<uint32_t>(c)); }

}  // namespace

std::string Clip(absl::string_view text) {
  if (text.size() <= kMaxEchoBytes) return std::string(text);
  size_t cut = kMaxEchoBytes;
  // Back up over UTF-8 continuation bytes (10xxxxxx) to the start of a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(text.substr(0, cut), "\xE2\x80\xA6(", text.size(), " bytes)");
}

void CheckFreeText(absl::string_view field, absl::string_view text, size_t max_bytes,
                   std::vector<FieldViolation>* violations) {
  if (text.size() > max_bytes) {
    violations->push_back(
        {std::string(field), absl::StrCat("is ", text.size(), " bytes long; at most ", max_bytes)});
    return;
  }
  for (size_t at = 0; at < text.size();) {
    const Decoded d = DecodeOne(text.substr(at));
    if (d.length == 0) {
      violations->push_back(
          {std::string(field), absl::StrCat("is not valid UTF-8 (at byte ", at, ")")});
      return;
    }
    if (IsControl(d.code_point)) {
      violations->push_back(
          {std::string(field),
           absl::StrCat("holds control character ", CodePoint(d.code_point), " at byte ", at,
                        ": free text may hold none (C0, DEL, C1, bidirectional), as it is "
                        "shown on terminals and pages")});
      return;
    }
    at += d.length;
  }
}

void CheckCutoffId(absl::string_view field, absl::string_view id,
                   std::vector<FieldViolation>* violations) {
  bool ok = !id.empty() && id.size() <= kMaxCutoffIdBytes;
  for (size_t i = 0; ok && i < id.size(); ++i) {
    const char c = id[i];
    ok = absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' || c == '_' || c == '-';
  }
  if (!ok) {
    violations->push_back(
        {std::string(field),
         absl::StrCat("must be 1-", kMaxCutoffIdBytes,
                      " characters of a-z, 0-9, '.', '_' and '-' (got ", id.size(), " bytes)")});
  }
}

std::string Printable(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t at = 0; at < text.size();) {
    const Decoded d = DecodeOne(text.substr(at));
    if (d.length == 0) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned char>(text[at]));
      ++at;
      continue;
    }
    if (!IsControl(d.code_point)) {
      absl::StrAppend(&out, text.substr(at, d.length));
    } else if (d.code_point < 0x100) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<uint32_t>(d.code_point));
    } else {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<uint32_t>(d.code_point));
    }
    at += d.length;
  }
  return out;
}

}  // namespace uhc
