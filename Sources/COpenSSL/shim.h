// OpenSSL from Debian (libssl-dev), for pinguinctl's TLS client. The server side uses
// swift-nio-ssl; the CLI stays a small blocking program and links the system library instead.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

// Macros Swift cannot call.
static inline long pinguin_ssl_set_server_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

static inline int pinguin_ssl_ctx_minimum_tls12(SSL_CTX *context) {
    return (int)SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
}
