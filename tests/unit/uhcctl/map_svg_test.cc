#include "tools/uhcctl/map_svg.h"

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace uhc::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A square island with a lake (exterior CCW, hole CW) in the north-west, and two islands in the
// south-east. The names carry every character XML must escape.
constexpr char kCollection[] = R"({"type": "FeatureCollection", "features": [
  {"type": "Feature", "properties": {"code": "12.19", "name": "Danau & <Pulau>", "lat": 5.5},
   "geometry": {"type": "Polygon", "coordinates": [
     [[100, 5], [101, 5], [101, 6], [100, 6], [100, 5]],
     [[100.4, 5.4], [100.4, 5.6], [100.6, 5.6], [100.6, 5.4], [100.4, 5.4]]]}},
  {"type": "Feature", "properties": {"code": "12.75", "name": "Kota \"Dua\" 'Pulau'"},
   "geometry": {"type": "MultiPolygon", "coordinates": [
     [[[120, -10], [121, -10], [121, -9], [120, -10]]],
     [[[122, -9], [123, -9], [123, -8], [122, -9]]]]}}]})";

struct Path {
  std::string attributes, d, title;
};

// The text between `open` (after position `from`) and the next `close`; npos-safe. (No
// std::regex: GCC 12 warns falsely inside it under the sanitizer build.)
std::string Between(const std::string& text, const std::string& open, const std::string& close,
                    size_t* from) {
  size_t start = text.find(open, *from);
  if (start == std::string::npos) return *from = std::string::npos, "";
  start += open.size();
  size_t end = text.find(close, start);
  if (end == std::string::npos) return *from = std::string::npos, "";
  *from = end + close.size();
  return text.substr(start, end - start);
}

// Each <path ATTRIBUTES d="D"><title>TITLE</title></path>.
std::vector<Path> Paths(const std::string& svg) {
  std::vector<Path> paths;
  size_t at = 0;
  while (at != std::string::npos) {
    std::string element = Between(svg, "<path ", "</path>", &at);
    if (at == std::string::npos) break;
    size_t d = element.find(" d=\"");
    size_t title = element.find("\"><title>");
    if (d == std::string::npos || title == std::string::npos) continue;
    std::string text = element.substr(title + 9);
    paths.push_back({element.substr(0, d), element.substr(d + 4, title - d - 4),
                     text.substr(0, text.find("</title>"))});
  }
  return paths;
}

// Every "x y" pair of a path's data (numbers separated by a space, commands in between).
std::vector<std::pair<double, double>> Points(const std::string& d) {
  std::vector<std::pair<double, double>> points;
  const char* p = d.c_str();
  while (*p != '\0') {
    if ((*p >= '0' && *p <= '9') || *p == '.') {
      char* end = nullptr;
      double x = std::strtod(p, &end);
      if (*end == ' ') {
        double y = std::strtod(end + 1, &end);
        points.emplace_back(x, y);
      }
      p = end;
    } else {
      ++p;
    }
  }
  return points;
}

std::string Render(const std::vector<MapFeature>& features) {
  std::map<std::string, RegionStyle> styles;
  styles["12.19"] = {"#3b528b", "#ffffff", "tier-0", "Danau & <Pulau> (12.19)\nUHC Utama"};
  MapOptions options;
  options.id = "m";
  options.label = "a <test> map";
  options.path_class = "kabkota";
  options.background = "#dbe8f3";
  options.missing = {"#ffffff", "#888888", "no-data", "no data"};
  return RenderMapSvg(features, styles, options);
}

