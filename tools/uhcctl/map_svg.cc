#include "tools/uhcctl/map_svg.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace uhc::cli {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr double kMargin = 8;  // viewBox units around the land, so outlines are not clipped

const Value* Field(const Struct& object, const char* name) {
  auto it = object.fields().find(name);
  return it == object.fields().end() ? nullptr : &it->second;
}

const ListValue* List(const Value* value) {
  return value != nullptr && value->has_list_value() ? &value->list_value() : nullptr;
}

// A linear ring: at least four [lon, lat] positions (RFC 7946), each finite.
bool ParseRing(const Value& value, std::vector<LonLat>* ring) {
  const ListValue* positions = List(&value);
  if (positions == nullptr || positions->values_size() < 4) return false;
  for (const Value& position : positions->values()) {
    const ListValue* pair = List(&position);
    if (pair == nullptr || pair->values_size() < 2 ||
        pair->values(0).kind_case() != Value::kNumberValue ||
        pair->values(1).kind_case() != Value::kNumberValue) {
      return false;
    }
    double lon = pair->values(0).number_value(), lat = pair->values(1).number_value();
    if (!std::isfinite(lon) || !std::isfinite(lat)) return false;
    ring->emplace_back(lon, lat);
  }
  return true;
}

bool ParsePolygon(const Value& value, Rings* rings) {
  const ListValue* list = List(&value);
  if (list == nullptr || list->values_size() == 0) return false;
  for (const Value& ring : list->values()) {
    if (!ParseRing(ring, &rings->emplace_back())) return false;
  }
  return true;
}

absl::Status ParseGeometry(const Value* geometry, MapFeature* feature) {
  if (geometry == nullptr || !geometry->has_struct_value()) {
    return absl::InvalidArgumentError("no geometry object");
  }
  const Value* type = Field(geometry->struct_value(), "type");
  const Value* coordinates = Field(geometry->struct_value(), "coordinates");
  std::string kind = type != nullptr ? type->string_value() : "";
  if (kind == "Polygon") {
    if (coordinates != nullptr && ParsePolygon(*coordinates, &feature->polygons.emplace_back())) {
      return absl::OkStatus();
    }
  } else if (kind == "MultiPolygon") {
    const ListValue* polygons = List(coordinates);
    bool ok = polygons != nullptr && polygons->values_size() > 0;
    for (int i = 0; ok && i < polygons->values_size(); ++i) {
      ok = ParsePolygon(polygons->values(i), &feature->polygons.emplace_back());
    }
    if (ok) return absl::OkStatus();
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("geometry type '", kind, "' is not Polygon or MultiPolygon"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(kind, " coordinates are not rings of 4 or more [lon, lat] positions"));
}

struct Bounds {
  double min_lon = std::numeric_limits<double>::infinity();
  double max_lon = -std::numeric_limits<double>::infinity();
  double min_lat = std::numeric_limits<double>::infinity();
  double max_lat = -std::numeric_limits<double>::infinity();
};

// Maps degrees to viewBox units, in tenths (the written precision), north up.
class Projection {
 public:
  Projection(const std::vector<MapFeature>& features, double width) {
    Bounds b;
    for (const MapFeature& f : features) {
      for (const Rings& polygon : f.polygons) {
        for (const auto& ring : polygon) {
          for (const auto& [lon, lat] : ring) {
            b.min_lon = std::min(b.min_lon, lon);
            b.max_lon = std::max(b.max_lon, lon);
            b.min_lat = std::min(b.min_lat, lat);
            b.max_lat = std::max(b.max_lat, lat);
          }
        }
      }
    }
    if (b.min_lon > b.max_lon) b = Bounds{0, 1, 0, 1};  // nothing to draw
    constexpr double kPi = 3.14159265358979323846;
    x_scale_ = std::cos((b.min_lat + b.max_lat) / 2 * kPi / 180);
    double span_x = std::max((b.max_lon - b.min_lon) * x_scale_, 1e-9);
    scale_ = (width - 2 * kMargin) / span_x;
    min_lon_ = b.min_lon;
    max_lat_ = b.max_lat;
    height_ = std::ceil((b.max_lat - b.min_lat) * scale_ + 2 * kMargin);
  }

  double height() const { return height_; }
  long X(double lon) const {
    return std::lround(10 * (kMargin + (lon - min_lon_) * x_scale_ * scale_));
  }
  long Y(double lat) const { return std::lround(10 * (kMargin + (max_lat_ - lat) * scale_)); }

 private:
  double x_scale_ = 1, scale_ = 1, min_lon_ = 0, max_lat_ = 0, height_ = 0;
};

void AppendTenths(long tenths, std::string* out) {
  absl::StrAppend(out, tenths / 10, ".", tenths % 10);  // never negative: inside the margin
}

// "M x y x y ... Z" per ring (after M, further pairs are implicit line-tos). Consecutive points
// that round to the same tenth are written once: at national scale many vertices coincide.
std::string PathData(const MapFeature& feature, const Projection& projection) {
  std::string d;
  for (const Rings& polygon : feature.polygons) {
    for (const auto& ring : polygon) {
      long last_x = -1, last_y = -1;
      for (size_t i = 0; i < ring.size(); ++i) {
        long x = projection.X(ring[i].first), y = projection.Y(ring[i].second);
        if (i > 0 && x == last_x && y == last_y) continue;
        absl::StrAppend(&d, i == 0 ? "M" : " ");
        AppendTenths(x, &d);
        d.push_back(' ');
        AppendTenths(y, &d);
        last_x = x;
        last_y = y;
      }
      d.push_back('Z');
    }
  }
  return d;
}

}  // namespace

