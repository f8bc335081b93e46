#include "options.hpp"

namespace chorus::bench {

std::string options::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quiet") {
      quiet = true;
      continue;
    }
    auto eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos)
      return "unexpected argument '" + a + "' (use --key=value)";
    auto key = a.substr(2, eq - 2);
    auto value = a.substr(eq + 1);
    try {
      if (key == "workload")
        workload = value;
      else if (key == "host")
        host = value;
      else if (key == "port")
        port = static_cast<uint16_t>(std::stoi(value));
      else if (key == "wire")
        wire_name = value;
      else if (key == "secret")
        secret = value;
      else if (key == "domain")
        domain = value;
      else if (key == "prefix")
        prefix = value;
      else if (key == "threads")
        threads = std::stoi(value);
      else if (key == "users" || key == "connections")
        users = std::stoi(value);
      else if (key == "groups")
        groups = std::stoi(value);
      else if (key == "members")
        members = std::stoi(value);
      else if (key == "rate")
        rate = std::stod(value);
      else if (key == "window")
        window = std::stoi(value);
      else if (key == "duration")
        duration = std::stod(value);
      else if (key == "warmup")
        warmup = std::stod(value);
      else if (key == "size")
        size = std::stoi(value);
      else if (key == "messages")
        messages = std::stoi(value);
      else if (key == "stop-after")
        stop_after = std::stoll(value);
      else if (key == "conversations")
        conversations = std::stoi(value);
      else if (key == "server-pid")
        server_pid = std::stoi(value);
      else if (key == "metrics-port")
        metrics_port = std::stoi(value);
      else if (key == "record")
        record = value;
      else if (key == "json")
        json_out = value;
      else
        return "unknown option --" + key;
    } catch (const std::exception&) {
      return "invalid value for --" + key + ": '" + value + "'";
    }
  }
  if (wire_name != "tcp" && wire_name != "ws" && wire_name != "xmpp")
    return "--wire must be tcp, ws or xmpp";
  if (wire_name == "xmpp" && workload != "w1" && workload != "w3")
    return "--wire=xmpp drives only w1 and w3";
  if (threads < 1 || users < 1 || window < 1 || members < 2 || groups < 1 || size < 1)
    return "counts must be positive (members at least 2)";
  return {};
}

} // namespace chorus::bench
