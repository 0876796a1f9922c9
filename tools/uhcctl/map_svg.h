#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace uhc::cli {

// A point as GeoJSON writes it: {longitude, latitude} in degrees.
using LonLat = std::pair<double, double>;
// A polygon's rings: the first is the exterior, any others are holes. Holes wind against the
// exterior (RFC 7946), which is what lets SVG's nonzero fill rule leave them empty.
using Rings = std::vector<std::vector<LonLat>>;

// One region's outline, as read from a GeoJSON Feature.
struct MapFeature {
  std::string code;  // properties.code, e.g. "12.19" or "12"
  std::string name;  // properties.name
  std::vector<Rings> polygons;
};

// The features of a GeoJSON FeatureCollection whose geometries are Polygon or MultiPolygon and
// whose properties hold a string `code` (and optionally `name`). InvalidArgument, naming the
// feature, for anything else: the files are ours, so a surprise means a bad file, not a feature
// to skip.
absl::StatusOr<std::vector<MapFeature>> ParseFeatureCollection(absl::string_view geojson);

// How one region is drawn.
struct RegionStyle {
  std::string fill;       // SVG paint: "#3b528b" or "url(#id)" of a pattern in MapOptions::defs
  std::string stroke;     // outline colour
  std::string css_class;  // added to the path's class, e.g. "tier-madya"
  std::string title;      // hover text, plain (escaped here); "\n" breaks lines
};

struct MapOptions {
  std::string id;          // the <svg>'s id
  std::string label;       // aria-label of the whole map
  std::string path_class;  // class of every region's path, e.g. "kabkota"
  std::string defs;        // trusted SVG markup for <defs> (patterns the fills refer to)
  std::string background;  // fill of the sea behind the regions
  RegionStyle missing;     // for a feature whose code has no style; its title gets the name
  double width = 1000;     // viewBox width; the height follows from the projection
};

// One inline <svg> (HTML5: no xmlns needed): a background rect, then one <path> per feature
// with fill-rule nonzero, class "<path_class> <css_class>", data-code, and a <title> child.
// Projection: equirectangular, longitude scaled by cos(mid-latitude) of the features' bounds,
// north up, fitted to `width` with a small margin; coordinates written with one decimal.
// Pure: the same input gives the same bytes.
std::string RenderMapSvg(const std::vector<MapFeature>& features,
                         const std::map<std::string, RegionStyle>& styles,
                         const MapOptions& options);

// Text made safe for XML and HTML content and attribute values (& < > " ').
std::string XmlEscape(absl::string_view text);

}  // namespace uhc::cli
