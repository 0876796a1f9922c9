#pragma once

#include <array>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace uhc {

// Where a participant lives in Redis: a bucket of its region and an 8-byte field, both taken from
// HMAC-SHA256(secret, NIK). The NIK itself is never stored; without the secret the field cannot be
// linked back to a NIK by enumerating the (small) NIK space.
struct ParticipantKey {
  uint32_t bucket = 0;
  std::array<char, 8> field{};
};

// Thread-safe after construction.
class NikKeyer {
 public:
  // The secret must be at least 16 bytes.
  static absl::StatusOr<NikKeyer> Create(std::string secret, int bucket_bits);
  // Reads the secret from `path` if not empty (trailing newline dropped), else from the
  // environment variable `env_var`. The only I/O here.
  static absl::StatusOr<std::string> LoadSecret(const std::string& path, const char* env_var);

  ParticipantKey Key(absl::string_view nik) const;
  int bucket_bits() const { return bucket_bits_; }

 private:
  explicit NikKeyer(int bucket_bits) : bucket_bits_(bucket_bits) {}
  // SHA-256 states after absorbing the key xor ipad / opad (opaque SHA256_CTX storage).
  alignas(8) unsigned char inner_[128];
  alignas(8) unsigned char outer_[128];
  int bucket_bits_;
};

// A stable 32-bit hash of an event id (FNV-1a): orders events with equal occurred_at and detects
// duplicates in the 4 bytes a participant record spends on it.
uint32_t EventIdHash(absl::string_view event_id);

// Redis keys of a region; every key of a region carries its code as hash tag.
std::string AggregateKey(absl::string_view region_code);
std::string BucketKey(absl::string_view region_code, uint32_t bucket);

}  // namespace uhc
