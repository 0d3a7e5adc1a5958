#pragma once
// The communicators behind init_distributed() (communicator.cpp), one file each:
// single_process in communicator.cpp, MPI in mpi_communicator.cpp, NCCL in
// nccl_communicator.cu. A backend this build lacks throws an error that says so.
#include <memory>

#include "distributed/communicator.h"

namespace sg::dist::detail {

std::shared_ptr<Communicator> make_single_process_communicator();
std::shared_ptr<Communicator> make_mpi_communicator(double timeout_seconds);
std::shared_ptr<Communicator> make_nccl_communicator(double timeout_seconds);
// Ends every rank of an MPI job at once (MPI_Abort); nothing without MPI.
void abort_mpi_job(int exit_code);

}  // namespace sg::dist::detail
