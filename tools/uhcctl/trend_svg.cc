#include "tools/uhcctl/trend_svg.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/uhcctl/map_svg.h"

namespace uhc::cli {
namespace {

constexpr double kPad = 1.5;  // around each band and at the ends, so strokes and dots fit

std::string Coordinate(double x, double y) { return absl::StrFormat("%.1f,%.1f", x, y); }

}  // namespace

std::string RenderTrendSvg(const std::vector<TrendLine>& lines, const TrendSvgOptions& options) {
  size_t points = 0;
  for (const TrendLine& line : lines) points = std::max(points, line.values.size());
  const double height = options.row_height * static_cast<double>(lines.size());
  const double step = points > 1 ? (options.width - 2 * kPad) / static_cast<double>(points - 1) : 0;
  auto x_of = [&](size_t i) {
    return points > 1 ? kPad + step * static_cast<double>(i) : options.width / 2;
  };
  std::string svg = absl::StrFormat(
      "<svg class=\"trend\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" role=\"img\" "
      "fill=\"none\" stroke-width=\"1.2\" stroke-linejoin=\"round\" stroke-linecap=\"round\">"
      "<title>%s</title>",
      options.width, height, options.width, height, XmlEscape(options.title));
  for (size_t row = 0; row < lines.size(); ++row) {
    const TrendLine& line = lines[row];
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (const std::optional<int64_t>& v : line.values) {
      if (v) lo = std::min(lo, *v), hi = std::max(hi, *v);
    }
    if (lo > hi) continue;  // no value at all
    double bottom = static_cast<double>(lo), span = static_cast<double>(hi - lo);
    if (hi - lo < options.min_span_bp) {
      span = static_cast<double>(options.min_span_bp);
      bottom = (static_cast<double>(lo) + static_cast<double>(hi) - span) / 2;
    }
    const double top = options.row_height * static_cast<double>(row) + kPad;
    const double band = options.row_height - 2 * kPad;
    auto y_of = [&](int64_t v) {
      return top + band * (1 - (static_cast<double>(v) - bottom) / span);
    };
    std::string d;
    bool drawing = false;
    size_t last = 0;
    for (size_t i = 0; i < line.values.size(); ++i) {
      if (!line.values[i]) {
        drawing = false;
        continue;
      }
      absl::StrAppend(&d, d.empty() ? "" : " ", drawing ? "L" : "M",
                      Coordinate(x_of(i), y_of(*line.values[i])));
      drawing = true;
      last = i;
    }
    const std::string stroke = XmlEscape(line.stroke);
    absl::StrAppend(&svg, "<path stroke=\"", stroke, "\" d=\"", d, "\"/>",
                    absl::StrFormat("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.5\" fill=\"%s\"/>",
                                    x_of(last), y_of(*line.values[last]), stroke));
  }
  return svg + "</svg>";
}

}  // namespace uhc::cli
