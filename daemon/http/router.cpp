#include "daemon/http/router.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace estate::http {

std::string_view to_string(Role r) {
  switch (r) {
    case Role::none: return "none";
    case Role::kiosk: return "kiosk";
    case Role::technician: return "technician";
    case Role::admin: return "admin";
  }
  return "none";
}

std::optional<Role> parse_role(std::string_view s) {
  if (s == "none") return Role::none;
  if (s == "kiosk") return Role::kiosk;
  if (s == "technician") return Role::technician;
  if (s == "admin") return Role::admin;
  return std::nullopt;
}

std::string Request::header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

Response Response::json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::error(int status, std::string_view code, std::string_view message) {
  return json(status, nlohmann::json{{"error", code}, {"message", message}});
}

Response Response::text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

std::array<std::uint8_t, 32> sha256(std::string_view data) {
  std::array<std::uint8_t, 32> out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != out.size()) {
    throw std::runtime_error("SHA-256 failed (OpenSSL EVP_Digest)");
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto b : sha256(data)) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::array<std::uint8_t, 32>> parse_sha256_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  std::array<std::uint8_t, 32> out{};
  for (std::size_t i = 0; i < 32; ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      char d = static_cast<char>(hi * 16 + lo);
      if (d == '\0') return std::nullopt;
      out += d;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  out.reserve(std::min(s.size(), max));
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > max) out += "...";
  return out;
}

void Router::add_route(std::string method, std::string path_prefix, Role role, Handler handler,
                       Credential credential) {
  if (path_prefix.empty() || path_prefix.front() != '/') {
    throw std::logic_error("route prefix must start with '/': '" + path_prefix + "'");
  }
  std::unique_lock lock(mutex_);
  for (const auto& r : routes_) {
    if (r.method == method && r.prefix == path_prefix) {
      throw std::logic_error("route " + method + " " + path_prefix + " is mounted twice");
    }
  }
  routes_.push_back(
      {std::move(method), std::move(path_prefix), role, std::move(handler), credential, {}});
}

void Router::add_async_route(std::string method, std::string path_prefix, Role role,
                             AsyncHandler handler, Credential credential) {
  if (!handler) throw std::logic_error("async route " + path_prefix + " without a handler");
  add_route(method, path_prefix, role, {}, credential);
  std::unique_lock lock(mutex_);
  for (auto& r : routes_) {
    if (r.method == method && r.prefix == path_prefix) r.async_handler = std::move(handler);
  }
}

void Router::set_tokens(std::vector<TokenEntry> tokens) {
  std::unique_lock lock(mutex_);
  tokens_ = std::move(tokens);
}

void Router::set_metrics_token_required(bool required) {
  std::unique_lock lock(mutex_);
  metrics_token_required_ = required;
}

bool Router::metrics_token_required() const {
  std::shared_lock lock(mutex_);
  return metrics_token_required_;
}

std::optional<TokenEntry> Router::authenticate(const Request& req) const {
  auto auth = req.header("authorization");
  constexpr std::string_view bearer = "Bearer ";
  if (auth.size() <= bearer.size() || auth.compare(0, bearer.size(), bearer) != 0) {
    return std::nullopt;
  }
  auto digest = sha256(std::string_view(auth).substr(bearer.size()));
  std::shared_lock lock(mutex_);
  std::optional<TokenEntry> found;
  // Compare with every entry, without an early exit, so the time taken does not depend on
  // which entry (if any) matched.
  for (const auto& t : tokens_) {
    if (CRYPTO_memcmp(t.sha256.data(), digest.data(), digest.size()) == 0 && !found) found = t;
  }
  return found;
}

void Router::set_on_lockout(std::function<void(const std::string&, const std::string&)> f) {
  std::unique_lock lock(mutex_);
  on_lockout_ = std::move(f);
}

namespace {
// "10.0.0.7:51234" / "::1:51234" -> the address without the port.
std::string host_of(const std::string& remote) {
  auto colon = remote.rfind(':');
  return colon == std::string::npos ? remote : remote.substr(0, colon);
}
}  // namespace

