// The test runner: doctest's own, plus one thing. ctest registers the test cases that
// `--list-test-cases` prints, and doctest leaves out cases marked doctest::skip (the
// CUDA cases on a machine without a GPU). Listing them anyway makes ctest register
// them; run, they execute nothing, and tests/CMakeLists.txt has ctest report that as
// "Skipped" rather than "Passed".
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <string>

int main(int argc, char** argv) {
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]).find("list-test-cases") != std::string::npos) context.setOption("no-skip", true);
  return context.run();
}
