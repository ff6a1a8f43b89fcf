// HDF5 study files (see study_file.hpp and docs/hdf5-schema.md), with the HDF5 C++ API.
//
// Writing: the file is built in memory with HDF5's core driver, then its bytes are written to
// "<path>.partial" with plain stdio (fwrite, fflush, fsync, fclose, each checked) and renamed over
// <path>. So disk errors come back as errno ("No space left on device"), and HDF5 never holds a
// half-written file on disk.
// Errors: HDF5 failures surface as H5::Exception from the C++ API and are turned into a one-line
// cbs::UserError naming the file. While we call into HDF5, its automatic error-stack printing is
// replaced by a silent handler that keeps the innermost message of the first failure, so users see
// one line with a specific reason rather than a multi-line HDF5 stack dump.
// Tables: a group per table under /cbs or /fits, a dataset per column, and a `columns` attribute
// holding the names in order (HDF5 lists a group's members alphabetically, so order needs it).
// The reader is as strict for tables as for runs: whatever it returns, write_study accepts.
// Threads: write_study and read_study may be called concurrently (see hdf5_guard()).
#include "data/study_file.hpp"

#include "theory/check.hpp"

#include <H5Cpp.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <set>
#include <stdexcept>
#include <unistd.h>

namespace cbs::data {

namespace {

namespace fs = std::filesystem;

const char* const kStandardCurves[] = {"step", "samples", "risk", "risk_ewa"};

bool is_standard_curve(const std::string& name) {
    return std::find(std::begin(kStandardCurves), std::end(kStandardCurves), name) !=
           std::end(kStandardCurves);
}

// ---- HDF5 error capture --------------------------------------------------------------------

herr_t keep_innermost(unsigned n, const H5E_error2_t* err, void* client) {
    if (n == 0 && err != nullptr && err->desc != nullptr)
        *static_cast<std::string*>(client) = err->desc;
    return 0;
}

// Installed as HDF5's "automatic" error function: silent, remembers the first failure only.
herr_t capture_error(hid_t stack, void* client) {
    auto* first = static_cast<std::string*>(client);
    if (first->empty()) {
        std::string innermost;
        H5Ewalk2(stack, H5E_WALK_UPWARD, keep_innermost, &innermost);
        *first = innermost.empty() ? "unknown HDF5 error" : innermost;
    }
    return 0;
}

/// Scope guard: silences HDF5's error printing (as H5::Exception::dontPrint() does) and records
/// the first error's innermost message; restores the previous handler on exit.
class ErrorCapture {
public:
    ErrorCapture() {
        H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
        H5::Exception::dontPrint();
        H5Eset_auto2(H5E_DEFAULT, capture_error, &first_);
    }
    ~ErrorCapture() { H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_); }
    ErrorCapture(const ErrorCapture&) = delete;
    ErrorCapture& operator=(const ErrorCapture&) = delete;

