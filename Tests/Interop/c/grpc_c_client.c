/*
 * A gRPC client of the suite written the way a team on another stack would: messages
 * encoded with protobuf-c from the suite's own Protos/, HTTP/2 from nghttp2, TLS from
 * OpenSSL. It speaks gRPC by hand — length-prefixed messages, `te: trailers`,
 * `grpc-timeout`, trailers with `grpc-status`, `grpc-message` and `grpc-status-details-bin`
 * — and walks real RPCs of every service, checking every reply.
 *
 *   grpc-c-client [--ca FILE [--cert FILE --key FILE]] CONSOLE BILLING GATEWAY
 *
 * Addresses are host:port. With --ca the connections use TLS (ALPN h2) and the servers'
 * certificates are verified against FILE for the host name "localhost"; --cert/--key
 * present a client certificate (mutual TLS). Prints "ok <step>" per check; exits 1 at the
 * first failure with "FAIL <step>: <why>".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "google/protobuf/any.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "guance/billing/v1/billing.pb-c.h"
#include "guance/console/v1/console.pb-c.h"
#include "guance/gateway/v1/activation.pb-c.h"

/* ---- failing ---------------------------------------------------------------------- */

static const char *current_step = "start";

static void fail(const char *format, ...) {
  va_list arguments;
  va_start(arguments, format);
  fprintf(stdout, "FAIL %s: ", current_step);
  vfprintf(stdout, format, arguments);
  fprintf(stdout, "\n");
  va_end(arguments);
  exit(1);
}

static void step(const char *name) { current_step = name; }
static void ok(void) { printf("ok %s\n", current_step); fflush(stdout); }

/* ---- a growable byte buffer -------------------------------------------------------- */

typedef struct {
  uint8_t *data;
  size_t length, capacity;
} Buffer;

static void buffer_append(Buffer *buffer, const uint8_t *bytes, size_t length) {
  if (buffer->length + length > buffer->capacity) {
    size_t capacity = buffer->capacity ? buffer->capacity * 2 : 1024;
    while (capacity < buffer->length + length) capacity *= 2;
    buffer->data = realloc(buffer->data, capacity);
    if (!buffer->data) fail("out of memory");
    buffer->capacity = capacity;
  }
  memcpy(buffer->data + buffer->length, bytes, length);
  buffer->length += length;
}

static void buffer_reset(Buffer *buffer) { buffer->length = 0; }

/* ---- one HTTP/2 connection --------------------------------------------------------- */

typedef struct {
  int fd;
  SSL *ssl;
  nghttp2_session *session;
  char authority[256];
  bool tls;
  /* The call in flight: one at a time. */
  int32_t stream_id;
  bool closed;
  uint32_t close_error;
  int http_status;
  char content_type[128];
  int grpc_status; /* -1 until the trailers (or a trailers-only response) carry it */
  char grpc_message[1024];
  Buffer details; /* grpc-status-details-bin, base64-decoded */
  Buffer body;    /* length-prefixed response messages */
  const uint8_t *request;
  size_t request_length, request_sent;
} Connection;

