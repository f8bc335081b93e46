#include "node/config.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <unistd.h>
#include <vector>

using namespace chorus::node;

namespace {

std::vector<std::string> parse(std::vector<std::string> args) {
  node_config cfg;
  if (auto err = cfg.parse(args))
    return {"parse error"};
  return cfg.validate();
}

/// Writes a config file that is removed when the test program ends.
std::string write_conf(const std::string& text) {
  struct written {
    std::vector<std::string> paths;
    ~written() {
      for (const auto& p : paths)
        std::remove(p.c_str());
    }
  };
  static written files;
  auto path = std::string{"/tmp/chorus-config-test-"} + std::to_string(::getpid()) + "-" +
              std::to_string(files.paths.size()) + ".conf";
  std::ofstream out{path};
  out << text;
  files.paths.push_back(path);
  return path;
}

} // namespace

TEST_CASE("the shipped node.conf parses and validates", "[node]") {
  node_config cfg;
  REQUIRE_FALSE(cfg.parse({"--config-file=" CHORUS_SOURCE_DIR "/node.conf"}));
  auto problems = cfg.validate();
  for (auto& p : problems)
    INFO(p);
  CHECK(problems.empty());
  auto s = cfg.settings();
  CHECK(s.net.ws_port == 7300);
  CHECK(s.net.tcp_port == 7301);
  CHECK(s.writer.sync);
  CHECK(s.members == std::vector<std::string>{"n1"});
  CHECK(s.actors.max_conversations == 1000000);
  CHECK(s.net.keepalive == std::chrono::seconds{60});
  CHECK(s.writer.commit_interval.count() == 0);
}

TEST_CASE("unknown keys and wrongly typed values are named", "[node]") {
  auto unknown = parse({"--config-file=" + write_conf("[net]\nws-prt=1\n[auth]\nsecret=\"x\"\n")});
  REQUIRE(unknown.size() == 1);
  CHECK_THAT(unknown[0], Catch::Contains("net.ws-prt"));
  auto typed =
      parse({"--config-file=" + write_conf("[net]\nws-port=\"abc\"\n[auth]\nsecret=\"x\"\n")});
  REQUIRE(typed.size() == 1);
  CHECK_THAT(typed[0], Catch::Contains("net.ws-port"));
}

TEST_CASE("out-of-range values and a missing secret stop the node", "[node]") {
  auto conf = write_conf("[auth]\nsecret=\"x\"\n");
  auto port = parse({"--config-file=" + conf, "--net.ws-port=70000"});
  REQUIRE_FALSE(port.empty());
  CHECK_THAT(port[0], Catch::Contains("net.ws-port"));
  auto secret = parse({"--config-file=" + write_conf("[log]\nlevel=\"info\"\n")});
  REQUIRE_FALSE(secret.empty());
  CHECK_THAT(secret[0], Catch::Contains("auth.secret"));
  auto level = parse({"--config-file=" + conf, "--log.level=loud"});
  REQUIRE_FALSE(level.empty());
  CHECK_THAT(level[0], Catch::Contains("log.level"));
  CHECK(parse({"--config-file=" + conf, "--limits.sync-limit=10"}).empty());
  auto cap = parse({"--config-file=" + conf, "--actors.max-conversations=0"});
  REQUIRE(cap.size() == 1);
  CHECK_THAT(cap[0], Catch::Contains("actors.max-conversations"));
  auto unread = parse({"--config-file=" + conf, "--limits.unread-max=0"});
  REQUIRE(unread.size() == 1);
  CHECK_THAT(unread[0], Catch::Contains("limits.unread-max"));
  auto interval = parse({"--config-file=" + conf, "--storage.commit-interval=1s"});
  REQUIRE(interval.size() == 1);
  CHECK_THAT(interval[0], Catch::Contains("storage.commit-interval"));
  node_config cfg;
  REQUIRE_FALSE(cfg.parse({"--config-file=" + conf, "--storage.commit-interval=1500us"}));
  REQUIRE(cfg.validate().empty());
  CHECK(cfg.settings().writer.commit_interval == std::chrono::microseconds{1500});
}

TEST_CASE("net.keepalive is whole seconds rounded up and 0s turns it off", "[node]") {
  auto conf = write_conf("[auth]\nsecret=\"x\"\n");
  auto keepalive = [&](const std::string& value) {
    node_config cfg;
    REQUIRE_FALSE(cfg.parse({"--config-file=" + conf, "--net.keepalive=" + value}));
    REQUIRE(cfg.validate().empty());
    return cfg.settings().net.keepalive;
  };
  CHECK(keepalive("90s") == std::chrono::seconds{90});
  CHECK(keepalive("1500ms") == std::chrono::seconds{2});
  CHECK(keepalive("1ms") == std::chrono::seconds{1});
  CHECK(keepalive("0s") == std::chrono::seconds{0});
  auto long_one = parse({"--config-file=" + conf, "--net.keepalive=25h"});
  REQUIRE(long_one.size() == 1);
  CHECK_THAT(long_one[0], Catch::Contains("net.keepalive"));
}

TEST_CASE("a boolean option takes true or false on the command line, over the file", "[node]") {
  auto conf = write_conf("[auth]\nsecret=\"x\"\n[storage]\nsync=true\n");
  node_config off;
  REQUIRE_FALSE(off.parse({"--config-file=" + conf, "--storage.sync=false"}));
  REQUIRE(off.validate().empty());
  CHECK_FALSE(off.settings().writer.sync);

  auto conf_off = write_conf("[auth]\nsecret=\"x\"\n[storage]\nsync=false\n");
  node_config on;
  REQUIRE_FALSE(on.parse({"--config-file=" + conf_off, "--storage.sync=true"}));
  CHECK(on.settings().writer.sync);
  node_config flag;
  REQUIRE_FALSE(flag.parse({"--config-file=" + conf_off, "--storage.sync"}));
  CHECK(flag.settings().writer.sync);
  node_config file;
  REQUIRE_FALSE(file.parse({"--config-file=" + conf_off}));
  CHECK_FALSE(file.settings().writer.sync);

  // Anything else is still CAF's to refuse.
  CHECK(parse({"--config-file=" + conf, "--storage.sync=maybe"}) ==
        std::vector<std::string>{"parse error"});
}
