// The route registry of the local HTTP server. Components mount handlers on a path prefix with
// the role a caller needs; the server parses the request, the router authenticates the token
// and calls the handler. Handlers are synchronous and short (read local state, queue work);
// anything slow (a POS sale, a print) is queued and its progress polled by the client.
//
// Roles: none (open), kiosk, technician, admin. A token of a higher role may call routes of a
// lower one (admin > technician > kiosk). Tokens come from config http.tokens as SHA-256 hashes;
// a presented token ("Authorization: Bearer <token>") is hashed and compared with every
// configured hash in constant time (CRYPTO_memcmp), so timing does not reveal a prefix.
//
// Failed token attempts are limited per client address: a request whose Authorization header
// matches no token counts as a failure; after max_token_failures of them within
// token_failure_window, every request from that address carrying an Authorization header is
// answered 429 (Retry-After) without looking at the token, until the window has passed. The
// first failure of a window and the lock-out are logged with the address and path, never the
// token; the lock-out also reaches set_on_lockout's callback (the daemon audits it). A route
// mounted with Credential::own checks a credential of its own (a camera's secret): every
// request to it is subject to the lock-out, and an answer marked auth_failed counts as a
// failed attempt of the same per-address budget. At most max_tracked_hosts addresses are
// tracked; a new one beyond that evicts the oldest, so failures always count. Paths are logged
// with control characters (CR, LF, ...) replaced, so a request cannot forge log lines.
//
// Thread-safety: add_route/set_tokens/dispatch may be called from any thread (a shared mutex
// guards the tables; handlers run without it, so a handler may add routes).
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace estate::http {

enum class Role { none = 0, kiosk = 1, technician = 2, admin = 3 };
std::string_view to_string(Role r);
std::optional<Role> parse_role(std::string_view s);

struct Request {
  std::string method;                         // "GET", "POST" ...
  std::string target;                         // as sent: "/api/rooms/1-2-301/bills?x=1"
  std::string path;                           // percent-decoded path: "/api/rooms/1-2-301/bills"
  std::map<std::string, std::string> query;   // decoded query parameters (last one wins)
  std::map<std::string, std::string> headers; // names lower-cased
  std::string body;
  std::string remote;                         // peer address, for logs
  Role role = Role::none;                     // of the authenticated token
  std::string token_name;                     // config name of the token, empty when none
  std::string rest;                           // the path after the route's prefix

  std::string header(std::string_view name) const;  // lower-case name; "" when absent
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set by a Credential::own route's handler when the request's credential was wrong: the router
  // counts it as a failed attempt of the client address.
  bool auth_failed = false;

  static Response json(int status, const nlohmann::json& body);
  // {"error": code, "message": message}: every error the API returns has this shape.
  static Response error(int status, std::string_view code, std::string_view message);
  static Response text(int status, std::string body, std::string content_type);
};

using Handler = std::function<Response(const Request&)>;
// The answer of a request whose handler works off the I/O threads (a camera frame's decode).
using Reply = std::function<void(Response)>;
// A handler that answers later: it calls `reply` exactly once, from any thread.
using AsyncHandler = std::function<void(const Request&, Reply)>;

struct TokenEntry {
  std::string name;
  Role role = Role::kiosk;
  std::array<std::uint8_t, 32> sha256{};
};

// SHA-256 of `data` (OpenSSL).
std::array<std::uint8_t, 32> sha256(std::string_view data);
// 64 hex digits -> 32 bytes; nullopt when malformed.
std::optional<std::array<std::uint8_t, 32>> parse_sha256_hex(std::string_view hex);
std::string sha256_hex(std::string_view data);

// Percent-decodes a path or query component; nullopt on a malformed escape or a NUL byte.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

// What authenticates a route's callers: the router's tokens, or the handler itself (camera
// pushes), whose refusals (Response::auth_failed) count against the address like bad tokens.
enum class Credential { token, own };

// `s` with every control character (CR, LF, TAB, DEL ...) replaced by '?' and cut to `max`
// bytes, for log lines and audit entries of client-chosen text.
std::string printable(std::string_view s, std::size_t max = 256);

class Router {
 public:
  // Mounts `handler` for `method` ("GET", "POST", "*" for any) on `path_prefix`. A prefix
  // ending in '/' matches everything below it; otherwise the path must equal it. The longest
  // matching prefix wins. Mounting the same method and prefix twice throws std::logic_error.
  void add_route(std::string method, std::string path_prefix, Role role, Handler handler,
                 Credential credential = Credential::token);
  // The same for a handler that answers later; the caller is authenticated the same way.
  void add_async_route(std::string method, std::string path_prefix, Role role,
                       AsyncHandler handler, Credential credential = Credential::token);
  void set_tokens(std::vector<TokenEntry> tokens);
  void set_metrics_token_required(bool required);  // used by the server for /metrics
  bool metrics_token_required() const;

  // Finds the token of the request's "Authorization: Bearer" header. nullopt: no or unknown
  // token.
  std::optional<TokenEntry> authenticate(const Request& req) const;

  // Authenticates, routes and calls the handler. 404 unknown path, 405 wrong method, 401 no or
  // bad token, 403 token of too low a role, 429 too many failed tokens from this address; a
  // handler's exception becomes a 500 JSON error.
  // dispatch() waits for an async route's answer.
  Response dispatch(Request req) const;
  // The same, answering through `reply`: at once from this thread, except for an async route's
  // handler, which answers from its own thread when its work is done. The server uses this.
  void dispatch_async(Request req, Reply reply) const;

  static constexpr int max_token_failures = 10;
  static constexpr std::chrono::seconds token_failure_window{60};
  static constexpr std::size_t max_tracked_hosts = 4096;
  // Called (outside the router's locks) when an address is locked out: its host and the path
  // of the attempt that reached the limit.
  void set_on_lockout(std::function<void(const std::string& host, const std::string& path)> f);

 private:
  struct Route {
    std::string method;
    std::string prefix;
    Role role;
    Handler handler;  // empty for an async route
    Credential credential;
    AsyncHandler async_handler;
  };
  struct Failures {
    std::chrono::steady_clock::time_point since;
    int count = 0;
  };
  // Counts a failed token from `host`; true when this failure reached the limit.
  bool note_failure(const std::string& host, const Request& req, std::string_view what) const;
  void report_lockout(const std::string& host, const std::string& path) const;
  std::optional<std::chrono::seconds> locked_out(const std::string& host) const;

  mutable std::mutex failures_mutex_;
  mutable std::map<std::string, Failures> failures_;
  std::function<void(const std::string&, const std::string&)> on_lockout_;
  mutable std::shared_mutex mutex_;
  std::vector<Route> routes_;
  std::vector<TokenEntry> tokens_;
  bool metrics_token_required_ = false;
};

// Turns lock-outs into a bounded number of audit entries: the first lock-out of an interval is
// an entry of its own at once; the ones after it within the interval are counted and become one
// summary entry (how many lock-outs, how many addresses, the first few of them) when the
// interval is over. An attacker cycling addresses so writes at most two entries a minute.
// Thread-safe.
class LockoutDigest {
 public:
  struct Entry {
    std::string actor;    // "remote:<address>" or "remote:<n> addresses"
    std::string subject;  // "http:<path>" of the first lock-out it covers
    nlohmann::json detail;
  };
  using Clock = std::chrono::steady_clock;
  explicit LockoutDigest(std::chrono::seconds interval = std::chrono::seconds(60))
      : interval_(interval) {}
  // A lock-out at `now`: the entry to write now, or nullopt when it was counted for flush().
  std::optional<Entry> note(const std::string& host, const std::string& path, Clock::time_point now);
  // The summary of the lock-outs counted since the last entry once their interval is over;
  // nullopt when none is due yet (see due()) or nothing was counted.
  std::optional<Entry> flush(Clock::time_point now);
  // When flush() will have a summary to give; nullopt when nothing is counted.
  std::optional<Clock::time_point> due() const;

  static constexpr std::size_t max_sample = 8;

 private:
  mutable std::mutex mutex_;
  std::chrono::seconds interval_;
  std::optional<Clock::time_point> interval_start_;
  int pending_ = 0;
  std::string first_path_;
  std::vector<std::string> sample_;
  std::set<std::string> seen_;  // distinct addresses of the pending summary, bounded
};

}  // namespace estate::http