std::optional<std::chrono::seconds> Router::locked_out(const std::string& host) const {
  std::lock_guard lock(failures_mutex_);
  auto it = failures_.find(host);
  if (it == failures_.end() || it->second.count < max_token_failures) return std::nullopt;
  auto left = token_failure_window - (std::chrono::steady_clock::now() - it->second.since);
  if (left <= std::chrono::steady_clock::duration::zero()) {
    failures_.erase(it);
    return std::nullopt;
  }
  return std::chrono::ceil<std::chrono::seconds>(left);
}

bool Router::note_failure(const std::string& host, const Request& req,
                          std::string_view what) const {
  const auto now = std::chrono::steady_clock::now();
  int count = 0;
  {
    std::lock_guard lock(failures_mutex_);
    auto it = failures_.find(host);
    if (it == failures_.end() && failures_.size() >= max_tracked_hosts) {
      std::erase_if(failures_, [&](const auto& f) {
        return now - f.second.since >= token_failure_window;
      });
      // Still full of live windows (an attacker cycling addresses): the oldest window goes, so
      // a failure from a new address still counts rather than being ignored.
      if (failures_.size() >= max_tracked_hosts) {
        auto oldest = std::min_element(failures_.begin(), failures_.end(),
                                       [](const auto& a, const auto& b) {
                                         return a.second.since < b.second.since;
                                       });
        failures_.erase(oldest);
      }
    }
    if (it == failures_.end() || now - it->second.since >= token_failure_window) {
      it = failures_.insert_or_assign(host, Failures{now, 0}).first;
    }
    count = ++it->second.count;
  }
  // The credential is never logged: the address and the path are enough to find the client.
  if (count == 1) {
    spdlog::warn("http: {}: {} {}: {} refused", host, printable(req.method, 16),
                 printable(req.path), what);
  } else if (count == max_token_failures) {
    spdlog::warn("http: {}: {} failed token attempts within {} s: requests with a token from this "
                 "address are refused for the rest of that time",
                 host, count, token_failure_window.count());
    return true;
  }
  return false;
}

void Router::report_lockout(const std::string& host, const std::string& path) const {
  std::function<void(const std::string&, const std::string&)> hook;
  {
    std::shared_lock lock(mutex_);
    hook = on_lockout_;
  }
  if (!hook) return;
  try {
    hook(host, printable(path));
  } catch (const std::exception& e) {
    spdlog::error("http: recording a token lock-out failed: {}", e.what());
  }
}

namespace {
bool prefix_matches(std::string_view prefix, std::string_view path) {
  if (prefix.back() == '/') return path.substr(0, prefix.size()) == prefix;
  return path == prefix;
}
}  // namespace

