#include "tests/bench/proc_cpu.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace uhc {

std::optional<ProcCpu> ReadProcCpu(int pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line)) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces: fields after the last ')'.
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(paren + 2));
  std::string state;
  long long ppid, field;
  rest >> state >> ppid;
  // Fields 5..13, then utime (14), stime, cutime, cstime.
  for (int i = 5; i <= 13; ++i) rest >> field;
  long long utime = 0, stime = 0, cutime = 0, cstime = 0;
  rest >> utime >> stime >> cutime >> cstime;
  if (!rest) return std::nullopt;
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  ProcCpu cpu;
  cpu.ppid = static_cast<int>(ppid);
  cpu.seconds = (utime + stime) / ticks;
  cpu.reaped_children = (cutime + cstime) / ticks;
  return cpu;
}

double ProcessesCpuSeconds(const std::vector<int>& pids) {
  double total = 0;
  for (int pid : pids) {
    if (std::optional<ProcCpu> cpu = ReadProcCpu(pid)) total += cpu->seconds;
  }
  return total;
}

double TreeCpuSeconds(int root) {
  std::optional<ProcCpu> self = ReadProcCpu(root);
  if (!self) return 0;
  double total = self->seconds + self->reaped_children;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return total;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    std::optional<ProcCpu> child = ReadProcCpu(static_cast<int>(pid));
    if (child && child->ppid == root) total += child->seconds;
  }
  closedir(proc);
  return total;
}

}  // namespace uhc