static ssize_t send_bytes(nghttp2_session *session, const uint8_t *data, size_t length, int flags, void *user) {
  (void)session;
  (void)flags;
  Connection *connection = user;
  ssize_t written = connection->tls ? SSL_write(connection->ssl, data, (int)length)
                                    : write(connection->fd, data, length);
  if (written <= 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
  return written;
}

/* grpc-message is percent-encoded (gRPC over HTTP/2, "Responses"). */
static void percent_decode(const uint8_t *in, size_t length, char *out, size_t capacity) {
  size_t o = 0;
  for (size_t i = 0; i < length && o + 1 < capacity; i++) {
    if (in[i] == '%' && i + 2 < length) {
      char hex[3] = {(char)in[i + 1], (char)in[i + 2], 0};
      out[o++] = (char)strtol(hex, NULL, 16);
      i += 2;
    } else {
      out[o++] = (char)in[i];
    }
  }
  out[o] = 0;
}

/* Binary metadata is base64, padded or not. */
static void base64_decode(const uint8_t *in, size_t length, Buffer *out) {
  char padded[8192];
  if (length + 4 >= sizeof padded) fail("grpc-status-details-bin too long");
  memcpy(padded, in, length);
  while (length % 4) padded[length++] = '=';
  uint8_t decoded[8192];
  int n = EVP_DecodeBlock(decoded, (const unsigned char *)padded, (int)length);
  if (n < 0) fail("grpc-status-details-bin is not base64");
  /* EVP_DecodeBlock counts padding as zero bytes. */
  while (length > 0 && padded[length - 1] == '=') { n--; length--; }
  buffer_append(out, decoded, (size_t)n);
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t name_length,
                     const uint8_t *value, size_t value_length, uint8_t flags, void *user) {
  (void)session;
  (void)flags;
  Connection *connection = user;
  if (frame->hd.stream_id != connection->stream_id) return 0;
#define IS(literal) (name_length == sizeof(literal) - 1 && memcmp(name, literal, name_length) == 0)
  if (IS(":status")) {
    connection->http_status = atoi((const char *)value);
  } else if (IS("content-type")) {
    snprintf(connection->content_type, sizeof connection->content_type, "%.*s", (int)value_length, value);
  } else if (IS("grpc-status")) {
    connection->grpc_status = atoi((const char *)value);
  } else if (IS("grpc-message")) {
    percent_decode(value, value_length, connection->grpc_message, sizeof connection->grpc_message);
  } else if (IS("grpc-status-details-bin")) {
    base64_decode(value, value_length, &connection->details);
  }
#undef IS
  return 0;
}

static int on_data(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t length,
                   void *user) {
  (void)session;
  (void)flags;
  Connection *connection = user;
  if (stream_id == connection->stream_id) buffer_append(&connection->body, data, length);
  return 0;
}

static int on_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user) {
  (void)session;
  Connection *connection = user;
  if (stream_id == connection->stream_id) {
    connection->closed = true;
    connection->close_error = error_code;
  }
  return 0;
}

static ssize_t read_request(nghttp2_session *session, int32_t stream_id, uint8_t *buffer, size_t length,
                            uint32_t *flags, nghttp2_data_source *source, void *user) {
  (void)session;
  (void)stream_id;
  (void)source;
  Connection *connection = user;
  size_t left = connection->request_length - connection->request_sent;
  size_t n = left < length ? left : length;
  memcpy(buffer, connection->request + connection->request_sent, n);
  connection->request_sent += n;
  if (connection->request_sent == connection->request_length) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

static SSL_CTX *tls_context(const char *ca, const char *certificate, const char *key) {
  SSL_CTX *context = SSL_CTX_new(TLS_client_method());
  if (!context) fail("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(context, ca, NULL) != 1) fail("cannot read the CA file %s", ca);
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
  if (certificate && (SSL_CTX_use_certificate_chain_file(context, certificate) != 1 ||
                      SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) != 1))
    fail("cannot read the client certificate %s or key %s", certificate, key);
  static const unsigned char alpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(context, alpn, sizeof alpn);
  return context;
}

static void connect_to(Connection *connection, const char *address, SSL_CTX *tls) {
  memset(connection, 0, sizeof *connection);
  char host[200];
  const char *colon = strrchr(address, ':');
  if (!colon || (size_t)(colon - address) >= sizeof host) fail("address %s is not host:port", address);
  memcpy(host, address, (size_t)(colon - address));
  host[colon - address] = 0;
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *found;
  if (getaddrinfo(host, colon + 1, &hints, &found) != 0) fail("cannot resolve %s", address);
  connection->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(connection->fd, found->ai_addr, found->ai_addrlen) != 0)
    fail("cannot connect to %s: %s", address, strerror(errno));
  freeaddrinfo(found);
  int one = 1;
  setsockopt(connection->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* The certificates name "localhost"; that is the name verified. */
  snprintf(connection->authority, sizeof connection->authority, "localhost:%s", colon + 1);
  if (tls) {
    connection->tls = true;
    connection->ssl = SSL_new(tls);
    SSL_set_fd(connection->ssl, connection->fd);
    SSL_set_tlsext_host_name(connection->ssl, "localhost");
    SSL_set1_host(connection->ssl, "localhost");
    if (SSL_connect(connection->ssl) != 1) {
      char reason[256];
      ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
      fail("TLS handshake with %s failed: %s", address, reason);
    }
    const unsigned char *protocol = NULL;
    unsigned int protocol_length = 0;
    SSL_get0_alpn_selected(connection->ssl, &protocol, &protocol_length);
    if (protocol_length != 2 || memcmp(protocol, "h2", 2) != 0) fail("the server did not choose h2 by ALPN");
  }
  nghttp2_session_callbacks *callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_send_callback(callbacks, send_bytes);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_close);
  nghttp2_session_client_new(&connection->session, callbacks, connection);
  nghttp2_session_callbacks_del(callbacks);
  nghttp2_submit_settings(connection->session, NGHTTP2_FLAG_NONE, NULL, 0);
}