std::string XmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<std::vector<MapFeature>> ParseFeatureCollection(absl::string_view geojson) {
  Struct root;
  auto parsed = google::protobuf::util::JsonStringToMessage(std::string(geojson), &root);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not JSON: ", parsed.ToString()));
  }
  const Value* type = Field(root, "type");
  const ListValue* list = List(Field(root, "features"));
  if (type == nullptr || type->string_value() != "FeatureCollection" || list == nullptr) {
    return absl::InvalidArgumentError("not a GeoJSON FeatureCollection with a features array");
  }
  std::vector<MapFeature> features;
  for (int i = 0; i < list->values_size(); ++i) {
    const Value& value = list->values(i);
    const Value* properties =
        value.has_struct_value() ? Field(value.struct_value(), "properties") : nullptr;
    const Value* code = properties != nullptr && properties->has_struct_value()
                            ? Field(properties->struct_value(), "code")
                            : nullptr;
    if (code == nullptr || code->kind_case() != Value::kStringValue ||
        code->string_value().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("feature ", i, ": properties.code is not a non-empty string"));
    }
    MapFeature& feature = features.emplace_back();
    feature.code = code->string_value();
    const Value* name = Field(properties->struct_value(), "name");
    if (name != nullptr) feature.name = name->string_value();
    absl::Status geometry = ParseGeometry(Field(value.struct_value(), "geometry"), &feature);
    if (!geometry.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("feature ", i, " (", feature.code, "): ", geometry.message()));
    }
  }
  return features;
}

std::string RenderMapSvg(const std::vector<MapFeature>& features,
                         const std::map<std::string, RegionStyle>& styles,
                         const MapOptions& options) {
  Projection projection(features, options.width);
  std::string svg = absl::StrFormat(
      "<svg id=\"%s\" class=\"map\" viewBox=\"0 0 %g %g\" aria-label=\"%s\">",
      XmlEscape(options.id), options.width, projection.height(), XmlEscape(options.label));
  if (!options.defs.empty()) absl::StrAppend(&svg, "<defs>", options.defs, "</defs>");
  absl::StrAppend(&svg, "<rect class=\"sea\" width=\"100%\" height=\"100%\" fill=\"",
                  XmlEscape(options.background), "\"/>",
                  "<g fill-rule=\"nonzero\" stroke-width=\"0.35\" stroke-linejoin=\"round\">");
  for (const MapFeature& feature : features) {
    auto it = styles.find(feature.code);
    const RegionStyle& style = it != styles.end() ? it->second : options.missing;
    std::string title = it != styles.end()
                            ? style.title
                            : absl::StrCat(feature.name, " (", feature.code, ")\n", style.title);
    absl::StrAppend(
        &svg, "<path class=\"", XmlEscape(options.path_class), style.css_class.empty() ? "" : " ",
        XmlEscape(style.css_class), "\" data-code=\"", XmlEscape(feature.code), "\" fill=\"",
        XmlEscape(style.fill), "\" stroke=\"", XmlEscape(style.stroke), "\" d=\"",
        PathData(feature, projection), "\"><title>", XmlEscape(title), "</title></path>");
  }
  absl::StrAppend(&svg, "</g></svg>");
  return svg;
}

}  // namespace uhc::cli
