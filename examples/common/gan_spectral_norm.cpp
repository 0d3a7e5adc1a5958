#include "gan_spectral_norm.h"

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli.h"
#include "core/error.h"
#include "layers/spectral_norm.h"

namespace sg::examples {

namespace {

// --sn-layers: "0,2", "last", "all-but-last", or empty/"all", as indices into D's
// weight layers.
std::vector<int> parse_layers(const std::string& text, int count) {
  std::vector<int> out;
  if (text.empty() || text == "all" || text == "all-but-last") {
    for (int i = 0; i < count - (text == "all-but-last" ? 1 : 0); ++i) out.push_back(i);
    return out;
  }
  if (text == "last") return {count - 1};
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const int64_t k = parse_integer(item, "--sn-layers");
    SG_CHECK(k >= 0 && k < count, "--sn-layers: layer ", k, " does not exist (D has weight layers 0..", count - 1, ")");
    out.push_back(static_cast<int>(k));
  }
  return out;
}

// --sn-schedule: "every:K", or step ranges "0-500,1000-1500".
std::shared_ptr<SNPolicy> parse_schedule(const std::string& text) {
  if (text.rfind("every:", 0) == 0) return sn_policy::every(parse_integer(text.substr(6), "--sn-schedule every:K"));
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto dash = item.find('-');
    SG_CHECK(dash != std::string::npos, "--sn-schedule: expected every:K or ranges like 0-500,1000-1500, got \"", text, "\"");
    ranges.emplace_back(parse_integer(item.substr(0, dash), "--sn-schedule"), parse_integer(item.substr(dash + 1), "--sn-schedule"));
  }
  return sn_policy::schedule(ranges);
}

}  // namespace

void attach_spectral_norm(const std::vector<Module*>& layers, const GanOptions& o) {
  if (o.sn == "none") return;
  for (int k : parse_layers(o.sn_layers, static_cast<int>(layers.size()))) {
    SpectralNormOptions sn{.power_iterations = o.sn_iters, .target = o.sn_target, .topk = o.sn_topk,
                           .seed = o.seed + 100 + static_cast<uint64_t>(k)};
    if (o.sn_variant == "bsn") {
      if (layers[static_cast<std::size_t>(k)]->raw_param("weight").dim() == 4) sn.variant = SNVariant::BSN;
    } else {
      SG_CHECK(o.sn_variant == "sn", "--sn-variant: expected sn or bsn, got \"", o.sn_variant, "\"");
    }
    if (o.sn == "all") sn.policy = sn_policy::always();
    else if (o.sn == "clamp") sn.variant = SNVariant::Clamp;
    else if (o.sn == "schedule") sn.policy = parse_schedule(o.sn_schedule);
    else if (o.sn == "adaptive") sn.policy = sn_policy::threshold(o.sn_threshold, o.sn_growth, 0.1);
    else if (o.sn == "log") sn.policy = sn_policy::log_only();
    else if (o.sn == "balance") sn.policy = sn_policy::balance(o.sn_gap_on, o.sn_gap_off, kBalanceMinSteps);
    else detail::throw_error("--sn: expected all, none, clamp, schedule, adaptive or log, got \"", o.sn, "\"");
    spectral_norm(*layers[static_cast<std::size_t>(k)], sn);
  }
}

}  // namespace sg::examples
