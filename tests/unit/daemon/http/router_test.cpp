#include <gtest/gtest.h>

#include "daemon/http/metrics.hpp"
#include "daemon/http/router.hpp"
#include "daemon/http/server.hpp"

namespace estate::http {
namespace {

Request get(std::string path, std::string token = "") {
  Request r;
  r.method = "GET";
  r.path = std::move(path);
  r.target = r.path;
  if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
  return r;
}

void setup(Router& router) {
  router.set_tokens({{"kiosk-1", Role::kiosk, sha256("kiosk-secret")},
                     {"tech", Role::technician, sha256("tech-secret")}});
  router.add_route("GET", "/healthz", Role::none, [](const Request&) {
    return Response::json(200, {{"status", "ok"}});
  });
  router.add_route("GET", "/api/rooms/", Role::kiosk, [](const Request& r) {
    return Response::json(200, {{"room", r.rest}, {"who", r.token_name}});
  });
  router.add_route("GET", "/api/rooms/special/", Role::technician, [](const Request& r) {
    return Response::json(200, {{"special", r.rest}});
  });
  router.add_route("POST", "/api/boom", Role::none, [](const Request&) -> Response {
    throw std::runtime_error("handler bug");
  });
}

TEST(Router, OpenRouteNeedsNoToken) {
  Router r;
  setup(r);
  auto res = r.dispatch(get("/healthz"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, R"({"status":"ok"})");
}

TEST(Router, UnknownPathIs404AndWrongMethodIs405WithJsonError) {
  Router r;
  setup(r);
  auto res = r.dispatch(get("/nope"));
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(nlohmann::json::parse(res.body)["error"], "not_found");
  Request post = get("/healthz");
  post.method = "POST";
  res = r.dispatch(post);
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(nlohmann::json::parse(res.body)["error"], "method_not_allowed");
}

TEST(Router, ProtectedRouteNeedsAValidToken) {
  Router r;
  setup(r);
  EXPECT_EQ(r.dispatch(get("/api/rooms/1-2-301")).status, 401);
  EXPECT_EQ(r.dispatch(get("/api/rooms/1-2-301", "wrong")).status, 401);
  EXPECT_EQ(r.dispatch(get("/api/rooms/1-2-301", "kiosk-secre")).status, 401);
  Request basic = get("/api/rooms/1-2-301");
  basic.headers["authorization"] = "Basic a2lvc2stc2VjcmV0";
  EXPECT_EQ(r.dispatch(basic).status, 401);
  auto ok = r.dispatch(get("/api/rooms/1-2-301", "kiosk-secret"));
  ASSERT_EQ(ok.status, 200);
  auto j = nlohmann::json::parse(ok.body);
  EXPECT_EQ(j["room"], "1-2-301");
  EXPECT_EQ(j["who"], "kiosk-1");
}

TEST(Router, LongestPrefixWinsAndRolesAreOrdered) {
  Router r;
  setup(r);
  auto res = r.dispatch(get("/api/rooms/special/x", "kiosk-secret"));
  EXPECT_EQ(res.status, 403);
  EXPECT_EQ(nlohmann::json::parse(res.body)["error"], "forbidden");
  res = r.dispatch(get("/api/rooms/special/x", "tech-secret"));
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(nlohmann::json::parse(res.body)["special"], "x");
  // A technician may use kiosk routes.
  EXPECT_EQ(r.dispatch(get("/api/rooms/7", "tech-secret")).status, 200);
}

TEST(Router, HandlerExceptionBecomes500WithoutDetails) {
  Router r;
  setup(r);
  Request post = get("/api/boom");
  post.method = "POST";
  auto res = r.dispatch(post);
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.body.find("handler bug"), std::string::npos);
}

TEST(Router, DuplicateRouteIsRefused) {
  Router r;
  setup(r);
  EXPECT_THROW(r.add_route("GET", "/healthz", Role::none, [](const Request&) { return Response{}; }),
               std::logic_error);
  EXPECT_THROW(r.add_route("GET", "relative", Role::none, [](const Request&) { return Response{}; }),
               std::logic_error);
}

Request from(std::string address, Request r) {
  r.remote = std::move(address) + ":40000";
  return r;
}

// A route that checks a credential of its own (a camera's secret): its refusals count against
// the address exactly like bad tokens, and a locked-out address is refused before the handler.
TEST(Router, OwnCredentialFailuresLockTheAddressOut) {
  Router r;
  setup(r);
  int calls = 0;
  r.add_route("POST", "/api/cameras/anpr", Role::none,
              [&calls](const Request& q) {
                ++calls;
                Response res = q.header("x-camera-secret") == "good"
                                   ? Response::json(200, {{"ok", true}})
                                   : Response::error(401, "unauthorized", "wrong secret");
                res.auth_failed = res.status == 401;
                return res;
              },
              Credential::own);
  std::vector<std::string> locked;
  r.set_on_lockout([&](const std::string& host, const std::string&) { locked.push_back(host); });
  auto push = [](std::string secret) {
    Request q = get("/api/cameras/anpr");
    q.method = "POST";
    q.headers["x-camera-secret"] = std::move(secret);
    return q;
  };
  for (int i = 0; i < Router::max_token_failures; ++i) {
    EXPECT_EQ(r.dispatch(from("10.0.0.9", push("guess-" + std::to_string(i)))).status, 401);
  }
  EXPECT_EQ(locked, std::vector<std::string>{"10.0.0.9"});
  const int before = calls;
  auto res = r.dispatch(from("10.0.0.9", push("good")));
  EXPECT_EQ(res.status, 429);
  EXPECT_EQ(calls, before);  // the handler never saw it
  EXPECT_EQ(r.dispatch(from("10.0.0.10", push("good"))).status, 200);
  // The same budget as tokens: the address's token requests are locked out too.
  EXPECT_EQ(r.dispatch(from("10.0.0.9", get("/api/rooms/1", "kiosk-secret"))).status, 429);
}

// An attacker filling the table of tracked addresses does not make failures from new
// addresses free: the oldest entry is evicted and the new address is counted.
TEST(Router, FailuresFromNewAddressesCountWhenTheTableIsFull) {
  Router r;
  setup(r);
  for (std::size_t i = 0; i < Router::max_tracked_hosts; ++i) {
    const std::string host = "10." + std::to_string(i / 65536 % 256) + "." +
                             std::to_string(i / 256 % 256) + "." + std::to_string(i % 256);
    EXPECT_EQ(r.dispatch(from(host, get("/api/rooms/1", "guess"))).status, 401);
  }
  for (int i = 0; i < Router::max_token_failures; ++i) {
    EXPECT_EQ(r.dispatch(from("192.168.7.7", get("/api/rooms/1", "guess"))).status, 401);
  }
  EXPECT_EQ(r.dispatch(from("192.168.7.7", get("/api/rooms/1", "kiosk-secret"))).status, 429);
}

TEST(Router, LockoutPathsReachTheAuditWithoutControlCharacters) {
  Router r;
  setup(r);
  std::string seen;
  r.set_on_lockout([&](const std::string&, const std::string& path) { seen = path; });
  for (int i = 0; i < Router::max_token_failures; ++i) {
    r.dispatch(from("10.1.1.1", get("/api/rooms/x\r\nforged: line\x1b[0m", "guess")));
  }
  EXPECT_EQ(seen, "/api/rooms/x??forged: line?[0m");
  EXPECT_EQ(printable("a\tb\x7f"), "a?b?");
  EXPECT_EQ(printable(std::string(300, 'x'), 8), "xxxxxxxx...");
}

// Lock-outs become at most one entry at once and one summary per interval, however many
// addresses are locked out.
TEST(LockoutDigest, AggregatesLockoutsPerInterval) {
  LockoutDigest d(std::chrono::seconds(60));
  const auto t0 = LockoutDigest::Clock::time_point{} + std::chrono::hours(1);
  auto first = d.note("10.0.0.1", "/api/rooms/1", t0);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->actor, "remote:10.0.0.1");
  EXPECT_EQ(first->subject, "http:/api/rooms/1");
  EXPECT_FALSE(d.due());
  for (int i = 2; i <= 500; ++i) {
    EXPECT_FALSE(d.note("10.0.1." + std::to_string(i % 200), "/api/x", t0 + std::chrono::seconds(1)));
  }
  ASSERT_TRUE(d.due());
  EXPECT_EQ(*d.due(), t0 + std::chrono::seconds(60));
  EXPECT_FALSE(d.flush(t0 + std::chrono::seconds(59)));
  auto summary = d.flush(t0 + std::chrono::seconds(60));
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->actor, "remote:200 addresses");
  EXPECT_EQ(summary->subject, "http:/api/x");
  EXPECT_EQ(summary->detail["lockouts"], 499);
  EXPECT_EQ(summary->detail["addresses"], 200);
  EXPECT_EQ(summary->detail["sample"].size(), LockoutDigest::max_sample);
  EXPECT_FALSE(d.due());
  EXPECT_FALSE(d.flush(t0 + std::chrono::seconds(600)));
  // Lock-outs just after a summary wait for the next one; only a quiet interval lets one
  // through at once again.
  EXPECT_FALSE(d.note("10.0.0.3", "/a", t0 + std::chrono::seconds(61)));
  EXPECT_TRUE(d.flush(t0 + std::chrono::seconds(120)));
  EXPECT_TRUE(d.note("10.0.0.4", "/b", t0 + std::chrono::seconds(200)));
}

