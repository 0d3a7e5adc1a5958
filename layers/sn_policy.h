#pragma once
// When spectral normalisation is applied: policies.
//
// A policy looks at one SN layer's telemetry after each optimiser step and decides
// whether that layer normalises during the next step. Whatever it decides, u and v
// keep being refined (except under `never`), so a layer switched back on resumes
// from warm vectors.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sg {

// What an SN layer reports; policies read it, training loops log it.
struct SNTelemetry {
  int64_t step = 0;            // optimiser steps completed (sn_end_step calls)
  double sigma = 0;            // the latest sigma estimate
  double sigma_change = 0;     // sigma now minus sigma at the previous step
  double residual = 0;         // ||M v - sigma u|| / sigma for the current u, v
  bool applied = false;        // whether the latest forward normalised
  double operator_ratio = 0;   // sigma_operator / sigma_matrix (operator and certified estimators)
  std::vector<double> term_sigmas;          // each term's sigma: BSN's two reshapes (sigma is their mean)
  std::vector<double> top_singular_values;  // the topk option's estimates of the k largest, descending
  std::map<std::string, double> losses;  // training losses handed to sn_end_step
};

class SNPolicy {
 public:
  virtual ~SNPolicy() = default;
  // Normalise during the step that follows `t.step`?
  virtual bool decide(const SNTelemetry& t) = 0;
  // False only for `never`: no estimate at all, the layer is exactly a plain layer.
  virtual bool estimates() const { return true; }
  virtual std::string name() const = 0;
  // Internal state (an adaptive rule's on/off memory), saved with the state dict.
  virtual double state() const { return 0; }
  virtual void set_state(double) {}
};

namespace sn_policy {

std::shared_ptr<SNPolicy> always();
std::shared_ptr<SNPolicy> never();
// Estimate and report sigma, never normalise.
std::shared_ptr<SNPolicy> log_only();
// On during steps in any [begin, end) range.
std::shared_ptr<SNPolicy> schedule(std::vector<std::pair<int64_t, int64_t>> ranges);
// On every k-th step (steps 0, k, 2k, ...).
std::shared_ptr<SNPolicy> every(int64_t k);
// Adaptive: switch on when sigma > sigma_above or sigma grows faster than
// growth_above per step; switch off again only once sigma < sigma_above - hysteresis
// and growth has stopped (hysteresis keeps it from flickering).
std::shared_ptr<SNPolicy> threshold(double sigma_above, double growth_above = 1e9, double hysteresis = 0.1);
// Driven by the state of training rather than by sigma: D's real/fake logit gap,
// gap = losses["d_real"] - losses["d_fake"] (the mean logits the training loop hands to
// sn_end_step). A wide gap means D separates real from fake with confidence: it is
// overpowering G, and G's gradients through it vanish or blow up. So: on once the gap
// exceeds on_above; off again only once it falls below off_below (< on_above: the band
// between is hysteresis) and SN has been on for at least min_steps steps (no flicker).
// When the telemetry lacks either logit, the decision stays as it was. Its state (the
// steps SN has been on, 0 when off) is saved with the state dict.
std::shared_ptr<SNPolicy> balance(double on_above = 2.0, double off_below = 1.0, int64_t min_steps = 50);
// A user's own rule.
std::shared_ptr<SNPolicy> custom(std::function<bool(const SNTelemetry&)> rule, std::string name = "custom");

}  // namespace sn_policy

}  // namespace sg
