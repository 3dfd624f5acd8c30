#include "lib/api/session_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace latchd {
namespace {

std::string Hex(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

bool Unhex(const std::string& hex, std::string* out) {
  if (hex.size() % 2) return false;
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    unsigned v = 0;
    if (std::sscanf(hex.c_str() + i, "%2x", &v) != 1) return false;
    out->push_back(static_cast<char>(v));
  }
  return true;
}

}  // namespace

std::string SessionFilePath(const std::string& socket_path) {
  return socket_path.empty() ? std::string() : socket_path + ".session";
}

Status WriteSessionRecord(const std::string& path, const SessionRecord& r) {
  nlohmann::json j = {{"session_id", r.session_id}, {"password", Hex(r.password)},
                      {"node", r.node},             {"id", r.id},
                      {"zk_connect", r.zk_connect}, {"zk_root", r.zk_root}};
  std::string text = j.dump() + "\n";
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Error("cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = (fsync(fd) == 0) && ok;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return Status::Error("cannot write " + path + ": " + std::strerror(err));
  }
  return Status::Ok();
}

Result<SessionRecord> ReadSessionRecord(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Error("no session record at " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  auto j = nlohmann::json::parse(buf.str(), nullptr, false);
  SessionRecord r;
  if (j.is_discarded() || !j.is_object() || !j.contains("session_id") || !j["session_id"].is_number_integer() ||
      !j.contains("password") || !j["password"].is_string() ||
      !Unhex(j["password"].get<std::string>(), &r.password) || r.password.size() != 16) {
    return Status::Error("session record " + path + " is malformed");
  }
  r.session_id = j["session_id"].get<int64_t>();
  for (auto [key, field] : {std::pair{"node", &r.node}, std::pair{"id", &r.id},
                            std::pair{"zk_connect", &r.zk_connect}, std::pair{"zk_root", &r.zk_root}}) {
    if (j.contains(key) && j[key].is_string()) *field = j[key].get<std::string>();
  }
  return r;
}

void RemoveSessionRecord(const std::string& path) {
  if (!path.empty()) unlink(path.c_str());
}

}  // namespace latchd
