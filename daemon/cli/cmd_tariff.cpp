// `estate-edge tariff quote`: what consuming U costs under a tariff when B was already used
// this cycle, split across tiers (and the period in force at --at for time-of-use tariffs).
#include <nlohmann/json.hpp>

#include <iostream>

#include "daemon/billing/tariff.hpp"
#include "daemon/cli/cli.hpp"

namespace estate::cli {

namespace {

struct QuoteOptions {
  std::string tariffs;
  std::string id;
  std::string usage;
  std::string before;
  std::string at;
  bool json = false;
};

billing::UsageMilli usage_arg(const std::string& text, const char* flag) {
  std::string why;
  auto v = billing::parse_decimal(text, billing::usage_places, &why);
  if (!v) fail(exit_usage, std::string(flag) + ": " + why + " (at most 3 decimals)");
  if (*v < 0) fail(exit_usage, std::string(flag) + ": must not be negative, got " + text);
  return *v;
}

void run_quote(const QuoteOptions& o) {
  config::Diagnostics diag;
  auto tariffs = billing::load_tariff_file(o.tariffs, diag);
  if (!tariffs) {
    std::cerr << diag.to_string() << diag.errors().size() << " error(s) in " << o.tariffs << "\n";
    fail(exit_usage);
  }
  const billing::Tariff* t = nullptr;
  for (const auto& x : *tariffs)
    if (x.id == o.id) t = &x;
  if (!t) fail(exit_usage, "no tariff with id '" + o.id + "' in " + o.tariffs);
  const auto usage = usage_arg(o.usage, "--usage");
  const auto before = usage_arg(o.before, "--cycle-usage-before");
  std::optional<billing::LocalSeconds> at;
  if (!o.at.empty()) {
    at = billing::parse_local_time(o.at);
    if (!at) fail(exit_usage, "--at: '" + o.at + "' is not a time such as 2026-11-23T08:30:00+08:00 or 08:30");
  }
  if (t->kind == billing::Tariff::Kind::time_of_use && !at) {
    fail(exit_usage, "tariff '" + t->id + "' is time-of-use: give the time with --at");
  }
  const auto q = billing::quote(*t, usage, before, at);

  if (o.json) {
    nlohmann::ordered_json j;
    j["total_fen"] = q.total_fen;
    j["exact"] = billing::format_amount(q.exact);
    j["lines"] = nlohmann::ordered_json::array();
    for (const auto& l : q.lines) {
      nlohmann::ordered_json line;
      line["tier"] = l.tier;
      if (!l.period.empty()) line["period"] = l.period;
      line["usage"] = billing::format_decimal(l.usage, billing::usage_places);
      line["price"] = billing::format_decimal(l.price, billing::price_places);
      line["amount"] = billing::format_amount(l.amount);
      j["lines"].push_back(std::move(line));
    }
    std::cout << j.dump() << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  const bool tou = t->kind == billing::Tariff::Kind::time_of_use;
  std::vector<std::string> head{"tier"};
  if (tou) head.push_back("period");
  for (const char* h : {"usage", "price", "amount"}) head.emplace_back(h);
  rows.push_back(head);
  for (const auto& l : q.lines) {
    std::vector<std::string> r{std::to_string(l.tier)};
    if (tou) r.push_back(l.period);
    r.push_back(billing::format_decimal(l.usage, billing::usage_places) + " " + t->unit);
    r.push_back(billing::format_decimal(l.price, billing::price_places));
    r.push_back(billing::format_amount(l.amount));
    rows.push_back(std::move(r));
  }
  std::cout << format_table(rows);
  std::cout << "total " << billing::format_fen(q.total_fen) << " yuan (" << q.total_fen
            << " fen; exact " << billing::format_amount(q.exact) << ", rounded half up once)\n";
}

}  // namespace

void add_tariff_command(CLI::App& app) {
  auto* tariff = app.add_subcommand("tariff", "Tariff tools");
  tariff->require_subcommand(1);
  auto o = std::make_shared<QuoteOptions>();
  auto* quote = tariff->add_subcommand(
      "quote", "Price a usage under a tariff, split across tiers (and time-of-use periods)");
  quote->add_option("--tariffs", o->tariffs, "YAML file with a top-level tariffs: list")
      ->required();
  quote->add_option("--id", o->id, "Tariff id")->required();
  quote->add_option("--usage", o->usage, "Usage to price, in the tariff's unit (<= 3 decimals)")
      ->required();
  quote->add_option("--cycle-usage-before", o->before,
                    "Usage already counted in this cycle before it")
      ->required();
  quote->add_option("--at", o->at, "Local time of the usage (time-of-use tariffs)");
  quote->add_flag("--json", o->json, "Print JSON");
  quote->callback([o] { run_quote(*o); });
}

}  // namespace estate::cli
