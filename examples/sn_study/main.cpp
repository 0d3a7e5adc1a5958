// The spectral-normalisation study: trains the MNIST GAN over a grid of optimiser
// settings (Miyato et al. 2018, Table 1) x SN configurations x seeds, scores every run,
// and reports when SN and each policy help. Each run is the real `mnist_gan` program
// (the trainer is not copied), started as its own process, so runs go in parallel and a
// run that dies cannot take the study with it.
//
//   build/examples/sn_study --model mlp --epochs 2 --jobs 2 --out out/sn_study
//   build/examples/sn_study --report out/sn_study          (tables and figures only)
//
// Every finished run is a row of OUT/results.csv at once; a study started again skips
// the rows it has. A run whose losses become NaN/inf (mnist_gan exits with code 3) is
// recorded as diverged. The report: OUT/results.md and OUT/study.png (write_report() in
// study.cpp). What it reads of each run (the scores line, metrics.csv) is written and
// read by the same shared code as mnist_gan's (examples/common/gan_scores.h, gan_metrics.h).
#include <CLI/CLI.hpp>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "../common/cli.h"
#include "../common/gan_metrics.h"
#include "../common/text_files.h"
#include "core/error.h"
#include "study.h"

using namespace sg;
using namespace sg::examples;
namespace fs = std::filesystem;

