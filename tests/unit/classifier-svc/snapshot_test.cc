#include "classifier-svc/snapshot.h"

#include "common/config/files.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

struct Fixture {
  RegionRegistry regions = *LoadRegions(UHC_SOURCE_DIR "/data");
  PolicySet policies = *LoadPolicies(UHC_SOURCE_DIR "/config/policies");
};

RegionAggregate Aggregate(int64_t population, int64_t ppu, int64_t ppu_active, int64_t version) {
  RegionAggregate a;
  a.counts.population = population;
  a.counts.participants[3] = ppu;
  a.counts.active[3] = ppu_active;
  a.version = version;
  return a;
}

TEST(SnapshotTest, ProvincesAndTheNationRollUpTheirKabKota) {
  Fixture f;
  std::map<std::string, RegionAggregate, std::less<>> aggregates;
  aggregates["12.19"] = Aggregate(1000, 900, 800, 3);
  aggregates["12.71"] = Aggregate(2000, 1000, 500, 4);
  aggregates["36.01"] = Aggregate(500, 100, 100, 1);
  auto snapshot = Snapshot::Build(f.regions, f.policies, aggregates, absl::Now(), nullptr);

  const SnapshotEntry* province = snapshot->Find("12");
  ASSERT_NE(province, nullptr);
  EXPECT_EQ(province->counts.population, 3000);
  EXPECT_EQ(province->counts.Participants(), 1900);
  EXPECT_EQ(province->counts.Active(), 1300);
  EXPECT_EQ(province->data_version, 7);

  const SnapshotEntry* nation = snapshot->Find("ID");
  ASSERT_NE(nation, nullptr);
  EXPECT_EQ(nation->counts.population, 3500);
  EXPECT_EQ(nation->counts.Participants(), 2000);
  EXPECT_EQ(snapshot->entries().size(), f.regions.all().size());
}

TEST(SnapshotTest, AProvincesOwnPopulationWinsOverTheSum) {
  Fixture f;
  std::map<std::string, RegionAggregate, std::less<>> aggregates;
  aggregates["12.19"] = Aggregate(1000, 900, 800, 1);
  aggregates["12"] = Aggregate(15'000'000, 0, 0, 1);
  auto snapshot = Snapshot::Build(f.regions, f.policies, aggregates, absl::Now(), nullptr);
  EXPECT_EQ(snapshot->Find("12")->counts.population, 15'000'000);
  EXPECT_EQ(snapshot->Find("12")->counts.Participants(), 900);
}

}  // namespace
}  // namespace uhc
