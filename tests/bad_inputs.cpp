// The bad-input table: what a user might do wrong, and the message they get. Each row
// runs the mistake for real (through the C++ API, or by starting an example program)
// and checks that it fails with an sg::Error (or exit code 1 and one message on
// stderr) containing the expected words. The same rows, with the messages they really
// produced, are docs/bad_inputs.md:
//   build/tests/bad_inputs BUILD/examples --check docs/bad_inputs.md   (ctest runs this)
//   build/tests/bad_inputs BUILD/examples --write docs/bad_inputs.md   (after adding a row)
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <sstream>

#include "distributed/communicator.h"
#include "distributed/data_parallel.h"
#include "io/checkpoint.h"
#include "io/idx.h"
#include "io/mnist.h"
#include "io/npy.h"
#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "ops/ops.h"
#include "optim/adam.h"
#include "optim/sgd.h"
#include "tools/gradcheck.h"

using namespace sg;
namespace fs = std::filesystem;

namespace {

struct Row {
  std::string area, mistake, expected;
  std::function<std::string()> run;  // the message produced, or a description of what went wrong
};

std::string g_dir;       // scratch directory, shown as DIR in the table
std::string g_examples;  // the example programs' directory

std::string file(const std::string& name) { return g_dir + "/" + name; }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// The sg::Error an API call throws.
std::function<std::string()> api(std::function<void()> call) {
  return [call] {
    try {
      call();
    } catch (const Error& e) {
      return std::string(e.what());
    } catch (const std::exception& e) {
      return std::string("NOT AN sg::Error: ") + e.what();
    }
    return std::string("NO ERROR");
  };
}

// What an example program prints on stderr when run with `args` (stdout discarded);
// it must fail with exit status 1 (or CLI11's usage codes) and not crash.
std::function<std::string()> cli(const std::string& program, const std::string& args) {
  return [program, args] {
    const std::string command = "cd '" + g_dir + "' && '" + g_examples + "/" + program + "' " + args +
                                " 2>&1 >/dev/null";
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return std::string("POPEN FAILED");
    std::string out;
    char buffer[4096];
    while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
    const int status = pclose(pipe);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    // CLI11 adds a second line pointing at --help; the message is the first.
    std::string first = out.substr(0, out.find("\nRun with --help"));
    while (!first.empty() && first.back() == '\n') first.pop_back();
    // 1: our one-line errors; 2 and 105: CLI11's usage and validation errors; >= 128: a crash.
    if (code != 1 && code != 2 && code != 105) return "EXIT CODE " + std::to_string(code) + ": " + out;
    return first;
  };
}

std::string npy_file(const std::string& dict, const std::string& data) {
  std::size_t header_len = dict.size() + 1;
  header_len += (64 - (10 + header_len) % 64) % 64;
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header_len & 0xff);
  out += static_cast<char>(header_len >> 8);
  return out + dict + std::string(header_len - dict.size() - 1, ' ') + '\n' + data;
}

