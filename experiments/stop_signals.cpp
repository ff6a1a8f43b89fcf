// StopSignals (stop_signals.hpp). A second signal while stopping is ignored on purpose: the
// checkpoint that follows the first is what makes the interruption cheap.
#include "experiments/stop_signals.hpp"

#include <signal.h>

namespace cbs::exp {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int signal) {
    g_stop_signal = signal;
}

} // namespace

StopSignals::StopSignals() {
    g_stop_signal = 0;
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: a blocking call in flight may return EINTR early
    installed_int_ = sigaction(SIGINT, &action, &old_int_) == 0;
    installed_term_ = sigaction(SIGTERM, &action, &old_term_) == 0;
}

StopSignals::~StopSignals() {
    if (installed_int_) sigaction(SIGINT, &old_int_, nullptr);
    if (installed_term_) sigaction(SIGTERM, &old_term_, nullptr);
}

int StopSignals::received() {
    return g_stop_signal;
}

const volatile std::sig_atomic_t* StopSignals::flag() {
    return &g_stop_signal;
}

const char* StopSignals::name(int signal) {
    return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "a signal";
}

} // namespace cbs::exp
