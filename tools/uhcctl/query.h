#pragma once

// What the ClassifierService commands share (query.cc, trend.cc).
#include <string>

#include "tools/uhcctl/cli.h"
#include "uhc/v1/classifier.grpc.pb.h"

namespace uhc::cli {

// --policy ID, and its value ("" for the service's default).
Option PolicyOption();
std::string PolicyOf(const Command& cmd);

// A region as a person typed it (code or name, see ResolveRegion in query.cc), as its code in
// *code; or the error printed and the exit code.
int Resolve(const Command& cmd, v1::ClassifierService::Stub* stub, const std::string& text,
            bool provinces_only, std::string* code);

}  // namespace uhc::cli