TEST(Tokens, Sha256HexMatchesKnownVector) {
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(parse_sha256_hex(sha256_hex("abc")));
  EXPECT_FALSE(parse_sha256_hex("zz"));
  EXPECT_FALSE(parse_sha256_hex(std::string(64, 'g')));
}

TEST(PercentDecode, DecodesAndRejects) {
  EXPECT_EQ(*percent_decode("/a%20b", false), "/a b");
  EXPECT_EQ(*percent_decode("a+b", true), "a b");
  EXPECT_EQ(*percent_decode("a+b", false), "a+b");
  EXPECT_EQ(*percent_decode("%E6%88%BF", false), "房");
  EXPECT_FALSE(percent_decode("%", false));
  EXPECT_FALSE(percent_decode("%4", false));
  EXPECT_FALSE(percent_decode("%zz", false));
  EXPECT_FALSE(percent_decode("%00", false));
}

TEST(ParseListen, HostPortAndIpv6) {
  auto a = parse_listen("127.0.0.1:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 8080);
  auto b = parse_listen("[::1]:0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->first, "::1");
  EXPECT_FALSE(parse_listen("127.0.0.1"));
  EXPECT_FALSE(parse_listen(":80"));
  EXPECT_FALSE(parse_listen("host:99999"));
  EXPECT_FALSE(parse_listen("host:8a"));
}

TEST(Metrics, RendersPrometheusTextFormat) {
  MetricsRegistry m;
  m.counter("estate_test_total", "things counted", {{"kind", "a\"b"}}).inc(3);
  m.counter("estate_test_total", "things counted", {{"kind", "c"}}).inc();
  m.gauge("estate_level", "a level").set(-4);
  m.add_collector([] {
    return std::vector<Sample>{{"estate_collected", "from a collector", "gauge", {{"x", "1"}}, 7}};
  });
  auto text = m.render();
  EXPECT_NE(text.find("# HELP estate_test_total things counted\n# TYPE estate_test_total counter\n"),
            std::string::npos);
  EXPECT_NE(text.find("estate_test_total{kind=\"a\\\"b\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("estate_test_total{kind=\"c\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE estate_level gauge\nestate_level -4\n"), std::string::npos);
  EXPECT_NE(text.find("estate_collected{x=\"1\"} 7\n"), std::string::npos);
  // The same counter handle is returned for the same labels.
  EXPECT_EQ(&m.counter("estate_test_total", "", {{"kind", "c"}}),
            &m.counter("estate_test_total", "", {{"kind", "c"}}));
  EXPECT_THROW(m.gauge("estate_test_total", "now a gauge"), std::invalid_argument);
  EXPECT_THROW(m.counter("bad name", "x"), std::invalid_argument);
}

}  // namespace
}  // namespace estate::http
