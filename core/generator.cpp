#include "core/generator.h"

#include <cmath>
#include <numbers>
#include <sstream>
#include <vector>

namespace sg {

double Generator::uniform() {
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

double Generator::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  // Box-Muller: two uniforms give two independent normals; keep the second.
  double u1 = 1.0 - uniform();  // (0, 1], so log(u1) is finite
  double u2 = uniform();
  double radius = std::sqrt(-2.0 * std::log(u1));
  double angle = 2.0 * std::numbers::pi * u2;
  spare_normal_ = radius * std::sin(angle);
  has_spare_normal_ = true;
  return radius * std::cos(angle);
}

std::string Generator::state() const {
  std::ostringstream os;
  os.precision(17);
  os << engine_ << ' ' << has_spare_normal_ << ' ' << std::hexfloat << spare_normal_;
  return os.str();
}

void Generator::set_state(const std::string& state) {
  std::istringstream is(state);
  std::mt19937_64 engine;
  bool has_spare = false;
  std::string spare_text;
  std::string trailing;
  is >> engine >> has_spare >> spare_text;
  char* end = nullptr;
  double spare = std::strtod(spare_text.c_str(), &end);
  SG_CHECK(!is.fail() && !spare_text.empty() && *end == '\0' && !(is >> trailing),
           "Generator::set_state: expected text written by Generator::state(), got \"", state.substr(0, 40), "...\"");
  engine_ = engine;
  has_spare_normal_ = has_spare;
  spare_normal_ = spare;
}

Generator& default_generator() {
  static Generator gen;
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().seed(seed); }

namespace {
// Draws on the host in double precision, then converts: the same seed gives the
// same values in float32 and float64 (up to rounding) and on every device.
template <class Draw>
Tensor draw(const Shape& shape, TensorOptions options, Draw draw_one) {
  SG_CHECK(is_floating(options.dtype), "random tensors must be float32 or float64, got ",
           dtype_name(options.dtype));
  std::vector<double> values(static_cast<std::size_t>(shape_numel(shape)));
  for (double& v : values) v = draw_one();
  bool requires_grad = options.requires_grad;
  options.requires_grad = false;
  Tensor t = from_vector(values, shape, options);
  t.requires_grad_(requires_grad);
  return t;
}
}  // namespace

Tensor rand(const Shape& shape, Generator& gen, TensorOptions options) {
  return draw(shape, options, [&] { return gen.uniform(); });
}
Tensor randn(const Shape& shape, Generator& gen, TensorOptions options) {
  return draw(shape, options, [&] { return gen.normal(); });
}
Tensor uniform(const Shape& shape, double low, double high, Generator& gen, TensorOptions options) {
  SG_CHECK(low <= high, "uniform: expected low <= high, got low=", low, " high=", high);
  return draw(shape, options, [&] { return gen.uniform(low, high); });
}
Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen, TensorOptions options) {
  SG_CHECK(stddev >= 0, "normal: expected stddev >= 0, got ", stddev);
  return draw(shape, options, [&] { return mean + stddev * gen.normal(); });
}

}  // namespace sg
