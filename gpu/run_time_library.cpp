// dlopen with the search order and the one-line errors of run_time_library.hpp.
#include "gpu/run_time_library.hpp"

#include <dlfcn.h>
#include <filesystem>
#include <fmt/format.h>
#include <system_error>

namespace cbs {

namespace fs = std::filesystem;

namespace {

std::string last_dl_error() {
    const char* e = dlerror();
    return e != nullptr ? std::string(e) : std::string("unknown dynamic loader error");
}

} // namespace

std::string executable_directory() {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? std::string() : exe.parent_path().string();
}

RunTimeLibrary open_run_time_library(const std::string& file_name, bool global) {
    const int flags = RTLD_NOW | (global ? RTLD_GLOBAL : RTLD_LOCAL);
    RunTimeLibrary lib;
    const std::string dir = executable_directory();
    std::error_code ec;
    if (!dir.empty() && fs::exists(fs::path(dir) / file_name, ec)) {
        // Found beside the executable: its dependencies (libcudart, libmpi) may still be missing.
        const std::string path = (fs::path(dir) / file_name).string();
        lib.handle = dlopen(path.c_str(), flags);
        if (lib.handle == nullptr)
            lib.error = fmt::format("cannot load {}: {}", path, last_dl_error());
        return lib;
    }
    lib.handle = dlopen(file_name.c_str(), flags);
    if (lib.handle == nullptr)
        lib.error = fmt::format("cannot load {} (looked beside the executable in '{}', then on "
                                "the library path): {}",
                                file_name, dir, last_dl_error());
    return lib;
}

void* run_time_symbol(void* handle, const char* symbol, std::string& error) {
    dlerror(); // clear
    void* address = dlsym(handle, symbol);
    if (address == nullptr) error = fmt::format("symbol {} not found: {}", symbol, last_dl_error());
    return address;
}

} // namespace cbs
