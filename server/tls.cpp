#include "server/tls.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <asio/ssl.hpp>
#include <sstream>
#include <vector>

#include "server/log.hpp"

namespace backplane {
namespace {

constexpr int protocol_tls1 = 1 << 0;
constexpr int protocol_tls1_1 = 1 << 1;
constexpr int protocol_tls1_2 = 1 << 2;
constexpr int protocol_tls1_3 = 1 << 3;

/// tls-protocols as a set of the bits above; empty means Redis's default (TLSv1.2 and 1.3).
int parse_protocols(const std::string& text) {
    if (text.empty()) return protocol_tls1_2 | protocol_tls1_3;
    int protocols = 0;
    std::istringstream words(text);
    for (std::string word; words >> word;) {
        for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (word == "tlsv1") {
            protocols |= protocol_tls1;
        } else if (word == "tlsv1.1") {
            protocols |= protocol_tls1_1;
        } else if (word == "tlsv1.2") {
            protocols |= protocol_tls1_2;
        } else if (word == "tlsv1.3") {
            protocols |= protocol_tls1_3;
        } else {
            log::at(LogLevel::warning,
                    "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', "
                    "'TLSv1.2' and 'TLSv1.3'.");
            return -1;
        }
    }
    return protocols;
}

/// The oldest queued OpenSSL error as text, and the queue cleared.
std::string openssl_error() {
    char text[256] = "";
    const unsigned long code = ERR_get_error();
    if (code) ERR_error_string_n(code, text, sizeof text);
    ERR_clear_error();
    return text;
}

bool load_dh_params(SSL_CTX* ctx, const std::string& path) {
    BIO* file = BIO_new_file(path.c_str(), "r");
    if (!file) {
        log::at(LogLevel::warning, "Failed to load {}: {}", path, std::strerror(errno));
        ERR_clear_error();
        return false;
    }
    EVP_PKEY* params = PEM_read_bio_Parameters(file, nullptr);
    BIO_free(file);
    if (!params) {
        log::at(LogLevel::warning, "{}: failed to read DH params.", path);
        ERR_clear_error();
        return false;
    }
    if (SSL_CTX_set0_tmp_dh_pkey(ctx, params) <= 0) {
        log::at(LogLevel::warning, "Failed to load DH params file: {}: {}", path, openssl_error());
        EVP_PKEY_free(params);
        return false;
    }
    return true;
}

}  // namespace

std::shared_ptr<TlsContext> TlsContext::create(const Config& config) {
    if (config.tls_cert_file.empty()) {
        log::at(LogLevel::warning, "No tls-cert-file configured!");
        return nullptr;
    }
    if (config.tls_key_file.empty()) {
        log::at(LogLevel::warning, "No tls-key-file configured!");
        return nullptr;
    }
    if (config.tls_auth_clients != TlsAuthClients::no && config.tls_ca_cert_file.empty() &&
        config.tls_ca_cert_dir.empty()) {
        log::at(LogLevel::warning,
                "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, "
                "tls-replication or tls-auth-clients are enabled!");
        return nullptr;
    }
    const int protocols = parse_protocols(config.tls_protocols);
    if (protocols < 0) return nullptr;

    using asio::ssl::context;
    context ssl(context::tls_server);
    context::options options = context::no_sslv2 | context::no_sslv3 | context::no_compression |
                               SSL_OP_NO_RENEGOTIATION | SSL_OP_SINGLE_DH_USE;
    if (!(protocols & protocol_tls1)) options |= context::no_tlsv1;
    if (!(protocols & protocol_tls1_1)) options |= context::no_tlsv1_1;
    if (!(protocols & protocol_tls1_2)) options |= context::no_tlsv1_2;
    if (!(protocols & protocol_tls1_3)) options |= context::no_tlsv1_3;
    if (config.tls_prefer_server_ciphers) options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    ssl.set_options(options);
    SSL_CTX* ctx = ssl.native_handle();
    // Writes may stop after any whole record and resume from a buffer that has moved.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);

    asio::error_code ec;
    const std::string password = config.tls_key_file_pass;
    if (!password.empty()) {
        ssl.set_password_callback(
            [password](std::size_t, context::password_purpose) { return password; }, ec);
    }
    ssl.use_certificate_chain_file(config.tls_cert_file, ec);
    if (ec) {
        log::at(LogLevel::warning, "Failed to load certificate: {}: {}", config.tls_cert_file,
                ec.message());
        return nullptr;
    }
    ssl.use_private_key_file(config.tls_key_file, context::pem, ec);
    if (ec) {
        log::at(LogLevel::warning, "Failed to load private key: {}: {}", config.tls_key_file,
                ec.message());
        return nullptr;
    }
    if (!config.tls_ca_cert_file.empty()) ssl.load_verify_file(config.tls_ca_cert_file, ec);
    if (!ec && !config.tls_ca_cert_dir.empty()) ssl.add_verify_path(config.tls_ca_cert_dir, ec);
    if (ec) {
        log::at(LogLevel::warning, "Failed to configure CA certificate(s) file/directory: {}",
                ec.message());
        return nullptr;
    }
    if (!config.tls_ciphers.empty() && !SSL_CTX_set_cipher_list(ctx, config.tls_ciphers.c_str())) {
        log::at(LogLevel::warning, "Failed to configure ciphers: {}", config.tls_ciphers);
        ERR_clear_error();
        return nullptr;
    }
    if (!config.tls_ciphersuites.empty() &&
        !SSL_CTX_set_ciphersuites(ctx, config.tls_ciphersuites.c_str())) {
        log::at(LogLevel::warning, "Failed to configure ciphersuites: {}", config.tls_ciphersuites);
        ERR_clear_error();
        return nullptr;
    }
    // tls-auth-clients: yes requires a certificate signed by the CA, optional checks one if
    // the client sends it, no asks for none.
    switch (config.tls_auth_clients) {
        case TlsAuthClients::yes:
            ssl.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
            break;
        case TlsAuthClients::optional:
            ssl.set_verify_mode(asio::ssl::verify_peer);
            break;
        case TlsAuthClients::no:
            ssl.set_verify_mode(asio::ssl::verify_none);
            break;
    }
    if (config.tls_session_caching) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, config.tls_session_cache_size);
        SSL_CTX_set_timeout(ctx, config.tls_session_cache_timeout);
        SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>("redis"), 5);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    if (!config.tls_dh_params_file.empty()) {
        if (!load_dh_params(ctx, config.tls_dh_params_file)) return nullptr;
    } else {
        SSL_CTX_set_dh_auto(ctx, 1);
    }
    // The asio context frees the password callback when it goes; the SSL_CTX lives on.
    SSL_CTX_up_ref(ctx);
    SSL_CTX_set_default_passwd_cb(ctx, nullptr);
    return std::shared_ptr<TlsContext>(new TlsContext(ctx));
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::string_view changed_tls_setting(const Config& a, const Config& b) {
    if (a.tls_cert_file != b.tls_cert_file) return "tls-cert-file";
    if (a.tls_key_file != b.tls_key_file) return "tls-key-file";
    if (a.tls_key_file_pass != b.tls_key_file_pass) return "tls-key-file-pass";
    if (a.tls_ca_cert_file != b.tls_ca_cert_file) return "tls-ca-cert-file";
    if (a.tls_ca_cert_dir != b.tls_ca_cert_dir) return "tls-ca-cert-dir";
    if (a.tls_auth_clients != b.tls_auth_clients) return "tls-auth-clients";
    if (a.tls_protocols != b.tls_protocols) return "tls-protocols";
    if (a.tls_ciphers != b.tls_ciphers) return "tls-ciphers";
    if (a.tls_ciphersuites != b.tls_ciphersuites) return "tls-ciphersuites";
    if (a.tls_prefer_server_ciphers != b.tls_prefer_server_ciphers)
        return "tls-prefer-server-ciphers";
    if (a.tls_session_caching != b.tls_session_caching) return "tls-session-caching";
    if (a.tls_session_cache_size != b.tls_session_cache_size) return "tls-session-cache-size";
    if (a.tls_session_cache_timeout != b.tls_session_cache_timeout)
        return "tls-session-cache-timeout";
    if (a.tls_dh_params_file != b.tls_dh_params_file) return "tls-dh-params-file";
    return {};
}

