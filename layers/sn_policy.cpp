#include "layers/sn_policy.h"

#include "core/error.h"

namespace sg::sn_policy {

namespace {

struct Always final : SNPolicy {
  bool decide(const SNTelemetry&) override { return true; }
  std::string name() const override { return "always"; }
};

struct Never final : SNPolicy {
  bool decide(const SNTelemetry&) override { return false; }
  bool estimates() const override { return false; }
  std::string name() const override { return "never"; }
};

struct LogOnly final : SNPolicy {
  bool decide(const SNTelemetry&) override { return false; }
  std::string name() const override { return "log_only"; }
};

struct Schedule final : SNPolicy {
  explicit Schedule(std::vector<std::pair<int64_t, int64_t>> r) : ranges(std::move(r)) {}
  bool decide(const SNTelemetry& t) override {
    for (auto [begin, end] : ranges)
      if (t.step >= begin && t.step < end) return true;
    return false;
  }
  std::string name() const override { return "schedule"; }
  std::vector<std::pair<int64_t, int64_t>> ranges;
};

struct Every final : SNPolicy {
  explicit Every(int64_t k) : k(k) {}
  bool decide(const SNTelemetry& t) override { return t.step % k == 0; }
  std::string name() const override { return str("every ", k); }
  int64_t k;
};

struct Threshold final : SNPolicy {
  Threshold(double s, double g, double h) : sigma_above(s), growth_above(g), hysteresis(h) {}
  bool decide(const SNTelemetry& t) override {
    if (!on) on = t.sigma > sigma_above || t.sigma_change > growth_above;
    else on = !(t.sigma < sigma_above - hysteresis && t.sigma_change <= 0);
    return on;
  }
  std::string name() const override { return str("threshold sigma>", sigma_above); }
  double state() const override { return on ? 1.0 : 0.0; }
  void set_state(double s) override { on = s != 0.0; }
  double sigma_above, growth_above, hysteresis;
  bool on = false;
};

struct Balance final : SNPolicy {
  Balance(double on, double off, int64_t min) : on_above(on), off_below(off), min_steps(min) {}
  bool decide(const SNTelemetry& t) override {
    auto real = t.losses.find("d_real"), fake = t.losses.find("d_fake");
    const bool known = real != t.losses.end() && fake != t.losses.end();
    const double gap = known ? real->second - fake->second : 0.0;
    if (steps_on == 0) {
      if (known && gap > on_above) steps_on = 1;  // D overpowers G: on
    } else if (known && steps_on >= static_cast<double>(min_steps) && gap < off_below) {
      steps_on = 0;  // balanced again, after at least min_steps: off
    } else {
      steps_on += 1;
    }
    return steps_on > 0;
  }
  std::string name() const override { return str("balance gap>", on_above, " off<", off_below); }
  double state() const override { return steps_on; }
  void set_state(double s) override { steps_on = s; }
  double on_above, off_below;
  int64_t min_steps;
  double steps_on = 0;  // steps with SN on so far in this stretch; 0 when off
};

struct Custom final : SNPolicy {
  Custom(std::function<bool(const SNTelemetry&)> r, std::string n) : rule(std::move(r)), label(std::move(n)) {}
  bool decide(const SNTelemetry& t) override { return rule(t); }
  std::string name() const override { return label; }
  std::function<bool(const SNTelemetry&)> rule;
  std::string label;
};

}  // namespace

std::shared_ptr<SNPolicy> always() { return std::make_shared<Always>(); }
std::shared_ptr<SNPolicy> never() { return std::make_shared<Never>(); }
std::shared_ptr<SNPolicy> log_only() { return std::make_shared<LogOnly>(); }

std::shared_ptr<SNPolicy> schedule(std::vector<std::pair<int64_t, int64_t>> ranges) {
  for (auto [begin, end] : ranges)
    SG_CHECK(begin >= 0 && begin <= end, "sn_policy::schedule: expected ranges with 0 <= begin <= end, got [", begin,
             ", ", end, ")");
  return std::make_shared<Schedule>(std::move(ranges));
}

std::shared_ptr<SNPolicy> every(int64_t k) {
  SG_CHECK(k >= 1, "sn_policy::every: expected k >= 1, got ", k);
  return std::make_shared<Every>(k);
}

std::shared_ptr<SNPolicy> threshold(double sigma_above, double growth_above, double hysteresis) {
  SG_CHECK(sigma_above > 0 && hysteresis >= 0, "sn_policy::threshold: expected sigma_above > 0 and hysteresis >= 0, "
           "got ", sigma_above, " and ", hysteresis);
  return std::make_shared<Threshold>(sigma_above, growth_above, hysteresis);
}

std::shared_ptr<SNPolicy> balance(double on_above, double off_below, int64_t min_steps) {
  SG_CHECK(off_below <= on_above && min_steps >= 0, "sn_policy::balance: expected off_below <= on_above and "
           "min_steps >= 0, got ", off_below, ", ", on_above, " and ", min_steps);
  return std::make_shared<Balance>(on_above, off_below, min_steps);
}

std::shared_ptr<SNPolicy> custom(std::function<bool(const SNTelemetry&)> rule, std::string name) {
  SG_CHECK(rule != nullptr, "sn_policy::custom: expected a callable rule");
  return std::make_shared<Custom>(std::move(rule), std::move(name));
}

}  // namespace sg::sn_policy
