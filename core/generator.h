#pragma once
// A seedable random-number generator that gives the same numbers on every machine.
// The bit source is std::mt19937_64, whose output the C++ standard fixes exactly;
// the distributions are written here (std:: distributions differ between libraries).
#include <cstdint>
#include <random>
#include <string>

#include "core/tensor.h"

namespace sg {

class Generator {
 public:
  explicit Generator(uint64_t seed = 5489u) : engine_(seed) {}
  void seed(uint64_t seed) { engine_.seed(seed); has_spare_normal_ = false; }

  uint64_t next_u64() { return engine_(); }
  double uniform();                   // [0, 1), 53 random bits
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  double normal();                    // N(0, 1), Box-Muller

  // Full state as text (checkpoints restore it to continue a run exactly).
  std::string state() const;
  void set_state(const std::string& state);

 private:
  std::mt19937_64 engine_;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

// The process-wide generator used when none is passed.
Generator& default_generator();
void manual_seed(uint64_t seed);

Tensor rand(const Shape& shape, Generator& gen = default_generator(), TensorOptions options = {});
Tensor randn(const Shape& shape, Generator& gen = default_generator(), TensorOptions options = {});
Tensor uniform(const Shape& shape, double low, double high, Generator& gen = default_generator(),
               TensorOptions options = {});
Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen = default_generator(),
              TensorOptions options = {});

}  // namespace sg