/* ---- one unary gRPC call ----------------------------------------------------------- */

typedef struct {
  int status;
  const char *message;
  const uint8_t *reply; /* the response message, without its 5-byte prefix */
  size_t reply_length;
  const Buffer *details;
} Reply;

/* `bearer` may be NULL. Fails the step on transport errors; gRPC errors are returned. */
static Reply call(Connection *connection, const char *path, const ProtobufCMessage *request, const char *bearer) {
  size_t length = protobuf_c_message_get_packed_size(request);
  uint8_t *framed = malloc(length + 5);
  framed[0] = 0; /* not compressed */
  framed[1] = (uint8_t)(length >> 24);
  framed[2] = (uint8_t)(length >> 16);
  framed[3] = (uint8_t)(length >> 8);
  framed[4] = (uint8_t)length;
  protobuf_c_message_pack(request, framed + 5);

  connection->closed = false;
  connection->http_status = 0;
  connection->content_type[0] = 0;
  connection->grpc_status = -1;
  connection->grpc_message[0] = 0;
  buffer_reset(&connection->details);
  buffer_reset(&connection->body);
  connection->request = framed;
  connection->request_length = length + 5;
  connection->request_sent = 0;

  char authorization[600];
  nghttp2_nv headers[9];
  size_t count = 0;
#define HEADER(n, v) \
  headers[count++] = (nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
  HEADER(":method", "POST");
  HEADER(":scheme", connection->tls ? "https" : "http");
  HEADER(":path", path);
  HEADER(":authority", connection->authority);
  HEADER("content-type", "application/grpc+proto");
  HEADER("te", "trailers");
  HEADER("grpc-timeout", "10S");
  HEADER("user-agent", "grpc-c-client/1 (nghttp2; protobuf-c)");
  if (bearer) {
    snprintf(authorization, sizeof authorization, "Bearer %s", bearer);
    HEADER("authorization", authorization);
  }
#undef HEADER
  nghttp2_data_provider provider = {.read_callback = read_request};
  connection->stream_id = nghttp2_submit_request(connection->session, NULL, headers, count, &provider, NULL);
  if (connection->stream_id < 0) fail("nghttp2_submit_request: %s", nghttp2_strerror(connection->stream_id));

  time_t deadline = time(NULL) + 15;
  while (!connection->closed) {
    if (nghttp2_session_send(connection->session) != 0) fail("sending to %s failed", connection->authority);
    if (connection->closed) break;
    uint8_t incoming[16384];
    ssize_t n = connection->tls ? SSL_read(connection->ssl, incoming, sizeof incoming)
                                : read(connection->fd, incoming, sizeof incoming);
    if (n <= 0) fail("the connection to %s closed", connection->authority);
    if (nghttp2_session_mem_recv(connection->session, incoming, (size_t)n) < 0) fail("bad HTTP/2 from the server");
    if (time(NULL) > deadline) fail("no answer within 15 s");
  }
  nghttp2_session_send(connection->session); /* acknowledgements, window updates */
  free(framed);

  if (connection->close_error != NGHTTP2_NO_ERROR) fail("stream reset with HTTP/2 error %u", connection->close_error);
  if (connection->http_status != 200) fail("HTTP status %d", connection->http_status);
  if (strncmp(connection->content_type, "application/grpc", 16) != 0)
    fail("content-type %s", connection->content_type);
  if (connection->grpc_status < 0) fail("no grpc-status in the trailers");
  Reply reply = {.status = connection->grpc_status, .message = connection->grpc_message,
                 .details = &connection->details};
  if (connection->grpc_status == 0) {
    const uint8_t *body = connection->body.data;
    if (connection->body.length < 5) fail("OK without a message");
    if (body[0] != 0) fail("a compressed reply although none was asked for");
    size_t message_length = ((size_t)body[1] << 24) | ((size_t)body[2] << 16) | ((size_t)body[3] << 8) | body[4];
    if (message_length + 5 != connection->body.length) fail("the reply's length prefix does not match its body");
    reply.reply = body + 5;
    reply.reply_length = message_length;
  }
  return reply;
}

static void expect_ok(Reply reply) {
  if (reply.status != 0) fail("grpc-status %d: %s", reply.status, reply.message);
}

/* The reply failed with `code` and, decoded from grpc-status-details-bin, a BadRequest
   naming `field` (when field is not NULL). */
static void expect_error(Reply reply, int code, const char *field) {
  if (reply.status != code) fail("expected grpc-status %d, got %d: %s", code, reply.status, reply.message);
  if (!field) return;
  if (reply.details->length == 0) fail("no grpc-status-details-bin");
  Google__Rpc__Status *status = google__rpc__status__unpack(NULL, reply.details->length, reply.details->data);
  if (!status) fail("grpc-status-details-bin is not a google.rpc.Status");
  if (status->code != code) fail("details carry code %d, trailers %d", status->code, code);
  if (strcmp(status->message, reply.message) != 0) fail("details and grpc-message disagree");
  bool found = false;
  for (size_t i = 0; i < status->n_details; i++) {
    Google__Protobuf__Any *any = status->details[i];
    if (strcmp(any->type_url, "type.googleapis.com/google.rpc.BadRequest") != 0) continue;
    Google__Rpc__BadRequest *bad = google__rpc__bad_request__unpack(NULL, any->value.len, any->value.data);
    if (!bad) fail("a BadRequest detail does not decode");
    for (size_t v = 0; v < bad->n_field_violations; v++) {
      if (strcmp(bad->field_violations[v]->field, field) == 0 && bad->field_violations[v]->description[0]) found = true;
    }
    google__rpc__bad_request__free_unpacked(bad, NULL);
  }
  google__rpc__status__free_unpacked(status, NULL);
  if (!found) fail("no field violation for %s in the details", field);
}

#define UNPACK(type, function, reply) \
  ({ type *m = function((NULL), (reply).reply_length, (reply).reply); if (!m) fail("the reply does not decode"); m; })

static void check_health(Connection *connection) {
  Grpc__Health__V1__HealthCheckRequest request = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  Reply reply = call(connection, "/grpc.health.v1.Health/Check", &request.base, NULL);
  expect_ok(reply);
  Grpc__Health__V1__HealthCheckResponse *health =
      UNPACK(Grpc__Health__V1__HealthCheckResponse, grpc__health__v1__health_check_response__unpack, reply);
  if (health->status != GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING)
    fail("health status %d", health->status);
  grpc__health__v1__health_check_response__free_unpacked(health, NULL);
}

int main(int argc, char **argv) {
  const char *ca = NULL, *certificate = NULL, *key = NULL;
  int i = 1;
  for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
    if (strcmp(argv[i], "--ca") == 0) ca = argv[i + 1];
    else if (strcmp(argv[i], "--cert") == 0) certificate = argv[i + 1];
    else if (strcmp(argv[i], "--key") == 0) key = argv[i + 1];
    else break;
  }
  if (argc - i != 3 || (!certificate) != (!key) || (certificate && !ca)) {
    fprintf(stderr, "usage: grpc-c-client [--ca FILE [--cert FILE --key FILE]] CONSOLE BILLING GATEWAY\n");
    return 2;
  }
  SSL_CTX *tls = ca ? tls_context(ca, certificate, key) : NULL;
  static Connection console, billing, gateway;
  connect_to(&console, argv[i], tls);
  connect_to(&billing, argv[i + 1], tls);
  connect_to(&gateway, argv[i + 2], tls);

  char username[40], email[80];
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  snprintf(username, sizeof username, "c-client-%06d", rand() % 1000000);
  snprintf(email, sizeof email, "%s@example.com", username);
  const char *password = "correct horse battery";

  /* workspace-console */
  step("console health");
  check_health(&console);
  ok();

  step("console registration");
  Guance__Console__V1__RegisterAccountRequest registration = GUANCE__CONSOLE__V1__REGISTER_ACCOUNT_REQUEST__INIT;
  registration.username = username;
  registration.password = (char *)password;
  registration.email = email;
  Reply reply = call(&console, "/guance.console.v1.WorkspaceConsoleService/RegisterAccount", &registration.base, NULL);
  expect_ok(reply);
  Guance__Console__V1__RegisterAccountResponse *registered = UNPACK(
      Guance__Console__V1__RegisterAccountResponse, guance__console__v1__register_account_response__unpack, reply);
  if (!registered->account || strcmp(registered->account->username, username) != 0) fail("another account came back");
  guance__console__v1__register_account_response__free_unpacked(registered, NULL);
  ok();

  step("console validation error");
  Guance__Console__V1__RegisterAccountRequest invalid = GUANCE__CONSOLE__V1__REGISTER_ACCOUNT_REQUEST__INIT;
  invalid.username = "ok-name";
  invalid.password = (char *)password;
  invalid.email = "not an email";
  expect_error(call(&console, "/guance.console.v1.WorkspaceConsoleService/RegisterAccount", &invalid.base, NULL), 3,
               "email");
  ok();

  step("console login");
  Guance__Console__V1__LoginRequest login = GUANCE__CONSOLE__V1__LOGIN_REQUEST__INIT;
  login.login = username;
  login.password = (char *)password;
  reply = call(&console, "/guance.console.v1.WorkspaceConsoleService/Login", &login.base, NULL);
  expect_ok(reply);
  Guance__Console__V1__LoginResponse *session =
      UNPACK(Guance__Console__V1__LoginResponse, guance__console__v1__login_response__unpack, reply);
  if (!session->session_token[0]) fail("no session token");
  ok();

  step("console read with the session");
  Guance__Console__V1__GetAccountRequest get_account = GUANCE__CONSOLE__V1__GET_ACCOUNT_REQUEST__INIT;
  reply = call(&console, "/guance.console.v1.WorkspaceConsoleService/GetAccount", &get_account.base,
               session->session_token);
  expect_ok(reply);
  Guance__Console__V1__GetAccountResponse *account =
      UNPACK(Guance__Console__V1__GetAccountResponse, guance__console__v1__get_account_response__unpack, reply);
  if (!account->account || strcmp(account->account->email, email) != 0) fail("another account came back");
  guance__console__v1__get_account_response__free_unpacked(account, NULL);
  expect_error(call(&console, "/guance.console.v1.WorkspaceConsoleService/GetAccount", &get_account.base, NULL), 16,
               NULL);
  guance__console__v1__login_response__free_unpacked(session, NULL);
  ok();

  /* billing-center */
  step("billing health");
  check_health(&billing);
  ok();

  step("billing registration");
  Guance__Billing__V1__CompanyInfo company = GUANCE__BILLING__V1__COMPANY_INFO__INIT;
  company.company_name = "C Clients Ltd";
  company.industry = "Software";
  company.region = "EU";
  company.contact_name = "Cee";
  Guance__Billing__V1__RegisterBillingAccountRequest billing_registration =
      GUANCE__BILLING__V1__REGISTER_BILLING_ACCOUNT_REQUEST__INIT;
  billing_registration.username = username;
  billing_registration.password = (char *)password;
  billing_registration.email = email;
  billing_registration.company = &company;
  expect_ok(call(&billing, "/guance.billing.v1.BillingCenterService/RegisterBillingAccount",
                 &billing_registration.base, NULL));
  ok();

  step("billing validation error");
  Guance__Billing__V1__RegisterBillingAccountRequest no_company =
      GUANCE__BILLING__V1__REGISTER_BILLING_ACCOUNT_REQUEST__INIT;
  no_company.username = "another-name";
  no_company.password = (char *)password;
  no_company.email = "another@example.com";
  expect_error(
      call(&billing, "/guance.billing.v1.BillingCenterService/RegisterBillingAccount", &no_company.base, NULL), 3,
      "company.company_name");
  ok();

  step("billing login and read");
  Guance__Billing__V1__LoginRequest billing_login = GUANCE__BILLING__V1__LOGIN_REQUEST__INIT;
  billing_login.login = email;
  billing_login.password = (char *)password;
  reply = call(&billing, "/guance.billing.v1.BillingCenterService/Login", &billing_login.base, NULL);
  expect_ok(reply);
  Guance__Billing__V1__LoginResponse *billing_session =
      UNPACK(Guance__Billing__V1__LoginResponse, guance__billing__v1__login_response__unpack, reply);
  Guance__Billing__V1__GetBillingAccountRequest get_billing = GUANCE__BILLING__V1__GET_BILLING_ACCOUNT_REQUEST__INIT;
  reply = call(&billing, "/guance.billing.v1.BillingCenterService/GetBillingAccount", &get_billing.base,
               billing_session->session_token);
  expect_ok(reply);
  Guance__Billing__V1__GetBillingAccountResponse *billing_account = UNPACK(
      Guance__Billing__V1__GetBillingAccountResponse, guance__billing__v1__get_billing_account_response__unpack, reply);
  if (!billing_account->billing_account || !billing_account->billing_account->company ||
      strcmp(billing_account->billing_account->company->company_name, "C Clients Ltd") != 0)
    fail("another billing account came back");
  guance__billing__v1__get_billing_account_response__free_unpacked(billing_account, NULL);
  guance__billing__v1__login_response__free_unpacked(billing_session, NULL);
  ok();

  /* marketplace-gateway */
  step("gateway health");
  check_health(&gateway);
  ok();

  step("gateway validation error");
  Guance__Gateway__V1__ResolveActivationRequest resolve = GUANCE__GATEWAY__V1__RESOLVE_ACTIVATION_REQUEST__INIT;
  resolve.marketplace_token = "";
  expect_error(call(&gateway, "/guance.gateway.v1.ActivationService/ResolveActivation", &resolve.base, NULL), 3,
               "marketplace_token");
  ok();

  step("gateway unknown session");
  Guance__Gateway__V1__GetActivationRequest get_activation = GUANCE__GATEWAY__V1__GET_ACTIVATION_REQUEST__INIT;
  get_activation.session_id = "no-such-session";
  expect_error(call(&gateway, "/guance.gateway.v1.ActivationService/GetActivation", &get_activation.base, NULL), 5,
               NULL);
  ok();

  printf("all checks passed\n");
  return 0;
}
