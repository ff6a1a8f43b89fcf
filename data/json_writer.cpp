#include "data/json_writer.hpp"

#include <cmath>
#include <fmt/format.h>

namespace cbs::data {

namespace {

std::string scalar_text(const Json& value) {
    return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void write(const Json& value, std::string& out) {
    switch (value.type()) {
    case Json::value_t::object: {
        out += '{';
        bool first = true;
        for (const auto& [key, item] : value.items()) {
            out += first ? "" : ", ";
            first = false;
            out += scalar_text(Json(key));
            out += ": ";
            write(item, out);
        }
        out += '}';
        return;
    }
    case Json::value_t::array: {
        out += '[';
        for (std::size_t i = 0; i < value.size(); ++i) {
            out += i ? ", " : "";
            write(value[i], out);
        }
        out += ']';
        return;
    }
    case Json::value_t::number_float: {
        // nlohmann-json writes an integral double as 20.0; the documented output (and every
        // reader so far) has 20, the shortest round-trip form.
        const double v = value.get<double>();
        out += std::isfinite(v) ? fmt::format("{}", v) : "null";
        return;
    }
    default:
        out += scalar_text(value); // strings (escaped), integers, booleans, null
    }
}

} // namespace

Json json_number(double v) {
    return std::isfinite(v) ? Json(v) : Json(nullptr);
}

std::string json_line(const Json& value) {
    std::string out;
    write(value, out);
    return out;
}

} // namespace cbs::data
