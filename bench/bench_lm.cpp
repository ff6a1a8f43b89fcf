// LM training throughput: tokens/s, achieved GFLOP/s and the share of a stated peak, for one
// backend on a named or explicit model shape; and the dump that scripts/torch_oracle.py checks a
// backend against (PyTorch on the same weights).
//
//   bench_lm [--backend cpu|cpu-fp32|reference|cuda|cuda-fp32] [--shape tiny|1m|85m|gpt2-124m|all]
//            [--d-model C --layers L --heads H --context T --vocab V] [--batch B]
//            [--steps S] [--warmup W] [--peak-gflops P]
//   bench_lm --dump-oracle DIR [--backend ...] [--shape oracle|tiny|...] [--batch B]
//
// Any of --d-model, --layers, --heads, --context, --vocab turns the shape into an explicit one
// (defaults from --shape). A step is what the training loop does: zero_grad, forward_backward,
// grad norm, AdamW + EWA (one decay). Throughput = B T / (median step time); GFLOP/s =
// flops_per_token * tokens/s, with flops_per_token = 6 (12 L C^2 + V C) + 12 L T C
// (model_config.hpp; the attention term counts the full T x T scores, the usual convention,
// although a causal kernel needs half).
//
// Peak: for the GPU backends 989 TFLOP/s (H100 / H200 SXM dense bf16). For the CPU backends it
// is computed from the running CPU and printed with its derivation: OpenMP threads x clock (the
// "cpu MHz" of /proc/cpuinfo) x FLOP per cycle and core of the unit the GEMMs run on: AMX bf16
// 1024 (16x32 by 32x16 tile product per 16 cycles), AVX512_BF16 128 (two 512-bit vdpbf16ps
// ports), AVX-512 fp32 64 (two 512-bit FMA ports), AVX2 fp32 32. --peak-gflops overrides it.
//
#include "gpu/backend.hpp"
#include "gpu/cuda/cuda_backend.hpp"
#ifdef CBS_HAVE_ONEDNN
#include "gpu/cpu/cpu_backend.hpp"
#endif
#include "gpu/param_layout.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <omp.h>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

using namespace cbs::lm;

