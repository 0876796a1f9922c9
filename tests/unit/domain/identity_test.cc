#include "common/domain/identity.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>

#include "gtest/gtest.h"

namespace uhc {
namespace {

// The precomputed-state HMAC equals OpenSSL's HMAC-SHA256 for short and long keys.
TEST(ParticipantKeyTest, MatchesOpenSslHmac) {
  for (std::string secret : {std::string("0123456789abcdef"), std::string(100, 'k')}) {
    NikKeyer keyer = *NikKeyer::Create(secret, 8);
    for (std::string nik : {"1219010503890001", "3201014503890123"}) {
      unsigned char digest[EVP_MAX_MD_SIZE];
      unsigned int length = 0;
      HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(nik.data()), nik.size(), digest, &length);
      ParticipantKey key = keyer.Key(nik);
      EXPECT_EQ(key.bucket, digest[0]);  // 8 bits: the first byte
      for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(static_cast<unsigned char>(key.field[i]), digest[2 + i]);
      }
    }
  }
}

TEST(ParticipantKeyTest, ShortSecretsAndBadBitsAreRefused) {
  EXPECT_FALSE(NikKeyer::Create("short", 8).ok());
  EXPECT_FALSE(NikKeyer::Create("0123456789abcdef", 17).ok());
  EXPECT_EQ(NikKeyer::Create("0123456789abcdef", 0)->Key("1219010503890001").bucket, 0u);
}

// The deployment's key: 32 bytes at least, and not a placeholder from a manifest.
TEST(ParticipantKeyTest, ShortAndPlaceholderSecretsAreRefusedForServing) {
  EXPECT_FALSE(CheckNikSecret(std::string(31, 'k')).ok());
  EXPECT_TRUE(CheckNikSecret(std::string(32, 'k')).ok());
  for (const char* placeholder :
       {"REPLACE_ME_WITH_32_RANDOM_BYTES", "changeme-changeme-changeme-changeme",
        "an-example-secret-0123456789abcdef", "your-secret-goes-here-0123456789ab"}) {
    absl::Status status = CheckNikSecret(placeholder);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << placeholder;
    EXPECT_NE(status.message().find("placeholder"), absl::string_view::npos) << placeholder;
    EXPECT_EQ(status.message().find(placeholder), absl::string_view::npos) << "echoes the secret";
  }
  EXPECT_TRUE(CheckNikSecret("q3V9x2Lk8PzR0mWn5TtY7bJc4HdF6gAs").ok());
}

// The fingerprint tells keys apart, is stable, and holds nothing of the key: 32 hex digits of
// HMAC-SHA256(key, a fixed text).
TEST(ParticipantKeyTest, TheFingerprintTellsKeysApartWithoutRevealingThem) {
  const std::string a(40, 'a'), b = std::string(39, 'a') + "b";
  const std::string fa = NikKeyer::Create(a, 8)->Fingerprint();
  EXPECT_EQ(fa.size(), 32u);
  EXPECT_EQ(fa.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(NikKeyer::Create(a, 4)->Fingerprint(), fa);  // the key's, whatever the layout
  EXPECT_NE(NikKeyer::Create(b, 8)->Fingerprint(), fa);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const std::string text = "uhc nik key fingerprint v1";
  HMAC(EVP_sha256(), a.data(), static_cast<int>(a.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest, &length);
  char hex[3];
  std::string expected;
  for (int i = 0; i < 16; ++i) {
    std::snprintf(hex, sizeof(hex), "%02x", digest[i]);
    expected += hex;
  }
  EXPECT_EQ(fa, expected);
}

}  // namespace
}  // namespace uhc