namespace {

// Runs `command` through the shell; its stdout and stderr go to `log`. Returns the exit code.
int run_logged(const std::string& command, const std::string& log) {
  const int status = std::system((command + " > '" + log + "' 2>&1").c_str());
  if (status == -1) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Makes the scorer once, before the grid, so that parallel runs do not each train one.
void ensure_classifier(const StudyOptions& o) {
  if (fs::exists(o.classifier) || o.data.rfind("synthetic:", 0) == 0) return;
  std::printf("training the MNIST classifier the scores use (%s)\n", o.classifier.c_str());
  const std::string dir = fs::path(o.classifier).parent_path().string();
  const std::string command = "'" + o.classifier_program + "' --epochs 3 --data '" + o.data + "' --out '" + dir + "'";
  SG_CHECK(std::system(command.c_str()) == 0 && fs::exists(o.classifier), "sn_study: training the classifier failed: ",
           command);
}

}  // namespace

int main(int argc, char** argv) {
  StudyOptions o;
  std::string settings = "A,B,C,D,E,F", configs = "none,all,layers:last,layers:all-but-last,clamp,bsn,adaptive,balance",
              seeds = "1,2,3", report_only;
  CLI::App app{"Train the MNIST GAN over optimiser settings x SN configurations x seeds, score every run, report"};
  app.add_option("--model", o.model, "mlp or dcgan")->check(CLI::IsMember({"mlp", "dcgan"}));
  app.add_option("--settings", settings, "optimiser settings of Miyato et al. 2018, Table 1: A-F");
  app.add_option("--sn", configs, "SN configurations: none, all, layers:0 / layers:last / layers:all-but-last / "
                                  "layers:0+1, clamp, bsn, adaptive, balance, log");
  app.add_option("--seeds", seeds, "seeds, e.g. 1,2,3");
  app.add_option("--epochs", o.epochs, "epochs per run")->check(positive());
  app.add_option("--iters", o.iters, "cap on iterations per epoch (0: full epochs)")->check(non_negative());
  app.add_option("--batch", o.batch, "batch size")->check(positive());
  app.add_option("--out", o.out, "study directory (results.csv, results.md, study.png, runs/)");
  app.add_option("--jobs", o.jobs, "runs at once (threads per run: cores / jobs)")->check(positive());
  app.add_option("--device", o.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--dump-samples", o.dump_samples, "write each run's N samples as runs/<run>/samples.npy")->check(non_negative());
  app.add_option("--data", o.data, "MNIST directory, or synthetic:N");
  app.add_option("--classifier", o.classifier, "the scorer's weights (trained once if missing)");
  app.add_option("--eval-samples", o.eval_samples, "samples scored per run")->check(positive());
  app.add_option("--lr-scale", o.lr_scale, "multiply every setting's learning rate (tests, sensitivity)")->check(positive());
  app.add_flag("--no-eval", o.no_eval, "skip the scores (a smoke test of the grid)");
  app.add_option("--report", report_only, "only write the report of the study in this directory");
  CLI11_PARSE(app, argc, argv);

  return run_main("sn_study", [&] {
    const fs::path self = fs::canonical("/proc/self/exe").parent_path();
    o.gan_program = (self / "mnist_gan").string();
    o.classifier_program = (self / "mnist_classifier").string();
    if (!report_only.empty()) {
      write_report(report_only);
      std::printf("wrote %s/results.md\n", report_only.c_str());
      return 0;
    }
    ensure_writable_dir(o.out, "--out");
    check_study_identity(o);
    std::vector<StudyRun> runs = study_grid(o, split_list(settings), split_list(configs), split_list(seeds));
    std::vector<StudyRun> todo;
    const std::set<std::string> done = finished_runs(o.out);
    for (const StudyRun& r : runs)
      if (!done.count(r.id())) todo.push_back(r);
    std::printf("%zu runs in the grid, %zu already in %s/results.csv, %zu to do, %d at a time\n", runs.size(),
                runs.size() - todo.size(), o.out.c_str(), todo.size(), o.jobs);
    if (!o.no_eval) ensure_classifier(o);
    // Synthetic data has no separate classifier run: the first run trains it, alone.
    const bool first_alone = !o.no_eval && !fs::exists(o.classifier) && !todo.empty();

    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const int threads = std::max(1, static_cast<int>(cores) / o.jobs);
    std::mutex mutex;
    std::size_t next = 0;  // the next run to start, under `mutex`
    std::size_t finished = 0;
    double seconds_total = 0;
    std::string failure;
    auto take = [&](std::size_t limit, std::size_t& i) {
      std::lock_guard<std::mutex> lock(mutex);
      if (next >= limit) return false;
      i = next++;
      return true;
    };
    auto worker = [&](std::size_t limit) {
      for (std::size_t i = 0; take(limit, i);) try {
        const StudyRun& run = todo[i];
        const std::string dir = o.out + "/runs/" + run.id();
        fs::create_directories(dir);
        const auto start = std::chrono::steady_clock::now();
        const int code = run_logged(str("SIGMAGRAD_NUM_THREADS=", threads, " ", run.command(o, dir)),
                                    dir + "/log.txt");
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::lock_guard<std::mutex> lock(mutex);
        if (code != 0 && code != kGanDivergedExitCode) {
          failure = str("run ", run.id(), " failed (exit code ", code, "); its log: ", dir, "/log.txt\n", read_text_file(dir + "/log.txt"));
          next = todo.size();  // start no more runs
          return;
        }
        StudyRow row = collect_row(run, dir, code == kGanDivergedExitCode, seconds);
        append_row(o.out, row);
        ++finished;
        seconds_total += seconds;
        const double left = seconds_total / static_cast<double>(finished) *
                            static_cast<double>(todo.size() - finished) / o.jobs;
        std::printf("[%zu/%zu] %s: %s (%.0f s); about %.0f min left\n", finished, todo.size(), run.id().c_str(),
                    row.summary().c_str(), seconds, left / 60);
        std::fflush(stdout);
      } catch (const std::exception& e) {  // never std::terminate from a worker thread
        std::lock_guard<std::mutex> lock(mutex);
        if (failure.empty()) failure = e.what();
        next = todo.size();
      }
    };
    // Until the scorer exists (synthetic data: the first run trains it), runs go one at a
    // time, so that parallel runs never train and save it at once.
    while (first_alone && !fs::exists(o.classifier) && next < todo.size() && failure.empty()) worker(next + 1);
    std::vector<std::thread> pool;
    for (int j = 0; j < o.jobs; ++j) pool.emplace_back(worker, todo.size());
    for (std::thread& t : pool) t.join();
    SG_CHECK(failure.empty(), failure);
    write_report(o.out);
    std::printf("wrote %s/results.csv, %s/results.md and (with gnuplot) %s/study.png\n", o.out.c_str(), o.out.c_str(),
                o.out.c_str());
    return 0;
  });
}
