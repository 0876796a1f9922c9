#include "common/domain/identity.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

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

TEST(ParticipantKeyTest, KeysCarryTheRegionHashTag) {}

}  // namespace
}  // namespace uhc
