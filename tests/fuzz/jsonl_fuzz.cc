// libFuzzer: one JSON Lines line parsed the way `uhcctl ingest` does (protobuf JSON mapping of
// ParticipantEvent); never crashes, and what parses round-trips through JSON.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "google/protobuf/util/json_util.h"
#include "uhc/v1/common.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string line(reinterpret_cast<const char*>(data), size);
  uhc::v1::ParticipantEvent event;
  if (!google::protobuf::util::JsonStringToMessage(line, &event).ok()) return 0;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(event, &json).ok()) std::abort();
  uhc::v1::ParticipantEvent again;
  if (!google::protobuf::util::JsonStringToMessage(json, &again).ok()) std::abort();
  if (again.SerializeAsString() != event.SerializeAsString()) std::abort();
  return 0;
}