    /// A one-line reason for `e`: the OS error message HDF5 embeds in its innermost entry
    /// ("..., error message = 'No space left on device', ...") if present, otherwise that entry.
    std::string reason(const H5::Exception& e) const {
        const std::string key = "error message = '";
        const std::size_t at = first_.find(key);
        if (at != std::string::npos) {
            const std::size_t begin = at + key.size();
            const std::size_t end = first_.find('\'', begin);
            if (end != std::string::npos) return first_.substr(begin, end - begin);
        }
        std::string r = first_.empty() ? e.getDetailMsg() : first_;
        std::replace(r.begin(), r.end(), '\n', ' ');
        return r;
    }

private:
    H5E_auto2_t old_func_ = nullptr;
    void* old_data_ = nullptr;
    std::string first_;
};

/// Sweeps read and write study files from several threads at once. A thread-safe HDF5 build (as
/// Debian's) has its own global lock; any other build must not be entered concurrently, so then
/// calls are serialised here. (Only the HDF5 part: write_study's disk I/O runs outside the lock.)
std::unique_lock<std::mutex> hdf5_guard() {
    static std::mutex mutex;
    static const bool threadsafe = [] {
        hbool_t yes = false;
        return H5is_library_threadsafe(&yes) >= 0 && yes;
    }();
    return threadsafe ? std::unique_lock<std::mutex>() : std::unique_lock<std::mutex>(mutex);
}

// ---- attributes and datasets ---------------------------------------------------------------

/// Variable-length UTF-8 string: h5py reads it as `str`. Made per use (cheap) rather than held
/// in a static, so no HDF5 handle outlives the library's own shutdown at exit.
H5::StrType string_type() {
    H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
    t.setCset(H5T_CSET_UTF8);
    return t;
}

template <typename Location>
void write_attr(Location& loc, const std::string& name, const AttrValue& value) {
    const H5::DataSpace scalar(H5S_SCALAR);
    if (const auto* i = std::get_if<std::int64_t>(&value)) {
        loc.createAttribute(name, H5::PredType::NATIVE_INT64, scalar)
            .write(H5::PredType::NATIVE_INT64, i);
    } else if (const auto* d = std::get_if<double>(&value)) {
        loc.createAttribute(name, H5::PredType::NATIVE_DOUBLE, scalar)
            .write(H5::PredType::NATIVE_DOUBLE, d);
    } else {
        const H5::StrType type = string_type();
        loc.createAttribute(name, type, scalar).write(type, std::get<std::string>(value));
    }
}

/// Size in bytes of the file that holds the HDF5 object `object`.
hsize_t file_bytes(hid_t object) {
    const hid_t file = H5Iget_file_id(object);
    if (file < 0) throw std::runtime_error("cannot find the file of an HDF5 object");
    hsize_t bytes = 0;
    const herr_t status = H5Fget_filesize(file, &bytes);
    H5Fclose(file);
    if (status < 0) throw std::runtime_error("cannot get the size of the file");
    return bytes;
}

/// The number of elements of the one-dimensional dataset `ds` (named `name` in errors). Refused if
/// the extent is not one-dimensional, or claims more elements than a file of its size can hold:
/// even DEFLATE packs at most ~1032 bytes into one, so no dataset of a file of F bytes stores more
/// than 1024*F bytes (the largest element count a corrupted header may claim would otherwise be
/// allocated before HDF5 looks at the data).
std::size_t dataset_length(const H5::DataSet& ds, const std::string& name,
                           const std::string& where) {
    const H5::DataSpace space = ds.getSpace();
    if (space.getSimpleExtentType() != H5S_SIMPLE || space.getSimpleExtentNdims() != 1)
        throw std::runtime_error(where + "dataset '" + name + "' is not one-dimensional");
    hsize_t dims[1] = {0};
    space.getSimpleExtentDims(dims);
    const hsize_t element = std::max<std::size_t>(1, ds.getDataType().getSize());
    const hsize_t limit = 1024 * file_bytes(ds.getId()) / element;
    if (dims[0] > limit)
        throw std::runtime_error(where + "dataset '" + name + "' claims " +
                                 std::to_string(dims[0]) + " elements of " +
                                 std::to_string(element) + " bytes, more than a file of " +
                                 std::to_string(file_bytes(ds.getId())) + " bytes can hold");
    return static_cast<std::size_t>(dims[0]);
}

/// Reads a scalar int / float / string attribute; `where` names its owner in error messages.
AttrValue read_attr(const H5::Attribute& attr, const std::string& where) {
    const std::string name = attr.getName();
    // Every read below fills exactly one element: an array attribute would overrun it.
    if (attr.getSpace().getSimpleExtentNpoints() != 1)
        throw std::runtime_error(where + "attribute '" + name + "' is not a scalar");
    const H5T_class_t cls = attr.getTypeClass();
    if (cls == H5T_INTEGER) {
        std::int64_t v = 0;
        attr.read(H5::PredType::NATIVE_INT64, &v);
        return v;
    }
    if (cls == H5T_FLOAT) {
        double v = 0;
        attr.read(H5::PredType::NATIVE_DOUBLE, &v);
        return v;
    }
    if (cls == H5T_STRING) {
        const H5::StrType type = attr.getStrType();
        // A fixed-length string is read into a buffer of the type's size: bound it by the file.
        if (!type.isVariableStr() && type.getSize() > file_bytes(attr.getId()))
            throw std::runtime_error(where + "attribute '" + name + "' claims a string of " +
                                     std::to_string(type.getSize()) +
                                     " bytes, longer than the file");
        std::string v;
        if (type.isVariableStr()) {
            // Through the C API: a stored null string reads as a null pointer, on which the C++
            // API's read(type, std::string&) would call strlen.
            char* p = nullptr;
            if (H5Aread(attr.getId(), type.getId(), &p) < 0)
                throw std::runtime_error(where + "cannot read attribute '" + name + "'");
            if (p != nullptr) v = p;
            H5free_memory(p);
        } else {
            attr.read(type, v);
        }
        return v;
    }
    throw std::runtime_error(where + "attribute '" + name + "' is not an integer, float or string");
}

template <typename T>
void write_dataset(H5::Group& group, const std::string& name, const std::vector<T>& values,
                   const H5::PredType& type) {
    const hsize_t dims[1] = {values.size()};
    const H5::DataSpace space(1, dims);
    H5::DataSet ds = group.createDataSet(name, type, space);
    if (!values.empty()) ds.write(values.data(), type); // nothing to write for length 0
}

template <typename T>
std::vector<T> read_dataset(const H5::Group& group, const std::string& name,
                            const H5::PredType& type, const std::string& where) {
    const H5::DataSet ds = group.openDataSet(name);
    std::vector<T> values(dataset_length(ds, name, where));
    if (!values.empty()) ds.read(values.data(), type);
    return values;
}

// ---- validation ----------------------------------------------------------------------------

/// Splits a table path "cbs/<name>" or "fits/<name>" into its two components; returns false if
/// it is not of that form (the name must be non-empty, without '/', and not "." or "..").
bool split_table_path(const std::string& path, std::string& top, std::string& name) {
    const std::size_t slash = path.find('/');
    if (slash == std::string::npos) return false;
    top = path.substr(0, slash);
    name = path.substr(slash + 1);
    return (top == "cbs" || top == "fits") && !name.empty() &&
           name.find('/') == std::string::npos && name != "." && name != "..";
}

std::size_t column_length(const Table::Column& column) {
    return std::visit([](const auto& values) { return values.size(); }, column);
}

void validate_table(const std::string& path, const Table& table) {
    std::string top, name;
    if (!split_table_path(path, top, name))
        throw std::invalid_argument("table path '" + path +
                                    "': must be cbs/<name> or fits/<name> (name non-empty, "
                                    "without '/', not '.' or '..')");
    const std::string where = "table '" + path + "': ";
    std::set<std::string> names;
    for (const auto& [column, values] : table.columns) {
        // ',' separates names in the `columns` attribute; '/' would make a nested HDF5 path.
        if (column.empty() || column.find_first_of("/,") != std::string::npos || column == "." ||
            column == "..")
            throw std::invalid_argument(where + "bad column name '" + column +
                                        "' (empty, contains '/' or ',', or '.' / '..')");
        if (!names.insert(column).second)
            throw std::invalid_argument(where + "duplicate column '" + column + "'");
        const std::size_t n = column_length(table.columns.front().second);
        if (column_length(values) != n)
            throw std::invalid_argument(where + "column '" + column + "' has " +
                                        std::to_string(column_length(values)) +
                                        " values but column '" + table.columns.front().first +
                                        "' has " + std::to_string(n));
    }
    for (const auto& [attr, value] : table.attrs) {
        if (attr.empty()) throw std::invalid_argument(where + "empty attribute name");
        if (attr == "columns")
            throw std::invalid_argument(where +
                                        "attribute 'columns' is reserved for the column names");
    }
}

void validate(const Study& study) {
    if (study.meta.schema_version != kSchemaVersion)
        throw std::invalid_argument("study schema_version is " +
                                    std::to_string(study.meta.schema_version) +
                                    "; this cbs writes version " + std::to_string(kSchemaVersion));
    std::set<std::string> ids;
    for (const RunRecord& run : study.runs) {
        // "." would name /runs itself in an HDF5 path; ".." is rejected for symmetry.
        if (run.id.empty() || run.id.find('/') != std::string::npos || run.id == "." ||
            run.id == "..")
            throw std::invalid_argument("run id '" + run.id +
                                        "': must be non-empty, without '/', and not '.' or '..'");
        if (!ids.insert(run.id).second)
            throw std::invalid_argument("duplicate run id '" + run.id + "'");
        for (const auto& [name, value] : run.attrs)
            if (name.empty())
                throw std::invalid_argument("run '" + run.id + "': empty attribute name");
        const std::size_t n = run.step.size();
        const auto length_error = [&](const std::string& curve, std::size_t m) {
            return std::invalid_argument("run '" + run.id + "': curve '" + curve + "' has " +
                                         std::to_string(m) + " values but 'step' has " +
                                         std::to_string(n));
        };
        if (run.samples.size() != n) throw length_error("samples", run.samples.size());
        if (run.risk.size() != n) throw length_error("risk", run.risk.size());
        if (run.risk_ewa.size() != n) throw length_error("risk_ewa", run.risk_ewa.size());
        for (const auto& [name, curve] : run.extra_curves) {
            if (name.empty() || name.find('/') != std::string::npos || name == "." ||
                name == ".." || is_standard_curve(name))
                throw std::invalid_argument("run '" + run.id + "': bad extra curve name '" + name +
                                            "' (empty, contains '/', or a standard curve)");
            if (curve.size() != n) throw length_error(name, curve.size());
        }
    }
    for (const auto& [path, table] : study.tables)
        validate_table(path, table);
}

// ---- writing -------------------------------------------------------------------------------

void write_string_dataset(H5::Group& group, const std::string& name,
                          const std::vector<std::string>& values) {
    const hsize_t dims[1] = {values.size()};
    const H5::DataSpace space(1, dims);
    const H5::StrType type = string_type();
    H5::DataSet ds = group.createDataSet(name, type, space);
    std::vector<const char*> pointers;
    pointers.reserve(values.size());
    for (const std::string& v : values)
        pointers.push_back(v.c_str());
    if (!pointers.empty()) ds.write(pointers.data(), type);
}

void write_table(H5::H5File& file, const std::string& path, const Table& table) {
    std::string top, name;
    split_table_path(path, top, name); // validated before
    H5::Group parent = file.nameExists(top) ? file.openGroup(top) : file.createGroup(top);
    H5::Group g = parent.createGroup(name);
    std::string columns;
    for (const auto& [column, values] : table.columns) {
        if (!columns.empty()) columns += ',';
        columns += column;
        if (const auto* d = std::get_if<std::vector<double>>(&values))
            write_dataset(g, column, *d, H5::PredType::NATIVE_DOUBLE);
        else
            write_string_dataset(g, column, std::get<std::vector<std::string>>(values));
    }
    write_attr(g, "columns", columns);
    for (const auto& [attr, value] : table.attrs)
        write_attr(g, attr, value);
}

bool is_fixed_root_attr(const std::string& name) {
    return name == "schema_version" || name == "cbs_version" || name == "git_sha" ||
           name == "config" || name == "created";
}

/// Builds the whole file in memory (HDF5's core driver, no backing store) and returns its bytes.
/// Keeping HDF5 away from the disk matters: in HDF5 1.10 a failed H5Fclose (e.g. disk full while
/// flushing) leaves the file open inside the library, which then crashes at process exit. Here
/// nothing HDF5 does can fail for I/O reasons, and write_study reports disk errors via errno.
std::vector<unsigned char> file_image(const std::string& label, const Study& study) {
    H5::FileAccPropList fapl;
    fapl.setCore(std::size_t{1} << 20, false); // grow in 1 MiB steps; never touch the disk
    H5::H5File file(label, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, fapl);
    write_attr(file, "schema_version", study.meta.schema_version);
    write_attr(file, "cbs_version", study.meta.cbs_version);
    write_attr(file, "git_sha", study.meta.git_sha);
    write_attr(file, "config", study.meta.config);
    write_attr(file, "created", study.meta.created);
    for (const auto& [name, value] : study.meta.attrs) {
        if (is_fixed_root_attr(name))
            throw std::invalid_argument("root attribute '" + name + "' is reserved");
        write_attr(file, name, value);
    }
    {
        // Scoped so every object is closed before the image is taken.
        H5::Group runs = file.createGroup("runs");
        for (const RunRecord& run : study.runs) {
            H5::Group g = runs.createGroup(run.id);
            for (const auto& [name, value] : run.attrs)
                write_attr(g, name, value);
            write_dataset(g, "step", run.step, H5::PredType::NATIVE_INT64);
            write_dataset(g, "samples", run.samples, H5::PredType::NATIVE_INT64);
            write_dataset(g, "risk", run.risk, H5::PredType::NATIVE_DOUBLE);
            write_dataset(g, "risk_ewa", run.risk_ewa, H5::PredType::NATIVE_DOUBLE);
            for (const auto& [name, curve] : run.extra_curves)
                write_dataset(g, name, curve, H5::PredType::NATIVE_DOUBLE);
        }
        for (const auto& [path, table] : study.tables)
            write_table(file, path, table);
    }
    // Flush first: without it the image's superblock keeps a stale end-of-file address and the
    // written file cannot be opened (the round-trip test catches this).
    file.flush(H5F_SCOPE_GLOBAL);
    const ssize_t size = H5Fget_file_image(file.getId(), nullptr, 0);
    if (size < 0) throw H5::FileIException("H5Fget_file_image", "cannot size the file image");
    std::vector<unsigned char> image(static_cast<std::size_t>(size));
    if (H5Fget_file_image(file.getId(), image.data(), image.size()) != size)
        throw H5::FileIException("H5Fget_file_image", "cannot copy the file image");
    file.close();
    return image;
}

/// Writes `bytes` to `path` and syncs it to disk; returns an empty string or the errno reason.
std::string write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
    errno = 0;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return "cannot create '" + path + "': " + std::strerror(errno);
    std::string reason;
    if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fflush(f) != 0 ||
        ::fsync(::fileno(f)) != 0)
        reason = std::strerror(errno);
    // fclose may report a delayed write error (e.g. on network file systems) too.
    if (std::fclose(f) != 0 && reason.empty()) reason = std::strerror(errno);
    return reason;
}

