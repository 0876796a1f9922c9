#include "classifier-svc/change_hub.h"

#include <vector>

#include "gtest/gtest.h"

namespace uhc {
namespace {

class Recorder : public TierChangeSubscriber {
 public:
  void Deliver(const LoggedChange& change) override { delivered.push_back(change.position); }
  void KeepAlive(std::optional<LogPosition>) override { ++keepalives; }
  void Close() override { ++closes; }
  std::vector<LogPosition> delivered;
  int keepalives = 0;
  int closes = 0;
};

LoggedChange At(uint64_t ms, uint64_t seq) {
  LoggedChange c;
  c.position = LogPosition{ms, seq};
  return c;
}

TEST(ChangeHubTest, DeliversInOrderAndNeverTwice) {
  TierChangeHub hub;
  Recorder r;
  hub.Subscribe(&r);
  hub.Publish({At(1, 0), At(2, 0)});
  hub.Publish({At(2, 0), At(1, 5), At(3, 1)});  // already published, older, then new
  ASSERT_EQ(r.delivered.size(), 3u);
  EXPECT_EQ(r.delivered[2], (LogPosition{3, 1}));
}

// A stream that subscribes while the server shuts down (a watcher reconnecting at once after
// the shutdown closed its stream) must be closed too, or gRPC's shutdown waits for it forever.
TEST(ChangeHubTest, ASubscriberAfterCloseAllIsClosedAtOnce) {
  TierChangeHub hub;
  Recorder before, after;
  hub.Subscribe(&before);
  hub.CloseAll();
  EXPECT_EQ(before.closes, 1);
  hub.Subscribe(&after);
  EXPECT_EQ(after.closes, 1);
  hub.Unsubscribe(&before);
  hub.Unsubscribe(&after);
  EXPECT_EQ(hub.subscribers(), 0u);
}

}  // namespace
}  // namespace uhc