void Router::dispatch_async(Request req, Reply reply) const {
  const Route* best = nullptr;
  bool path_known = false;
  Handler handler;
  AsyncHandler async_handler;
  Role need = Role::none;
  Credential credential = Credential::token;
  {
    std::shared_lock lock(mutex_);
    for (const auto& r : routes_) {
      if (!prefix_matches(r.prefix, req.path)) continue;
      path_known = true;
      if (r.method != "*" && r.method != req.method) continue;
      if (!best || r.prefix.size() > best->prefix.size()) best = &r;
    }
    if (best) {
      handler = best->handler;
      async_handler = best->async_handler;
      need = best->role;
      credential = best->credential;
      req.rest = req.path.substr(best->prefix.size());
    }
  }
  if (!best) {
    if (path_known) {
      return reply(Response::error(405, "method_not_allowed",
                                   req.method + " is not allowed on " + req.path));
    }
    return reply(Response::error(404, "not_found", "no such resource: " + req.path));
  }
  bool authenticated = false;
  const std::string host = host_of(req.remote);
  if (!req.header("authorization").empty() || credential == Credential::own) {
    if (auto wait = locked_out(host)) {
      Response r = Response::error(429, "too_many_attempts",
                                   "too many failed attempts from this address; retry in " +
                                       std::to_string(wait->count()) + " s");
      r.headers.emplace_back("Retry-After", std::to_string(wait->count()));
      return reply(std::move(r));
    }
  }
  if (!req.header("authorization").empty()) {
    auto tok = authenticate(req);
    if (tok) {
      authenticated = true;
      req.role = tok->role;
      req.token_name = tok->name;
    } else if (note_failure(host, req, "token")) {
      report_lockout(host, req.path);
    }
  }
  if (need != Role::none && !authenticated) {
    return reply(Response::error(401, "unauthorized",
                                 "a valid token is required (Authorization: Bearer <token>)"));
  }
  if (static_cast<int>(req.role) < static_cast<int>(need)) {
    return reply(Response::error(403, "forbidden", "this token's role (" +
                                                       std::string(to_string(req.role)) +
                                                       ") may not use " + req.path +
                                                       "; it needs " +
                                                       std::string(to_string(need))));
  }
  // Counts a handler's refused credential, once, whichever thread answers.
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto finish = [this, host, path = req.path, method = req.method, credential, answered,
                 reply](Response res) {
    if (answered->exchange(true)) return;
    if (res.auth_failed && credential == Credential::own) {
      Request who;
      who.method = method;
      who.path = path;
      if (note_failure(host, who, "credential")) report_lockout(host, path);
    }
    reply(std::move(res));
  };
  try {
    if (async_handler) return async_handler(req, finish);
    finish(handler(req));
  } catch (const std::exception& e) {
    spdlog::error("http: {} {}: handler failed: {}", printable(req.method, 16),
                  printable(req.path), e.what());
    finish(Response::error(500, "internal", "the request could not be completed"));
  }
}

Response Router::dispatch(Request req) const {
  std::promise<Response> answer;
  auto future = answer.get_future();
  dispatch_async(std::move(req), [&answer](Response r) { answer.set_value(std::move(r)); });
  return future.get();
}

std::optional<LockoutDigest::Entry> LockoutDigest::note(const std::string& host,
                                                        const std::string& path,
                                                        Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (!interval_start_ || now - *interval_start_ >= interval_) {
    if (pending_ > 0) {
      // A summary is owed for the last interval: this lock-out joins it rather than opening a
      // new one, so two entries per interval stay the most.
    } else {
      interval_start_ = now;
      return Entry{"remote:" + host, "http:" + path,
                   nlohmann::json{{"failures", Router::max_token_failures},
                                  {"window_s", Router::token_failure_window.count()}}};
    }
  }
  if (pending_++ == 0) first_path_ = path;
  if (seen_.size() < Router::max_tracked_hosts && seen_.insert(host).second &&
      sample_.size() < max_sample) {
    sample_.push_back(host);
  }
  return std::nullopt;
}

std::optional<LockoutDigest::Entry> LockoutDigest::flush(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (pending_ == 0 || !interval_start_ || now - *interval_start_ < interval_) return std::nullopt;
  Entry e;
  e.actor = seen_.size() == 1 ? "remote:" + sample_.front()
                              : "remote:" + std::to_string(seen_.size()) + " addresses";
  e.subject = "http:" + first_path_;
  e.detail = nlohmann::json{{"failures", Router::max_token_failures},
                            {"window_s", Router::token_failure_window.count()},
                            {"lockouts", pending_},
                            {"addresses", seen_.size()},
                            {"addresses_capped", seen_.size() >= Router::max_tracked_hosts},
                            {"sample", sample_},
                            {"interval_s", interval_.count()}};
  interval_start_ = now;
  pending_ = 0;
  first_path_.clear();
  sample_.clear();
  seen_.clear();
  return e;
}

std::optional<LockoutDigest::Clock::time_point> LockoutDigest::due() const {
  std::lock_guard lock(mutex_);
  if (pending_ == 0 || !interval_start_) return std::nullopt;
  return *interval_start_ + interval_;
}

}  // namespace estate::http
