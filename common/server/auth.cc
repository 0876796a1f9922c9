#include "common/server/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace uhc {
namespace {

std::array<unsigned char, 32> Digest(absl::string_view token) {
  std::array<unsigned char, 32> out;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), out.data());
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenAuthorizer>> TokenAuthorizer::FromText(
    const std::string& text) {
  auto auth = std::unique_ptr<TokenAuthorizer>(new TokenAuthorizer());
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++n;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (parts.size() != 2 || parts[1].size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("token file line ", n, ": expected '<roles> <token of >= 16 chars>'"));
    }
    int roles = 0;
    for (absl::string_view role : absl::StrSplit(parts[0], ',')) {
      if (role == "ingest") {
        roles |= static_cast<int>(Role::kIngest);
      } else if (role == "admin") {
        roles |= static_cast<int>(Role::kAdmin);
      } else if (role == "read") {
        roles |= static_cast<int>(Role::kRead);
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("token file line ", n, ": unknown role '", role, "'"));
      }
    }
    auth->entries_.push_back({Digest(parts[1]), roles});
  }
  if (auth->entries_.empty()) return absl::InvalidArgumentError("token file has no tokens");
  return auth;
}

absl::StatusOr<std::unique_ptr<TokenAuthorizer>> TokenAuthorizer::LoadFromFile(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read token file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return FromText(text.str());
}

absl::Status TokenAuthorizer::Check(const grpc::ServerContextBase& context, Role role) const {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  absl::string_view value = it == metadata.end()
                                ? absl::string_view()
                                : absl::string_view(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) {
    return absl::UnauthenticatedError("missing 'authorization: Bearer <token>' metadata");
  }
  std::array<unsigned char, 32> presented = Digest(value);
  int roles = 0;
  bool known = false;
  for (const Entry& e : entries_) {  // no early exit: every entry is compared
    bool match = CRYPTO_memcmp(e.digest.data(), presented.data(), presented.size()) == 0;
    known |= match;
    roles |= match ? e.roles : 0;
  }
  if (!known) return absl::UnauthenticatedError("unknown token");
  if ((roles & static_cast<int>(role)) == 0) {
    return absl::PermissionDeniedError("the token lacks the role this call needs");
  }
  return absl::OkStatus();
}

}  // namespace uhc
