// Fuzzes the site config loader with its diagnostics: the input is YAML text taken
//   - as a whole site file (load_site_config_text), then, when valid, handed to what the
//     components derive from it at start (billing's and the gates' configs);
//   - as the conf.d drop-in the platform sends (cmd/config, the tariffs list) beside a real site
//     file, through load_site_config(path, DropIn) as the daemon validates one;
//   - as the files `estate-edge tariff` and `estate-edge parking fee` read (tariffs, rules).
// Findings: a crash, leak or UB; a load that fails without an error, or returns a config
// together with errors; an error without its file or message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "daemon/access/access_config.hpp"
#include "daemon/billing/billing_config.hpp"
#include "daemon/billing/tariff.hpp"
#include "daemon/config/site_config.hpp"
#include "daemon/parking/fee_rules.hpp"
#include "tests/fuzz/fuzz_site.hpp"

namespace {

namespace config = estate::config;

[[noreturn]] void fail(const char* what, const config::Diagnostics& diag) {
  std::fprintf(stderr, "config_fuzz: %s\n%s\n", what, diag.to_string().c_str());
  std::abort();
}

template <class T>
void check(const std::optional<T>& loaded, const config::Diagnostics& diag, const char* what) {
  if (loaded && !diag.ok()) fail(what, diag);
  if (!loaded && diag.ok()) fail(what, diag);
  for (const auto& e : diag.errors()) {
    if (e.where.file.empty() || e.message.empty()) fail(what, diag);
    (void)e.to_string();
  }
}

struct Files {
  std::filesystem::path dir = estate::fuzz::make_temp_dir("estate-edge-config-fuzz");
  std::filesystem::path site = dir / "site.yaml";
  std::filesystem::path scratch = dir / "input.yaml";
  Files() {
    std::ofstream(site) << estate::fuzz::site_yaml(dir / "state");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Files files;
  const std::string text(reinterpret_cast<const char*>(data), size);
  {
    config::Diagnostics diag;
    auto cfg = config::load_site_config_text(text, "fuzz.yaml", diag);
    check(cfg, diag, "site file");
    if (cfg) {
      config::Diagnostics billing_diag;
      auto billing = estate::billing::billing_config_from(*cfg, billing_diag);
      if (billing && !billing_diag.ok()) fail("billing config with errors", billing_diag);
      (void)estate::access::access_config_of(*cfg);
    }
  }
  {
    config::Diagnostics diag;
    auto cfg = config::load_site_config(files.site, config::DropIn{"90-platform.yaml", text}, diag);
    check(cfg, diag, "drop-in");
  }
  {
    std::ofstream(files.scratch, std::ios::trunc | std::ios::binary) << text;
    config::Diagnostics tariffs_diag;
    check(estate::billing::load_tariff_file(files.scratch, tariffs_diag), tariffs_diag,
          "tariff file");
    config::Diagnostics rules_diag;
    check(estate::parking::load_parking_rules_file(files.scratch, rules_diag), rules_diag,
          "parking rules file");
  }
  return 0;
}
