#include "options.hpp"

#include <fmt/core.h>
#include <getopt.h>

#include <cstdlib>
#include <string_view>

#include "payload.hpp"

namespace bench {
namespace {

constexpr std::string_view kUsage = R"(usage: backplane-bench [options]
Pub/sub load generator for any RESP server.

connection:
  --host H                   server host (127.0.0.1)
  --port N                   server port (6379)
  --unix-socket PATH         connect over a Unix socket instead of TCP
  --password PW              AUTH with this password
  --tls                      connect with TLS (to the server's tls-port)
  --cacert FILE              CA certificate to verify the server with (TLS)
  --cert FILE, --key FILE    client certificate and key (TLS with tls-auth-clients)
workload:
  -P, --publishers N         publisher connections (1)
  -S, --subscribers N        subscriber connections (1)
  -C, --channels N           channels published to, round-robin per publisher (1)
  --channels-per-subscriber N  channels each subscriber connection SUBSCRIBEs to (1)
  --pattern-subscribers N    connections that PSUBSCRIBE (0)
  --patterns-per-subscriber N  patterns per pattern connection; exactly one matches (1)
  --payload BYTES            message size, >= 32 (64)
  --pipeline N               PUBLISH commands in flight per publisher (16)
  --rate R                   total publishes/s at a fixed rate; 0 = flat out (0)
  --duration SEC             measured publishing time (5)
  --messages N               measured publishes in total (replaces --duration)
  --warmup SEC               publishing before measuring starts (1)
  --idle N                   extra subscribed idle connections; reports server RSS per conn
  --churn-clients N          clients that SUBSCRIBE/UNSUBSCRIBE in a loop (0)
  --churn-channels N         channels per churn SUBSCRIBE (1000)
measurement and output:
  --threads N                generator threads (cores not used by --server-pid, >= 1)
  --server-pid PID           read the server's CPU time and RSS from /proc/PID
  --json                     print one JSON object instead of the text report
  --no-progress              no progress line each second
)";

enum : int {
    kHost = 1000,
    kPort,
    kUnixSocket,
    kPassword,
    kChannelsPerSubscriber,
    kPatternSubscribers,
    kPatternsPerSubscriber,
    kPayload,
    kPipeline,
    kRate,
    kDuration,
    kMessages,
    kWarmup,
    kIdle,
    kChurnClients,
    kChurnChannels,
    kThreads,
    kServerPid,
    kJson,
    kNoProgress,
    kTls,
    kCacert,
    kCert,
    kKey,
    kHelp,
};

[[noreturn]] void usage_error(std::string_view message) {
    fmt::print(stderr, "backplane-bench: {}\n\n{}", message, kUsage);
    std::exit(2);
}

int64_t to_integer(const char* text, int64_t min) {
    char* end = nullptr;
    const long long value = std::strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || value < min) {
        usage_error(fmt::format("invalid number '{}' (minimum {})", text, min));
    }
    return value;
}

double to_seconds(const char* text) {
    char* end = nullptr;
    const double value = std::strtod(text, &end);
    if (*text == '\0' || *end != '\0' || value < 0) {
        usage_error(fmt::format("invalid number '{}'", text));
    }
    return value;
}

int to_int(const char* text, int min) { return static_cast<int>(to_integer(text, min)); }

}  // namespace