// ---- reading -------------------------------------------------------------------------------

std::string read_root_string(const H5::H5File& file, const char* name) {
    if (!file.attrExists(name))
        throw std::runtime_error(std::string("missing root attribute '") + name + "'");
    const AttrValue v = read_attr(file.openAttribute(name), "root ");
    if (const auto* s = std::get_if<std::string>(&v)) return *s;
    throw std::runtime_error(std::string("root attribute '") + name + "' is not a string");
}

RunRecord read_run(const H5::Group& runs, const std::string& id) {
    const std::string where = "run '" + id + "': ";
    if (runs.childObjType(id) != H5O_TYPE_GROUP)
        throw std::runtime_error("/runs/" + id + " is not a group");
    const H5::Group g = runs.openGroup(id);
    RunRecord run;
    run.id = id;
    for (int a = 0; a < g.getNumAttrs(); ++a) {
        const H5::Attribute attr = g.openAttribute(static_cast<unsigned>(a));
        run.attrs[attr.getName()] = read_attr(attr, where);
    }
    for (const char* name : kStandardCurves)
        if (!g.nameExists(name) || g.childObjType(name) != H5O_TYPE_DATASET)
            throw std::runtime_error(where + "missing dataset '" + name + "'");
    const auto& i64 = H5::PredType::NATIVE_INT64;
    const auto& f64 = H5::PredType::NATIVE_DOUBLE;
    run.step = read_dataset<std::int64_t>(g, "step", i64, where);
    run.samples = read_dataset<std::int64_t>(g, "samples", i64, where);
    run.risk = read_dataset<double>(g, "risk", f64, where);
    run.risk_ewa = read_dataset<double>(g, "risk_ewa", f64, where);
    for (hsize_t k = 0; k < g.getNumObjs(); ++k) {
        const std::string name = g.getObjnameByIdx(k);
        if (is_standard_curve(name) || g.childObjType(name) != H5O_TYPE_DATASET) continue;
        run.extra_curves[name] = read_dataset<double>(g, name, f64, where);
    }
    // The same invariant write_study enforces, so callers can index all curves by one i.
    const std::size_t n = run.step.size();
    bool same = run.samples.size() == n && run.risk.size() == n && run.risk_ewa.size() == n;
    for (const auto& [name, curve] : run.extra_curves)
        same = same && curve.size() == n;
    if (!same) throw std::runtime_error(where + "curves have different lengths");
    return run;
}