std::vector<Row> rows() {
  return {
      // ---- ops and tensors ----
      {"ops", "add tensors whose shapes do not broadcast", "[2, 3] and [4]", api([] { add(zeros({2, 3}), zeros({4})); })},
      {"ops", "multiply float32 by float64", "float32 and float64", api([] { mul(zeros({2}), zeros({2}, {DType::Float64})); })},
      {"ops", "matmul with inner sizes that differ", "[2, 3] and [4, 5]", api([] { matmul(zeros({2, 3}), zeros({4, 5})); })},
      {"ops", "linear with an input of the wrong width", "(N, 3)", api([] { linear(zeros({2, 4}), zeros({5, 3})); })},
      {"ops", "conv2d with an input of the wrong channel count", "channels", api([] { conv2d(zeros({1, 2, 5, 5}), zeros({4, 3, 3, 3}), Tensor()); })},
      {"ops", "sum over a dimension that does not exist", "dimension out of range", api([] { sum(zeros({2, 3}), {2}); })},
      {"ops", "cross_entropy with a label outside the classes", "out of range", api([] { cross_entropy(zeros({2, 3}), from_vector(std::vector<int64_t>{0, 3}, {2}, {DType::Int64})); })},
      {"tensors", "reshape to a different element count", "reshape: shape [4, 2] is invalid", api([] { zeros({2, 3}).reshape({4, 2}); })},
      {"tensors", "view a non-contiguous tensor", "not contiguous", api([] { zeros({2, 3}).t().view({6}); })},
      {"tensors", "expand a size-2 dim to 4", "cannot expand", api([] { zeros({2, 3}).expand({4, 3}); })},
      {"tensors", "a shape of 2^40 x 2^40 elements", "is too large", api([] { zeros({int64_t{1} << 40, int64_t{1} << 40}); })},
      {"tensors", "a shape whose byte count overflows (3 x 2^62 x 4)", "is too large", api([] { zeros({3, int64_t{1} << 62, 4}); })},
      {"tensors", "a negative size", "non-negative sizes", api([] { zeros({2, -1}); })},
      {"tensors", "arange to infinity", "finite", api([] { arange(0, std::numeric_limits<double>::infinity()); })},
      {"tensors", "arange over 1e30 elements", "more than the 2^48", api([] { arange(0, 1e30); })},
      {"tensors", "at() past the end", "out of range", api([] { zeros({2, 3}).at({0, 3}); })},
      {"tensors", "item() of a tensor with several elements", "one element", api([] { zeros({2}).item(); })},
      {"tensors", "use an undefined Tensor handle", "undefined Tensor", api([] { Tensor().shape(); })},
      // ---- autograd ----
      {"autograd", "backward() on a non-scalar without a gradient", "expected a grad_output of shape [2]", api([] {
         Tensor x = ones({2}, {DType::Float64, Device::cpu(), true});
         (x * 2.0).backward();
       })},
      {"autograd", "backward() on a tensor without history", "does not require grad", api([] { sum(ones({2})).backward(); })},
      {"autograd", "backward_into(inputs) naming a result, not a leaf", "is not a leaf", api([] {
         Tensor x = ones({2}, {DType::Float64, Device::cpu(), true});
         Tensor h = x * 2.0;
         sum(h).backward_into({h});
       })},
      {"autograd", "requires_grad on an int64 tensor", "only float32/float64", api([] { zeros({2}, {DType::Int64}).requires_grad_(true); })},
      {"autograd", "requires_grad_ on an op's output", "only leaf tensors", api([] {
         Tensor x = ones({2}, {DType::Float64, Device::cpu(), true});
         (x * 2.0).requires_grad_(false);
       })},
      {"autograd", "modify in place a tensor a backward needs", "modified by an in-place operation", api([] {
         Tensor x = ones({2}, {DType::Float64, Device::cpu(), true});
         Tensor y = exp(x);
         Tensor z = sum(y * y);
         NoGradGuard no_grad;
         y.mul_(2.0);
         GradMode::set_enabled(true);
         z.backward();
       })},
      {"autograd", "gradcheck on float32 inputs", "float64", api([] {
         Tensor x = ones({2}, {DType::Float32, Device::cpu(), true});
         gradcheck([](const TensorList& in) { return sum(in[0]); }, {x});
       })},
      {"autograd", "gradcheck with input_names that do not match the inputs", "one name per input", api([] {
         Tensor x = ones({2}, {DType::Float64, Device::cpu(), true});
         gradcheck([](const TensorList& in) { return sum(in[0]); }, {x}, {.input_names = {"a", "b"}});
       })},
      // ---- spectral normalisation ----
      {"SN", "spectral_norm on a parameter that does not exist", "has no parameter", api([] {
         Linear layer(3, 4);
         spectral_norm(layer, {.param = "kernel"});
       })},
      {"SN", "spectral_norm twice on one weight", "already parametrized", api([] {
         Linear layer(3, 4);
         spectral_norm(layer);
         spectral_norm(layer);
       })},
      {"SN", "zero power iterations", "power_iterations >= 1", api([] {
         Linear layer(3, 4);
         spectral_norm(layer, {.power_iterations = 0});
       })},
      {"SN", "a non-positive target", "positive target", api([] {
         Linear layer(3, 4);
         spectral_norm(layer, {.target = 0});
       })},
      {"SN", "the until-converged estimator with max_iterations = 0", "max_iterations >= 1", api([] {
         Linear layer(3, 4);
         spectral_norm(layer, {.estimator = SNEstimator::PowerUntil, .max_iterations = 0});
       })},
      {"SN", "the operator estimator on a Linear layer", "need a Conv2d or ConvTranspose2d", api([] {
         Linear layer(3, 4);
         spectral_norm(layer, {.estimator = SNEstimator::Operator, .operator_input_shape = {1, 3, 8, 8}});
       })},
      {"SN", "an operator_input_shape with the wrong channel count", "has 5 channels, but the Conv2d takes 3", api([] {
         Conv2d conv(3, 4, 3);
         spectral_norm(conv, {.estimator = SNEstimator::Operator, .operator_input_shape = {1, 5, 8, 8}});
       })},
      {"SN", "the bsn variant on a Linear weight", "bsn variant is for convolution kernels", api([] {
         Linear layer(3, 4);
         spectral_norm(layer, {.variant = SNVariant::BSN});
       })},
      {"SN", "remove_spectral_norm where there is none", "has no spectral normalisation", api([] {
         Linear layer(3, 4);
         remove_spectral_norm(layer);
       })},
      // ---- state dicts and optimisers ----
      {"state dicts", "load a plain layer's state into an SN layer (no u, v)", "weight_u, weight_v", api([] {
         Linear plain(3, 4), normalised(3, 4);
         spectral_norm(normalised);
         normalised.load_state_dict(plain.state_dict());
       })},
      {"state dicts", "load weights of another shape", "shape mismatch for bias: expected [4], got [5]", api([] {
         Linear a(3, 4), b(3, 5);
         a.load_state_dict(b.state_dict());
       })},
      {"state dicts", "an undefined tensor in a state dict", "'bias' is an undefined tensor", api([] {
         Linear layer(3, 4);
         auto state = layer.state_dict();
         state["bias"] = Tensor();
         layer.load_state_dict(state);
       })},
      {"optimisers", "an optimiser with no parameters", "empty parameter list", api([] { Adam({}); })},
      {"optimisers", "a parameter that is the result of an op", "must be a leaf tensor (got the result of 'mul'", api([] { Tensor p = ones({2}, {DType::Float32, Device::cpu(), true}); SGD({mul(p, p)}); })},
      {"optimisers", "an int64 parameter", "has dtype int64, expected float32 or float64", api([] { SGD({zeros({2}, {DType::Int64})}); })},
      {"optimisers", "a negative learning rate", "lr", api([] { Adam({ones({2}, {DType::Float32, Device::cpu(), true})}, {.lr = -1}); })},
      {"optimisers", "Nesterov without momentum", "Nesterov momentum needs momentum > 0", api([] { SGD({ones({2}, {DType::Float32, Device::cpu(), true})}, {.nesterov = true}); })},
      // ---- several processes (distributed/; here a job of one process) ----
      {"distributed", "an unknown backend", "expected backend auto, single, mpi or nccl, got 'tcp'", api([] { dist::init_distributed({.backend = "tcp"}); })},
      {"distributed", "SIGMAGRAD_DIST_TIMEOUT that is not a number", "SIGMAGRAD_DIST_TIMEOUT: expected a positive number of seconds, got 'soon'", api([] {
         setenv("SIGMAGRAD_DIST_TIMEOUT", "soon", 1);
         struct Unset { ~Unset() { unsetenv("SIGMAGRAD_DIST_TIMEOUT"); } } unset;
         dist::init_distributed();
       })},
      {"distributed", "all_reduce of an int64 tensor", "all_reduce: expected a float32 or float64 tensor, got int64", api([] { dist::init_distributed()->all_reduce(zeros({3}, {DType::Int64}), dist::ReduceOp::Sum); })},
      {"distributed", "all_reduce of a transposed (strided) tensor", "all_reduce: expected a contiguous tensor", api([] { dist::init_distributed()->all_reduce(zeros({2, 3}).t(), dist::ReduceOp::Sum); })},
      {"distributed", "broadcast from a rank that does not exist", "expected root 0 in a job of one process, got 1", api([] { dist::init_distributed()->broadcast(zeros({3}), 1); })},
      {"distributed", "averaging the gradients of an int64 parameter", "GradientAverager (a parameter): expected a float32 or float64 tensor", api([] { dist::GradientAverager(dist::init_distributed(), {zeros({3}, {DType::Int64})}); })},
      // ---- files ----
      {"files", "load_npy of a missing file", "cannot open", api([] { load_npy(file("missing.npy")); })},
      {"files", "load_npy of a text file", "bad magic", api([] {
         write_bytes(file("text.npy"), "hello, world");
         load_npy(file("text.npy"));
       })},
      {"files", "load_npy of a truncated file", "truncated", api([] {
         write_bytes(file("short.npy"), npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", "1234567"));
         load_npy(file("short.npy"));
       })},
      {"files", "load_npy of big-endian data", "big-endian", api([] {
         write_bytes(file("be.npy"), npy_file("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", "12345678"));
         load_npy(file("be.npy"));
       })},
      {"files", "load_npy of a shape whose strides overflow", "too large for a tensor", api([] {
         write_bytes(file("huge.npy"), npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904, 4611686018427387904), }", ""));
         load_npy(file("huge.npy"));
       })},
      {"files", "save_npy into a directory that does not exist", "cannot open", api([] { save_npy(file("no/such/dir/a.npy"), zeros({2})); })},
      {"files", "load_checkpoint of a file that is not one", "bad magic", api([] {
         write_bytes(file("text.ckpt"), "just some text, not a checkpoint");
         load_checkpoint(file("text.ckpt"));
       })},
      {"files", "load_checkpoint with one byte changed", "checksum mismatch", api([] {
         save_checkpoint(file("flip.ckpt"), Checkpoint{{{"w", ones({4})}}, {{"epoch", "3"}}});
         std::fstream f(file("flip.ckpt"), std::ios::in | std::ios::out | std::ios::binary);
         f.seekp(60);
         f.put('\x7f');
         f.close();
         load_checkpoint(file("flip.ckpt"));
       })},
      {"files", "load_checkpoint with a damaged size field", "size field says", api([] {
         save_checkpoint(file("size.ckpt"), Checkpoint{{{"w", ones({4})}}, {}});
         std::fstream f(file("size.ckpt"), std::ios::in | std::ios::out | std::ios::binary);
         f.seekp(12);
         f.put('\x01');  // the size field's byte 4: +4 GB
         f.close();
         load_checkpoint(file("size.ckpt"));
       })},
      {"files", "read_idx of a file that is not IDX", "not an IDX file", api([] {
         write_bytes(file("x.idx"), std::string("PK\x03\x04 zip", 8));
         read_idx(file("x.idx"));
       })},
      {"files", "load_mnist from an empty directory", "scripts/fetch-mnist.sh", api([] {
         fs::create_directories(file("empty"));
         load_mnist(file("empty"), true);
       })},
      // ---- the example programs ----
      {"CLI", "mnist_gan --batch 0", "expected a value > 0, got 0", cli("mnist_gan", "--batch 0")},
      {"CLI", "mnist_gan --iters -1", "expected a value >= 0, got -1", cli("mnist_gan", "--iters -1")},
      {"CLI", "mnist_gan --sn bogus", "--sn", cli("mnist_gan", "--sn bogus")},
      {"CLI", "mnist_gan --data synthetic:abc", "--data synthetic:N: expected an integer, got \"abc\"", cli("mnist_gan", "--data synthetic:abc --no-eval")},
      {"CLI", "mnist_gan --sn-layers x", "--sn-layers: expected an integer, got \"x\"", cli("mnist_gan", "--sn-layers x --data synthetic:64 --no-eval")},
      {"CLI", "mnist_gan --sn-layers 9", "does not exist", cli("mnist_gan", "--sn-layers 9 --data synthetic:64 --no-eval")},
      {"CLI", "mnist_gan --dump-samples x s.npy", "--dump-samples N: expected an integer", cli("mnist_gan", "--data synthetic:64 --batch 32 --epochs 0 --no-eval --dump-samples x s.npy")},
      {"CLI", "mnist_gan --cuda-graph --sn adaptive", "--cuda-graph: expected --sn all, none or log", cli("mnist_gan", "--cuda-graph --sn adaptive --data synthetic:64 --no-eval")},
      {"CLI", "mnist_gan --cuda-graph --n-dis 2", "--cuda-graph: expected --n-dis 1", cli("mnist_gan", "--cuda-graph --n-dis 2 --data synthetic:64 --no-eval")},
      {"CLI", "mnist_gan --batch larger than the data", "larger than the training set", cli("mnist_gan", "--data synthetic:100 --batch 200 --no-eval")},
      {"CLI", "mnist_gan --out under a regular file", "--out: cannot create", cli("mnist_gan", "--out a_file/run --data synthetic:64")},
      {"CLI", "mnist_gan --classifier pointing at a bad file", "bad magic", cli("mnist_gan", "--classifier a_file --data synthetic:64 --batch 32")},
      {"CLI", "mnist_gan --resume with no checkpoint", "cannot open", cli("mnist_gan", "--resume --out fresh --data synthetic:64 --no-eval")},
      {"CLI", "mnist_gan --resume from another program's checkpoint", "is not a mnist_gan checkpoint", cli("mnist_gan", "--resume --out foreign --data synthetic:64 --no-eval")},
      {"CLI", "mnist_gan --resume with other settings", "other settings: batch=32 (this run: 16)", cli("mnist_gan", "--resume --out run --data synthetic:64 --batch 16 --iters 1 --no-eval --lr 0.1")},
      {"CLI", "mnist_gan --resume with a damaged metrics.csv", "the iteration: expected an integer", cli("mnist_gan", "--resume --out damaged --model mlp --data synthetic:64 --batch 32 --iters 1 --epochs 2 --no-eval")},
      {"CLI", "mnist_classifier --out under a regular file", "--out: cannot create", cli("mnist_classifier", "--out a_file/classifier")},
  };
}

