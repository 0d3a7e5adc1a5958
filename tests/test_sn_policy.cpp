// The SN policies (layers/sn_policy.h): when each one switches a layer's normalisation
// on and off (schedule, every, threshold, custom rules, never / log_only, balance), and
// what of their state rides in a state dict. The operator and the layer themselves are
// tested in tests/test_spectral_norm.cpp.
#include <doctest/doctest.h>

#include <cmath>

#include "core/captured_step.h"
#include "layers/layers.h"
#include "layers/sn_policy.h"
#include "layers/spectral_norm.h"
#include "ops/ops.h"
#include "tools/gradcheck.h"

using namespace sg;

TEST_CASE("policies: schedule and every switch at the specified steps") {
  Linear layer(4, 3);
  auto sn = spectral_norm(layer, {.policy = sn_policy::schedule({{2, 4}})});
  std::vector<bool> seen;
  for (int step = 0; step < 6; ++step) {
    seen.push_back(sn->enabled(layer));
    layer(ones({1, 4}));
    CHECK(sn->telemetry().applied == seen.back());
    sn_end_step(layer);
  }
  CHECK(seen == std::vector<bool>{false, false, true, true, false, false});
  sn->set_policy(layer, sn_policy::every(3));
  seen.clear();
  for (int step = 0; step < 6; ++step) {
    sn_end_step(layer);  // steps 7..12
    seen.push_back(sn->enabled(layer));
  }
  CHECK(seen == std::vector<bool>{false, false, true, false, false, true});  // 9 and 12
}

TEST_CASE("the threshold policy switches on above sigma and off below it minus hysteresis") {
  Linear layer(4, 3, false, default_generator(), DType::Float64);
  auto sn = spectral_norm(layer, {.policy = sn_policy::threshold(2.0, 1e9, 0.5)});
  auto set_sigma = [&](double s) {  // scale W so that its sigma is s, then take a step
    NoGradGuard no_grad;
    Tensor& w = layer.raw_param("weight");
    w.mul_(s / exact_top_singular(w.detach()));
    layer(ones({1, 4}, {DType::Float64}));
    sn_end_step(layer);
    return sn->enabled(layer);
  };
  CHECK_FALSE(set_sigma(1.0));
  CHECK(set_sigma(2.5));   // above 2: on
  CHECK(set_sigma(1.8));   // below 2 but not below 1.5: stays on (hysteresis)
  CHECK_FALSE(set_sigma(1.2));  // below 1.5 and falling: off
}

TEST_CASE("a custom policy sees the telemetry and the losses") {
  Linear layer(4, 3);
  double seen_loss = 0;
  auto sn = spectral_norm(layer, {.policy = sn_policy::custom([&](const SNTelemetry& t) {
                                    seen_loss = t.losses.count("d") ? t.losses.at("d") : -1;
                                    return t.losses.count("d") && t.losses.at("d") > 1.0;
                                  })});
  layer(ones({1, 4}));
  sn_end_step(layer, {{"d", 3.0}});
  CHECK(seen_loss == 3.0);
  CHECK(sn->enabled(layer));
  sn_end_step(layer, {{"d", 0.5}});
  CHECK_FALSE(sn->enabled(layer));
}

TEST_CASE("never is a plain layer, log_only estimates without normalising") {
  Linear a(4, 3), b(4, 3);
  auto never = spectral_norm(a, {.policy = sn_policy::never()});
  auto log_only = spectral_norm(b, {.policy = sn_policy::log_only()});
  CHECK(a.param("weight").same(a.raw_param("weight")));
  CHECK(b.param("weight").same(b.raw_param("weight")));
  CHECK(never->telemetry().sigma == 0);
  CHECK(log_only->telemetry().sigma > 0);
}

namespace {
// The balance policy's decision after a step whose mean logits were (d_real, d_fake).
bool balance_step(SNPolicy& policy, double d_real, double d_fake) {
  SNTelemetry t;
  t.losses = {{"d_real", d_real}, {"d_fake", d_fake}};
  return policy.decide(t);
}
}  // namespace

TEST_CASE("the balance policy switches on when D overpowers G and off once balanced, after min_steps") {
  auto policy = sn_policy::balance(/*on_above=*/2.0, /*off_below=*/1.0, /*min_steps=*/3);
  CHECK_FALSE(balance_step(*policy, 0.4, -0.2));  // gap 0.6: balanced, stays off
  CHECK_FALSE(balance_step(*policy, 1.1, -0.8));  // gap 1.9: inside the band, still off
  CHECK(balance_step(*policy, 1.5, -1.2));        // gap 2.7: D overpowers, on
  CHECK(balance_step(*policy, 0.3, -0.1));        // balanced, but only 2 steps on so far
  CHECK(balance_step(*policy, 0.3, -0.1));        // 3 steps on: may switch off at the next decision
  CHECK_FALSE(balance_step(*policy, 0.3, -0.1));  // gap 0.4 < 1: off
}

