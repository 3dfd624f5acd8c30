#include "lib/zk/acl.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <glog/logging.h>
#include <openssl/evp.h>

#include "lib/util/one_line.h"
#include "lib/util/read_file.h"
#include "lib/util/strings.h"

namespace latchd {
namespace {

constexpr std::string_view kWhitespace = " \t\r\n\v\f";
constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// base64 of a 20-byte SHA-1: 27 characters and one '=' of padding.
constexpr size_t kSha1Base64Length = 28;
// Refuse to read auth files larger than this (one line is expected).
constexpr size_t kMaxAuthFileBytes = 64 * 1024;

// Quotes a value for a one-line message: control characters become \xNN.
std::string Quote(std::string_view s) { return "\"" + OneLine(s) + "\""; }

bool IsSha1Base64(std::string_view s) {
  if (s.size() != kSha1Base64Length || s.back() != '=') return false;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (kBase64Alphabet.find(s[i]) == std::string_view::npos) return false;
  }
  // The last data character carries 4 bits; the 2 padding bits must be 0.
  size_t last = kBase64Alphabet.find(s[s.size() - 2]);
  return (last & 0x3) == 0;
}

bool ParsePrefixBits(std::string_view text, int max_bits) {
  if (text.empty() || text.size() > 3) return false;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return value <= max_bits;
}

// An IPv4 or IPv6 address, optionally followed by "/bits".
bool IsIpId(std::string_view id) {
  std::string_view address = id;
  std::string_view bits;
  bool has_bits = false;
  size_t slash = id.find('/');
  if (slash != std::string_view::npos) {
    address = id.substr(0, slash);
    bits = id.substr(slash + 1);
    has_bits = true;
  }
  std::string address_str(address);
  unsigned char buf[sizeof(struct in6_addr)];
  int max_bits;
  if (inet_pton(AF_INET, address_str.c_str(), buf) == 1) {
    max_bits = 32;
  } else if (inet_pton(AF_INET6, address_str.c_str(), buf) == 1) {
    max_bits = 128;
  } else {
    return false;
  }
  return !has_bits || ParsePrefixBits(bits, max_bits);
}

// Checks one trimmed, non-empty entry; returns it parsed or an error.
Result<ZkAclEntry> ParseAclEntry(std::string_view entry) {
  const std::string prefix = "--zk_acl: entry " + Quote(entry);
  size_t colon = entry.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::Error(prefix + " is not scheme:id");
  }
  ZkAclEntry acl;
  acl.scheme = std::string(entry.substr(0, colon));
  acl.id = std::string(entry.substr(colon + 1));
  acl.perms = kPermAll;
  const std::string& scheme = acl.scheme;
  const std::string& id = acl.id;
  if (scheme == "world") {
    if (id != "anyone") {
      return Status::Error(prefix + ": the world scheme only has the id \"anyone\"");
    }
  } else if (scheme == "digest") {
    size_t sep = id.find(':');
    if (sep == std::string::npos || sep == 0 ||
        !IsSha1Base64(std::string_view(id).substr(sep + 1))) {
      return Status::Error(
          prefix + ": a digest id must be user:<base64 SHA-1 of \"user:password\", 28 characters>");
    }
  } else if (scheme == "ip") {
    if (!IsIpId(id)) {
      return Status::Error(prefix +
                           ": an ip id must be an IPv4 or IPv6 address with an optional /bits");
    }
  } else if (scheme == "sasl" || scheme == "x509") {
    if (id.empty()) return Status::Error(prefix + ": the id is empty");
  } else if (scheme == "auth") {
    // ZooKeeper ignores the id of the auth scheme.
  } else {
    return Status::Error(prefix + ": unknown scheme " + Quote(scheme) +
                         " (expected world, digest, ip, sasl, x509 or auth)");
  }
  return acl;
}

// The rest of ReadAuthFile's message after the file's name, for a failed read.
std::string AuthFileReadError(const ReadFileDetails& details) {
  using Failure = ReadFileDetails::Failure;
  const char* why = std::strerror(details.error_number);
  switch (details.failure) {
    case Failure::kOpen:
      if (details.error_number == ENOENT) return " does not exist";
      return std::string(" cannot be opened: ") + why;
    case Failure::kStat:
      return std::string(" cannot be examined: ") + why;
    case Failure::kNotRegular:
      return " is not a regular file";
    case Failure::kRead:
      return std::string(" cannot be read: ") + why;
    case Failure::kTooLarge:
      return " is malformed: larger than " + std::to_string(kMaxAuthFileBytes) + " bytes";
    case Failure::kNone:
      break;
  }
  return " cannot be read";
}

}  // namespace

