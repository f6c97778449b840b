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
