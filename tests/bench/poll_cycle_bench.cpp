// Poll cycle against wire time: N simulated meters on one paced line (tests/sim/meter_sim.py
// on a pty, every answer byte paced at the line's character time), read one after another by
// the real drivers through a Link, the way a bus strand does. The wire-time limit of a cycle is
// the time its frames take on the line (request and answer bytes x character time) plus the
// gaps the protocol mandates between transactions; `ratio` = measured cycle / limit.
// A pty does not pace the gateway's own requests, so a ratio slightly under 1 is possible; the
// answer-only limit is reported beside it. Figures only, never asserted.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdio>
#include <iomanip>
#include <sstream>
#include <string>

#include "drivers/meter/meter_driver.hpp"

namespace {

namespace asio = boost::asio;
using estate::drivers::Protocol;

// The simulator as a child process; its stdin stays open while it runs.
struct SimProcess {
  pid_t pid = -1;
  int in = -1;
  std::string pty;

  SimProcess(const std::string& protocol, const std::vector<std::string>& meters, int baud) {
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) throw std::runtime_error("pipe");
    std::vector<std::string> args{"/usr/bin/python3",
                                  std::string(ESTATE_EDGE_SOURCE_DIR) + "/tests/sim/meter_sim.py",
                                  "--protocol", protocol, "--baud", std::to_string(baud)};
    for (const auto& m : meters) {
      args.push_back("--meter");
      args.push_back(m);
    }
    pid = fork();
    if (pid == 0) {
      dup2(to_child[0], 0);
      dup2(from_child[1], 1);
      close(to_child[1]);
      close(from_child[0]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    in = to_child[1];
    FILE* out = fdopen(from_child[0], "r");
    char line[256];
    while (fgets(line, sizeof line, out)) {
      std::string l(line);
      if (l.rfind("PTY ", 0) == 0) {
        pty = l.substr(4, l.find_last_not_of("\r\n") - 3);
        break;
      }
    }
    fclose(out);
    if (pty.empty()) throw std::runtime_error("meter_sim.py did not start");
  }
  ~SimProcess() {
    if (in >= 0) close(in);  // the simulator ends when its stdin closes
    if (pid > 0) {
      int st = 0;
      waitpid(pid, &st, 0);
    }
  }
};

struct Line {
  std::string protocol;
  Protocol proto;
  int baud;
  char parity;
  std::string (*address)(int i);
};

std::string dlt_address(int i) {
  std::ostringstream s;
  s << std::setw(12) << std::setfill('0') << 100 + i;
  return s.str();
}
std::string cjt_address(int i) {
  std::ostringstream s;
  s << std::setw(14) << std::setfill('0') << 200 + i;
  return s.str();
}
std::string mbus_address(int i) { return std::to_string(i + 1); }

void run_cycles(benchmark::State& state, const Line& line) {
  const int n = static_cast<int>(state.range(0));
  std::vector<std::string> meters;
  for (int i = 0; i < n; ++i) meters.push_back(line.address(i) + ":" + std::to_string(100 + i));
  SimProcess sim(line.protocol, meters, line.baud);

  estate::drivers::BusConfig bus;
  bus.id = "bench";
  bus.kind = estate::drivers::BusKind::serial;
  bus.protocol = line.proto;
  bus.device = sim.pty;
  bus.baud = line.baud;
  bus.parity = line.parity;
  bus.timeout = std::chrono::milliseconds(2000);
  asio::io_context io;
  auto strand = asio::make_strand(io);
  const auto options = estate::drivers::link_options(bus);
  estate::drivers::Link link(strand, estate::drivers::make_stream(strand, bus), options);
  estate::drivers::BusPort port;
  port.config = bus;
  port.link = &link;
  std::vector<std::unique_ptr<estate::drivers::MeterDriver>> drivers;
  for (int i = 0; i < n; ++i) {
    estate::drivers::DeviceConfig d;
    d.id = "m" + std::to_string(i);
    d.bus = bus.id;
    d.address = line.address(i);
    d.medium = line.proto == Protocol::cjt188 ? "water" : line.proto == Protocol::mbus ? "heat"
                                                                                       : "electricity";
    drivers.push_back(estate::drivers::make_meter_driver(d, port));
  }
  const auto char_time = estate::drivers::char_time(estate::drivers::serial_settings(bus));

  double cycles_s = 0, limit_s = 0, answer_limit_s = 0;
  std::int64_t readings = 0, failures = 0;
  for (auto _ : state) {
    const auto before = link.counters();
    std::vector<estate::drivers::Reading> out;
    const auto t0 = std::chrono::steady_clock::now();
    auto fut = asio::co_spawn(
        strand,
        [&]() -> asio::awaitable<int> {
          int failed = 0;
          for (auto& d : drivers) {
            if (co_await d->poll(out)) ++failed;
          }
          co_return failed;
        },
        asio::use_future);
    io.restart();
    io.run();
    failures += fut.get();
    const double cycle = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(cycle);
    const auto& after = link.counters();
    const double bytes_out = static_cast<double>(after.bytes_out - before.bytes_out);
    const double bytes_in = static_cast<double>(after.bytes_in - before.bytes_in);
    const double transactions = static_cast<double>(after.requests - before.requests);
    const double ct = std::chrono::duration<double>(char_time).count();
    const double gaps = transactions * std::chrono::duration<double>(options.min_gap).count();
    cycles_s += cycle;
    limit_s += (bytes_out + bytes_in) * ct + gaps;
    answer_limit_s += bytes_in * ct + gaps;
    readings += static_cast<std::int64_t>(out.size());
  }
  // (Also links the config's names from estate_daemon ahead of the drivers that use them.)
  state.SetLabel(std::string(estate::drivers::to_string(line.proto)) + " " +
                 std::to_string(line.baud) + " baud " + link.describe());
  state.counters["meters"] = n;
  state.counters["cycle_ms"] = benchmark::Counter(cycles_s * 1000, benchmark::Counter::kAvgIterations);
  state.counters["wire_ms"] = benchmark::Counter(limit_s * 1000, benchmark::Counter::kAvgIterations);
  state.counters["ratio"] = limit_s > 0 ? cycles_s / limit_s : 0;
  state.counters["ratio_answers"] = answer_limit_s > 0 ? cycles_s / answer_limit_s : 0;
  state.counters["readings"] = benchmark::Counter(static_cast<double>(readings),
                                                  benchmark::Counter::kAvgIterations);
  state.counters["failed"] = static_cast<double>(failures);
  link.close();
}

const Line dlt645_2400{"dlt645", Protocol::dlt645, 2400, 'E', dlt_address};
const Line cjt188_2400{"cjt188", Protocol::cjt188, 2400, 'E', cjt_address};
const Line mbus_2400{"mbus", Protocol::mbus, 2400, 'E', mbus_address};

void BM_PollCycle_DLT645(benchmark::State& s) { run_cycles(s, dlt645_2400); }
void BM_PollCycle_CJT188(benchmark::State& s) { run_cycles(s, cjt188_2400); }
void BM_PollCycle_MBus(benchmark::State& s) { run_cycles(s, mbus_2400); }

BENCHMARK(BM_PollCycle_DLT645)->Arg(10)->Arg(50)->Iterations(3)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PollCycle_CJT188)->Arg(10)->Arg(50)->Iterations(3)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PollCycle_MBus)->Arg(10)->Arg(50)->Iterations(3)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
