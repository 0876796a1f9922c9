#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/domain/errors.h"

namespace uhc {

// Input strings are echoed into errors and reasons at most this many bytes long.
inline constexpr size_t kMaxEchoBytes = 64;

// `text` for an error message: whole when short, otherwise its first kMaxEchoBytes (cut on a
// UTF-8 character boundary, so the result stays valid UTF-8) and its length:
// "9999999999…(1048576 bytes)". Cost is bounded whatever the input's length.
std::string Clip(absl::string_view text);

// Free text the API stores and shows to people later (a cut-off's description): at most
// `max_bytes`, valid UTF-8, and no control character: C0 (tab and newline included), DEL, C1,
// or a bidirectional format character (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069).
// Such characters act on the terminal or page that shows the text (ESC ] sets a window title,
// U+202E reverses what follows). Otherwise appends a violation naming `field`.
inline constexpr size_t kMaxCutoffDescriptionBytes = 1000;
void CheckFreeText(absl::string_view field, absl::string_view text, size_t max_bytes,
                   std::vector<FieldViolation>* violations);

// A cut-off id: 1-64 characters of a-z, 0-9, '.', '_' and '-' (it names a Redis key and is
// echoed in answers). Otherwise appends a violation naming `field`, without echoing the id.
inline constexpr size_t kMaxCutoffIdBytes = 64;
void CheckCutoffId(absl::string_view field, absl::string_view id,
                   std::vector<FieldViolation>* violations);

// `text` safe to print on a terminal: every character CheckFreeText refuses becomes a visible
// escape ("\x1b", "\u202e") and every byte of invalid UTF-8 "\xff"; the rest is unchanged.
std::string Printable(absl::string_view text);

}  // namespace uhc
