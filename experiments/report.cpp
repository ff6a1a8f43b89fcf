// Runs the embedded report script: unpacks it and the reference CSVs into a private temporary
// directory, executes the interpreter on them with the study files as arguments, and turns the
// script's exit status and its stderr into cbs's error channels.
#include "experiments/report.hpp"

#include "experiments/report_assets.hpp"
#include "theory/check.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace cbs::exp {

namespace fs = std::filesystem;

std::string report_python() {
    const char* env = std::getenv("CBS_PYTHON");
    return env && *env ? std::string(env) : std::string("/usr/bin/python3");
}

namespace {

/// A private temporary directory, removed with its contents on destruction.
class ScratchDir {
public:
    ScratchDir() {
        std::string pattern = (fs::temp_directory_path() / "cbs-report-XXXXXX").string();
        if (!mkdtemp(pattern.data()))
            throw UserError("cannot create a temporary directory in " +
                            fs::temp_directory_path().string() + ": " + std::strerror(errno));
        path_ = pattern;
    }
    ~ScratchDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

void write_file(const fs::path& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) throw UserError("cannot write " + path.string() + ": " + std::strerror(errno));
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// Runs argv[0] with argv, stdout inherited, stderr into `stderr_path`. Returns the exit status,
/// or -1 if the program could not be executed (its errno in `exec_errno`).
int run_program(const std::vector<std::string>& argv, const fs::path& stderr_path,
                int& exec_errno) {
    int status_pipe[2];
    CBS_CHECK(pipe(status_pipe) == 0, "pipe: ", std::strerror(errno));
    const pid_t pid = fork();
    CBS_CHECK(pid >= 0, "fork: ", std::strerror(errno));
    if (pid == 0) {
        close(status_pipe[0]);
        const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (err >= 0) dup2(err, STDERR_FILENO);
        std::vector<char*> args;
        for (const std::string& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        fcntl(status_pipe[1], F_SETFD, FD_CLOEXEC);
        execv(args[0], args.data());
        const int e = errno; // exec failed: report errno to the parent through the pipe
        [[maybe_unused]] const ssize_t w = write(status_pipe[1], &e, sizeof e);
        _exit(127);
    }
    close(status_pipe[1]);
    exec_errno = 0;
    const ssize_t got = read(status_pipe[0], &exec_errno, sizeof exec_errno);
    close(status_pipe[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got == static_cast<ssize_t>(sizeof exec_errno)) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

std::string last_line(const std::string& text) {
    std::string s = text;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    const std::size_t nl = s.rfind('\n');
    return nl == std::string::npos ? s : s.substr(nl + 1);
}

} // namespace

void write_report(const ReportOptions& options) {
    CBS_CHECK(!options.studies.empty());
    for (const std::string& s : options.studies)
        if (!fs::is_regular_file(s)) throw UserError("study file " + s + ": no such file");
    if (options.out_dir.empty()) throw UserError("--out: a report directory is required");

    const std::string python = report_python();
    if (access(python.c_str(), X_OK) != 0)
        throw UserError("cbs report needs Python 3 at " + python +
                        ": install Debian's package python3 (apt-get install python3 "
                        "python3-numpy python3-h5py python3-matplotlib), or set CBS_PYTHON");
    // A missing parent of the report directory is created, as `--out` of the other commands does
    // (the report directory itself is made by report.py, atomically).
    {
        const fs::path parent = fs::absolute(fs::path(options.out_dir)).parent_path();
        std::error_code ec;
        fs::create_directories(parent, ec);
        if (ec || !fs::is_directory(parent))
            throw UserError("--out '" + options.out_dir + "': cannot create directory '" +
                            parent.string() +
                            "': " + (ec ? ec.message() : std::string("not a directory")));
    }

    ScratchDir scratch;
    const fs::path reference = scratch.path() / "reference";
    fs::create_directory(reference);
    fs::path script;
    for (const EmbeddedFile& f : report_assets()) {
        const fs::path path = f.name == "report.py" ? scratch.path() / f.name : reference / f.name;
        write_file(path, f.content);
        if (f.name == "report.py") script = path;
    }
    CBS_CHECK(!script.empty(), "report.py is not embedded");

    std::vector<std::string> argv{python, script.string()};
    for (const std::string& s : options.studies)
        argv.push_back(s);
    argv.insert(argv.end(), {"--out", options.out_dir, "--reference", reference.string()});
    if (options.quiet) argv.push_back("--quiet");

    const fs::path err_path = scratch.path() / "stderr.txt";
    int exec_errno = 0;
    const int status = run_program(argv, err_path, exec_errno);
    if (status == -1)
        throw UserError("cbs report cannot run " + python + ": " + std::strerror(exec_errno));
    const std::string err = read_file(err_path);
    if (status == 0) {
        if (!err.empty()) std::fwrite(err.data(), 1, err.size(), stderr);
        return;
    }
    if (status == 2) {
        std::string line = last_line(err);
        const std::string prefix = "cbs: error: ";
        if (line.rfind(prefix, 0) == 0) line = line.substr(prefix.size());
        throw UserError(line.empty() ? "cbs report failed (exit code 2)" : line);
    }
    throw std::runtime_error("the report script failed (exit code " + std::to_string(status) +
                             "): " + err);
}

} // namespace cbs::exp
