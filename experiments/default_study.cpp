// The embedded default study: what `cbs run` does without a file (the README's main job).
#include "experiments/study.hpp"

namespace cbs::exp {

const char* default_study_toml() {
    return R"toml(# cbs default study: CBS vs data size and vs model size on power-law least squares,
# variance-dominated regime (b > a), for SGD, SGD + momentum and SGD + EWA.
spectrum.a = 2.0
spectrum.b = 4.0
noise.sigma2 = 1.0
quadrature.tol = 1e-4

[study]
name = "default"
families = ["sgd", "momentum", "ewa"]
batches = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]
max_steps = 100000
lr_grid = [0.0009765625, 0.001953125, 0.00390625, 0.0078125, 0.015625, 0.03125, 0.0625, 0.125, 0.25, 0.5, 1.0, 2.0]
lr_refine = 5
momentum_grid = [0.5, 0.8, 0.9]
ewa_window_grid = [0.03, 0.06, 0.125, 0.25, 0.5]
horizon = 4
target = "ropt"
bootstrap = 400

# CBS vs data size n (infinite model)
[series.data]
data.samples = [1000, 10000, 100000, 1000000]
model.size = "inf"

# CBS vs model size M at fixed n
[series.model]
data.samples = 100000
model.size = [4, 16, 64, 256, 1024, 4096]
)toml";
}

} // namespace cbs::exp
