#include "common/domain/identity.h"

// SHA256_CTX lets the keyed inner and outer states be computed once and copied per call (a plain
// struct copy): the EVP one-shot HMAC() fetches the digest, allocates and takes provider locks on
// every call, which was a third of enrollment-svc's CPU at 130,000 events/s. The low-level SHA-256
// API is deprecated in OpenSSL 3 but present and exact; HMAC is RFC 2104 over it.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
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
  NikKeyer keyer(bucket_bits);
  // RFC 2104: keys longer than the block are hashed first; then K xor ipad / opad.
  unsigned char block[SHA256_CBLOCK] = {0};
  if (secret.size() > SHA256_CBLOCK) {
    SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), block);
  } else {
    std::copy(secret.begin(), secret.end(), block);
  }
  unsigned char pad[SHA256_CBLOCK];
  SHA256_CTX inner, outer;
  for (int i = 0; i < SHA256_CBLOCK; ++i) pad[i] = block[i] ^ 0x36;
  SHA256_Init(&inner);
  SHA256_Update(&inner, pad, sizeof(pad));
  for (int i = 0; i < SHA256_CBLOCK; ++i) pad[i] = block[i] ^ 0x5c;
  SHA256_Init(&outer);
  SHA256_Update(&outer, pad, sizeof(pad));
  static_assert(sizeof(SHA256_CTX) <= sizeof(keyer.inner_), "SHA256_CTX storage");
  std::memcpy(keyer.inner_, &inner, sizeof(inner));
  std::memcpy(keyer.outer_, &outer, sizeof(outer));
  return keyer;
}

void NikKeyer::Digest(absl::string_view message, unsigned char* out) const {
  SHA256_CTX ctx;
  unsigned char inner_digest[SHA256_DIGEST_LENGTH];
  std::memcpy(&ctx, inner_, sizeof(ctx));
  SHA256_Update(&ctx, message.data(), message.size());
  SHA256_Final(inner_digest, &ctx);
  std::memcpy(&ctx, outer_, sizeof(ctx));
  SHA256_Update(&ctx, inner_digest, sizeof(inner_digest));
  SHA256_Final(out, &ctx);
}

std::string NikKeyer::Fingerprint() const {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  Digest("uhc nik key fingerprint v1", digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

absl::Status CheckNikSecret(absl::string_view secret) {
  const std::string lower = absl::AsciiStrToLower(secret);
  for (const char* placeholder :
       {"replace_me", "replace-me", "replaceme", "changeme", "change_me", "change-me",
        "placeholder", "example", "your_secret", "your-secret"}) {
    if (absl::StrContains(lower, placeholder)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the NIK HMAC secret looks like a placeholder (it contains \"", placeholder,
                       "\"); set the deployment's real key (docs/DEPLOY.md)"));
    }
  }
  if (secret.size() < 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("the NIK HMAC secret is ", secret.size(),
                     " bytes; at least 32 are needed (e.g. head -c 32 /dev/urandom | base64)"));
  }
  return absl::OkStatus();
}

ParticipantKey NikKeyer::Key(absl::string_view nik) const {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  Digest(nik, digest);
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

}  // namespace uhc
