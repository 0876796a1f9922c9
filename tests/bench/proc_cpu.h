#pragma once

// CPU time of processes on this machine from /proc/<pid>/stat (Linux), for the PostgreSQL bench
// peer: the server is a tree of processes, not one process with an INFO command.

#include <optional>
#include <vector>

namespace uhc {

struct ProcCpu {
  int ppid = 0;
  double seconds = 0;          // utime + stime
  double reaped_children = 0;  // cutime + cstime: children that exited and were waited for
};

// The process's CPU; nullopt if it does not exist (any more) or /proc cannot be read.
std::optional<ProcCpu> ReadProcCpu(int pid);

// CPU seconds of the processes `pids` (those still alive).
double ProcessesCpuSeconds(const std::vector<int>& pids);

// CPU seconds of `root` and all of its children: its own, its live children's, and its exited
// children's once reaped. A difference of two readings covers the children that came and went in
// between (a PostgreSQL postmaster reaps its backends and workers promptly).
double TreeCpuSeconds(int root);

}  // namespace uhc