TEST_CASE("the balance policy does not flicker inside its hysteresis band") {
  auto policy = sn_policy::balance(2.0, 1.0, 0);
  CHECK(balance_step(*policy, 1.5, -1.0));  // gap 2.5: on
  for (double gap : {1.9, 1.2, 1.95, 1.05, 1.5}) CHECK(balance_step(*policy, gap, 0.0));  // between 1 and 2: stays on
  CHECK_FALSE(balance_step(*policy, 0.9, 0.0));  // below 1: off
  for (double gap : {1.1, 1.99, 1.5}) CHECK_FALSE(balance_step(*policy, gap, 0.0));  // between: stays off
}

TEST_CASE("the balance policy keeps its decision without logits, and its state rides in the state dict") {
  auto policy = sn_policy::balance(2.0, 1.0, 10);
  CHECK(balance_step(*policy, 2.0, -1.0));
  CHECK(policy->decide(SNTelemetry{}));  // no logits reported: stays on
  Linear layer(4, 3, false, default_generator(), DType::Float64);
  auto sn = spectral_norm(layer, {.policy = sn_policy::balance(2.0, 1.0, 10)});
  layer(ones({1, 4}, {DType::Float64}));
  sn_end_step(layer, {{"d_real", 1.5}, {"d_fake", -1.5}});
  CHECK(sn->enabled(layer));
  auto state = layer.state_dict();
  CHECK(state.at("weight_sn_policy_state").item() == 1.0);  // on for one step
  Linear copy(4, 3, false, default_generator(), DType::Float64);
  auto copy_sn = spectral_norm(copy, {.policy = sn_policy::balance(2.0, 1.0, 10)});
  copy.load_state_dict(state);
  sn_end_step(copy, {{"d_real", 0.1}, {"d_fake", 0.0}});  // balanced, but only 2 steps on: stays on
  CHECK(copy_sn->enabled(copy));
}

// enabled() keeps the flag it last read (on a GPU every read waits for the device) and
// reads the buffer again only when it was written: a loaded state dict, or the layer
// moved. Here the flag buffer is written directly, as load_state_dict does.
TEST_CASE("SN's on/off flag: enabled() follows a write to its buffer, not only set_enabled") {
  Linear layer(4, 3);
  auto sn = spectral_norm(layer);
  CHECK(sn->enabled(layer));
  {
    NoGradGuard no_grad;
    layer.buffer("weight_sn_on").copy_(zeros({1}, {layer.buffer("weight_sn_on").dtype()}));
  }
  CHECK_FALSE(sn->enabled(layer));
  sn->set_enabled(layer, true);
  CHECK(sn->enabled(layer));
  std::map<std::string, Tensor> state = layer.state_dict();
  state.at("weight_sn_on") = zeros_like(state.at("weight_sn_on"));
  layer.load_state_dict(state);
  CHECK_FALSE(sn->enabled(layer));
}

// The other half: a flag that has not changed is not read again. Inside a captured step
// every read of a value is refused, so a read would be an error there.
TEST_CASE("SN's on/off flag: enabled() reads nothing while the flag is unchanged, and set_enabled reads nothing") {
  Linear layer(4, 3);
  auto sn = spectral_norm(layer);
  CHECK(sn->enabled(layer));  // read once, here
  bool seen = false;
  CapturedStep step(Device::cpu(), [&] { seen = sn->enabled(layer); });
  step.run();  // the warm-up (unchecked)
  step.run();  // checked: no read
  CHECK(seen);
  sn->set_enabled(layer, false);  // known without a read
  step.run();
  CHECK_FALSE(seen);
  {
    NoGradGuard no_grad;  // written behind its back: the next enabled() must read it, and inside a step cannot
    layer.buffer("weight_sn_on").fill_(1.0);
  }
  CHECK_THROWS_WITH(step.run(), doctest::Contains("inside a captured step"));
  CHECK(sn->enabled(layer));  // outside the step the read is allowed and sees the write
  layer.buffer("weight_sn_on") = zeros_like(layer.buffer("weight_sn_on"));  // a new buffer (a move, a load)
  CHECK_FALSE(sn->enabled(layer));
}
