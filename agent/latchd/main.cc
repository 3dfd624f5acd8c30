// latchd: a ZooKeeper leader latch sidecar. See docs/design.md.
#include <signal.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <gflags/gflags.h>
#include <glog/logging.h>

#include "agent/latchd/agent.h"
#include "agent/latchd/flags.h"
#include "lib/io/fd_limit.h"

int main(int argc, char** argv) {
  FLAGS_logtostderr = true;
  gflags::SetUsageMessage("--id=ID --zk_connect=HOST:PORT[,...] [flags]: a ZooKeeper leader latch sidecar");
  gflags::SetVersionString(LATCHD_VERSION);
  std::vector<std::string> notes;
  auto config = latchd::ParseAgentFlags(&argc, &argv, &notes);
  if (!config.ok()) {
    std::fprintf(stderr, "latchd: %s\n", config.status().message().c_str());
    return 2;
  }
  google::InitGoogleLogging(argv[0]);
  for (const std::string& note : notes) {
    // ApplyAtlasProperties starts a note on a setting latchd does not follow with "warning: ".
    constexpr std::string_view kWarning = "warning: ";
    if (note.rfind(kWarning, 0) == 0) {
      LOG(WARNING) << "--atlas_properties: " << note.substr(kWarning.size());
    } else {
      LOG(INFO) << "--atlas_properties: " << note;
    }
  }
  latchd::RaiseFdLimitToHardAndLog();  // systemd's soft limit is 1024; HTTP and socket need more

  // Stop signals are read from a signalfd on the event loop; block them in
  // every thread (the ZooKeeper client's threads inherit this mask).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  latchd::Agent agent(std::move(config).value());
  latchd::Status started = agent.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "latchd: %s\n", started.message().c_str());
    return 1;
  }
  return agent.Run();
}