namespace {

struct Shape {
    std::string name;
    ModelConfig config;
    std::int64_t batch;
};

Shape shape(const std::string& name) {
    ModelConfig c;
    c.parameterization = Parameterization::sp;
    if (name == "tiny") { // proves the benchmark runs on a CPU in seconds
        c.d_model = 64;
        c.layers = 2;
        c.heads = 4;
        c.context = 64;
        c.vocab = 256;
        return {name, c, 8};
    }
    if (name == "1m") { // the CPU reference's benchmark: ~1M parameters (0.98M non-embedding)
        c.d_model = 128;
        c.layers = 5;
        c.heads = 4;
        c.context = 128;
        c.vocab = 256;
        return {name, c, 16};
    }
    if (name == "oracle") { // the PyTorch comparison: small, every dimension distinct
        c.d_model = 192;
        c.layers = 3;
        c.heads = 6;
        c.context = 96;
        c.vocab = 1000;
        return {name, c, 4};
    }
    if (name == "85m") { // the study's 85M model (PAPER.md): 768, 12 layers, 12 heads, T 512
        c.d_model = 768;
        c.layers = 12;
        c.heads = 12;
        c.context = 512;
        c.vocab = 50304; // GPT-NeoX's ~50k vocabulary, padded to a multiple of 64
        return {name, c, 32};
    }
    if (name == "gpt2-124m") { // GPT-2 small's shape at context 1024 (llm.c's reference run)
        c.d_model = 768;
        c.layers = 12;
        c.heads = 12;
        c.context = 1024;
        c.vocab = 50304; // llm.c's padded GPT-2 vocabulary
        return {name, c, 16};
    }
    throw std::invalid_argument("unknown --shape " + name);
}

std::unique_ptr<LmBackend> backend(const std::string& name, const ModelConfig& c,
                                   const std::vector<double>& decays) {
    if (name == "cuda-fp32") return make_cuda_backend(c, decays, CudaPrecision::fp32);
#ifdef CBS_HAVE_ONEDNN
    if (name == "cpu-fp32") return std::make_unique<FastCpuBackend>(c, decays, CpuPrecision::fp32);
#endif
    return make_backend(name, c, decays);
}

bool is_gpu(const std::string& backend_name) {
    return backend_name.rfind("cuda", 0) == 0;
}

// The peak GFLOP/s bench_lm divides by, and how it was derived (see the top of this file).
std::pair<double, std::string> cpu_peak(LmBackend& b) {
    double mhz = 0;
    std::ifstream info("/proc/cpuinfo");
    for (std::string line; std::getline(info, line);)
        if (line.rfind("cpu MHz", 0) == 0) {
            mhz = std::stod(line.substr(line.find(':') + 1));
            break;
        }
    __builtin_cpu_init();
    double per_cycle = __builtin_cpu_supports("avx512f") ? 64 : 32;
    std::string unit = per_cycle == 64 ? "AVX-512 fp32" : "AVX2 fp32";
#ifdef CBS_HAVE_ONEDNN
    if (auto* fast = dynamic_cast<FastCpuBackend*>(&b);
        fast != nullptr && fast->operand_type() == cpu::OperandType::bf16) {
        const bool amx = std::string(cpu::onednn_isa_name()) == "avx512_core_amx";
        per_cycle = amx ? 1024 : 128;
        unit = amx ? "AMX bf16" : "AVX512_BF16";
    }
#else
    (void)b;
#endif
    const int threads = omp_get_max_threads();
    const double peak = threads * mhz * 1e-3 * per_cycle;
    char text[160];
    std::snprintf(text, sizeof text, "%d threads x %.2f GHz x %.0f FLOP/cycle (%s) = %.0f GFLOP/s",
                  threads, mhz * 1e-3, per_cycle, unit.c_str(), peak);
    return {peak, text};
}

std::vector<std::uint32_t> random_tokens(const ModelConfig& c, std::int64_t batch,
                                         std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::uint32_t> t(static_cast<std::size_t>(batch * (c.context + 1)));
    for (auto& x : t)
        x = static_cast<std::uint32_t>(rng() % static_cast<std::uint64_t>(c.vocab));
    return t;
}

// One training step as train_loop.cpp runs it (one micro-batch). Returns the loss.
double train_step(LmBackend& b, std::span<const std::uint32_t> tokens, std::int64_t batch,
                  std::int64_t step) {
    b.zero_grad();
    const double loss = b.forward_backward(tokens, batch, 1.0);
    const double norm = std::sqrt(b.grad_norm_squared());
    OptimizerStep s;
    s.lr = 1e-3;
    s.beta1 = 0.9;
    s.beta2 = 0.95;
    s.eps = 1e-8;
    s.weight_decay = 0.0;
    s.grad_scale = norm > 1.0 ? 1.0 / norm : 1.0;
    s.step = step;
    b.optimizer_step(s);
    return loss;
}

// --- .npy writing (format version 1.0) ---------------------------------------------------------
template <typename T>
const char* npy_descr();
template <>
const char* npy_descr<float>() {
    return "<f4";
}
template <>
const char* npy_descr<double>() {
    return "<f8";
}
template <>
const char* npy_descr<std::int32_t>() {
    return "<i4";
}

template <typename T>
void write_npy(const std::filesystem::path& path, const std::vector<T>& data,
               const std::vector<std::int64_t>& shape) {
    std::string dims;
    for (std::int64_t d : shape)
        dims += std::to_string(d) + ",";
    if (shape.size() > 1) dims.pop_back();
    std::string header = std::string("{'descr': '") + npy_descr<T>() +
                         "', 'fortran_order': False, 'shape': (" + dims + "), }";
    const std::size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header.push_back('\n');
    std::ofstream out(path, std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    const auto len = static_cast<std::uint16_t>(header.size());
    const char le[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
    out.write(le, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size() * sizeof(T)));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

int dump_oracle(const std::string& dir, const std::string& backend_name, const Shape& sh) {
    namespace fs = std::filesystem;
    fs::create_directories(dir);
    const ModelConfig& c = sh.config;
    const std::int64_t batch = sh.batch, steps = 10;
    auto b = backend(backend_name, c, {0.99});
    const ParamLayout& layout = b->layout();
    const std::vector<float> params = init_parameters(layout, 1234);
    b->set_state({StateKind::params, 0}, params);

    std::vector<std::int32_t> tokens;
    std::vector<std::vector<std::uint32_t>> per_step;
    for (std::int64_t s = 0; s < steps; ++s) {
        per_step.push_back(random_tokens(c, batch, 5000 + static_cast<std::uint64_t>(s)));
        for (std::uint32_t t : per_step.back())
            tokens.push_back(static_cast<std::int32_t>(t));
    }
    b->zero_grad();
    const double loss = b->forward_backward(per_step[0], batch, 1.0);
    std::vector<float> grads(static_cast<std::size_t>(layout.total));
    b->get_state({StateKind::grads, 0}, grads);

    b->set_state({StateKind::params, 0}, params);
    std::vector<double> losses;
    for (std::int64_t s = 0; s < steps; ++s)
        losses.push_back(train_step(*b, per_step[static_cast<std::size_t>(s)], batch, s + 1));

    write_npy(fs::path(dir) / "params.npy", params, {layout.total});
    write_npy(fs::path(dir) / "tokens.npy", tokens, {steps, batch, c.context + 1});
    write_npy(fs::path(dir) / "loss.npy", std::vector<double>{loss}, {1});
    write_npy(fs::path(dir) / "grads.npy", grads, {layout.total});
    write_npy(fs::path(dir) / "step_losses.npy", losses, {steps});
    std::ofstream js(fs::path(dir) / "model.json");
    js << "{\n  \"backend\": \"" << backend_name << "\",\n  \"shape\": \"" << sh.name << "\",\n"
       << "  \"d_model\": " << c.d_model << ", \"layers\": " << c.layers
       << ", \"heads\": " << c.heads << ", \"context\": " << c.context << ", \"vocab\": " << c.vocab
       << ",\n  \"parameterization\": \"" << to_string(c.parameterization)
       << "\", \"rope_base\": " << c.rope_base
       << ", \"layernorm_eps\": 1e-5,\n  \"attention_scale\": " << c.attention_scale()
       << ", \"logit_multiplier\": " << c.logit_multiplier() << ",\n  \"batch\": " << batch
       << ", \"steps\": " << steps
       << ",\n  \"optimizer\": {\"lr\": 1e-3, \"beta1\": 0.9, \"beta2\": 0.95, \"eps\": 1e-8, "
          "\"weight_decay\": 0.0, \"clip_norm\": 1.0},\n  \"total\": "
       << layout.total << ",\n  \"tensors\": [\n";
    for (std::size_t i = 0; i < layout.tensors.size(); ++i) {
        const ParamTensor& t = layout.tensors[i];
        js << "    {\"name\": \"" << t.name << "\", \"offset\": " << t.offset
           << ", \"rows\": " << t.rows << ", \"cols\": " << t.cols
           << ", \"lr_multiplier\": " << t.lr_multiplier
           << ", \"weight_decay\": " << (t.weight_decay ? "true" : "false") << "}"
           << (i + 1 < layout.tensors.size() ? ",\n" : "\n");
    }
    js << "  ]\n}\n";
    std::printf("oracle dump (%s, shape %s): loss %.6f, step losses %.4f .. %.4f -> %s\n",
                backend_name.c_str(), sh.name.c_str(), loss, losses.front(), losses.back(),
                dir.c_str());
    return 0;
}

void bench(const std::string& backend_name, Shape sh, std::int64_t batch, int steps, int warmup,
           double peak_gflops) {
    if (batch > 0) sh.batch = batch;
    const ModelConfig& c = sh.config;
    auto b = backend(backend_name, c, {0.999});
    b->set_state({StateKind::params, 0}, init_parameters(b->layout(), 1));
    const auto tokens = random_tokens(c, sh.batch, 7);
    std::vector<double> seconds;
    for (int i = 0; i < warmup + steps; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        train_step(*b, tokens, sh.batch, i + 1); // returns after the loss and norm reads: synced
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (i >= warmup) seconds.push_back(s);
    }
    std::sort(seconds.begin(), seconds.end());
    const double median = seconds[seconds.size() / 2];
    const double tokens_per_step = static_cast<double>(sh.batch * c.context);
    const double tps = tokens_per_step / median;
    std::string peak_text = "--peak-gflops";
    if (peak_gflops <= 0) {
        if (is_gpu(backend_name)) {
            peak_gflops = 989e3;
            peak_text = "H100/H200 dense bf16";
        } else {
            std::tie(peak_gflops, peak_text) = cpu_peak(*b);
        }
    }
    const double gflops = c.flops_per_token() * tps * 1e-9;
#ifdef CBS_HAVE_ONEDNN
    if (auto* fast = dynamic_cast<FastCpuBackend*>(b.get()))
        peak_text += "; " + fast->description();
#endif
    std::printf("%-14s %-10s %6lld %6lld %10.2f %12.0f %9.3e %9.1f %7.2f%%  (min %.2f ms, max "
                "%.2f ms, %zu steps; peak: %s)\n",
                sh.name.c_str(), backend_name.c_str(), static_cast<long long>(sh.batch),
                static_cast<long long>(c.context), median * 1e3, tps, c.flops_per_token(), gflops,
                100.0 * gflops / peak_gflops, seconds.front() * 1e3, seconds.back() * 1e3,
                seconds.size(), peak_text.c_str());
    std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
    std::string backend_name = "cpu", shape_name = "tiny", dump_dir;
    std::int64_t batch = 0;
    int steps = 10, warmup = 3;
    double peak = 0; // GFLOP/s; 0: derived from the backend (see the top of this file)
    std::int64_t dims[5] = {0, 0, 0, 0, 0}; // d_model, layers, heads, context, vocab
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            auto value = [&]() -> std::string {
                if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
                return argv[++i];
            };
            // The whole value must parse: "--steps 1O" is refused, not read as 1.
            auto integer = [&]() -> long long {
                const std::string text = value();
                std::size_t used = 0;
                long long v = 0;
                try {
                    v = std::stoll(text, &used);
                } catch (const std::exception&) {
                    used = 0;
                }
                if (used == 0 || used != text.size())
                    throw std::invalid_argument(a + " '" + text + "': must be an integer");
                return v;
            };
            auto number = [&]() -> double {
                const std::string text = value();
                std::size_t used = 0;
                double v = 0;
                try {
                    v = std::stod(text, &used);
                } catch (const std::exception&) {
                    used = 0;
                }
                if (used == 0 || used != text.size())
                    throw std::invalid_argument(a + " '" + text + "': must be a number");
                return v;
            };
            if (a == "--backend")
                backend_name = value();
            else if (a == "--shape")
                shape_name = value();
            else if (a == "--batch")
                batch = integer();
            else if (a == "--steps")
                steps = static_cast<int>(integer());
            else if (a == "--warmup")
                warmup = static_cast<int>(integer());
            else if (a == "--peak-gflops")
                peak = number();
            else if (a == "--d-model")
                dims[0] = integer();
            else if (a == "--layers")
                dims[1] = integer();
            else if (a == "--heads")
                dims[2] = integer();
            else if (a == "--context")
                dims[3] = integer();
            else if (a == "--vocab")
                dims[4] = integer();
            else if (a == "--dump-oracle")
                dump_dir = value();
            else if (a == "--help" || a == "-h") {
                std::printf("usage: bench_lm [--backend cpu|cpu-fp32|reference|cuda|cuda-fp32] "
                            "[--shape tiny|1m|oracle|85m|gpt2-124m|all] [--d-model C] [--layers "
                            "L] [--heads H] [--context T] [--vocab V] [--batch B] [--steps 10] "
                            "[--warmup 3] [--peak-gflops P (default: derived, printed)] "
                            "[--dump-oracle DIR]\n");
                return 0;
            } else
                throw std::invalid_argument("unknown option " + a);
        }
        if (steps < 1 || warmup < 0)
            throw std::invalid_argument("--steps must be >= 1 and --warmup >= 0");
        if (batch < 0 || peak < 0) throw std::invalid_argument("--batch and --peak-gflops >= 0");
        const bool explicit_shape = std::any_of(dims, dims + 5, [](auto d) { return d != 0; });
        if (explicit_shape) {
            if (shape_name == "all") throw std::invalid_argument("explicit dims need one --shape");
            Shape sh = shape(shape_name);
            std::int64_t* fields[5] = {&sh.config.d_model, &sh.config.layers, &sh.config.heads,
                                       &sh.config.context, &sh.config.vocab};
            for (int i = 0; i < 5; ++i)
                if (dims[i] != 0) *fields[i] = dims[i];
            sh.config.validate();
            sh.name = "C" + std::to_string(sh.config.d_model) + "L" +
                      std::to_string(sh.config.layers) + "H" + std::to_string(sh.config.heads) +
                      "T" + std::to_string(sh.config.context) + "V" +
                      std::to_string(sh.config.vocab);
            std::printf("%-14s %-10s %6s %6s %10s %12s %9s %9s %8s\n", "shape", "backend", "batch",
                        "ctx", "ms/step", "tokens/s", "flop/tok", "GFLOP/s", "of peak");
            bench(backend_name, sh, batch, steps, warmup, peak);
            return 0;
        }
        if (!dump_dir.empty())
            return dump_oracle(dump_dir, backend_name,
                               shape(shape_name == "tiny" ? "oracle" : shape_name));
        std::printf("%-14s %-10s %6s %6s %10s %12s %9s %9s %8s\n", "shape", "backend", "batch",
                    "ctx", "ms/step", "tokens/s", "flop/tok", "GFLOP/s", "of peak");
        if (shape_name == "all") {
            for (const char* s : {"85m", "gpt2-124m"})
                bench(backend_name, shape(s), batch, steps, warmup, peak);
        } else {
            bench(backend_name, shape(shape_name), batch, steps, warmup, peak);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_lm: %s\n", e.what());
        return 2;
    }
    return 0;
}
