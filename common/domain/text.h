#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace uhc {

// Input strings are echoed into errors and reasons at most this many bytes long.
inline constexpr size_t kMaxEchoBytes = 64;

// `text` for an error message: whole when short, otherwise its first kMaxEchoBytes (cut on a
// UTF-8 character boundary, so the result stays valid UTF-8) and its length:
// "9999999999…(1048576 bytes)". Cost is bounded whatever the input's length.
std::string Clip(absl::string_view text);

}  // namespace uhc
