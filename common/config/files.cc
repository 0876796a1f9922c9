#include "common/config/files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace uhc {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return contents.str();
}

absl::StatusOr<RegionRegistry> LoadRegions(const std::string& dir) {
  absl::StatusOr<std::string> provinces = ReadWholeFile(dir + "/provinces.csv");
  if (!provinces.ok()) return provinces.status();
  absl::StatusOr<std::string> regencies = ReadWholeFile(dir + "/regencies.csv");
  if (!regencies.ok()) return regencies.status();
  return RegionRegistry::FromCsv(*provinces, *regencies);
}

absl::StatusOr<PolicySet> LoadPolicies(const std::string& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".textproto") files.push_back(entry.path());
  }
  if (ec) return absl::NotFoundError(absl::StrCat("cannot read policy directory ", dir));
  std::sort(files.begin(), files.end());
  std::vector<v1::PolicyConfig> policies;
  for (const auto& path : files) {
    absl::StatusOr<std::string> text = ReadWholeFile(path.string());
    if (!text.ok()) return text.status();
    absl::StatusOr<v1::PolicyConfig> policy = ParsePolicy(*text, path.filename().string());
    if (!policy.ok()) return policy.status();
    policies.push_back(*std::move(policy));
  }
  return PolicySet::FromPolicies(std::move(policies));
}

absl::StatusOr<std::string> LoadSecret(const std::string& path, const char* env_var) {
  std::string secret;
  if (!path.empty()) {
    absl::StatusOr<std::string> text = ReadWholeFile(path);
    if (!text.ok()) return absl::NotFoundError(absl::StrCat("cannot read HMAC secret file ", path));
    secret = *std::move(text);
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  } else if (const char* value = std::getenv(env_var); value != nullptr) {
    secret = value;
  } else {
    return absl::FailedPreconditionError(
        absl::StrCat("no HMAC secret: pass --hmac_secret_file or set ", env_var));
  }
  return secret;
}

}  // namespace uhc
