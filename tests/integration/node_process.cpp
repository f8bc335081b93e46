#include "node_process.hpp"

#include "node/token.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace chorus::test {

namespace {

std::atomic<int> counter{0};

} // namespace

std::string token_for(const std::string& user) {
  return node::make_token(test_secret, user, 0);
}

client::json text_message(const std::string& client_msg_id, const std::string& text) {
  return {{"client_msg_id", client_msg_id}, {"msg_type", 1}, {"content", {{"text", text}}}};
}

client::json send_text(client::client& c, const std::string& to, const std::string& client_msg_id,
                       const std::string& text) {
  auto p = text_message(client_msg_id, text);
  p["to"] = to;
  return c.request("message.send", p);
}

node_process::node_process(std::vector<std::string> extra) : extra_(std::move(extra)) {
  data_dir_ = (std::filesystem::temp_directory_path() /
               ("chorus-it-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
                  .string();
  std::filesystem::remove_all(data_dir_);
  log_path_ = data_dir_ + ".log";
  std::filesystem::remove(log_path_);
  start();
}

node_process::~node_process() {
  if (pid_ > 0)
    stop();
  std::filesystem::remove_all(data_dir_);
  if (auto text = log(); !text.empty())
    std::fwrite(text.data(), 1, text.size(), stderr);
  std::filesystem::remove(log_path_);
}

std::string node_process::log() const {
  std::ifstream in{log_path_, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

void node_process::start() {
  std::vector<std::string> args = {CHORUSD_PATH,
                                   "--config-file=" CHORUS_SOURCE_DIR "/node.conf",
                                   "--node.data-dir=" + data_dir_,
                                   "--net.ws-port=0",
                                   "--net.tcp-port=0",
                                   std::string{"--auth.secret="} + test_secret,
                                   "--log.level=warn"};
  args.insert(args.end(), extra_.begin(), extra_.end());
  int out[2];
  if (pipe(out) != 0)
    throw std::runtime_error("pipe failed");
  int err = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (err < 0)
    throw std::runtime_error("cannot open " + log_path_);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    close(out[0]);
    close(out[1]);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  ::close(err);
  // Wait for "ready ws=PORT tcp=PORT".
  FILE* f = fdopen(out[0], "r");
  char line[256];
  bool ready = false;
  while (fgets(line, sizeof(line), f) != nullptr) {
    unsigned ws = 0, tcp = 0;
    if (sscanf(line, "ready ws=%u tcp=%u", &ws, &tcp) == 2) {
      ws_port_ = static_cast<uint16_t>(ws);
      tcp_port_ = static_cast<uint16_t>(tcp);
      ready = true;
      break;
    }
  }
  fclose(f); // the node's later stdout writes go nowhere; it only logs to stderr
  if (!ready) {
    kill9();
    throw std::runtime_error("chorusd did not start");
  }
}

bool node_process::stop() {
  if (pid_ <= 0)
    return false;
  ::kill(pid_, SIGTERM);
  // A node that does not stop within 20 s hangs: kill it and report failure.
  int status = 0;
  for (int waited_ms = 0; waitpid(pid_, &status, WNOHANG) == 0; waited_ms += 10) {
    if (waited_ms >= 20'000) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = -1;
      return false;
    }
    usleep(10'000);
  }
  pid_ = -1;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void node_process::kill9() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::unique_ptr<client::client> node_process::connect(const std::string& user,
                                                      client::transport t) const {
  auto port = t == client::transport::tcp ? tcp_port_ : ws_port_;
  auto c = std::make_unique<client::client>(t, "127.0.0.1", port);
  if (!user.empty())
    c->auth(user, token_for(user));
  return c;
}

std::pair<int, std::string> http(uint16_t port, const std::string& method,
                                 const std::string& target, const std::string& token,
                                 const std::string& body) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace bhttp = beast::http;
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver{ioc};
  beast::tcp_stream stream{ioc};
  stream.connect(resolver.resolve("127.0.0.1", std::to_string(port)));
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  if (!token.empty())
    req.set(bhttp::field::authorization, "Bearer " + token);
  req.body() = body;
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buf, res);
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  return {static_cast<int>(res.result_int()), res.body()};
}

double metric(const node_process& node, const std::string& name) {
  auto [status, body] = http(node.ws_port(), "GET", "/metrics", "");
  auto at = body.find("\n" + name + " ");
  if (status != 200 || at == std::string::npos)
    throw std::runtime_error("no metric " + name + " (HTTP " + std::to_string(status) + ")");
  return std::stod(body.substr(at + name.size() + 2));
}

} // namespace chorus::test