/// Reads a string column of n elements (n from dataset_length): variable-length (as cbs and h5py
/// write) or fixed-length strings.
std::vector<std::string> read_string_dataset(const H5::DataSet& ds, std::size_t n) {
    std::vector<std::string> values(n);
    if (n == 0) return values;
    const H5::StrType file_type = ds.getStrType();
    if (file_type.isVariableStr()) {
        H5::StrType mem_type(H5::PredType::C_S1, H5T_VARIABLE);
        mem_type.setCset(file_type.getCset());
        std::vector<char*> pointers(n, nullptr);
        ds.read(pointers.data(), mem_type);
        for (std::size_t i = 0; i < n; ++i)
            if (pointers[i] != nullptr) values[i] = pointers[i];
        // Frees the strings HDF5 allocated for the read.
        H5Dvlen_reclaim(mem_type.getId(), ds.getSpace().getId(), H5P_DEFAULT, pointers.data());
        return values;
    }
    const std::size_t width = file_type.getSize();
    std::vector<char> buffer(width * n);
    ds.read(buffer.data(), file_type);
    for (std::size_t i = 0; i < n; ++i) {
        const char* begin = buffer.data() + i * width;
        values[i] = std::string(begin, strnlen(begin, width)); // NUL- or space-padded
        if (file_type.getStrpad() == H5T_STR_SPACEPAD)
            values[i].erase(values[i].find_last_not_of(' ') + 1);
    }
    return values;
}