// The files the CLI rows need, made before they run.
void prepare() {
  write_bytes(file("a_file"), "a regular file\n");
  fs::create_directories(file("foreign"));
  save_checkpoint(file("foreign/checkpoint.ckpt"), Checkpoint{{{"w", ones({2})}}, {{"accuracy", "0.99"}}});
  const std::string run = "cd '" + g_dir + "' && '" + g_examples +
                          "/mnist_gan' --model mlp --data synthetic:64 --batch 32 --iters 1 --epochs 1 --no-eval --out ";
  if (std::system((run + "run > /dev/null 2>&1").c_str()) != 0 || std::system((run + "damaged > /dev/null 2>&1").c_str()) != 0)
    throw Error("bad_inputs: mnist_gan could not make the runs the --resume rows need");
  // The batch size of "run" (32) differs from the row's (16): a settings mismatch. "damaged"
  // gets a metrics row whose iteration is not a number.
  std::ifstream header(file("damaged/metrics.csv"));
  std::string line;
  std::getline(header, line);
  const auto commas = std::count(line.begin(), line.end(), ',');
  std::string row = "x1";
  for (int i = 0; i < commas; ++i) row += ",0";
  std::string all = line + "\n" + row + "\n";
  write_bytes(file("damaged/metrics.csv"), all);
}

