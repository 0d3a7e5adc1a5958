#pragma once
#include <memory>

#include "distributed/communicator.h"

namespace sg::dist::testing {

// The communicator main() started: MPI under mpirun, a single process otherwise.
inline std::shared_ptr<Communicator> job() { return init_distributed(); }

}  // namespace sg::dist::testing
