#include "protocol/reply_writer.hpp"

#include <charconv>
#include <cstdio>
#include <cstring>

namespace backplane::protocol {
namespace {

size_t decimal_digits(uint64_t value) {
    size_t digits = 1;
    while (value >= 10) {
        value /= 10;
        ++digits;
    }
    return digits;
}

}  // namespace

void ReplyWriter::header(char type, int64_t value) {
    char buffer[24];
    buffer[0] = type;
    auto [end, ec] = std::to_chars(buffer + 1, buffer + sizeof buffer - 2, value);
    *end++ = '\r';
    *end++ = '\n';
    out_.append(buffer, static_cast<size_t>(end - buffer));
}

void ReplyWriter::line(char type, std::string_view text) {
    const size_t start = out_.size();
    out_.push_back(type);
    out_.append(text);
    for (size_t i = start + 1; i < out_.size(); ++i) {
        if (out_[i] == '\r' || out_[i] == '\n') out_[i] = ' ';
    }
    out_.append("\r\n");
}

void ReplyWriter::simple(std::string_view text) { line('+', text); }

void ReplyWriter::error(std::string_view message) { line('-', message); }

void ReplyWriter::integer(int64_t value) { header(':', value); }

void ReplyWriter::bulk(std::string_view value) {
    header('$', static_cast<int64_t>(value.size()));
    out_.append(value);
    out_.append("\r\n");
}

void ReplyWriter::null() {
    if (version_ == RespVersion::resp3) {
        out_.append("_\r\n");
    } else {
        out_.append("$-1\r\n");
    }
}

void ReplyWriter::null_array() {
    if (version_ == RespVersion::resp3) {
        out_.append("_\r\n");
    } else {
        out_.append("*-1\r\n");
    }
}

void ReplyWriter::array(size_t count) { header('*', static_cast<int64_t>(count)); }

void ReplyWriter::map(size_t pairs) {
    if (version_ == RespVersion::resp3) {
        header('%', static_cast<int64_t>(pairs));
    } else {
        header('*', static_cast<int64_t>(pairs * 2));
    }
}

void ReplyWriter::set(size_t count) {
    header(version_ == RespVersion::resp3 ? '~' : '*', static_cast<int64_t>(count));
}

void ReplyWriter::push(size_t count) {
    header(version_ == RespVersion::resp3 ? '>' : '*', static_cast<int64_t>(count));
}

void ReplyWriter::verbatim(std::string_view text) {
    if (version_ == RespVersion::resp3) {
        header('=', static_cast<int64_t>(text.size() + 4));
        out_.append("txt:");
        out_.append(text);
        out_.append("\r\n");
    } else {
        bulk(text);
    }
}

void ReplyWriter::double_value(double value) {
    char text[32];
    const int length = std::snprintf(text, sizeof text, "%.17g", value);
    const std::string_view formatted(text, static_cast<size_t>(length));
    if (version_ == RespVersion::resp3) {
        line(',', formatted);
    } else {
        bulk(formatted);
    }
}

size_t ReplyWriter::bulk_size(size_t length) { return header_size(length) + length + 2; }

size_t header_size(size_t count) { return 1 + decimal_digits(count) + 2; }

char* write_header(char* dst, char type, size_t count) {
    *dst++ = type;
    dst = std::to_chars(dst, dst + 20, count).ptr;
    *dst++ = '\r';
    *dst++ = '\n';
    return dst;
}

char* write_bulk(char* dst, std::string_view value) {
    dst = write_header(dst, '$', value.size());
    if (!value.empty()) std::memcpy(dst, value.data(), value.size());
    dst += value.size();
    *dst++ = '\r';
    *dst++ = '\n';
    return dst;
}

}  // namespace backplane::protocol
