// Fuzzes the local HTTP server's request path without the socket: raw bytes through Beast's
// parser with the server's header and body limits (http::parse_request, as a session reads
// them, pipelined requests included), then the router with the site's tokens and every route
// the daemon mounts (kiosk bills and payments, parking search and pay by plate or card, the
// camera push, dashboard data, /metrics, /healthz, static assets), on a throwaway site
// (fuzz_site.hpp), then the answer serialised as a session sends it.
// Findings: a crash, leak or UB anywhere on that path; a 500 (a handler threw on its input); an
// error status whose body is not JSON naming the error; a protocol-level refusal that is not 4xx.
#include <boost/beast/http.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "daemon/http/server.hpp"
#include "tests/fuzz/fuzz_site.hpp"

namespace {

namespace bhttp = boost::beast::http;
using estate::http::Response;

[[noreturn]] void fail(const char* what, const Response& r) {
  std::fprintf(stderr, "http_fuzz: %s: status %d, body %.300s\n", what, r.status, r.body.c_str());
  std::abort();
}

void check(const Response& r, bool protocol_reject) {
  if (r.status < 200 || r.status > 599) fail("status out of range", r);
  if (r.status == 500) fail("a handler failed on its input", r);
  if (protocol_reject && (r.status < 400 || r.status > 499)) fail("protocol refusal not 4xx", r);
  if (r.status >= 400) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    // The API's {"error","message"}, or the camera push's {"ok":false,"error"}.
    if (j.is_discarded() || !j.is_object() || !j.contains("error") || !j["error"].is_string()) {
      fail("error answer is not JSON with an \"error\"", r);
    }
  } else if (r.content_type == "application/json") {
    if (nlohmann::json::parse(r.body, nullptr, false).is_discarded()) fail("body is not JSON", r);
  }
}

// What Session::send puts on the wire.
void serialise(Response r, bool keep_alive) {
  bhttp::response<bhttp::string_body> res;
  res.version(11);
  res.result(static_cast<unsigned>(r.status));
  res.set(bhttp::field::server, "estate-edge");
  res.set(bhttp::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers) res.set(k, v);
  res.keep_alive(keep_alive);
  res.body() = std::move(r.body);
  res.prepare_payload();
  std::ostringstream out;
  out << res;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto& site = estate::fuzz::site();
  static const estate::http::ServerOptions options;  // the daemon's limits
  static unsigned long inputs = 0;
  // A fresh client address per input: failed tokens of earlier inputs must not lock this one
  // out (the lock-out itself has its unit tests), or the routes behind a token go unreached.
  ++inputs;
  const std::string remote = "10." + std::to_string((inputs >> 16) & 255) + "." +
                             std::to_string((inputs >> 8) & 255) + "." +
                             std::to_string(inputs & 255) + ":40000";
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  // A kept-alive connection: requests one after the other, as long as the server would read on.
  for (int n = 0; n < 8 && !rest.empty(); ++n) {
    auto parsed = estate::http::parse_request(rest, options, remote);
    if (parsed.consumed > rest.size()) std::abort();
    if (!parsed.request && !parsed.reject) break;  // the session just closes
    const bool rejected = parsed.reject.has_value();
    Response res = rejected ? std::move(*parsed.reject)
                            : site.http->web()->router.dispatch(std::move(*parsed.request));
    check(res, rejected);
    const bool keep = parsed.keep_alive && !rejected && res.status < 500;
    serialise(std::move(res), keep);
    if (!keep || parsed.consumed == 0) break;
    rest.remove_prefix(parsed.consumed);
  }
  return 0;
}
