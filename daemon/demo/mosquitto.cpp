#include "daemon/demo/mosquitto.hpp"

#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

namespace estate::demo {

namespace fs = std::filesystem;

fs::path find_mosquitto() { return find_program("mosquitto", {"/usr/sbin", "/usr/local/sbin"}); }

namespace {

std::string current_user() {
  if (const passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return "root";
}

}  // namespace

std::unique_ptr<MosquittoProcess> MosquittoProcess::start(const fs::path& dir,
                                                          std::chrono::seconds timeout) {
  auto exe = find_mosquitto();
  if (exe.empty()) {
    throw std::runtime_error(
        "mosquitto not found on PATH (nor in /usr/sbin): install it (apt-get install mosquitto) "
        "or give --mqtt-url of a running broker");
  }
  std::error_code ec;
  fs::create_directories(dir / "mosquitto", ec);
  if (ec) throw std::runtime_error("cannot create " + (dir / "mosquitto").string() + ": " + ec.message());

  std::unique_ptr<MosquittoProcess> p(new MosquittoProcess);
  p->port_ = ephemeral_port();
  auto conf = dir / "mosquitto" / "mosquitto.conf";
  {
    std::ofstream f(conf);
    f << "# Written by estate-edge for a broker of its own; rewritten at every start.\n"
      << "listener " << p->port_ << " 127.0.0.1\n"
      << "allow_anonymous true\n"
      // Started as root, mosquitto would drop to its own user, unable to write our directory.
      << "user " << current_user() << "\n"
      << "persistence true\n"
      << "persistence_location " << (dir / "mosquitto").string() << "/\n"
      << "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
      << "log_type information\nmax_queued_messages 100000\n";
    if (!f) throw std::runtime_error("cannot write " + conf.string());
  }
  // Ready when it says "... running".
  p->process_ = ChildProcess::start(
      {exe.string(), "-c", conf.string()}, dir / "mosquitto" / "mosquitto.log",
      [](std::string_view line) { return line.find(" running") != std::string_view::npos; },
      timeout);
  return p;
}

}  // namespace estate::demo