std::string shown(std::string message) {
  for (std::size_t at; (at = message.find(g_dir)) != std::string::npos;) message.replace(at, g_dir.size(), "DIR");
  std::string out;
  for (char c : message) {
    if (c == '\n') out += "<br>";
    else if (c == '|') out += "\\|";
    else out += c;
  }
  return out;
}

std::string markdown(const std::vector<std::pair<Row, std::string>>& results) {
  std::ostringstream md;
  md << "# Bad input and the messages it gets\n\n"
     << "Every row is a mistake a user might make, run for real by `tests/bad_inputs.cpp` (the C++ API,\n"
     << "or the example programs started with those arguments), with the message it produced. ctest\n"
     << "checks that each still fails with an error containing the expected words and that this page\n"
     << "matches what the rows print; after adding a row, regenerate it with\n"
     << "`build/tests/bad_inputs build/examples --write docs/bad_inputs.md`. DIR is the scratch\n"
     << "directory the rows run in. Unit tests for the same behaviours sit beside the code's other tests\n"
     << "(`tests/test_errors.cpp`, `tests/test_reliability.cpp`, `tests/test_io.cpp`).\n\n"
     << "| # | area | what the user does | the message |\n| --- | --- | --- | --- |\n";
  int n = 0;
  for (const auto& [row, message] : results)
    md << "| " << ++n << " | " << row.area << " | " << shown(row.mistake) << " | " << shown(message) << " |\n";
  return md.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 || (std::string(argv[2]) != "--check" && std::string(argv[2]) != "--write")) {
    std::cerr << "usage: bad_inputs EXAMPLES_DIR --check|--write docs/bad_inputs.md\n";
    return 2;
  }
  g_examples = fs::absolute(argv[1]).string();
  char pattern[] = "/tmp/sg_bad_inputs_XXXXXX";
  g_dir = mkdtemp(pattern);
  int failures = 0;
  std::vector<std::pair<Row, std::string>> results;
  try {
    prepare();
    for (Row& row : rows()) {
      std::string message = row.run();
      const bool ok = message.find(row.expected) != std::string::npos && message.find("NO ERROR") == std::string::npos &&
                      message.rfind("EXIT CODE", 0) != 0 && message.rfind("NOT AN", 0) != 0;
      if (!ok) {
        ++failures;
        std::cerr << "FAILED: " << row.area << ": " << row.mistake << "\n  expected a message containing: "
                  << row.expected << "\n  got: " << message << "\n";
      }
      results.emplace_back(row, message);
    }
  } catch (const std::exception& e) {
    std::cerr << "bad_inputs: " << e.what() << "\n";
    failures = 1;
  }
  fs::remove_all(g_dir);
  if (failures) return 1;
  const std::string table = markdown(results);
  if (std::string(argv[2]) == "--write") {
    std::ofstream(argv[3]) << table;
    std::cout << results.size() << " rows written to " << argv[3] << "\n";
    return 0;
  }
  std::ifstream in(argv[3]);
  std::string current((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (current != table) {
    std::cerr << argv[3] << " differs from what the rows print now; regenerate it with --write\n";
    return 1;
  }
  std::cout << results.size() << " bad inputs give their documented messages\n";
  return 0;
}
