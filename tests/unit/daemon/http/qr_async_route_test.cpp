// What the camera frame route needs from the HTTP layer: a route that answers later from
// another thread (the frame's decode), with its refused credentials still counted against the
// address, and the decode-time histogram in the Prometheus text format.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "daemon/http/metrics.hpp"
#include "daemon/http/router.hpp"

namespace estate::http {
namespace {

Request post(const std::string& path) {
  Request r;
  r.method = "POST";
  r.path = r.target = path;
  r.remote = "192.0.2.7:5000";
  return r;
}

TEST(AsyncRoute, AnswersFromItsOwnThreadAndCountsRefusedCredentials) {
  Router router;
  std::promise<Reply> held;
  router.add_async_route("POST", "/api/cameras/frame", Role::none,
                         [&](const Request&, Reply reply) { held.set_value(std::move(reply)); },
                         Credential::own);
  std::promise<Response> answered;
  router.dispatch_async(post("/api/cameras/frame"),
                        [&](Response r) { answered.set_value(std::move(r)); });
  auto reply = held.get_future().get();  // the handler returned without answering
  auto f = answered.get_future();
  EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  std::thread([reply] { reply(Response::json(200, {{"ok", true}})); }).join();
  EXPECT_EQ(f.get().status, 200);

  // dispatch() waits for the answer; a refused credential counts toward the lock-out.
  Router r2;
  r2.add_async_route("POST", "/f", Role::none,
                     [](const Request&, Reply reply) {
                       std::thread([reply] {
                         Response res = Response::error(401, "unauthorized", "wrong secret");
                         res.auth_failed = true;
                         reply(std::move(res));
                       }).detach();
                     },
                     Credential::own);
  for (int i = 0; i < Router::max_token_failures; ++i) EXPECT_EQ(r2.dispatch(post("/f")).status, 401);
  EXPECT_EQ(r2.dispatch(post("/f")).status, 429);
}

TEST(Metrics, AHistogramRendersCumulativeBucketsSumAndCount) {
  MetricsRegistry m;
  auto& h = m.histogram("estate_qr_decode_seconds", "Time to decode", {0.01, 0.1, 1});
  h.observe(0.005);
  h.observe(0.05);
  h.observe(0.05);
  h.observe(3);
  EXPECT_EQ(&h, &m.histogram("estate_qr_decode_seconds", "Time to decode", {}));
  const auto text = m.render();
  EXPECT_NE(text.find("# TYPE estate_qr_decode_seconds histogram\n"
                      "estate_qr_decode_seconds_bucket{le=\"0.01\"} 1\n"
                      "estate_qr_decode_seconds_bucket{le=\"0.1\"} 3\n"
                      "estate_qr_decode_seconds_bucket{le=\"1\"} 3\n"
                      "estate_qr_decode_seconds_bucket{le=\"+Inf\"} 4\n"
                      "estate_qr_decode_seconds_sum 3.105\n"
                      "estate_qr_decode_seconds_count 4\n"),
            std::string::npos)
      << text;
  EXPECT_THROW(m.counter("estate_qr_decode_seconds", "x"), std::invalid_argument);
}

}  // namespace
}  // namespace estate::http
