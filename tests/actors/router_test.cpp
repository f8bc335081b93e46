#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "actors/router.hpp"
#include "cluster/placement.hpp"
#include "node/metrics.hpp"
#include "storage/store.hpp"
#include "storage/writer.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <thread>
#include <unistd.h>

using namespace chorus;
using namespace std::chrono_literals;

namespace {

/// A node's actor layer without its network: storage, writer, router.
struct fixture {
  std::filesystem::path dir;
  std::unique_ptr<storage::store> db;
  std::unique_ptr<storage::writer> writer;
  node::metrics stats;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  context_ptr ctx;
  std::unique_ptr<router> routes;

  explicit fixture(caf::timespan idle) {
    dir = std::filesystem::temp_directory_path() /
          ("chorus-router-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(dir);
    storage::store_options opts;
    opts.path = dir.string();
    REQUIRE(storage::store::open(opts, &db).ok());
    writer = std::make_unique<storage::writer>(*db, storage::writer_options{});
    sys = std::make_unique<caf::actor_system>(cfg);
    ctx = std::make_shared<actor_context>();
    ctx->settings.idle_timeout = idle;
    ctx->db = db.get();
    ctx->writer = writer.get();
    ctx->metrics = &stats;
    ctx->ids = std::make_unique<id_generator>("n1");
    auto where = std::make_shared<const cluster::placement>(std::vector<std::string>{"n1"}, "n1");
    routes = std::make_unique<router>(*sys, ctx, where);
    ctx->router = routes.get();
  }

  ~fixture() {
    routes->stop_all();
    sys->await_all_actors_done();
    routes.reset();
    sys.reset();
    writer->stop();
    writer.reset();
    db.reset();
    std::filesystem::remove_all(dir);
  }

  static inline int counter = 0;
};

} // namespace

TEST_CASE("the router activates an entity once and forgets it only when nothing is in flight") {
  fixture f{1h}; // no sweep during the test
  auto a = f.routes->route(entity_kind::conversation, "d:alice:bob");
  REQUIRE(a);
  auto again = f.routes->route(entity_kind::conversation, "d:alice:bob");
  REQUIRE(again);
  CHECK(*again == *a);
  CHECK(f.stats.active_conversations == 1);
  CHECK_FALSE(f.routes->find(entity_kind::user, "nobody")); // find never activates
  CHECK(f.stats.active_users == 0);

  // Two messages were routed to it; an entity that received one must stay.
  CHECK_FALSE(f.routes->passivate(entity_kind::conversation, "d:alice:bob", a->address(), 1));
  CHECK(f.routes->passivate(entity_kind::conversation, "d:alice:bob", a->address(), 2));
  CHECK(f.stats.active_conversations == 0);

  // The next message activates a new incarnation.
  auto b = f.routes->route(entity_kind::conversation, "d:alice:bob");
  REQUIRE(b);
  CHECK(b->address() != a->address());
  // The old incarnation ending (or asking again) leaves the new one alone.
  CHECK(f.routes->passivate(entity_kind::conversation, "d:alice:bob", a->address(), 2));
  caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
  std::this_thread::sleep_for(50ms);
  CHECK(f.routes->find(entity_kind::conversation, "d:alice:bob") == *b);
  CHECK(f.stats.active_conversations == 1);

  // An entity that ends by itself (here: killed) is forgotten.
  caf::anon_send_exit(*b, caf::exit_reason::kill);
  for (int i = 0; i < 100 && f.stats.active_conversations != 0; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(f.stats.active_conversations == 0);
  CHECK_FALSE(f.routes->find(entity_kind::conversation, "d:alice:bob"));

  // While the node stops nothing new is activated.
  f.routes->stop_all();
  auto refused = f.routes->route(entity_kind::user, "carol");
  CHECK_FALSE(refused);
}

TEST_CASE("the router's sweep passivates an entity idle for the idle timeout") {
  fixture f{100ms};
  auto u = f.routes->route(entity_kind::user, "alice");
  REQUIRE(u);
  caf::scoped_actor self{*f.sys};
  bool online = true;
  self->request(*u, caf::infinite, presence_atom::value)
      .receive([&](pb::Presence& p) { online = p.online(); }, [](caf::error&) { FAIL(); });
  CHECK_FALSE(online);
  CHECK(f.stats.active_users == 1);
  // Idle for 100-150 ms, then ticked by the next sweep (every 50 ms).
  for (int i = 0; i < 200 && f.stats.active_users != 0; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(f.stats.active_users == 0);
  CHECK_FALSE(f.routes->find(entity_kind::user, "alice"));
}

namespace {

/// Asks user actor `u` for its presence, as a client's request would: one
/// message routed to it, which it counts.
void ask_presence(fixture& f, const caf::actor& u) {
  caf::scoped_actor self{*f.sys};
  self->request(u, caf::infinite, presence_atom::value)
      .receive([](pb::Presence&) {}, [](caf::error&) { FAIL(); });
}

} // namespace

TEST_CASE("an entity used again after a sweep found it idle ignores that sweep's late tick") {
  fixture f{1h}; // the test runs the sweeps itself
  auto u = f.routes->route(entity_kind::user, "alice");
  REQUIRE(u);
  ask_presence(f, *u); // the routed message
  // Idle for three generations: the third sweep finds it, with one message.
  CHECK(f.routes->collect_idle().empty());
  CHECK(f.routes->collect_idle().empty());
  auto idle = f.routes->collect_idle();
  REQUIRE(idle.size() == 1);
  CHECK(idle[0].handle == *u);
  CHECK(idle[0].routed == 1);

  // Used again before its tick arrives (ticks are paced): it stays.
  auto again = f.routes->route(entity_kind::user, "alice");
  REQUIRE(again);
  ask_presence(f, *again);
  caf::anon_send(idle[0].handle, tick_atom::value, idle[0].routed);
  std::this_thread::sleep_for(50ms);
  CHECK(f.stats.active_users == 1);

  // A tick that counts every message it received lets it go, once nothing
  // routed to it is still on its way: find() counts one more message.
  auto found = f.routes->find(entity_kind::user, "alice");
  REQUIRE(found == *u);
  caf::anon_send(*u, tick_atom::value, uint64_t{2});
  std::this_thread::sleep_for(50ms);
  CHECK(f.stats.active_users == 1); // the message find() counted is not there
  ask_presence(f, found);
  caf::anon_send(*u, tick_atom::value, uint64_t{3});
  for (int i = 0; i < 100 && f.stats.active_users != 0; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(f.stats.active_users == 0);
  CHECK_FALSE(f.routes->find(entity_kind::user, "alice"));
}

TEST_CASE("every idle entity passivates when a sweep finds many at once") {
  fixture f{1s}; // a sweep every 0.5 s; idle after 1 to 1.5 s
  // Ten chunks of ticks and a part, each sent after a pause.
  const int users = static_cast<int>(10 * router::tick_chunk + 7);
  caf::scoped_actor self{*f.sys};
  for (int i = 0; i < users; ++i) {
    auto u = f.routes->route(entity_kind::user, "user" + std::to_string(i));
    REQUIRE(u);
    self->request(*u, caf::infinite, presence_atom::value)
        .receive([](pb::Presence&) {}, [](caf::error&) { FAIL(); });
  }
  for (int i = 0; i < 1000 && f.stats.active_users != 0; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(f.stats.active_users == 0);
}

TEST_CASE("a sweep finds exactly the entities not routed to for three generations") {
  fixture f{1h}; // the test runs the sweeps itself
  std::vector<caf::actor> users;
  for (int i = 0; i < 300; ++i) {
    auto u = f.routes->route(entity_kind::user, "user" + std::to_string(i));
    REQUIRE(u);
    users.push_back(*u);
  }
  CHECK(f.routes->collect_idle().empty());
  // Every third user is routed to again, in the next generation: the sweep
  // walks the entities in the order of their last route, from the oldest,
  // and must neither stop at these nor miss the idle ones behind them.
  for (size_t i = 0; i < users.size(); i += 3)
    CHECK(f.routes->find(entity_kind::user, "user" + std::to_string(i)) == users[i]);
  CHECK(f.routes->collect_idle().empty());
  auto handles = [](const std::vector<router::idle_entity>& idle) {
    std::set<caf::actor> out;
    for (const auto& e : idle)
      out.insert(e.handle);
    return out;
  };
  std::set<caf::actor> not_again;
  for (size_t i = 0; i < users.size(); ++i)
    if (i % 3 != 0)
      not_again.insert(users[i]);
  CHECK(handles(f.routes->collect_idle()) == not_again);
  CHECK(handles(f.routes->collect_idle()).size() == users.size()); // now all of them
}