Result<std::vector<ZkAclEntry>> ParseAclList(std::string_view text) {
  std::vector<ZkAclEntry> out;
  if (Trim(text, kWhitespace).empty()) return out;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view raw =
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    std::string_view entry = Trim(raw, kWhitespace);
    if (entry.empty()) {
      return Status::Error("--zk_acl: empty entry in " + Quote(Trim(text, kWhitespace)));
    }
    Result<ZkAclEntry> parsed = ParseAclEntry(entry);
    if (!parsed.ok()) return parsed.status();
    out.push_back(std::move(parsed).value());
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<ZkAclEntry> AclForCreate(const std::vector<ZkAclEntry>& configured) {
  if (configured.empty()) {
    return {ZkAclEntry{"world", "anyone", kPermAll}};
  }
  std::vector<ZkAclEntry> out;
  bool has_world = false;
  for (const ZkAclEntry& entry : configured) {
    out.push_back(ZkAclEntry{entry.scheme, entry.id, kPermAll});
    if (entry.scheme == "world" && entry.id == "anyone") has_world = true;
  }
  if (!has_world) out.push_back(ZkAclEntry{"world", "anyone", kPermRead});
  return out;
}

Result<std::pair<std::string, std::string>> ParseAuth(std::string_view text) {
  std::string_view trimmed = Trim(text, kWhitespace);
  size_t colon = trimmed.find(':');
  if (colon == std::string_view::npos) {
    return Status::Error("--zk_auth: expected scheme:auth (no ':' found)");
  }
  if (colon == 0) return Status::Error("--zk_auth: expected scheme:auth (empty scheme)");
  if (colon + 1 == trimmed.size()) {
    return Status::Error("--zk_auth: expected scheme:auth (empty auth)");
  }
  return std::make_pair(std::string(trimmed.substr(0, colon)),
                        std::string(trimmed.substr(colon + 1)));
}

Result<std::pair<std::string, std::string>> ReadAuthFile(const std::string& path) {
  const std::string name = "auth file " + Quote(path);
  ReadFileDetails details;
  Result<std::string> read = ReadSmallFile(path, kMaxAuthFileBytes, &details);
  if (S_ISREG(details.mode) && (details.mode & (S_IRGRP | S_IROTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(details.mode & 07777));
    LOG(WARNING) << name << " is readable by group or others (mode " << mode
                 << "); consider chmod 600";
  }
  if (!read.ok()) return Status::Error(name + AuthFileReadError(details));
  const std::string& content = *read;
  if (Trim(content, kWhitespace).empty()) return Status::Error(name + " is empty");
  size_t newline = content.find('\n');
  std::string_view first(content);
  if (newline != std::string::npos) {
    if (!Trim(std::string_view(content).substr(newline + 1), kWhitespace).empty()) {
      return Status::Error(name + " is malformed: expected one line scheme:auth");
    }
    first = first.substr(0, newline);
  }
  Result<std::pair<std::string, std::string>> parsed = ParseAuth(first);
  if (!parsed.ok()) {
    return Status::Error(name + " is malformed: expected one line scheme:auth");
  }
  return parsed;
}

std::string DigestId(std::string_view user, std::string_view password) {
  std::string input;
  input.reserve(user.size() + 1 + password.size());
  input.append(user);
  input.push_back(':');
  input.append(password);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  CHECK_EQ(EVP_Digest(input.data(), input.size(), md, &md_len, EVP_sha1(), nullptr), 1)
      << "EVP_Digest(SHA-1) failed";
  // EVP_EncodeBlock writes 4 bytes per 3 input bytes plus a NUL.
  unsigned char encoded[((EVP_MAX_MD_SIZE + 2) / 3) * 4 + 1];
  int encoded_len = EVP_EncodeBlock(encoded, md, static_cast<int>(md_len));
  OPENSSL_cleanse(input.data(), input.size());
  std::string out(user);
  out.push_back(':');
  out.append(reinterpret_cast<const char*>(encoded), static_cast<size_t>(encoded_len));
  return out;
}

Result<std::string> DigestIdFromCredentials(std::string_view user_colon_password) {
  size_t colon = user_colon_password.find(':');
  if (colon == std::string_view::npos) {
    return Status::Error("digest credentials must be user:password (no ':' found)");
  }
  if (colon == 0) return Status::Error("digest credentials must be user:password (empty user)");
  return DigestId(user_colon_password.substr(0, colon), user_colon_password.substr(colon + 1));
}

}  // namespace latchd