Options parse_options(int argc, char** argv) {
    static const option kLong[] = {
        {"host", required_argument, nullptr, kHost},
        {"port", required_argument, nullptr, kPort},
        {"unix-socket", required_argument, nullptr, kUnixSocket},
        {"password", required_argument, nullptr, kPassword},
        {"publishers", required_argument, nullptr, 'P'},
        {"subscribers", required_argument, nullptr, 'S'},
        {"channels", required_argument, nullptr, 'C'},
        {"channels-per-subscriber", required_argument, nullptr, kChannelsPerSubscriber},
        {"pattern-subscribers", required_argument, nullptr, kPatternSubscribers},
        {"patterns-per-subscriber", required_argument, nullptr, kPatternsPerSubscriber},
        {"payload", required_argument, nullptr, kPayload},
        {"pipeline", required_argument, nullptr, kPipeline},
        {"rate", required_argument, nullptr, kRate},
        {"duration", required_argument, nullptr, kDuration},
        {"messages", required_argument, nullptr, kMessages},
        {"warmup", required_argument, nullptr, kWarmup},
        {"idle", required_argument, nullptr, kIdle},
        {"churn-clients", required_argument, nullptr, kChurnClients},
        {"churn-channels", required_argument, nullptr, kChurnChannels},
        {"threads", required_argument, nullptr, kThreads},
        {"server-pid", required_argument, nullptr, kServerPid},
        {"json", no_argument, nullptr, kJson},
        {"no-progress", no_argument, nullptr, kNoProgress},
        {"tls", no_argument, nullptr, kTls},
        {"cacert", required_argument, nullptr, kCacert},
        {"cert", required_argument, nullptr, kCert},
        {"key", required_argument, nullptr, kKey},
        {"help", no_argument, nullptr, kHelp},
        {nullptr, 0, nullptr, 0},
    };
    Options o;
    int opt = 0;
    while ((opt = getopt_long(argc, argv, "P:S:C:", kLong, nullptr)) != -1) {
        switch (opt) {
            case kHost:
                o.host = optarg;
                break;
            case kPort:
                o.port = to_int(optarg, 1);
                break;
            case kUnixSocket:
                o.unix_socket = optarg;
                break;
            case kPassword:
                o.password = optarg;
                break;
            case 'P':
                o.publishers = to_int(optarg, 0);
                break;
            case 'S':
                o.subscribers = to_int(optarg, 0);
                break;
            case 'C':
                o.channels = to_int(optarg, 1);
                break;
            case kChannelsPerSubscriber:
                o.channels_per_subscriber = to_int(optarg, 1);
                break;
            case kPatternSubscribers:
                o.pattern_subscribers = to_int(optarg, 0);
                break;
            case kPatternsPerSubscriber:
                o.patterns_per_subscriber = to_int(optarg, 1);
                break;
            case kPayload:
                o.payload_size = to_int(optarg, kPayloadHeaderSize);
                break;
            case kPipeline:
                o.pipeline = to_int(optarg, 1);
                break;
            case kRate:
                o.rate = to_seconds(optarg);
                break;
            case kDuration:
                o.duration = to_seconds(optarg);
                break;
            case kMessages:
                o.messages = to_integer(optarg, 1);
                break;
            case kWarmup:
                o.warmup = to_seconds(optarg);
                break;
            case kIdle:
                o.idle_connections = to_int(optarg, 0);
                break;
            case kChurnClients:
                o.churn_clients = to_int(optarg, 0);
                break;
            case kChurnChannels:
                o.churn_channels = to_int(optarg, 1);
                break;
            case kThreads:
                o.threads = to_int(optarg, 1);
                break;
            case kServerPid:
                o.server_pid = to_int(optarg, 1);
                break;
            case kJson:
                o.json = true;
                break;
            case kNoProgress:
                o.progress = false;
                break;
            case kTls:
                o.tls = true;
                break;
            case kCacert:
                o.cacert = optarg;
                break;
            case kCert:
                o.cert = optarg;
                break;
            case kKey:
                o.key = optarg;
                break;
            case kHelp:
                fmt::print("{}", kUsage);
                std::exit(0);
            default:
                usage_error("unknown option");
        }
    }
    if (optind != argc) usage_error(fmt::format("unexpected argument '{}'", argv[optind]));
    if (o.channels_per_subscriber > o.channels) o.channels_per_subscriber = o.channels;
    if (o.messages > 0 && o.messages < o.publishers) {
        usage_error("--messages must be at least the number of publishers");
    }
    return o;
}

}  // namespace bench
