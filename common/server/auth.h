#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"

namespace uhc {

// What a caller may do: ingest (EnrollmentService), admin (RegionAdminService), read
// (ClassifierService and GetParticipant). Health and reflection are open to all.
enum class Role { kIngest = 1, kAdmin = 2, kRead = 4 };

// Who made a call, for audit log lines: the peer address and the first 8 hex digits of the
// SHA-256 of its bearer token ("none" without one): enough to tell tokens apart, useless to call
// with. Never the token itself.
struct CallerIdentity {
  std::string peer;
  std::string token;
};
CallerIdentity IdentifyCaller(const grpc::ServerContextBase& context);

// Per-call bearer tokens. The token file has one "<roles> <token>" per line (roles comma
// separated: ingest, admin, read; '#' starts a comment). Only SHA-256 digests of the tokens are
// kept, and a presented token is compared with every entry in constant time. A file given by path
// is looked at again at most once a second (on a call) and read again when it changed (a rotated
// Kubernetes Secret): new tokens hold from then on; a file that no longer parses is logged and
// the tokens before it stay. Thread-safe.
class TokenAuthorizer {
 public:
  static absl::StatusOr<std::unique_ptr<TokenAuthorizer>> LoadFromFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<TokenAuthorizer>> FromText(const std::string& text);

  // OK; UNAUTHENTICATED without a known "authorization: Bearer <token>"; PERMISSION_DENIED when
  // the token lacks `role`.
  absl::Status Check(const grpc::ServerContextBase& context, Role role) const;

 private:
  struct Entry {
    std::array<unsigned char, 32> digest;
    int roles;
  };
  using Entries = std::vector<Entry>;
  static absl::StatusOr<std::shared_ptr<const Entries>> Parse(const std::string& text);
  // Reads the file again if it changed since last looked at (at most once a second).
  void MaybeReload() const;

  std::string path_;                                // empty: tokens from text, never reloaded
  mutable std::shared_ptr<const Entries> entries_;  // std::atomic_load / atomic_store
  mutable std::atomic<int64_t> next_look_ns_{0};
  mutable std::mutex reload_mu_;
  mutable std::string file_state_;  // inode, size and mtime when last read (under reload_mu_)
};

}  // namespace uhc
