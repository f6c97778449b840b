#include "drivers/meter/model_registry.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "drivers/meter/quantity.hpp"
#include "drivers/meter/reading.hpp"

namespace estate::drivers::meter {

namespace modbus = protocols::modbus;

namespace {

ModelError error_at(const std::string& file, const YAML::Node& node, std::string key,
                    std::string message) {
  const auto mark = node.Mark();
  return ModelError{file, mark.is_null() ? 0 : mark.line + 1, mark.is_null() ? 0 : mark.column + 1,
                    std::move(key), std::move(message)};
}

// Accepts decimal and 0x-prefixed hexadecimal register numbers.
std::optional<std::uint32_t> parse_unsigned(const std::string& s) {
  std::uint32_t v = 0;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    b += 2;
    base = 16;
  }
  auto [p, ec] = std::from_chars(b, e, v, base);
  if (ec != std::errc() || p != e || b == e) return std::nullopt;
  return v;
}

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

// " (did you mean 'x'?)" for a name one or two edits from a vocabulary entry.
std::string suggestion(std::string_view s) {
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      std::size_t prev = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        const std::size_t cur = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
        prev = cur;
      }
    }
    return row[b.size()];
  };
  std::string_view best;
  std::size_t best_d = 3;
  for (const auto& e : quantities()) {
    const auto d = distance(s, e.name);
    if (d < best_d) {
      best_d = d;
      best = e.name;
    }
  }
  // An old or partial name inside a vocabulary entry ("energy_import": active_energy_import).
  for (const auto& e : quantities()) {
    if (best.empty() && s.size() >= 4 && e.name.find(s) != std::string_view::npos) best = e.name;
  }
  return best.empty() ? std::string() : " (did you mean '" + std::string(best) + "'?)";
}

class Parser {
 public:
  Parser(const std::string& file, std::vector<ModelError>& errors) : file_(file), errors_(errors) {}

