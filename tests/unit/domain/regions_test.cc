#include "common/domain/regions.h"

#include <string>
#include <utility>
#include <vector>

#include "common/config/files.h"
#include "common/domain/nik.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const RegionRegistry& Registry() {
  static const RegionRegistry* registry = [] {
    absl::StatusOr<RegionRegistry> loaded = LoadRegions(UHC_SOURCE_DIR "/data");
    if (!loaded.ok()) {
      ADD_FAILURE() << loaded.status();
      return new RegionRegistry(
          *RegionRegistry::FromCsv("code,name\n", "code,province_code,name\n"));
    }
    return new RegionRegistry(*std::move(loaded));
  }();
  return *registry;
}

std::string RefusalOf(absl::string_view provinces, absl::string_view regencies) {
  absl::StatusOr<RegionRegistry> r = RegionRegistry::FromCsv(provinces, regencies);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

constexpr absl::string_view kOneProvince = "code,name\n12,Sumatera Utara\n";
constexpr absl::string_view kRegencyHeader = "code,province_code,name\n";

TEST(RegionsTest, CountsAreThirtyEightAndFiveHundredFourteen) {
  EXPECT_EQ(Registry().provinces().size(), 38u);
  EXPECT_EQ(Registry().regencies().size(), 514u);
  ASSERT_EQ(Registry().all().size(), 1u + 38u + 514u);
  EXPECT_EQ(Registry().all().front()->code, "ID");
  EXPECT_EQ(&Registry().nation(), Registry().all().front());
  EXPECT_EQ(Registry().nation().name, "Indonesia");
  EXPECT_EQ(Registry().nation().level, RegionLevel::kNation);
  EXPECT_EQ(Registry().nation().parent_code, "");
}

TEST(RegionsTest, LooksUpTheSeedRegions) {
  const Region* batu_bara = Registry().Find("12.19");
  ASSERT_NE(batu_bara, nullptr);
  EXPECT_EQ(batu_bara->name, "Kabupaten Batu Bara");
  EXPECT_EQ(batu_bara->parent_code, "12");
  EXPECT_EQ(batu_bara->level, RegionLevel::kRegency);
  ASSERT_NE(Registry().Find("12.75"), nullptr);
  EXPECT_EQ(Registry().Find("12.75")->name, "Kota Binjai");
  ASSERT_NE(Registry().Find("16.07"), nullptr);
  EXPECT_EQ(Registry().Find("16.07")->name, "Kabupaten Banyuasin");
  const Region* banten = Registry().Find("36");
  ASSERT_NE(banten, nullptr);
  EXPECT_EQ(banten->name, "Banten");
  EXPECT_EQ(banten->level, RegionLevel::kProvince);
  EXPECT_EQ(banten->parent_code, "ID");
}

TEST(RegionsTest, UnknownCodesAreNull) {
  EXPECT_EQ(Registry().Find("12.99"), nullptr);
  EXPECT_EQ(Registry().Find("99"), nullptr);
  EXPECT_EQ(Registry().Find("1219"), nullptr);
  EXPECT_EQ(Registry().Find(""), nullptr);
}

TEST(RegionsTest, ChildrenOfAProvince) {
  std::vector<const Region*> children = Registry().Children("12");
  ASSERT_FALSE(children.empty());
  bool has_batu_bara = false;
  for (const Region* r : children) {
    EXPECT_EQ(r->parent_code, "12");
    EXPECT_EQ(r->level, RegionLevel::kRegency);
    has_batu_bara |= r->code == "12.19";
  }
  EXPECT_TRUE(has_batu_bara);
  EXPECT_TRUE(Registry().Children("12.19").empty());
  EXPECT_TRUE(Registry().Children("99").empty());
}

TEST(RegionsTest, ChildrenOfTheNationAreTheProvinces) {
  std::vector<const Region*> provinces = Registry().Children("ID");
  EXPECT_EQ(provinces.size(), 38u);
  EXPECT_EQ(provinces, Registry().provinces());
  size_t regencies = 0;
  for (const Region* p : provinces) regencies += Registry().Children(p->code).size();
  EXPECT_EQ(regencies, 514u);
}

TEST(RegionsTest, AllIsInCodeOrderWithTheNationFirst) {
  const std::vector<const Region*>& all = Registry().all();
  for (size_t i = 2; i < all.size(); ++i) {
    EXPECT_LT(all[i - 1]->code, all[i]->code);
  }
  EXPECT_EQ(all[1]->code, "11");
  EXPECT_EQ(all[2]->code, "11.01");
}

TEST(RegionsTest, EveryProvinceCanStartANik) {
  for (const Region* p : Registry().provinces()) {
    EXPECT_TRUE(ParseNik(p->code + "01010503890001").ok()) << p->code;
  }
}

TEST(RegionsTest, SurvivesAMove) {
  absl::StatusOr<RegionRegistry> loaded = LoadRegions(UHC_SOURCE_DIR "/data");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  RegionRegistry moved = *std::move(loaded);
  ASSERT_NE(moved.Find("12.19"), nullptr);
  EXPECT_EQ(moved.Find("12.19")->name, "Kabupaten Batu Bara");
  EXPECT_EQ(moved.Children("12").front()->parent_code, "12");
}

TEST(RegionsTest, SuggestsTheClosest) {
  EXPECT_THAT(Registry().Suggest("12.91"), StartsWith("12."));
  EXPECT_NE(Registry().Find(Registry().Suggest("12.91")), nullptr);
  EXPECT_EQ(Registry().Suggest("1219"), "12.19");
  EXPECT_EQ(Registry().Suggest("Banyuasin"), "16.07");
  EXPECT_EQ(Registry().Suggest("banyuasn"), "16.07");
  EXPECT_EQ(Registry().Suggest("binjai"), "12.75");
  EXPECT_EQ(Registry().Suggest("Batu Bara"), "12.19");
  EXPECT_EQ(Registry().Suggest("banten"), "36");
  EXPECT_EQ(Registry().Suggest("id"), "ID");
}

TEST(RegionsTest, ClosestAndEditDistance) {
  EXPECT_EQ(EditDistance("madia", "madya"), 1);
  EXPECT_EQ(EditDistance("", "abc"), 3);
  EXPECT_EQ(Closest("madia", {"utama", "madya", "pratama"}), "madya");
  EXPECT_EQ(Closest("x", {}), "");
}

TEST(RegionsTest, QuotedNamesMayHoldCommasAndQuotes) {
  absl::StatusOr<RegionRegistry> quoted =
      RegionRegistry::FromCsv("code,name\r\n12,\"Sumatera, Utara\"\r\n",
                              "code,province_code,name\n12.01,12,\"Kab \"\"A\"\"\"\n\n");
  ASSERT_TRUE(quoted.ok()) << quoted.status();
  EXPECT_EQ(quoted->Find("12")->name, "Sumatera, Utara");
  EXPECT_EQ(quoted->Find("12.01")->name, "Kab \"A\"");
  EXPECT_EQ(quoted->all().size(), 3u);
}

TEST(RegionsTest, MalformedCsvIsRefusedWithTheLine) {
  EXPECT_EQ(RefusalOf("code,name\n12,Sumatera Utara\n1X,Bad\n", kRegencyHeader),
            "provinces.csv:3: province code '1X' is not 2 digits");
  EXPECT_EQ(RefusalOf(kOneProvince, "code,province_code,name\n13.01,13,Kabupaten X\n"),
            "regencies.csv:2: unknown province '13'");
  EXPECT_EQ(RefusalOf(kOneProvince, "code,province_code,name\n12.01,12,A\n12-02,12,B\n"),
            "regencies.csv:3: regency code '12-02' is not NN.NN");
  EXPECT_EQ(RefusalOf(kOneProvince, "code,province_code,name\n13.01,12,Kabupaten X\n"),
            "regencies.csv:2: code 13.01 is not in province 12");
  EXPECT_EQ(RefusalOf("code,name\n12,A\n12,B\n", kRegencyHeader),
            "provinces.csv:3: duplicate code 12");
  EXPECT_EQ(RefusalOf(kOneProvince, "code,province_code,name\n12.01,12,A\n12.01,12,B\n"),
            "regencies.csv:3: duplicate code 12.01");
  EXPECT_EQ(RefusalOf(kOneProvince, "code,province_code,name\n12.01,12\n"),
            "regencies.csv:2: expected 3 fields (code,province_code,name), got 2");
  EXPECT_EQ(RefusalOf("code,name\n12,\"Sumatera\n", kRegencyHeader),
            "provinces.csv:2: unterminated quoted field");
  EXPECT_EQ(RefusalOf(kOneProvince, "code,province_code,name\n12.01,12,  \n"),
            "regencies.csv:2: regency 12.01 has no name");
  // The two files swapped.
  EXPECT_THAT(RefusalOf(kRegencyHeader, kOneProvince),
              HasSubstr("provinces.csv:1: header must be code,name"));
  EXPECT_THAT(RefusalOf("", kRegencyHeader), HasSubstr("provinces.csv:1"));
}

TEST(RegionsTest, MissingDirectoryIsNotFound) {
  absl::StatusOr<RegionRegistry> r = LoadRegions("/nonexistent/uhc-data");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("/nonexistent/uhc-data/provinces.csv"));
}

}  // namespace
}  // namespace uhc
