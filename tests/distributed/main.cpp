// The distributed suite's runner. The same binary runs as one process (ctest, and the
// sanitizer build: the single-process communicator) and under
//   mpirun -np 2 build/tests/distributed_tests
// (ctest's "2 ranks" entry), where every rank runs every test case in the same order, so
// their collectives pair up. The expected values are formulas in the world size.
// SIGMAGRAD_DIST_BACKEND=nccl (on GPUs, under mpirun) runs the suite on the NCCL backend:
// CUDA tensors over NCCL, the rest over MPI.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>

#include "distributed/communicator.h"

int main(int argc, char** argv) {
  sg::dist::DistributedOptions options;
  if (const char* backend = std::getenv("SIGMAGRAD_DIST_BACKEND")) options.backend = backend;
  sg::dist::init_distributed(options);  // before any test: MPI starts once, ends at exit
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  const int failures = context.run();
  if (failures != 0) sg::dist::stop_job_after_error(failures);  // no rank left waiting
  return failures;
}
