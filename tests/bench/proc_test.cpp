#include "bench/load/proc.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <pthread.h>
#include <thread>
#include <unistd.h>

using namespace chorus::bench;

TEST_CASE("the CPU of a process's threads is read by thread name") {
  auto before = sample_threads(getpid());
  REQUIRE_FALSE(before.empty());
  CHECK(before.count("chorus.spin") == 0);

  // A thread that spins for 300 ms of its own CPU time, under its own name,
  // and stays alive (and named) until it has been sampled: on a busy machine
  // the spin takes longer than 300 ms of wall time.
  std::atomic<bool> named{false};
  std::atomic<bool> spun{false};
  std::atomic<bool> sampled{false};
  std::thread spin{[&] {
    pthread_setname_np(pthread_self(), "chorus.spin");
    named = true;
    timespec start{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    for (;;) {
      timespec now{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
      if ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) > 300000000L)
        break;
    }
    spun = true;
    while (!sampled)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }};
  while (!named || !spun)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  auto after = sample_threads(getpid());
  sampled = true;
  spin.join();
  REQUIRE(after.count("chorus.spin") == 1);
  // Clock ticks are 10 ms: 300 ms of CPU reads as 0.29-0.4 s.
  CHECK(after.at("chorus.spin") >= 0.28);
  CHECK(after.at("chorus.spin") <= 0.45);

  CHECK(sample_threads(0).empty());
  CHECK(sample_process(0).cpu_seconds == 0);
  auto self = sample_process(getpid());
  CHECK(self.rss_kb > 0);
  CHECK(self.cpu_seconds >= 0.28);
}
