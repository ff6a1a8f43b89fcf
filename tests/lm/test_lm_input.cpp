// Bad input is refused with a one-line cbs::UserError naming the key, the value and the rule.
#include "gpu/train_loop.hpp"
#include "lm_test_util.hpp"
#include "theory/check.hpp"

#include <catch2/catch.hpp>

using namespace cbs::lm;
using namespace lmtest;

namespace {
// Every option set needs the two shard paths; resolving options does not open them.
const std::pair<std::string, std::string> train{"data.train", "t.bin"}, val{"data.val", "v.bin"};

std::string refusal(const std::vector<std::pair<std::string, std::string>>& entries) {
    try {
        resolve_lm_options(entries);
    } catch (const cbs::UserError& e) {
        return e.what();
    }
    return "";
}

std::string training_refusal(const LmOptions& o) {
    try {
        TrainControls c;
        c.quiet = true;
        train_lm(o, c);
    } catch (const cbs::UserError& e) {
        return e.what();
    }
    return "";
}
} // namespace

TEST_CASE("LM options: unknown keys and violated rules are refused by name", "[lm]") {
    CHECK(refusal({train, val, {"no.such.key", "1"}}) ==
          "`no.such.key` = 1: unknown key; `cbs train-lm --help` lists the keys");
    CHECK(refusal({train, val, {"batch", "16"}, {"micro_batch", "3"}}) ==
          "`micro_batch` = 3: must divide `batch` = 16");
    CHECK(refusal({train, val, {"model.heads", "3"}}).find("`model.heads` = 3") == 0);
    CHECK(
        refusal({train, val, {"model.d_model", "12"}, {"model.heads", "4"}}).find("must be even") !=
        std::string::npos);
    CHECK(refusal({train, val, {"ewa.decays", "[0.9, 1.0]"}}).find("`ewa.decays`") == 0);
    CHECK(refusal({train, val, {"lr", "fast"}}) == "`lr` = fast: must be a finite number");
    CHECK(refusal({train, val, {"schedule", "linear"}}) ==
          "`schedule` = linear: must be constant, cosine or wsd");
    CHECK(refusal({train, val, {"model.parameterization", "ntk"}}) ==
          "`model.parameterization` = ntk: must be sp or mup");
    CHECK(refusal({train, val, {"simulator", "recursion"}}).find("`simulator`") == 0);
    CHECK(refusal({val}).find("`data.train`") == 0);
    CHECK(refusal({train, val, {"backend", "tpu"}}) ==
          "`backend` = tpu: must be cpu, reference or cuda");
    // Accepted: a full valid set, lists in either spelling, simulator = lm.
    const LmOptions o = resolve_lm_options({train,
                                            val,
                                            {"simulator", "lm"},
                                            {"ewa.decays", "0.9, 0.99"},
                                            {"batch", "8"},
                                            {"micro_batch", "4"},
                                            {"model.parameterization", "mup"}});
    CHECK(o.ewa_decays == std::vector<double>{0.9, 0.99});
    CHECK(o.micro_batch_size() == 4);
    // The resolved TOML round-trips through the key table.
    CHECK(to_toml(o).find("ewa.decays = [0.9, 0.99]") != std::string::npos);
}