TEST(MapSvgTest, OnePathPerFeatureWithTitleInsideTheViewBox) {
  absl::StatusOr<std::vector<MapFeature>> features = ParseFeatureCollection(kCollection);
  ASSERT_TRUE(features.ok()) << features.status();
  ASSERT_EQ(features->size(), 2u);
  EXPECT_EQ((*features)[0].polygons.size(), 1u);
  EXPECT_EQ((*features)[0].polygons[0].size(), 2u) << "exterior and hole";
  EXPECT_EQ((*features)[1].polygons.size(), 2u);

  std::string svg = Render(*features);
  size_t at = 0;
  const std::string box = Between(svg, "viewBox=\"0 0 ", "\"", &at);
  ASSERT_NE(at, std::string::npos) << svg;
  double width = std::stod(box), height = std::stod(box.substr(box.find(' ') + 1));
  EXPECT_EQ(width, 1000);
  EXPECT_GT(height, 100);
  EXPECT_LT(height, width) << "the features span more longitude than latitude";

  std::vector<Path> paths = Paths(svg);
  ASSERT_EQ(paths.size(), 2u) << svg;
  EXPECT_THAT(paths[0].attributes, HasSubstr("class=\"kabkota tier-0\" data-code=\"12.19\""));
  EXPECT_THAT(paths[0].attributes, HasSubstr("fill=\"#3b528b\""));
  EXPECT_THAT(paths[1].attributes, HasSubstr("class=\"kabkota no-data\" data-code=\"12.75\""));
  EXPECT_THAT(svg, HasSubstr("fill-rule=\"nonzero\""));
  // The lake is a second ring of the same path (so nonzero fill leaves it open); each island
  // of the MultiPolygon is a ring of the other.
  EXPECT_EQ(std::count(paths[0].d.begin(), paths[0].d.end(), 'M'), 2) << paths[0].d;
  EXPECT_EQ(std::count(paths[1].d.begin(), paths[1].d.end(), 'Z'), 2) << paths[1].d;

  double north_max_y = 0, south_min_y = height;
  for (size_t i = 0; i < paths.size(); ++i) {
    for (const auto& [x, y] : Points(paths[i].d)) {
      EXPECT_GE(x, 0);
      EXPECT_LE(x, width);
      EXPECT_GE(y, 0);
      EXPECT_LE(y, height);
      if (i == 0) north_max_y = std::max(north_max_y, y);
      if (i == 1) south_min_y = std::min(south_min_y, y);
    }
  }
  EXPECT_LT(north_max_y, south_min_y) << "north is up";
  EXPECT_THAT(paths[0].d, Not(HasSubstr(","))) << "one decimal, no locale";
}

TEST(MapSvgTest, NamesAndTitlesAreEscaped) {
  std::string svg = Render(*ParseFeatureCollection(kCollection));
  std::vector<Path> paths = Paths(svg);
  ASSERT_EQ(paths.size(), 2u) << svg;
  EXPECT_EQ(paths[0].title, "Danau &amp; &lt;Pulau&gt; (12.19)\nUHC Utama");
  EXPECT_EQ(paths[1].title, "Kota &quot;Dua&quot; &#39;Pulau&#39; (12.75)\nno data");
  EXPECT_THAT(svg, HasSubstr("aria-label=\"a &lt;test&gt; map\""));
  EXPECT_THAT(svg, Not(HasSubstr("<Pulau>")));
  EXPECT_THAT(svg, Not(HasSubstr("<test>")));
  EXPECT_THAT(svg, Not(HasSubstr("xmlns"))) << "inline in HTML5, no namespace needed";
}

TEST(MapSvgTest, RejectsWhatIsNotOurGeoJson) {
  EXPECT_FALSE(ParseFeatureCollection("not json").ok());
  EXPECT_FALSE(ParseFeatureCollection(R"({"type": "Feature"})").ok());
  auto point = ParseFeatureCollection(R"({"type": "FeatureCollection", "features": [
      {"properties": {"code": "11"}, "geometry": {"type": "Point", "coordinates": [1, 2]}}]})");
  ASSERT_FALSE(point.ok());
  EXPECT_THAT(std::string(point.status().message()), HasSubstr("feature 0 (11)"));
  auto no_code = ParseFeatureCollection(R"({"type": "FeatureCollection", "features": [
      {"properties": {"name": "x"}, "geometry": {"type": "Polygon",
       "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]})");
  EXPECT_FALSE(no_code.ok());
  auto short_ring = ParseFeatureCollection(R"({"type": "FeatureCollection", "features": [
      {"properties": {"code": "11"}, "geometry": {"type": "Polygon",
       "coordinates": [[[0, 0], [1, 0], [0, 0]]]}}]})");
  EXPECT_FALSE(short_ring.ok());
}

TEST(MapSvgTest, EmptyCollectionGivesAnEmptyMap) {
  std::string svg = Render({});
  EXPECT_THAT(svg, HasSubstr("<svg id=\"m\""));
  EXPECT_TRUE(Paths(svg).empty());
}

}  // namespace
}  // namespace uhc::cli
