#include "common/redis/cluster.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace uhc {
namespace {

uint16_t Crc16(absl::string_view data) {
  uint16_t crc = 0;
  for (unsigned char c : data) {
    crc ^= static_cast<uint16_t>(c << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

bool SplitAddress(absl::string_view address, std::string* host, int* port) {
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return false;
  *host = std::string(address.substr(0, colon));
  return absl::SimpleAtoi(address.substr(colon + 1), port);
}

std::string ReplyText(const redisReply* reply) {
  return reply->str == nullptr ? std::string() : std::string(reply->str, reply->len);
}

// A redirect reply: "MOVED <slot> <host:port>" or "ASK <slot> <host:port>".
// An empty host (Redis 7's "unknown endpoint") means the host of the node that answered.
bool ParseRedirect(absl::string_view text, absl::string_view from, int* slot,
                   std::string* address) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ' ');
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], slot)) return false;
  *address = std::string(parts[2]);
  if (absl::StartsWith(*address, ":")) {
    *address = absl::StrCat(from.substr(0, from.rfind(':')), *address);
  }
  return *slot >= 0 && *slot < kClusterSlots;
}

// Entries of a node's pipeline that are not the caller's commands.
constexpr int kAsking = -1;
constexpr int kWait = -2;

}  // namespace

void ClusterClient::Count(int64_t Stats::*field, Counter* RedisClusterCounters::*counter) {
  ++(stats_.*field);
  if (options_.cluster_counters != nullptr) (options_.cluster_counters->*counter)->Increment();
}

