#include "daemon/demo/mosquitto.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace estate::demo {

namespace fs = std::filesystem;

fs::path find_mosquitto() {
  std::vector<fs::path> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    std::size_t start = 0;
    while (start <= p.size()) {
      auto end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      if (end > start) dirs.emplace_back(p.substr(start, end - start));
      start = end + 1;
    }
  }
  dirs.emplace_back("/usr/sbin");
  dirs.emplace_back("/usr/local/sbin");
  for (const auto& d : dirs) {
    auto candidate = d / "mosquitto";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

namespace {

// mosquitto cannot listen on port 0 and tell us; take one the kernel just handed out.
int ephemeral_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(s);
    throw std::runtime_error(std::string("cannot find a free port: ") + std::strerror(errno));
  }
  ::close(s);
  return ntohs(a.sin_port);
}

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
  p->log_ = dir / "mosquitto" / "mosquitto.log";
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
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const std::string exe_s = exe.string(), conf_s = conf.string();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(pipefd[1], 2);
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
    }
    ::execl(exe_s.c_str(), exe_s.c_str(), "-c", conf_s.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipefd[1]);
  p->pid_ = pid;

  // Ready when it says "running"; everything it said goes to its log file.
  std::ofstream log(p->log_, std::ios::app);
  std::string buf, seen;
  bool ready = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ready) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                      std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{pipefd[0], POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    char chunk[4096];
    auto n = ::read(pipefd[0], chunk, sizeof chunk);
    if (n <= 0) break;  // exited
    buf.append(chunk, static_cast<std::size_t>(n));
    log.write(chunk, n);
    seen.append(chunk, static_cast<std::size_t>(n));
    if (seen.size() > 4096) seen.erase(0, seen.size() - 4096);
    if (buf.find(" running") != std::string::npos) ready = true;
  }
  log.flush();
  if (!ready) {
    ::close(pipefd[0]);
    // The destructor terminates and reaps it.
    throw std::runtime_error("mosquitto (" + exe_s + ") did not start on port " +
                             std::to_string(p->port_) + "; it said: " + seen);
  }
  int fd = pipefd[0];
  auto log_path = p->log_;
  p->drain_ = std::thread([fd, log_path] {
    std::ofstream out(log_path, std::ios::app);
    char chunk[4096];
    for (;;) {
      auto n = ::read(fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out.write(chunk, n);
      out.flush();
    }
    ::close(fd);
  });
  return p;
}

MosquittoProcess::~MosquittoProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (drain_.joinable()) drain_.join();
}

}  // namespace estate::demo
