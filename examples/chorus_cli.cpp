// chorus-cli: an interactive client of a Chorus node, built on the client
// library.
//
//   chorus-cli [--host=127.0.0.1] [--port=7300] [--tcp|--binary] USER TOKEN
//
// Then type commands, one per line:
//   send TO TEXT...           a direct message
//   group ID TEXT...          a message to group g:ID
//   create ID MEMBER...       create group g:ID
//   history CONVERSATION      the latest messages
//   sync | list               sync, conversations.list
//   {"type": ...}             any frame, as JSON
// Replies and pushes are printed as JSON lines. End with Ctrl-D.
#include "client/client.hpp"

#include <iostream>
#include <sstream>

using chorus::client::client;
using chorus::client::json;
using chorus::client::transport;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  uint16_t port = 7300;
  auto kind = transport::websocket_json;
  std::vector<std::string> positional;
  bool port_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--host=", 0) == 0)
      host = a.substr(7);
    else if (a.rfind("--port=", 0) == 0) {
      port = static_cast<uint16_t>(std::stoi(a.substr(7)));
      port_given = true;
    } else if (a == "--tcp")
      kind = transport::tcp;
    else if (a == "--binary")
      kind = transport::websocket_binary;
    else
      positional.push_back(a);
  }
  if (positional.size() != 2) {
    std::cerr << "usage: chorus-cli [--host=H] [--port=P] [--tcp|--binary] USER TOKEN\n";
    return 2;
  }
  if (kind == transport::tcp && !port_given)
    port = 7301;
  try {
    client c{kind, host, port};
    std::cout << c.auth(positional[0], positional[1]).dump() << std::endl;
    uint64_t n = 0;
    auto id = [&] {
      return "cli-" + std::to_string(std::time(nullptr)) + "-" + std::to_string(++n);
    };
    std::string line;
    while (true) {
      while (auto f = c.next(100ms))
        std::cout << f->dump() << std::endl;
      if (!std::getline(std::cin, line))
        break;
      std::istringstream in{line};
      std::string cmd;
      in >> cmd;
      auto rest = [&] {
        std::string text;
        std::getline(in >> std::ws, text);
        return text;
      };
      json reply;
      if (cmd.empty()) {
        continue;
      } else if (line[0] == '{') {
        auto frame = json::parse(line, nullptr, false);
        if (frame.is_discarded()) {
          std::cerr << "not JSON\n";
          continue;
        }
        c.send(frame);
        continue;
      } else if (cmd == "send" || cmd == "group") {
        std::string to;
        in >> to;
        json p = {{"client_msg_id", id()}, {"msg_type", 1}, {"content", {{"text", rest()}}}};
        if (cmd == "send")
          p["to"] = to;
        else
          p["conversation_id"] = "g:" + to;
        reply = c.request("message.send", p);
      } else if (cmd == "create") {
        std::string gid, m;
        in >> gid;
        json members = json::array();
        while (in >> m)
          members.push_back(m);
        reply = c.request("group.create", {{"group_id", gid}, {"members", members}});
      } else if (cmd == "history") {
        std::string conv;
        in >> conv;
        reply = c.request("history", {{"conversation_id", conv}});
      } else if (cmd == "sync") {
        reply = c.request("sync");
      } else if (cmd == "list") {
        reply = c.request("conversations.list");
      } else {
        std::cerr << "unknown command '" << cmd << "'\n";
        continue;
      }
      std::cout << reply.dump() << std::endl;
    }
  } catch (const std::exception& e) {
    std::cerr << "chorus-cli: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