uint16_t KeySlot(absl::string_view key) {
  size_t open = key.find('{');
  if (open != absl::string_view::npos) {
    size_t close = key.find('}', open + 1);
    if (close != absl::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return Crc16(key) % kClusterSlots;
}

std::optional<absl::string_view> RoutingKey(const RedisArgv& argv) {
  if (argv.empty()) return std::nullopt;
  const std::string name = absl::AsciiStrToUpper(argv[0]);
  if (name == "FCALL" || name == "FCALL_RO" || name == "EVAL" || name == "EVALSHA" ||
      name == "EVAL_RO" || name == "EVALSHA_RO") {
    int keys = 0;
    if (argv.size() > 3 && absl::SimpleAtoi(argv[2], &keys) && keys > 0) return argv[3];
    return std::nullopt;
  }
  if (name == "UHC.APPLY_V3" || name == "UHC.APPLY_V4") {  // uhc_module.so: numkeys, keys...
    int keys = 0;
    if (argv.size() > 2 && absl::SimpleAtoi(argv[1], &keys) && keys > 0) return argv[2];
    return std::nullopt;
  }
  for (absl::string_view keyless : {"PING", "WAIT", "FUNCTION", "INFO", "CLUSTER", "SCAN", "ASKING",
                                    "DBSIZE", "FLUSHALL", "AUTH", "TIME"}) {
    if (name == keyless) return std::nullopt;
  }
  if (argv.size() < 2) return std::nullopt;
  return argv[1];
}

ClusterClient::ClusterClient(RedisOptions options)
    : RedisClient(options.function_libraries),
      options_(std::move(options)),
      seed_(absl::StrCat(options_.host, ":", options_.port)),
      slot_node_(kClusterSlots, -1) {}

absl::StatusOr<RedisConnection*> ClusterClient::ConnectionTo(const std::string& address) {
  auto it = connections_.find(address);
  // A connection the node closed while it sat idle (a restart) is replaced before it fails a call.
  if (it != connections_.end() && !it->second->broken() && !it->second->PeerClosed()) {
    return it->second.get();
  }
  RedisOptions node = options_;
  if (!SplitAddress(address, &node.host, &node.port)) {
    return absl::InternalError(absl::StrCat("redis cluster: bad node address '", address, "'"));
  }
  absl::StatusOr<std::unique_ptr<RedisConnection>> fresh = RedisConnection::Connect(node);
  if (!fresh.ok()) return fresh.status();
  RedisConnection* raw = fresh->get();
  connections_[address] = *std::move(fresh);
  return raw;
}

absl::Status ClusterClient::Lost(const std::string& address, absl::Status error) {
  connections_.erase(address);
  map_stale_ = true;
  return error;
}

absl::Status ClusterClient::RefreshSlotMap(const std::string& preferred) {
  std::vector<std::string> candidates;
  if (!preferred.empty()) candidates.push_back(preferred);
  for (const std::string& n : nodes_) candidates.push_back(n);
  candidates.push_back(seed_);
  for (const std::string& s : options_.cluster_seeds) candidates.push_back(s);
  absl::Status last = absl::UnavailableError("redis cluster: no node to ask for the slot map");
  for (const std::string& address : candidates) {
    absl::StatusOr<RedisConnection*> connection = ConnectionTo(address);
    if (!connection.ok()) {
      last = connection.status();
      continue;
    }
    absl::StatusOr<ReplyPtr> reply = (*connection)->Command({"CLUSTER", "SLOTS"});
    if (!reply.ok()) {
      last = Lost(address, reply.status());
      continue;
    }
    if (absl::Status s = ReplyStatus(reply->get()); !s.ok()) {
      last = s;
      continue;
    }
    const redisReply* slots = reply->get();
    if (slots->type != REDIS_REPLY_ARRAY) {
      last = absl::InternalError("redis cluster: CLUSTER SLOTS is not an array");
      continue;
    }
    std::string asked_host;
    int asked_port = 0;
    SplitAddress(address, &asked_host, &asked_port);
    std::vector<std::string> nodes;
    std::vector<int16_t> slot_node(kClusterSlots, -1);
    bool malformed = false;
    for (size_t i = 0; i < slots->elements && !malformed; ++i) {
      const redisReply* range = slots->element[i];
      if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
          range->element[0]->type != REDIS_REPLY_INTEGER ||
          range->element[1]->type != REDIS_REPLY_INTEGER ||
          range->element[2]->type != REDIS_REPLY_ARRAY || range->element[2]->elements < 2 ||
          range->element[2]->element[1]->type != REDIS_REPLY_INTEGER) {
        malformed = true;
        break;
      }
      const long long first = range->element[0]->integer;
      const long long last_slot = range->element[1]->integer;
      const redisReply* primary = range->element[2];
      std::string host = ReplyText(primary->element[0]);
      if (host.empty() || host == "?") host = asked_host;  // the node does not know its own IP
      std::string node = absl::StrCat(host, ":", primary->element[1]->integer);
      auto known = std::find(nodes.begin(), nodes.end(), node);
      const auto index = static_cast<int16_t>(known - nodes.begin());
      if (known == nodes.end()) nodes.push_back(node);
      if (first < 0 || last_slot >= kClusterSlots || first > last_slot) {
        malformed = true;
        break;
      }
      for (long long s = first; s <= last_slot; ++s) slot_node[s] = index;
    }
    if (malformed) {
      last = absl::InternalError("redis cluster: malformed CLUSTER SLOTS reply");
      continue;
    }
    if (nodes.empty()) {  // a node not (yet) in a cluster, or one that lost its config
      last = absl::UnavailableError(absl::StrCat("redis cluster: ", address, " serves no slots"));
      continue;
    }
    nodes_ = std::move(nodes);
    slot_node_ = std::move(slot_node);
    map_stale_ = false;
    refresh_from_.clear();
    Count(&Stats::refreshes, &RedisClusterCounters::refreshes);
    // Connections to nodes that are no longer primaries are closed.
    for (auto it = connections_.begin(); it != connections_.end();) {
      auto next = std::next(it);
      if (std::find(nodes_.begin(), nodes_.end(), it->first) == nodes_.end()) {
        connections_.erase(it);
      }
      it = next;
    }
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat("redis cluster: cannot read the slot map: ", last.message()));
}

std::vector<std::string> ClusterClient::KnownNodes() const {
  std::vector<std::string> out = nodes_;
  if (std::find(out.begin(), out.end(), seed_) == out.end()) out.push_back(seed_);
  return out;
}

std::vector<std::string> ClusterClient::Primaries() const {
  std::vector<bool> serving(nodes_.size(), false);
  for (int16_t n : slot_node_) {
    if (n >= 0) serving[n] = true;
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (serving[i]) out.push_back(nodes_[i]);
  }
  return out;
}

std::string ClusterClient::PrimaryOf(uint16_t slot) {
  if (map_stale_ && !RefreshSlotMap(refresh_from_).ok()) return "";
  int16_t n = slot_node_[slot % kClusterSlots];
  return n < 0 ? "" : nodes_[n];
}

absl::Status ClusterClient::ForEachPrimary(
    const std::function<absl::Status(RedisConnection&)>& fn) {
  if (map_stale_) {
    if (absl::Status s = RefreshSlotMap(refresh_from_); !s.ok()) return s;
  }
  const std::vector<std::string> primaries = Primaries();
  if (primaries.empty()) return absl::UnavailableError("redis cluster: no primary serves slots");
  for (const std::string& address : primaries) {
    absl::StatusOr<RedisConnection*> connection = ConnectionTo(address);
    if (!connection.ok()) return Lost(address, connection.status());
    absl::Status s = fn(**connection);
    if ((*connection)->broken()) return Lost(address, s);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<RedisClient::NodeStatus> ClusterClient::ProbeEachPrimary(
    const std::function<absl::Status(RedisConnection&)>& fn) {
  if (map_stale_) {
    if (absl::Status s = RefreshSlotMap(refresh_from_); !s.ok()) return {{"cluster", s}};
  }
  const std::vector<std::string> primaries = Primaries();
  if (primaries.empty()) {
    return {{"cluster", absl::UnavailableError("redis cluster: no primary serves slots")}};
  }
  std::vector<NodeStatus> out;
  for (const std::string& address : primaries) {
    absl::StatusOr<RedisConnection*> connection = ConnectionTo(address);
    if (!connection.ok()) {
      out.emplace_back(address, Lost(address, connection.status()));
      continue;
    }
    absl::Status s = fn(**connection);
    if ((*connection)->broken()) s = Lost(address, s);
    out.emplace_back(address, s);
  }
  return out;
}

absl::StatusOr<std::vector<ReplyPtr>> ClusterClient::PipelineOnce(const RedisCommands& commands,
                                                                  int wait_replicas) {
  std::vector<ReplyPtr> replies(commands.size());
  std::vector<int> slots(commands.size(), -1);
  for (size_t i = 0; i < commands.size(); ++i) {
    if (std::optional<absl::string_view> key = RoutingKey(commands[i])) slots[i] = KeySlot(*key);
  }
  struct Pending {
    int command;
    std::string ask_to;  // set after an ASK redirect
  };
  std::vector<Pending> pending;
  pending.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) pending.push_back({static_cast<int>(i), ""});

  const std::string wanted = std::to_string(wait_replicas);
  const std::string wait_ms =
      std::to_string(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.command_timeout) / 2));
  const absl::Time deadline = absl::Now() + options_.command_timeout;
  absl::Duration backoff = absl::Milliseconds(5);
  while (!pending.empty()) {
    if (map_stale_) {
      if (absl::Status s = RefreshSlotMap(refresh_from_); !s.ok()) return s;
    }
    // One pipeline per node: the commands, ASKING before an asked one, WAIT at the end.
    struct NodeBatch {
      RedisCommands argv;
      std::vector<int> entry;  // command index, kAsking or kWait
      std::vector<std::string> ask_to;
      RedisConnection* connection = nullptr;
    };
    std::map<std::string, NodeBatch> batches;
    const std::vector<std::string> primaries = Primaries();
    for (Pending& p : pending) {
      std::string address = p.ask_to;
      if (address.empty()) {
        if (slots[p.command] >= 0) {
          int16_t n = slot_node_[slots[p.command]];
          if (n >= 0) address = nodes_[n];
        } else if (!primaries.empty()) {
          address = primaries.front();
        }
      }
      if (address.empty()) {
        map_stale_ = true;
        return absl::UnavailableError(
            absl::StrCat("redis cluster: no primary serves slot ", slots[p.command]));
      }
      NodeBatch& batch = batches[address];
      if (!p.ask_to.empty()) {
        batch.argv.push_back({"ASKING"});
        batch.entry.push_back(kAsking);
        batch.ask_to.push_back("");
      }
      batch.argv.push_back(commands[p.command]);
      batch.entry.push_back(p.command);
      batch.ask_to.push_back(p.ask_to);
    }
    // A failure part way leaves replies unread on the other nodes' connections: all of this
    // round's connections are dropped, so no later call can read a reply that is not its own.
    const auto fail = [&](absl::Status error) {
      for (const auto& [address, batch] : batches) connections_.erase(address);
      map_stale_ = true;
      return error;
    };
    for (auto& [address, batch] : batches) {
      if (wait_replicas > 0) {
        batch.argv.push_back({"WAIT", wanted, wait_ms});
        batch.entry.push_back(kWait);
        batch.ask_to.push_back("");
      }
      absl::StatusOr<RedisConnection*> connection = ConnectionTo(address);
      if (!connection.ok()) return fail(connection.status());
      if (absl::Status s = (*connection)->Send(batch.argv); !s.ok()) return fail(s);
      batch.connection = *connection;
    }

    std::vector<Pending> next;
    bool back_off = false;
    absl::Status wait_status;
    for (auto& [address, batch] : batches) {
      absl::StatusOr<std::vector<ReplyPtr>> got = batch.connection->Receive(batch.argv.size());
      if (!got.ok()) return fail(got.status());
      bool executed = false;  // a command of this node's pipeline ran here (WAIT matters)
      for (size_t k = 0; k < got->size(); ++k) {
        const int entry = batch.entry[k];
        ReplyPtr& reply = (*got)[k];
        if (entry == kAsking) continue;
        if (entry == kWait) {
          // A node that only redirected may refuse WAIT (a primary turned replica): harmless.
          absl::Status s = CheckWaitReply(reply.get(), wait_replicas);
          if (executed && !s.ok()) wait_status = absl::UnavailableError(s.message());
          continue;
        }
        if (reply->type == REDIS_REPLY_ERROR) {
          absl::string_view text(reply->str, reply->len);
          int slot = 0;
          std::string target;
          if (absl::StartsWith(text, "MOVED ") && ParseRedirect(text, address, &slot, &target)) {
            Count(&Stats::moved, &RedisClusterCounters::moved);
            map_stale_ = true;
            refresh_from_ = target;
            next.push_back({entry, ""});
            continue;
          }
          if (absl::StartsWith(text, "ASK ") && ParseRedirect(text, address, &slot, &target)) {
            Count(&Stats::ask, &RedisClusterCounters::ask);
            next.push_back({entry, target});
            continue;
          }
          if (absl::StartsWith(text, "TRYAGAIN") || absl::StartsWith(text, "CLUSTERDOWN")) {
            Count(&Stats::retried, &RedisClusterCounters::retried);
            if (absl::StartsWith(text, "CLUSTERDOWN")) map_stale_ = true;
            back_off = true;
            next.push_back({entry, ""});
            continue;
          }
        }
        executed = true;
        replies[entry] = std::move(reply);
      }
    }
    if (!wait_status.ok()) return wait_status;
    pending = std::move(next);
    if (pending.empty()) break;
    if (absl::Now() + backoff > deadline) {
      return absl::UnavailableError(
          "redis cluster: redirects or retries did not settle within the command timeout");
    }
    if (back_off) {
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Milliseconds(100));
    }
  }
  return replies;
}

}  // namespace uhc
