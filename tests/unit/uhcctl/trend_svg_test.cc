#include "tools/uhcctl/trend_svg.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace uhc::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The d attribute of the `n`th <path> (from 0), or "" when there is none.
std::string PathData(const std::string& svg, int n) {
  size_t at = 0;
  for (int i = 0; i <= n; ++i) {
    at = svg.find("<path ", at);
    if (at == std::string::npos) return "";
    at += 6;
  }
  const size_t d = svg.find(" d=\"", at) + 4;
  return svg.substr(d, svg.find('"', d) - d);
}

int Count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

TrendSvgOptions Options() {
  TrendSvgOptions options;
  options.width = 23;      // 1.5 + 4 steps of 5 + 1.5: x at 1.5, 6.5, 11.5, 16.5, 21.5
  options.row_height = 9;  // bands from 1.5 to 7.5, 10.5 to 16.5, ...
  options.min_span_bp = 100;
  options.title = "coverage <rising> & \"more\"";
  return options;
}

TEST(TrendSvgTest, EachLineSpansItsOwnBandFromLowestToHighest) {
  const std::string svg = RenderTrendSvg(
      {{"#1b9e77", {9000, 9500, 9800, 9800, 9900}}, {"#d95f02", {100, 400, 400, 1000, 700}}},
      Options());
  EXPECT_EQ(svg.rfind("<svg class=\"trend\" width=\"23\" height=\"18\" viewBox=\"0 0 23 18\"", 0),
            0u)
      << svg;
  EXPECT_THAT(svg, Not(HasSubstr("xmlns"))) << "inline in HTML5";
  // 9000 at the band's bottom (7.5), 9900 at its top (1.5); 9500 5/9 of the way up.
  EXPECT_EQ(PathData(svg, 0), "M1.5,7.5 L6.5,4.2 L11.5,2.2 L16.5,2.2 L21.5,1.5");
  // The second band, 9 lower: 100 at 16.5, 1000 at 10.5.
  EXPECT_EQ(PathData(svg, 1), "M1.5,16.5 L6.5,14.5 L11.5,14.5 L16.5,10.5 L21.5,12.5");
  EXPECT_THAT(svg, HasSubstr("<path stroke=\"#1b9e77\" d=\"M1.5,7.5"));
  EXPECT_THAT(svg, HasSubstr("<path stroke=\"#d95f02\" d=\"M1.5,16.5"));
  // A dot on each last value, in the line's colour.
  EXPECT_THAT(svg, HasSubstr("<circle cx=\"21.5\" cy=\"1.5\" r=\"1.5\" fill=\"#1b9e77\"/>"));
  EXPECT_THAT(svg, HasSubstr("<circle cx=\"21.5\" cy=\"12.5\" r=\"1.5\" fill=\"#d95f02\"/>"));
  EXPECT_EQ(Count(svg, "<circle "), 2);
  EXPECT_THAT(svg, HasSubstr("fill=\"none\"")) << "open lines are not filled";
  EXPECT_EQ(svg.substr(svg.size() - 6), "</svg>");
}

TEST(TrendSvgTest, ATitleEscaped) {
  const std::string svg = RenderTrendSvg({{"#000", {1, 2}}}, Options());
  EXPECT_THAT(svg, HasSubstr("<title>coverage &lt;rising&gt; &amp; &quot;more&quot;</title>"));
}

TEST(TrendSvgTest, SmallMovesLookSmallAndAFlatLineSitsMidBand) {
  // 20 basis points on a band of at least 100: from 4.5 - 0.6 to 4.5 + 0.6.
  const std::string small = RenderTrendSvg({{"#000", {9800, 9820, 9810}}}, Options());
  EXPECT_EQ(PathData(small, 0), "M1.5,5.1 L11.5,3.9 L21.5,4.5") << small;
  const std::string flat = RenderTrendSvg({{"#000", {5000, 5000, 5000}}}, Options());
  EXPECT_EQ(PathData(flat, 0), "M1.5,4.5 L11.5,4.5 L21.5,4.5") << flat;
}

TEST(TrendSvgTest, AMissingValueBreaksTheLineAndTheDotMarksTheLastPresent) {
  const std::string svg =
      RenderTrendSvg({{"#000", {0, 100, std::nullopt, 200, std::nullopt}}}, Options());
  EXPECT_EQ(PathData(svg, 0), "M1.5,7.5 L6.5,4.5 M16.5,1.5") << svg;
  EXPECT_THAT(svg, HasSubstr("<circle cx=\"16.5\" cy=\"1.5\""));
}

TEST(TrendSvgTest, ALineWithNoValueDrawsNothingAndKeepsItsBand) {
  const std::string svg =
      RenderTrendSvg({{"#111", {std::nullopt, std::nullopt}}, {"#222", {300, 300}}}, Options());
  EXPECT_THAT(svg, Not(HasSubstr("#111")));
  EXPECT_EQ(PathData(svg, 0), "M1.5,13.5 L21.5,13.5") << "second band, mid";
  EXPECT_THAT(svg, HasSubstr("height=\"18\""));
}

TEST(TrendSvgTest, OnePointIsADotInTheMiddle) {
  const std::string svg = RenderTrendSvg({{"#000", {4200}}}, Options());
  EXPECT_EQ(PathData(svg, 0), "M11.5,4.5");
  EXPECT_THAT(svg, HasSubstr("<circle cx=\"11.5\" cy=\"4.5\""));
}

TEST(TrendSvgTest, PureTheSameInputGivesTheSameBytes) {
  const std::vector<TrendLine> lines = {{"#1b9e77", {9000, 9100}}, {"#d95f02", {8000, 7000}}};
  EXPECT_EQ(RenderTrendSvg(lines, Options()), RenderTrendSvg(lines, Options()));
}

}  // namespace
}  // namespace uhc::cli