  std::optional<std::string> text(const YAML::Node& map, const char* key, const std::string& path,
                                  bool required) {
    auto n = map[key];
    if (!n) {
      if (required) errors_.push_back(error_at(file_, map, path + key, "missing"));
      return std::nullopt;
    }
    if (!n.IsScalar()) {
      errors_.push_back(error_at(file_, n, path + key, "must be a single value"));
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<modbus::ModelDef> model(const YAML::Node& root) {
    if (!root.IsMap()) {
      errors_.push_back(error_at(file_, root, "", "a model file must be a mapping"));
      return std::nullopt;
    }
    static constexpr std::string_view kKeys[] = {"name", "manufacturer", "description", "source",
                                                 "function", "word_order", "max_registers",
                                                 "points"};
    check_keys(root, "", kKeys);
    const std::size_t before = errors_.size();
    modbus::ModelDef m;
    if (auto s = text(root, "name", "", true)) {
      if (s->empty()) errors_.push_back(error_at(file_, root["name"], "name", "must not be empty"));
      m.name = *s;
    }
    m.manufacturer = text(root, "manufacturer", "", false).value_or("");
    m.description = text(root, "description", "", false).value_or("");
    if (auto s = text(root, "function", "", true)) {
      if (auto f = modbus::parse_function(*s)) {
        m.function = *f;
      } else {
        errors_.push_back(error_at(file_, root["function"], "function",
                                   "'" + *s + "' is not a register function (input, holding)"));
      }
    }
    modbus::WordOrder default_order = modbus::WordOrder::high_first;
    if (auto s = text(root, "word_order", "", false)) {
      if (auto o = modbus::parse_word_order(*s)) {
        default_order = *o;
      } else {
        errors_.push_back(error_at(file_, root["word_order"], "word_order",
                                   "'" + *s + "' is not a word order (big, little)"));
      }
    }
    if (auto s = text(root, "max_registers", "", false)) {
      auto v = parse_unsigned(*s);
      if (!v || *v < 1 || *v > 125) {
        errors_.push_back(error_at(file_, root["max_registers"], "max_registers",
                                   "'" + *s + "' must be 1..125"));
      } else {
        m.max_registers = static_cast<std::uint16_t>(*v);
      }
    }
    auto points = root["points"];
    if (!points || !points.IsSequence() || points.size() == 0) {
      errors_.push_back(error_at(file_, points ? points : root, "points",
                                 "must be a non-empty list of points"));
    } else {
      std::size_t billed = 0;
      bool counts = false;  // a cumulative point: a register billing could charge from
      for (std::size_t i = 0; i < points.size(); ++i) {
        const std::string at = "points[" + std::to_string(i) + "]";
        if (auto p = point(points[i], at + ".", default_order)) {
          for (const auto& q : m.points) {
            if (q.name == p->name) {
              errors_.push_back(error_at(file_, points[i]["name"], at + ".name",
                                         "duplicate point name '" + p->name + "'"));
            }
            if (q.quantity == p->quantity) {
              // A reading is one register of a meter: one point per quantity.
              errors_.push_back(error_at(file_, points[i]["quantity"], at + ".quantity",
                                         "quantity '" + p->quantity + "' is already read by point '" +
                                             q.name + "'"));
            }
          }
          const auto q = find_quantity(p->quantity);
          counts = counts || (q && cumulative(*q));
          if (p->billed) {
            ++billed;
            if (q && !cumulative(*q)) {
              errors_.push_back(error_at(file_, points[i]["billed"], at + ".billed",
                                         "'" + p->quantity +
                                             "' is not a cumulative register and cannot be billed"));
            } else if (billed > 1) {
              errors_.push_back(error_at(file_, points[i]["billed"], at + ".billed",
                                         "a second billed point: one point per model is billed"));
            }
          }
          m.points.push_back(std::move(*p));
        }
      }
      // A model that counts energy or volume names the register billing charges from; one with
      // no cumulative point (a power analyser) has none, and its meters are never billed.
      if (counts && billed == 0 && errors_.size() == before) {
        errors_.push_back(error_at(file_, points, "points",
                                   "no point is marked 'billed: true': mark the register billing "
                                   "charges from (e.g. active_energy_import)"));
      }
    }
    if (errors_.size() != before) return std::nullopt;
    return m;
  }

 private:
  void check_keys(const YAML::Node& map, const std::string& path,
                  std::span<const std::string_view> known) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        errors_.push_back(error_at(file_, it->first, path + key, "unknown key"));
      }
    }
  }

  std::optional<modbus::PointDef> point(const YAML::Node& n, const std::string& path,
                                        modbus::WordOrder default_order) {
    if (!n.IsMap()) {
      errors_.push_back(error_at(file_, n, path.substr(0, path.size() - 1), "must be a mapping"));
      return std::nullopt;
    }
    static constexpr std::string_view kKeys[] = {"name",   "register", "type", "word_order",
                                                 "scale",  "offset",   "unit", "quantity",
                                                 "billed"};
    check_keys(n, path, kKeys);
    const std::size_t before = errors_.size();
    modbus::PointDef p;
    p.word_order = default_order;
    p.name = text(n, "name", path, true).value_or("");
    if (auto s = text(n, "register", path, true)) {
      auto v = parse_unsigned(*s);
      if (!v || *v > 0xFFFF) {
        errors_.push_back(error_at(file_, n["register"], path + "register",
                                   "'" + *s + "' is not a register address 0..65535"));
      } else {
        p.address = static_cast<std::uint16_t>(*v);
      }
    }
    if (auto s = text(n, "type", path, true)) {
      if (auto t = modbus::parse_point_type(*s)) {
        p.type = *t;
      } else {
        errors_.push_back(error_at(
            file_, n["type"], path + "type",
            "unknown type '" + *s + "' (u16, s16, u32, s32, u64, float32, float64, bcd, bcd32)"));
      }
    }
    if (auto s = text(n, "word_order", path, false)) {
      if (auto o = modbus::parse_word_order(*s)) {
        p.word_order = *o;
      } else {
        errors_.push_back(error_at(file_, n["word_order"], path + "word_order",
                                   "'" + *s + "' is not a word order (big, little)"));
      }
    }
    for (const char* key : {"scale", "offset"}) {
      if (auto s = text(n, key, path, false)) {
        // Kept as written (0.01 is 1 x 10^-2): values are computed exactly from it, so only a
        // plain decimal is accepted, not 1e-3 or anything a float would have to approximate.
        if (auto v = parse_decimal(*s)) {
          (std::string_view(key) == "scale" ? p.scale : p.offset) =
              modbus::Decimal{v->mantissa, v->exponent};
        } else {
          errors_.push_back(error_at(file_, n[key], path + key,
                                     "'" + *s + "' is not a plain decimal (such as 0.01 or -40)"));
        }
      }
    }
    if (p.address + static_cast<std::uint32_t>(modbus::register_count(p.type)) > 0x10000) {
      errors_.push_back(error_at(file_, n["register"], path + "register",
                                 "the value runs past register 65535"));
    }
    p.unit = text(n, "unit", path, false).value_or("");
    if (auto s = text(n, "quantity", path, true)) {
      p.quantity = *s;
      if (auto q = find_quantity(*s)) {
        if (!n["unit"]) p.unit = std::string(info(*q).unit);  // the entry's reference unit
        if (!accepts_unit(*q, p.unit)) {
          std::string units;
          for (auto u : info(*q).units) units += (units.empty() ? "" : ", ") + in_quotes(u);
          errors_.push_back(error_at(file_, n["unit"] ? n["unit"] : n, path + "unit",
                                     in_quotes(p.unit) + " is not a unit of " + *s + " (" + units +
                                         ")"));
        }
      } else {
        errors_.push_back(error_at(file_, n["quantity"], path + "quantity",
                                   "unknown quantity '" + *s + "'" + suggestion(*s) +
                                       " (docs/mqtt-api.md lists the quantities)"));
      }
    }
    if (auto s = text(n, "billed", path, false)) {
      if (*s == "true") {
        p.billed = true;
      } else if (*s != "false") {
        errors_.push_back(error_at(file_, n["billed"], path + "billed",
                                   "'" + *s + "' is not true or false"));
      }
    }
    if (errors_.size() != before) return std::nullopt;
    return p;
  }

  const std::string& file_;
  std::vector<ModelError>& errors_;
};

}  // namespace

