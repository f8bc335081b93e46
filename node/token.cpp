#include "node/token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace chorus::node {

namespace {

std::string mac_hex(std::string_view secret, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(digits[mac[i] >> 4]);
    out.push_back(digits[mac[i] & 0xf]);
  }
  return out;
}

} // namespace

std::string make_token(std::string_view secret, std::string_view user_id, int64_t expires) {
  std::string body{user_id};
  body.push_back('.');
  body += std::to_string(expires);
  return body + "." + mac_hex(secret, body);
}

std::optional<std::string> verify_token(std::string_view secret, std::string_view token,
                                        int64_t now) {
  auto last = token.rfind('.');
  if (last == std::string_view::npos || last == 0)
    return std::nullopt;
  auto middle = token.rfind('.', last - 1);
  if (middle == std::string_view::npos || middle == 0)
    return std::nullopt;
  auto body = token.substr(0, last);
  auto mac = token.substr(last + 1);
  auto expected = mac_hex(secret, body);
  if (mac.size() != expected.size() || CRYPTO_memcmp(mac.data(), expected.data(), mac.size()) != 0)
    return std::nullopt;
  int64_t expires = 0;
  for (char c : token.substr(middle + 1, last - middle - 1)) {
    if (c < '0' || c > '9')
      return std::nullopt;
    expires = expires * 10 + (c - '0');
  }
  if (expires != 0 && expires < now)
    return std::nullopt;
  return std::string{token.substr(0, middle)};
}

} // namespace chorus::node
