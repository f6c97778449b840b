#include "drivers/camera/frame_queue.hpp"

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include <vector>

namespace estate::drivers::camera {

namespace {

FramePush refusal(const std::string& camera, int status, const std::string& error) {
  FramePush r;
  r.status = status;
  r.camera = camera;
  r.body = nlohmann::json{{"ok", false}, {"error", error}}.dump();
  return r;
}

}  // namespace

FramePush FrameDecodeQueue::superseded(const std::string& camera) {
  return refusal(camera, 409, "superseded by a newer frame from this camera");
}

FramePush FrameDecodeQueue::stopping(const std::string& camera) {
  return refusal(camera, 503, "the gateway is stopping");
}

FrameDecodeQueue::FrameDecodeQueue(std::size_t threads, Observe observe)
    : observe_(std::move(observe)), pool_(threads == 0 ? 1 : threads) {}

FrameDecodeQueue::~FrameDecodeQueue() { stop(); }

void FrameDecodeQueue::submit(const std::string& camera, Decode decode, Done done) {
  Job job{std::move(decode), std::move(done)};
  std::optional<Job> refused;  // answered outside the lock
  FramePush (*answer)(const std::string&) = &stopping;
  bool run_now = false;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      refused = std::move(job);
    } else if (auto& slot = slots_[camera]; slot.running) {
      refused = std::exchange(slot.waiting, std::move(job));
      answer = &superseded;
    } else {
      slot.running = run_now = true;
    }
  }
  if (run_now) start(camera, std::move(job));
  if (refused) refused->done(answer(camera));
}

void FrameDecodeQueue::start(const std::string& camera, Job job) {
  boost::asio::post(pool_, [this, camera, job = std::move(job)]() mutable {
    const auto t0 = std::chrono::steady_clock::now();
    FramePush result;
    try {
      result = job.decode();
    } catch (const std::exception& e) {
      result = refusal(camera, 500, std::string("decoding failed: ") + e.what());
    }
    if (observe_) observe_(std::chrono::steady_clock::now() - t0);
    job.done(std::move(result));
    std::optional<Job> next;
    {
      std::lock_guard lock(mutex_);
      auto& slot = slots_[camera];
      next = std::exchange(slot.waiting, std::nullopt);  // stop() took it when stopping
      slot.running = next.has_value();
    }
    if (next) start(camera, std::move(*next));
  });
}

void FrameDecodeQueue::stop() {
  std::vector<std::pair<std::string, Job>> waiting;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& [camera, slot] : slots_) {
      if (slot.waiting) waiting.emplace_back(camera, std::move(*slot.waiting));
      slot.waiting.reset();
    }
  }
  for (auto& [camera, job] : waiting) job.done(stopping(camera));
  pool_.join();
}

}  // namespace estate::drivers::camera
