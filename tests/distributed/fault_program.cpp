// A job in which rank 1 fails on purpose, for tests/distributed/faults.sh:
//   fault_program dies         rank 1 is killed (SIGKILL) after 5 all-reduces
//   fault_program stops        rank 1 stops (SIGSTOP) after 5 all-reduces: alive, silent
//   fault_program never-joins  rank 1 sleeps instead of starting MPI
// Rank 0 keeps all-reducing; what ends it (mpirun, or the watchdog) is what the test checks.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "distributed/communicator.h"

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "dies" && mode != "stops" && mode != "never-joins") {
    std::fprintf(stderr, "usage: fault_program dies|stops|never-joins\n");
    return 2;
  }
  const char* rank_text = std::getenv("OMPI_COMM_WORLD_RANK");
  if (mode == "never-joins" && rank_text != nullptr && std::string(rank_text) == "1") sleep(600);
  auto comm = sg::dist::init_distributed();
  sg::Tensor t = sg::ones({1000}, {sg::DType::Float32});
  for (int i = 0; i < 1000000; ++i) {
    if (i == 5 && comm->rank() == 1) std::raise(mode == "dies" ? SIGKILL : SIGSTOP);
    comm->all_reduce(t, sg::dist::ReduceOp::Average);
  }
  return 0;
}
