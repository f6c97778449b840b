// Camera frames decoded off the I/O threads, bounded. Each camera has at most one frame being
// decoded and at most one waiting behind it: a newer frame from the same camera replaces the
// waiting one, whose requester is answered 409 "superseded" at once (a camera's newest frame is
// the one that shows who is at the gate now). Frames of different cameras decode in parallel on
// the queue's own threads. Each decode's duration goes to the `observe` callback (the daemon's
// estate_qr_decode_seconds histogram).
// Thread-safety: submit() and stop() may be called from any thread. `done` runs exactly once per
// submitted frame: on a decode thread after its decode, or on the submitting thread when the
// frame is superseded or the queue is stopped.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "drivers/camera/qr_frame.hpp"

namespace estate::drivers::camera {

class FrameDecodeQueue {
 public:
  using Decode = std::function<FramePush()>;
  using Done = std::function<void(FramePush)>;
  using Observe = std::function<void(std::chrono::duration<double>)>;

  explicit FrameDecodeQueue(std::size_t threads, Observe observe = {});
  ~FrameDecodeQueue();  // stop()
  FrameDecodeQueue(const FrameDecodeQueue&) = delete;
  FrameDecodeQueue& operator=(const FrameDecodeQueue&) = delete;

  // Decodes `decode` for `camera` when that camera's previous frame is done; a frame already
  // waiting for this camera is answered superseded(). After stop(): answered stopping().
  void submit(const std::string& camera, Decode decode, Done done);
  // Answers the waiting frames stopping(), waits for the decodes under way (their `done` runs).
  void stop();

  // 409 {"ok": false, "error": "superseded by a newer frame from this camera"}
  static FramePush superseded(const std::string& camera);
  // 503 {"ok": false, "error": "the gateway is stopping"}
  static FramePush stopping(const std::string& camera);

 private:
  struct Job {
    Decode decode;
    Done done;
  };
  struct Slot {
    bool running = false;
    std::optional<Job> waiting;
  };
  void start(const std::string& camera, Job job);  // posts the decode; mutex_ not held

  Observe observe_;
  std::mutex mutex_;
  std::map<std::string, Slot> slots_;
  bool stopped_ = false;
  boost::asio::thread_pool pool_;
};

}  // namespace estate::drivers::camera
