#include "common/regions.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

using ::testing::HasSubstr;

const RegionRegistry& Registry() {
  static const RegionRegistry* r = [] {
    auto loaded = RegionRegistry::LoadFromDirectory(UHC_SOURCE_DIR "/data");
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new RegionRegistry(*std::move(loaded));
  }();
  return *r;
}

TEST(RegionsTest, CountsAreThirtyEightAndFiveHundredFourteen) {
  EXPECT_EQ(Registry().provinces().size(), 38u);
  EXPECT_EQ(Registry().regencies().size(), 514u);
  EXPECT_EQ(Registry().all().size(), 1u + 38u + 514u);
  EXPECT_EQ(Registry().all().front()->code, "ID");
  EXPECT_EQ(Registry().Children("ID").size(), 38u);
}

TEST(RegionsTest, LooksUpTheSeedRegions) {
  const Region* batu_bara = Registry().Find("12.19");
  ASSERT_NE(batu_bara, nullptr);
  EXPECT_EQ(batu_bara->name, "Kabupaten Batu Bara");
  EXPECT_EQ(batu_bara->parent_code, "12");
  EXPECT_EQ(batu_bara->level, RegionLevel::kRegency);
  EXPECT_EQ(Registry().Find("12.75")->name, "Kota Binjai");
  EXPECT_EQ(Registry().Find("16.07")->name, "Kabupaten Banyuasin");
  const Region* banten = Registry().Find("36");
  ASSERT_NE(banten, nullptr);
  EXPECT_EQ(banten->name, "Banten");
  EXPECT_EQ(banten->level, RegionLevel::kProvince);
  EXPECT_EQ(Registry().Find("12.99"), nullptr);
  EXPECT_EQ(Registry().Find(""), nullptr);
}

TEST(RegionsTest, ChildrenOfAProvince) {
  std::vector<const Region*> children = Registry().Children("12");
  ASSERT_FALSE(children.empty());
  bool has_batu_bara = false;
  for (const Region* r : children) {
    EXPECT_EQ(r->parent_code, "12");
    has_batu_bara |= r->code == "12.19";
  }
  EXPECT_TRUE(has_batu_bara);
  EXPECT_TRUE(Registry().Children("12.19").empty());
}

TEST(RegionsTest, SuggestsTheClosest) {
  EXPECT_EQ(Registry().Suggest("12.91").substr(0, 3), "12.");
  EXPECT_EQ(Registry().Suggest("Banyuasin"), "16.07");
  EXPECT_EQ(Registry().Suggest("binjai"), "12.75");
  EXPECT_EQ(Closest("madia", {"utama", "madya", "pratama"}), "madya");
}

TEST(RegionsTest, MalformedCsvIsRefusedWithTheLine) {
  auto bad_code = RegionRegistry::FromCsv("code,name\n12,Sumatera Utara\n1X,Bad\n",
                                          "code,province_code,name\n");
  ASSERT_FALSE(bad_code.ok());
  EXPECT_THAT(std::string(bad_code.status().message()), HasSubstr("provinces.csv:3"));
  auto unknown = RegionRegistry::FromCsv("code,name\n12,Sumatera Utara\n",
                                         "code,province_code,name\n13.01,13,Kabupaten X\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("regencies.csv:2"));
  auto quoted = RegionRegistry::FromCsv("code,name\n12,\"Sumatera, Utara\"\n",
                                        "code,province_code,name\n12.01,12,\"Kab \"\"A\"\"\"\n");
  ASSERT_TRUE(quoted.ok()) << quoted.status();
  EXPECT_EQ(quoted->Find("12")->name, "Sumatera, Utara");
  EXPECT_EQ(quoted->Find("12.01")->name, "Kab \"A\"");
}

}  // namespace
}  // namespace uhc