TEST_CASE("LM options: counts that would leave the int64 range are refused", "[lm]") {
    // The sizes multiply into parameter, step and token counts (int64); each is bounded so that
    // no accepted combination overflows, and the refusal names the key that is too large.
    struct Case {
        const char* key;
        const char* value;
        const char* expected;
    };
    const Case cases[] = {
        {"data.tokens", "9223372036854775807",
         "`data.tokens` = 9223372036854775807: must be in [0, 1e18]"},
        {"steps", "1000000001", "`steps` = 1000000001: must be in [1, 1e9]"},
        {"batch", "4611686018427387904", "`batch` = 4611686018427387904: must be in [1, 1e9]"},
        {"model.d_model", "4294967296",
         "`model.d_model` = 4294967296: must be an integer in [2, 65536]"},
        {"model.layers", "100000", "`model.layers` = 100000: must be an integer in [1, 1024]"},
        {"model.context", "2000000",
         "`model.context` = 2000000: must be an integer in [1, 1048576]"},
        {"model.vocab", "5000000000",
         "`model.vocab` = 5000000000: must be an integer in [2, 2^32] (uint32 token shards)"},
        {"eval.dense_points", "1000000000000",
         "`eval.dense_points` = 1000000000000: must be in [0, 1e6]"},
    };
    for (const Case& c : cases) {
        INFO(c.key << " = " << c.value);
        CHECK(refusal({train, val, {c.key, c.value}}) == c.expected);
    }
    // Combinations: the budget in steps, and the tokens seen (steps x batch x context).
    CHECK(refusal({train, val, {"data.tokens", "1000000000000000"}, {"batch", "1"}}) ==
          "`data.tokens` = 1000000000000000: with batch = 1, model.context = 64 and data.horizon "
          "= 1 this is more than 1e9 steps");
    CHECK(refusal({train,
                   val,
                   {"batch", "1000000000"},
                   {"model.context", "1048576"},
                   {"steps", "1000000"}}) ==
          "`batch` = 1000000000: times model.context = 1048576 times the 1000000 steps must be "
          "<= 1e18 tokens");
    // The largest accepted sizes give exact counts.
    const LmOptions big = resolve_lm_options(
        {train, val, {"model.d_model", "65536"}, {"model.heads", "64"}, {"model.layers", "1024"}});
    const std::int64_t c = 65536;
    CHECK(big.model.non_embedding_parameters() == 1024 * (12 * c * c + 4 * c) + c);
    const LmOptions budget = resolve_lm_options(
        {train, val, {"data.tokens", "1000"}, {"batch", "4"}, {"model.context", "64"}});
    CHECK(budget.budget_sequences() == 16); // ceil(1000 / 64)
    CHECK(budget.budget_steps() == 4);
}

TEST_CASE("LM training refuses missing, corrupt and out-of-vocabulary shards", "[lm]") {
    const fs::path dir = scratch_dir("bad_shards");
    write_split(dir, synthetic_tokens(5000, 64, 1), 64);
    LmOptions o = small_options(dir);

    LmOptions missing = o;
    missing.train_path = (dir / "nope.bin").string();
    CHECK(training_refusal(missing).find("nope.bin") != std::string::npos);

    // Truncated: cut the val shard in the middle of its tokens.
    const fs::path cut = dir / "cut.bin";
    fs::copy_file(dir / "val.bin", cut, fs::copy_options::overwrite_existing);
    fs::resize_file(cut, fs::file_size(cut) - 7);
    LmOptions truncated = o;
    truncated.val_path = cut.string();
    CHECK(training_refusal(truncated).find("cut.bin") != std::string::npos);

    // Foreign file: not a shard at all.
    const fs::path foreign = dir / "foreign.bin";
    {
        std::ofstream f(foreign, std::ios::binary);
        f << std::string(4096, 'x');
    }
    LmOptions not_shard = o;
    not_shard.train_path = foreign.string();
    CHECK(training_refusal(not_shard).find("foreign.bin") != std::string::npos);

    // Tokens outside the model's vocabulary (vocab 64 shard, model.vocab 32).
    LmOptions small_vocab = o;
    small_vocab.model.vocab = 32;
    const std::string msg = training_refusal(small_vocab);
    CHECK(msg.find("`data.train`") == 0);
    CHECK(msg.find("outside `model.vocab` = 32") != std::string::npos);

    // A shard shorter than one sequence.
    cbs::data::write_token_shard(dir / "short.bin", std::vector<std::uint32_t>(5, 1), 64);
    LmOptions too_short = o;
    too_short.val_path = (dir / "short.bin").string();
    CHECK(training_refusal(too_short).find("fewer than model.context + 1") != std::string::npos);
}
