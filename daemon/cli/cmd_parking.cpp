// `estate-edge parking fee`: the site's fee rules applied to one stay, for technicians checking a
// rules file and for the platform's support staff answering "why did I pay this".
#include <nlohmann/json.hpp>

#include <iostream>

#include "daemon/cli/cli.hpp"
#include "daemon/parking/fee.hpp"
#include "daemon/parking/fee_rules.hpp"
#include "daemon/parking/time.hpp"

namespace estate::cli {

namespace {

std::string yuan(std::int64_t fen) {
  const char* sign = fen < 0 ? "-" : "";
  if (fen < 0) fen = -fen;
  std::string cents = std::to_string(fen % 100);
  if (cents.size() < 2) cents = "0" + cents;
  return sign + std::to_string(fen / 100) + "." + cents;
}

void add_fee_command(CLI::App& parking) {
  struct Options {
    std::string rules;
    std::string id;
    std::string entry;
    std::string exit;
    std::string vehicle_class;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = parking.add_subcommand("fee", "Compute the fee of one stay from a parking_rules file");
  cmd->add_option("--rules", o->rules, "YAML file with a top-level parking_rules list")
      ->required();
  cmd->add_option("--id", o->id, "Rule id")->required();
  cmd->add_option("--entry", o->entry, "Entry time, ISO 8601 with offset")->required();
  cmd->add_option("--exit", o->exit, "Exit time, ISO 8601 with offset")->required();
  cmd->add_option("--class", o->vehicle_class, "Vehicle class defined in the rule's classes");
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([o] {
    config::Diagnostics diag;
    auto rules = parking::load_parking_rules_file(o->rules, diag);
    if (!rules) {
      std::cerr << diag.to_string();
      fail(exit_usage);
    }
    const parking::FeeRule* rule = parking::find_rule(*rules, o->id);
    if (!rule) fail(exit_usage, o->rules + ": no parking rule with id '" + o->id + "'");
    std::string err;
    auto entry = parking::parse_iso8601(o->entry, err);
    if (!entry) fail(exit_usage, "--entry: " + err);
    auto exit = parking::parse_iso8601(o->exit, err);
    if (!exit) fail(exit_usage, "--exit: " + err);
    parking::FeeError fe;
    auto quote = parking::compute_fee(*rule, *entry, *exit, o->vehicle_class, fe);
    if (!quote) fail(exit_usage, fe.message);
    if (o->json) {
      std::cout << parking::to_json(*quote).dump(2) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows{
        {"rule", quote->rule_id + (quote->vehicle_class.empty() ? "" : " (" +
                                                                         quote->vehicle_class + ")")},
        {"stay", std::to_string(quote->duration_seconds / 60) + " min " +
                     std::to_string(quote->duration_seconds % 60) + " s"},
        {"units", quote->free ? "free (within " + std::to_string(rule->free_minutes) + " min)"
                              : std::to_string(quote->units) + " x " +
                                    std::to_string(rule->unit_minutes) + " min (" +
                                    std::to_string(quote->day_units) + " day, " +
                                    std::to_string(quote->night_units) + " night)"}};
    for (const auto& w : quote->windows) {
      rows.push_back({"day " + std::to_string(w.index + 1),
                      yuan(w.charged_fen) + (w.capped ? " (capped from " + yuan(w.uncapped_fen) + ")"
                                                      : "")});
    }
    if (quote->stay_capped) rows.push_back({"stay cap", "applied"});
    rows.push_back({"fee", yuan(quote->fee_fen) + " yuan (" + std::to_string(quote->fee_fen) +
                               " fen)"});
    std::cout << format_table(rows);
  });
}

}  // namespace

void add_parking_command(CLI::App& app) {
  auto* parking = app.add_subcommand("parking", "Parking tools");
  parking->require_subcommand(1);
  add_fee_command(*parking);
}

}  // namespace estate::cli
