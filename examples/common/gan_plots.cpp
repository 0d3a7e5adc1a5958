#include "gan_plots.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "io/atomic_file.h"
#include "png.h"

namespace sg::examples {

namespace fs = std::filesystem;

void write_sample_grids(const std::string& out_dir, int epoch, const Tensor& images) {
  char name[64];
  std::snprintf(name, sizeof name, "/samples_epoch_%03d.png", epoch);
  write_png_grid(out_dir + name, images);
  write_png_grid(out_dir + "/samples.png", images);
}

bool gnuplot_available() { return std::system("command -v gnuplot > /dev/null 2>&1") == 0; }

void render_gnuplot(const std::string& script, const std::string& png) {
  if (std::system(("gnuplot '" + script + "' 2>/dev/null").c_str()) == 0) fs::rename(png + ".tmp", png);
}

// Panels: the losses; each SN layer's sigma (metrics.csv column 7 on, as MetricsCsv
// writes them); D's Lipschitz bounds per epoch.
void plot_training(const std::string& out_dir, const std::vector<SNLayer>& sn_layers) {
  if (!gnuplot_available()) {
    std::printf("gnuplot not found: skipped training.png (metrics.csv has the data)\n");
    return;
  }
  const std::string script = out_dir + "/training.gp", metrics_csv = out_dir + "/metrics.csv";
  const bool lipschitz = fs::exists(out_dir + "/lipschitz.csv");
  write_file_atomically(script, [&](std::ostream& s) {
    s << "set datafile separator ','\nset terminal png size 1000,700\nset output '" << out_dir << "/training.png.tmp'\n"
      << "set multiplot layout " << 1 + !sn_layers.empty() + lipschitz << ",1\nset key outside right\nset grid\n"
      << "set title 'losses'\nset xlabel 'iteration'\n"
      << "plot '" << metrics_csv << "' using 1:3 with lines title 'loss D', '' using 1:4 with lines title 'loss G'\n";
    if (!sn_layers.empty()) {
      s << "set title 'spectral norm sigma of D layers (estimate)'\nplot ";
      for (std::size_t k = 0; k < sn_layers.size(); ++k)
        s << (k ? ", " : "") << "'" << metrics_csv << "' using 1:" << 7 + k << " with lines title '" << sn_layers[k].name << "'";
      s << "\n";
    }
    if (lipschitz)
      s << "set title 'D Lipschitz constant: certified upper bound and empirical lower bound'\nset xlabel 'epoch'\n"
        << "plot '" << out_dir << "/lipschitz.csv' using 1:2 with linespoints title 'certified (upper)', '' using 1:3 "
        << "with linespoints title 'empirical (lower)'\n";
    s << "unset multiplot\n";
  });
  render_gnuplot(script, out_dir + "/training.png");
}

}  // namespace sg::examples
