// The frame decode queue's bounds: one decode per camera at a time, a newer frame replaces the
// waiting one (answered 409 superseded at once), other cameras decode alongside, stop() answers
// the waiting frame 503 and lets the running one finish. Synchronised with promises: no sleeps.
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <vector>

#include "drivers/camera/frame_queue.hpp"

namespace estate::drivers::camera {
namespace {

FramePush ok(const std::string& tag) {
  FramePush r;
  r.status = 200;
  r.body = tag;
  return r;
}

// A decode that reports it started and then waits for the test's release.
struct Gate {
  std::promise<void> started, release;
  std::shared_future<void> released = release.get_future().share();
  FrameDecodeQueue::Decode decode(const std::string& tag) {
    return [this, tag] {
      started.set_value();
      released.wait();
      return ok(tag);
    };
  }
};

TEST(FrameDecodeQueue, ANewerFrameReplacesTheWaitingOneAndTheRunningOneFinishes) {
  std::vector<double> observed;
  std::mutex m;
  FrameDecodeQueue q(1, [&](std::chrono::duration<double> d) {
    std::lock_guard lock(m);
    observed.push_back(d.count());
  });
  Gate first;
  std::promise<FramePush> a, b, c;
  q.submit("cam-1", first.decode("A"), [&](FramePush r) { a.set_value(std::move(r)); });
  first.started.get_future().wait();  // A is decoding
  std::atomic<int> b_decoded{0};
  q.submit("cam-1", [&] { ++b_decoded; return ok("B"); },
           [&](FramePush r) { b.set_value(std::move(r)); });
  auto fb = b.get_future();
  EXPECT_EQ(fb.wait_for(std::chrono::seconds(0)), std::future_status::timeout);  // B waits
  q.submit("cam-1", [] { return ok("C"); }, [&](FramePush r) { c.set_value(std::move(r)); });
  // C replaced B: B is answered at once, while A still decodes.
  ASSERT_EQ(fb.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  auto rb = fb.get();
  EXPECT_EQ(rb.status, 409);
  EXPECT_EQ(rb.camera, "cam-1");
  EXPECT_NE(rb.body.find("superseded"), std::string::npos);
  auto fa = a.get_future();
  EXPECT_EQ(fa.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  first.release.set_value();
  EXPECT_EQ(fa.get().body, "A");
  EXPECT_EQ(c.get_future().get().body, "C");  // the newest frame is decoded after A
  EXPECT_EQ(b_decoded, 0);                     // the replaced one never was
  q.stop();
  EXPECT_EQ(observed.size(), 2u);  // A and C
}

TEST(FrameDecodeQueue, OtherCamerasDecodeAlongside) {
  FrameDecodeQueue q(2);
  Gate one;
  std::promise<FramePush> a, b;
  q.submit("cam-1", one.decode("A"), [&](FramePush r) { a.set_value(std::move(r)); });
  one.started.get_future().wait();
  // cam-1 is busy; cam-2's frame is not queued behind it.
  q.submit("cam-2", [] { return ok("B"); }, [&](FramePush r) { b.set_value(std::move(r)); });
  EXPECT_EQ(b.get_future().get().body, "B");
  one.release.set_value();
  EXPECT_EQ(a.get_future().get().body, "A");
}

TEST(FrameDecodeQueue, StopAnswersTheWaitingFrameAndLaterOnes) {
  FrameDecodeQueue q(1);
  Gate one;
  std::promise<FramePush> a, b, c;
  q.submit("cam-1", one.decode("A"), [&](FramePush r) { a.set_value(std::move(r)); });
  one.started.get_future().wait();
  q.submit("cam-1", [] { return ok("B"); }, [&](FramePush r) { b.set_value(std::move(r)); });
  std::thread stopper([&] { q.stop(); });
  EXPECT_EQ(b.get_future().get().status, 503);  // answered before the running decode ends
  one.release.set_value();
  stopper.join();
  EXPECT_EQ(a.get_future().get().body, "A");
  q.submit("cam-1", [] { return ok("C"); }, [&](FramePush r) { c.set_value(std::move(r)); });
  EXPECT_EQ(c.get_future().get().status, 503);
}

}  // namespace
}  // namespace estate::drivers::camera