Table read_table(const H5::Group& parent, const std::string& path, const std::string& name) {
    const std::string where = "table '" + path + "': ";
    if (parent.childObjType(name) != H5O_TYPE_GROUP)
        throw std::runtime_error("/" + path + " is not a group (tables are groups)");
    const H5::Group g = parent.openGroup(name);
    Table table;
    if (!g.attrExists("columns")) throw std::runtime_error(where + "missing attribute 'columns'");
    const AttrValue columns_attr = read_attr(g.openAttribute("columns"), where);
    const auto* columns = std::get_if<std::string>(&columns_attr);
    if (columns == nullptr) throw std::runtime_error(where + "attribute 'columns' is not a string");
    for (int a = 0; a < g.getNumAttrs(); ++a) {
        const H5::Attribute attr = g.openAttribute(static_cast<unsigned>(a));
        if (attr.getName() != "columns") table.attrs[attr.getName()] = read_attr(attr, where);
    }
    std::set<std::string> listed;
    std::size_t begin = 0;
    while (!columns->empty() && begin <= columns->size()) {
        const std::size_t comma = std::min(columns->find(',', begin), columns->size());
        const std::string column = columns->substr(begin, comma - begin);
        begin = comma + 1;
        if (!listed.insert(column).second)
            throw std::runtime_error(where + "column '" + column + "' listed twice in 'columns'");
        if (column.empty() || !g.nameExists(column) || g.childObjType(column) != H5O_TYPE_DATASET)
            throw std::runtime_error(where + "missing dataset for column '" + column + "'");
        const H5::DataSet ds = g.openDataSet(column);
        const H5T_class_t cls = ds.getTypeClass();
        if (cls == H5T_STRING) {
            table.columns.emplace_back(column,
                                       read_string_dataset(ds, dataset_length(ds, column, where)));
        } else if (cls == H5T_FLOAT || cls == H5T_INTEGER) {
            table.columns.emplace_back(
                column, read_dataset<double>(g, column, H5::PredType::NATIVE_DOUBLE, where));
        } else {
            throw std::runtime_error(where + "column '" + column +
                                     "' is neither numbers nor strings");
        }
    }
    for (hsize_t k = 0; k < g.getNumObjs(); ++k) {
        const std::string child = g.getObjnameByIdx(k);
        if (listed.count(child) == 0)
            throw std::runtime_error(where + "'" + child +
                                     "' is not listed in the 'columns' attribute");
    }
    for (const auto& [column, values] : table.columns)
        if (column_length(values) != column_length(table.columns.front().second))
            throw std::runtime_error(where + "columns have different lengths");
    return table;
}

