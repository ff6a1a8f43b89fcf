// Helpers for tests that start the `cbs` executable in the background and interrupt it (signals,
// kill -9) or run it under resource limits (header-only, test code only).
#pragma once

#include "tests/support/paths.hpp"

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace cbs::test {

/// A `cbs` process started in the background with stdout/stderr redirected to files.
class CbsProcess {
public:
    /// Starts cbs::test::binary_dir()/cbs with `args`; `env` entries ("KEY=value") are added to the
    /// environment (overriding the same keys).
    CbsProcess(const std::vector<std::string>& args, const std::filesystem::path& out,
               const std::filesystem::path& err, const std::vector<std::string>& env = {}) {
        std::vector<std::string> argv_text{cbs::test::binary_dir() + "/cbs"};
        argv_text.insert(argv_text.end(), args.begin(), args.end());
        std::vector<std::string> env_text = env;
        for (char** e = environ; *e != nullptr; ++e) {
            const std::string item = *e;
            const std::string key = item.substr(0, item.find('='));
            bool overridden = false;
            for (const std::string& x : env)
                overridden = overridden || x.substr(0, x.find('=')) == key;
            if (!overridden) env_text.push_back(item);
        }
        std::vector<char*> argv, envp;
        for (std::string& a : argv_text)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        for (std::string& e : env_text)
            envp.push_back(e.data());
        envp.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
        posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
        if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0)
            pid_ = -1;
        posix_spawn_file_actions_destroy(&actions);
    }
    ~CbsProcess() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            wait();
        }
    }
    CbsProcess(const CbsProcess&) = delete;
    CbsProcess& operator=(const CbsProcess&) = delete;

    bool started() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }
    void signal(int sig) const { ::kill(pid_, sig); }

    /// True once the process has exited (reaps it).
    bool exited() {
        if (reaped_) return true;
        if (::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
        return reaped_;
    }
    /// Waits for the process; returns the raw wait status.
    int wait() {
        while (!reaped_) {
            if (::waitpid(pid_, &status_, 0) == pid_) reaped_ = true;
        }
        return status_;
    }
    /// Exit code after wait(), -1 if it was killed by a signal.
    int exit_code() { return WIFEXITED(wait()) ? WEXITSTATUS(status_) : -1; }
    /// The signal that killed it, 0 if it exited.
    int killed_by() { return WIFSIGNALED(wait()) ? WTERMSIG(status_) : 0; }

private:
    pid_t pid_ = -1;
    int status_ = 0;
    bool reaped_ = false;
};

/// Polls `ready` every 2 ms until it holds or `timeout` passes; returns whether it held.
inline bool wait_until(const std::function<bool()>& ready,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (ready()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return ready();
}

/// Number of files with `extension` (e.g. ".h5") directly in `dir` (0 if it does not exist).
inline std::size_t count_files(const std::filesystem::path& dir, const std::string& extension) {
    std::size_t n = 0;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == extension) ++n;
    return n;
}

} // namespace cbs::test
