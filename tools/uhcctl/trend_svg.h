#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace uhc::cli {

// One indicator over the points of a trend, oldest first.
struct TrendLine {
  std::string stroke;                          // SVG paint, e.g. "#1b9e77"
  std::vector<std::optional<int64_t>> values;  // basis points; nullopt where a point is missing
};

struct TrendSvgOptions {
  std::string title;          // hover text, plain (escaped here); "\n" breaks lines
  double width = 84;          // in CSS pixels, as the height
  double row_height = 9;      // each line's band
  int64_t min_span_bp = 100;  // the smallest range a band shows, so that small moves look small
};

// A small inline <svg class="trend"> (HTML5: no xmlns), a band per line, top to bottom in the
// order given. Each line is a sparkline of its own range: the band's top is its highest value,
// the bottom its lowest, and a range under min_span_bp is widened to it around its middle (a
// flat line sits mid-band). Points are evenly spaced over the width, as many as the longest
// line has; a missing value breaks the line, and a dot marks the last value present. A line with
// no value draws nothing. Coordinates are written with one decimal. Pure: the same input gives
// the same bytes.
std::string RenderTrendSvg(const std::vector<TrendLine>& lines, const TrendSvgOptions& options);

}  // namespace uhc::cli
