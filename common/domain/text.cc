#include "common/domain/text.h"

#include "absl/strings/str_cat.h"

namespace uhc {

std::string Clip(absl::string_view text) {
  if (text.size() <= kMaxEchoBytes) return std::string(text);
  size_t cut = kMaxEchoBytes;
  // Back up over UTF-8 continuation bytes (10xxxxxx) to the start of a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(text.substr(0, cut), "\xE2\x80\xA6(", text.size(), " bytes)");
}

}  // namespace uhc