std::string ModelError::to_string() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  s += ": ";
  if (!key.empty()) s += key + ": ";
  return s + message;
}

std::vector<ModelError> ModelRegistry::load_text(std::string_view text, const std::string& file) {
  std::vector<ModelError> errors;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    errors.push_back(ModelError{file, e.mark.is_null() ? 0 : e.mark.line + 1,
                                e.mark.is_null() ? 0 : e.mark.column + 1, "", e.msg});
    return errors;
  }
  Parser parser(file, errors);
  auto model = parser.model(root);
  if (!model) return errors;
  const auto mark = root["name"].Mark();
  const std::string origin = file + ":" + std::to_string(mark.line + 1);
  if (auto it = models_.find(model->name); it != models_.end() && loading_site_ && !it->second.site) {
    // A site model overrides the package's model of the same name.
    it->second = Entry{std::move(*model), origin, true};
    return errors;
  }
  if (auto it = models_.find(model->name); it != models_.end()) {
    errors.push_back(error_at(file, root["name"], "name",
                              "duplicate model name '" + model->name + "' (first defined at " +
                                  it->second.origin + ")"));
    return errors;
  }
  std::string name = model->name;
  models_.emplace(std::move(name), Entry{std::move(*model), origin, loading_site_});
  return errors;
}

std::vector<ModelError> ModelRegistry::load_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {ModelError{file.string(), 0, 0, "", "cannot open the file"}};
  std::ostringstream ss;
  ss << in.rdbuf();
  return load_text(ss.str(), file.string());
}

std::vector<ModelError> ModelRegistry::load_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto ext = it->path().extension();
    if (it->is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(it->path());
  }
  if (ec) return {ModelError{dir.string(), 0, 0, "", "cannot read the directory: " + ec.message()}};
  std::sort(files.begin(), files.end());
  std::vector<ModelError> errors;
  for (const auto& f : files) {
    auto e = load_file(f);
    errors.insert(errors.end(), e.begin(), e.end());
  }
  return errors;
}

std::vector<ModelError> ModelRegistry::load_default_dirs() {
  auto errors = load_directory(default_models_dir());
  const auto site = site_models_dir();
  std::error_code ec;
  if (std::filesystem::is_directory(site, ec)) {
    loading_site_ = true;
    auto e = load_directory(site);
    loading_site_ = false;
    errors.insert(errors.end(), e.begin(), e.end());
  }
  return errors;
}

std::string ModelRegistry::origin(std::string_view name) const {
  auto it = models_.find(name);
  return it == models_.end() ? std::string() : it->second.origin;
}

const modbus::ModelDef* ModelRegistry::find(std::string_view name) const {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : &it->second.model;
}

std::vector<std::string> ModelRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : models_) out.push_back(name);
  return out;
}

std::filesystem::path default_models_dir() {
  if (const char* env = std::getenv("ESTATE_EDGE_MODELS_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  const std::filesystem::path installed = "/usr/share/estate-edge/models";
  if (std::filesystem::is_directory(installed, ec)) return installed;
#ifdef ESTATE_EDGE_SOURCE_DIR
  return std::filesystem::path(ESTATE_EDGE_SOURCE_DIR) / "config" / "models";
#else
  return installed;
#endif
}

std::filesystem::path site_models_dir() {
  if (const char* env = std::getenv("ESTATE_EDGE_SITE_MODELS_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return "/etc/estate-edge/models";
}

}  // namespace estate::drivers::meter
