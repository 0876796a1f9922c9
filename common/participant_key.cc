#include "absl/strings/string_view.h"
#include "common/participant_key.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace uhc {

absl::StatusOr<NikKeyer> NikKeyer::Create(std::string secret, int bucket_bits) {
  if (secret.size() < 16) {
    return absl::InvalidArgumentError("the NIK HMAC secret must be at least 16 bytes");
  }
  if (bucket_bits < 0 || bucket_bits > 16) {
    return absl::InvalidArgumentError("bucket bits must be 0..16");
  }
  return NikKeyer(std::move(secret), bucket_bits);
}

absl::StatusOr<std::string> NikKeyer::LoadSecret(const std::string& path, const char* env_var) {
  std::string secret;
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read HMAC secret file ", path));
    std::stringstream buffer;
    buffer << in.rdbuf();
    secret = buffer.str();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  } else if (const char* value = std::getenv(env_var); value != nullptr) {
    secret = value;
  } else {
    return absl::FailedPreconditionError(
        absl::StrCat("no HMAC secret: pass --hmac_secret_file or set ", env_var));
  }
  return secret;
}

ParticipantKey NikKeyer::Key(absl::string_view nik) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(nik.data()), nik.size(), digest, &length);
  ParticipantKey key;
  uint32_t top = (uint32_t{digest[0]} << 8) | digest[1];
  key.bucket = bucket_bits_ == 0 ? 0 : top >> (16 - bucket_bits_);
  for (int i = 0; i < 8; ++i) key.field[i] = static_cast<char>(digest[2 + i]);
  return key;
}

uint32_t EventIdHash(absl::string_view event_id) {
  uint32_t h = 2166136261u;
  for (unsigned char c : event_id) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string AggregateKey(absl::string_view region_code) {
  return absl::StrCat("uhc:{", region_code, "}:agg");
}

std::string BucketKey(absl::string_view region_code, uint32_t bucket) {
  return absl::StrFormat("uhc:{%s}:p:%x", region_code, bucket);
}

}  // namespace uhc
