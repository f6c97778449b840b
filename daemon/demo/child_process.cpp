#include "daemon/demo/child_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace estate::demo {

namespace fs = std::filesystem;

fs::path find_program(std::string_view name, const std::vector<fs::path>& extra_dirs) {
  std::vector<fs::path> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::string_view p = path;
    while (!p.empty()) {
      auto end = p.find(':');
      auto dir = p.substr(0, end);
      if (!dir.empty()) dirs.emplace_back(dir);
      if (end == std::string_view::npos) break;
      p.remove_prefix(end + 1);
    }
  }
  dirs.insert(dirs.end(), extra_dirs.begin(), extra_dirs.end());
  for (const auto& d : dirs) {
    auto candidate = d / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

int ephemeral_port() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    int err = errno;
    ::close(s);
    throw std::runtime_error(std::string("cannot find a free port: ") + std::strerror(err));
  }
  ::close(s);
  return ntohs(a.sin_port);
}

std::unique_ptr<ChildProcess> ChildProcess::start(
    const std::vector<std::string>& argv, const fs::path& log_file,
    const std::function<bool(std::string_view)>& ready, std::chrono::milliseconds timeout) {
  if (argv.empty()) throw std::invalid_argument("ChildProcess::start: empty argv");
  std::error_code ec;
  fs::create_directories(log_file.parent_path(), ec);
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Our environment, less the service manager's socket: a helper that speaks sd_notify
  // (mosquitto does) must not announce READY for the gateway. Built before fork: only
  // async-signal-safe calls run in the child.
  std::vector<char*> env;
  for (char** e = environ; *e; ++e) {
    std::string_view v(*e);
    if (v.starts_with("NOTIFY_SOCKET=") || v.starts_with("WATCHDOG_USEC=") ||
        v.starts_with("WATCHDOG_PID=")) {
      continue;
    }
    env.push_back(*e);
  }
  env.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    // stdin stays open on a pipe nobody writes: simulators that run "until stdin closes" run
    // until we are gone.
    int in[2];
    if (::pipe(in) == 0) {
      ::dup2(in[0], 0);
    }
    ::execve(args[0], args.data(), env.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  std::unique_ptr<ChildProcess> p(new ChildProcess);
  p->pid_ = pid;
  p->log_ = log_file;

  std::ofstream log(log_file, std::ios::app);
  std::string pending, seen;
  bool is_ready = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!is_ready) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{pipefd[0], POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    char chunk[4096];
    auto n = ::read(pipefd[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // it exited
    log.write(chunk, n);
    pending.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl;
    while (!is_ready && (nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      seen += line + "\n";
      if (seen.size() > 4096) seen.erase(0, seen.size() - 4096);
      if (ready(line)) {
        is_ready = true;
        p->ready_line_ = line;
      }
    }
  }
  log.flush();
  if (!is_ready) {
    ::close(pipefd[0]);
    // The destructor terminates and reaps it.
    throw std::runtime_error(argv[0] + " did not start" +
                             (seen.empty() ? std::string(" (it said nothing)")
                                           : "; it said:\n" + seen + pending));
  }
  const int fd = pipefd[0];
  p->drain_ = std::thread([fd, log_file] {
    std::ofstream out(log_file, std::ios::app);
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

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    // The group, so a script's own children go too (the pid alone if it has no group yet).
    if (::kill(-pid_, SIGTERM) != 0) ::kill(pid_, SIGTERM);
    int status = 0;
    // Five seconds to finish, then SIGKILL: a helper that hangs must not hang Ctrl-C.
    for (int i = 0; i < 500; ++i) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) {
        pid_ = -1;
        break;
      }
      ::usleep(10'000);
    }
    if (pid_ > 0) {
      if (::kill(-pid_, SIGKILL) != 0) ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  if (drain_.joinable()) drain_.join();
}

}  // namespace estate::demo