/// Reads every table under /cbs and /fits (absent groups: no tables).
void read_tables(const H5::H5File& file, Study& study) {
    for (const char* top : {"cbs", "fits"}) {
        if (!file.nameExists(top)) continue;
        if (file.childObjType(top) != H5O_TYPE_GROUP)
            throw std::runtime_error(std::string("/") + top + " is not a group");
        const H5::Group parent = file.openGroup(top);
        for (hsize_t k = 0; k < parent.getNumObjs(); ++k) {
            const std::string name = parent.getObjnameByIdx(k);
            const std::string path = std::string(top) + "/" + name;
            study.tables[path] = read_table(parent, path, name);
        }
    }
}

} // namespace

std::string utc_timestamp() {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void write_study(const std::string& path, const Study& study) {
    validate(study);
    const std::string partial = path + ".partial";
    const auto fail = [&](const std::string& reason) {
        return UserError("cannot write study file '" + path + "': " + reason);
    };
    std::error_code ec;
    const fs::path parent = fs::absolute(fs::path(path), ec).parent_path();
    if (ec || !fs::is_directory(parent, ec))
        throw fail("directory '" + parent.string() + "' does not exist");

    std::vector<unsigned char> image;
    {
        const std::unique_lock<std::mutex> serial = hdf5_guard();
        const ErrorCapture capture;
        try {
            image = file_image(path, study);
        } catch (const H5::Exception& e) {
            throw fail("HDF5 error: " + capture.reason(e));
        }
    }
    // From here on a partial file may exist: every failure removes it before throwing.
    std::string reason = write_bytes(partial, image);
    if (reason.empty() && std::rename(partial.c_str(), path.c_str()) != 0)
        reason = std::strerror(errno);
    if (!reason.empty()) {
        fs::remove(partial, ec);
        throw fail(reason);
    }
}

Study read_study(const std::string& path) {
    const auto fail = [&](const std::string& reason) {
        return UserError("cannot read study file '" + path + "': " + reason);
    };
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (!fs::exists(status)) throw fail("no such file");
    if (!fs::is_regular_file(status)) throw fail("not a regular file");
    const std::unique_lock<std::mutex> serial = hdf5_guard();
    const ErrorCapture capture;
    try {
        // isHdf5 throws (rather than returning false) when the file cannot be opened at all.
        if (!H5::H5File::isHdf5(path)) throw fail("not an HDF5 file");
        const H5::H5File file(path, H5F_ACC_RDONLY);
        Study study;
        if (!file.attrExists("schema_version"))
            throw fail("missing root attribute 'schema_version'");
        const AttrValue version = read_attr(file.openAttribute("schema_version"), "root ");
        const auto* v = std::get_if<std::int64_t>(&version);
        if (v == nullptr) throw fail("root attribute 'schema_version' is not an integer");
        if (*v != kSchemaVersion)
            throw fail("schema_version is " + std::to_string(*v) + "; this cbs reads version " +
                       std::to_string(kSchemaVersion));
        study.meta.schema_version = *v;
        study.meta.cbs_version = read_root_string(file, "cbs_version");
        study.meta.git_sha = read_root_string(file, "git_sha");
        study.meta.config = read_root_string(file, "config");
        study.meta.created = read_root_string(file, "created");
        for (int a = 0; a < file.getNumAttrs(); ++a) {
            const H5::Attribute attr = file.openAttribute(static_cast<unsigned>(a));
            const std::string name = attr.getName();
            // Others' attributes this schema cannot hold (arrays, compounds) are left out.
            const H5T_class_t cls = attr.getTypeClass();
            if (is_fixed_root_attr(name) || attr.getSpace().getSimpleExtentNpoints() != 1 ||
                (cls != H5T_INTEGER && cls != H5T_FLOAT && cls != H5T_STRING))
                continue;
            study.meta.attrs[name] = read_attr(attr, "root ");
        }
        read_tables(file, study);
        if (!file.nameExists("runs")) return study; // a study with no runs written yet
        if (file.childObjType("runs") != H5O_TYPE_GROUP) throw fail("/runs is not a group");
        const H5::Group runs = file.openGroup("runs");
        for (hsize_t i = 0; i < runs.getNumObjs(); ++i)
            study.runs.push_back(read_run(runs, runs.getObjnameByIdx(i)));
        std::sort(study.runs.begin(), study.runs.end(),
                  [](const RunRecord& x, const RunRecord& y) { return x.id < y.id; });
        return study;
    } catch (const UserError&) {
        throw;
    } catch (const H5::Exception& e) {
        throw fail(capture.reason(e));
    } catch (const std::runtime_error& e) {
        throw fail(e.what());
    } catch (const std::bad_alloc&) {
        throw fail("it claims more data than fits in memory");
    }
}

} // namespace cbs::data