TlsStream::TlsStream(const TlsContext& context, int fd) : ssl_(SSL_new(context.native())) {
    SSL_set_fd(ssl_, fd);
    SSL_set_accept_state(ssl_);
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

TlsWait TlsStream::failure(int result, bool& closed) {
    const int code = SSL_get_error(ssl_, result);
    switch (code) {
        case SSL_ERROR_WANT_READ:
            return TlsWait::readable;
        case SSL_ERROR_WANT_WRITE:
            return TlsWait::writable;
        case SSL_ERROR_ZERO_RETURN:
            error_ = "connection closed by peer";
            break;
        case SSL_ERROR_SYSCALL:
            error_ = errno ? std::strerror(errno) : "unexpected end of stream";
            ERR_clear_error();
            break;
        default:
            error_ = openssl_error();
            break;
    }
    closed = true;
    failed_ = true;
    return TlsWait::failed;
}

TlsWait TlsStream::handshake() {
    ERR_clear_error();
    errno = 0;
    const int result = SSL_do_handshake(ssl_);
    if (result == 1) return TlsWait::none;
    bool closed = false;
    return failure(result, closed);
}

TlsStream::ReadResult TlsStream::read(char* buffer, size_t size) {
    ReadResult result{0, TlsWait::none, false};
    if (failed_) return {0, TlsWait::failed, true};
    while (result.bytes < size) {
        ERR_clear_error();
        errno = 0;
        const int chunk = static_cast<int>(std::min<size_t>(size - result.bytes, INT32_MAX));
        const int got = SSL_read(ssl_, buffer + result.bytes, chunk);
        if (got > 0) {
            result.bytes += static_cast<size_t>(got);
            continue;
        }
        result.wait = failure(got, result.closed);
        break;
    }
    return result;
}

TlsWait TlsStream::write_staged(size_t& written) {
    written = 0;
    if (failed_) return TlsWait::failed;
    while (written < staged_.size()) {
        ERR_clear_error();
        errno = 0;
        const int sent =
            SSL_write(ssl_, staged_.data() + written, static_cast<int>(staged_.size() - written));
        if (sent > 0) {
            written += static_cast<size_t>(sent);
            continue;
        }
        staged_.erase(0, written);
        bool closed = false;
        const TlsWait wait = failure(sent, closed);
        // A write that needs to read first would be a renegotiation, which is disabled.
        return wait == TlsWait::readable ? TlsWait::failed : wait;
    }
    staged_.clear();
    if (staged_.capacity() > 4 * tls_record_size) staged_.shrink_to_fit();  // after a big reply
    return TlsWait::none;
}

void TlsStream::shutdown() {
    if (!failed_ && SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
    ERR_clear_error();
}

}  // namespace backplane
