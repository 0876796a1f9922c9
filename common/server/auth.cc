#include "common/server/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/domain/errors.h"
#include "common/observability/log.h"

namespace uhc {
namespace {

std::array<unsigned char, 32> Digest(absl::string_view token) {
  std::array<unsigned char, 32> out;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), out.data());
  return out;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const TokenAuthorizer::Entries>> TokenAuthorizer::Parse(
    const std::string& text) {
  auto entries = std::make_shared<Entries>();
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
    entries->push_back({Digest(parts[1]), roles});
  }
  if (entries->empty()) return absl::InvalidArgumentError("token file has no tokens");
  return std::shared_ptr<const Entries>(std::move(entries));
}

absl::StatusOr<std::unique_ptr<TokenAuthorizer>> TokenAuthorizer::FromText(
    const std::string& text) {
  absl::StatusOr<std::shared_ptr<const Entries>> entries = Parse(text);
  if (!entries.ok()) return entries.status();
  auto auth = std::unique_ptr<TokenAuthorizer>(new TokenAuthorizer());
  auth->entries_ = *std::move(entries);
  return auth;
}

namespace {

// What changes when a file is replaced or edited: inode, size, modification time.
std::string FileState(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  return absl::StrCat(st.st_ino, "/", st.st_size, "/", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
}

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read token file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenAuthorizer>> TokenAuthorizer::LoadFromFile(
    const std::string& path) {
  const std::string state = FileState(path);
  absl::StatusOr<std::string> text = ReadText(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::unique_ptr<TokenAuthorizer>> auth = FromText(*text);
  if (!auth.ok()) return auth;
  (*auth)->path_ = path;
  (*auth)->file_state_ = state;
  (*auth)->next_look_ns_ = absl::GetCurrentTimeNanos() + 1'000'000'000;
  return auth;
}

void TokenAuthorizer::MaybeReload() const {
  if (path_.empty()) return;
  const int64_t now = absl::GetCurrentTimeNanos();
  if (now < next_look_ns_.load(std::memory_order_relaxed)) return;
  std::unique_lock<std::mutex> lock(reload_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another call is looking
  next_look_ns_.store(now + 1'000'000'000, std::memory_order_relaxed);
  const std::string state = FileState(path_);
  if (state.empty() || state == file_state_) return;
  absl::StatusOr<std::string> text = ReadText(path_);
  absl::StatusOr<std::shared_ptr<const Entries>> entries =
      text.ok() ? Parse(*text) : absl::StatusOr<std::shared_ptr<const Entries>>(text.status());
  file_state_ = state;
  if (!entries.ok()) {
    LogError("token file changed but does not parse; the previous tokens stay",
             {{"file", path_}, {"error", entries.status().message()}});
    return;
  }
  const int64_t count = static_cast<int64_t>((*entries)->size());
  std::atomic_store(&entries_, *std::move(entries));
  LogInfo("token file reloaded", {{"file", path_}, {"tokens", count}});
}

CallerIdentity IdentifyCaller(const grpc::ServerContextBase& context) {
  CallerIdentity who;
  who.peer = context.peer();
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  absl::string_view value = it == metadata.end()
                                ? absl::string_view()
                                : absl::string_view(it->second.data(), it->second.size());
  if (absl::ConsumePrefix(&value, "Bearer ")) {
    std::array<unsigned char, 32> digest = Digest(value);
    who.token = absl::BytesToHexString(
                    absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()))
                    .substr(0, 8);
  } else {
    who.token = "none";
  }
  return who;
}

namespace {
const char* RoleName(Role role) {
  switch (role) {
    case Role::kIngest:
      return "ingest";
    case Role::kAdmin:
      return "admin";
    case Role::kRead:
      return "read";
  }
  return "?";
}
}  // namespace

absl::Status TokenAuthorizer::Check(const grpc::ServerContextBase& context, Role role) const {
  MaybeReload();
  const std::shared_ptr<const Entries> entries = std::atomic_load(&entries_);
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  absl::string_view value = it == metadata.end()
                                ? absl::string_view()
                                : absl::string_view(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) {
    return WithReason(
        absl::UnauthenticatedError("missing 'authorization: Bearer <token>' metadata"),
        reason::kCredentialsMissing);
  }
  std::array<unsigned char, 32> presented = Digest(value);
  int roles = 0;
  bool known = false;
  for (const Entry& e : *entries) {  // no early exit: every entry is compared
    bool match = CRYPTO_memcmp(e.digest.data(), presented.data(), presented.size()) == 0;
    known |= match;
    roles |= match ? e.roles : 0;
  }
  if (!known) {
    return WithReason(absl::UnauthenticatedError("unknown token"), reason::kCredentialsInvalid);
  }
  if ((roles & static_cast<int>(role)) == 0) {
    return WithReason(absl::PermissionDeniedError(absl::StrCat(
                          "the token lacks the role this call needs (", RoleName(role), ")")),
                      reason::kRoleDenied);
  }
  return absl::OkStatus();
}

}  // namespace uhc
