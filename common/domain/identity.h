#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace uhc {

// Where a participant lives in Redis: a bucket of its region and an 8-byte field, both taken from
// HMAC-SHA256(secret, NIK). The NIK itself is never stored; without the secret the field cannot be
// linked back to a NIK by enumerating the (small) NIK space.
struct ParticipantKey {
  uint32_t bucket = 0;
  std::array<char, 8> field{};
};

// Whether `secret` may key a deployment's NIKs: at least 32 bytes (as many as the HMAC-SHA256
// output) and not a placeholder ("REPLACE_ME...", "changeme", "example"...), which a GitOps sync
// or a copied manifest would otherwise apply silently. InvalidArgument naming the reason (never
// the secret).
absl::Status CheckNikSecret(absl::string_view secret);

// Thread-safe after construction.
class NikKeyer {
 public:
  // The secret must be at least 16 bytes (CheckNikSecret is the deployment's stricter rule).
  static absl::StatusOr<NikKeyer> Create(std::string secret, int bucket_bits);

  ParticipantKey Key(absl::string_view nik) const;
  int bucket_bits() const { return bucket_bits_; }
  // 32 hex digits that tell keys apart without revealing them: the start of
  // HMAC-SHA256(secret, "uhc nik key fingerprint v1"). Stored in uhc:meta, so that a service
  // started with another key refuses the data instead of filing every NIK under a new hash.
  std::string Fingerprint() const;

 private:
  explicit NikKeyer(int bucket_bits) : bucket_bits_(bucket_bits) {}
  void Digest(absl::string_view message, unsigned char* out) const;  // 32 bytes
  // SHA-256 states after absorbing the key xor ipad / opad (opaque SHA256_CTX storage).
  alignas(8) unsigned char inner_[128];
  alignas(8) unsigned char outer_[128];
  int bucket_bits_;
};

// A stable 32-bit hash of an event id (FNV-1a): orders events with equal event_time and detects
// duplicates in the 4 bytes a participant record spends on it.
uint32_t EventIdHash(absl::string_view event_id);

}  // namespace uhc
