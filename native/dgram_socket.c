// The one native piece of failoverd: a datagram socket over any (domain, type,
// protocol) that Node lacks (AF_NETLINK, raw IP, AF_PACKET), driven by libuv's
// uv_poll_t so there is no thread per socket and no busy loop. Addresses and
// option values cross the boundary as raw bytes; every protocol above this file
// is TypeScript.
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define RECV_BUFFER_SIZE (256 * 1024)
#define CONTROL_BUFFER_SIZE 1024
// Bounds the datagrams handled per readiness callback so one busy socket cannot
// starve the event loop (timers that send VRRP adverts must stay on time).
#define MAX_DATAGRAMS_PER_WAKEUP 64
// Bounds the error-queue entries (IP_RECVERR) drained per error wakeup.
#define MAX_QUEUED_ERRORS_PER_WAKEUP 64
// Consecutive POLLERR wakeups without an error to clear before the socket is
// given up as dead: a condition that cannot be cleared would spin the loop.
#define MAX_EMPTY_ERROR_WAKEUPS 100

typedef struct {
  int fd;
  int domain;
  int empty_error_wakeups;
  int closed;
  int receiving;
  int poll_initialized;
  int poll_closed;
  int wrapper_gone;
  uv_poll_t poll;
  napi_env env;
  napi_ref on_message;
  napi_ref self;
  napi_async_context async_context;
  // Closes the poll handle when the environment (a worker thread) goes away:
  // its close callback lives in this addon, which is unloaded right after.
  napi_async_cleanup_hook_handle cleanup_hook;
  // Per socket, not static: sockets of several worker threads receive at once.
  // Allocated on the first startReceiving, so send-only sockets cost nothing.
  unsigned char *recv_buffer;
  union {
    struct cmsghdr align;
    unsigned char bytes[CONTROL_BUFFER_SIZE];
  } control;
} dgram_t;

#define CALL(env, expr)                                            \
  do {                                                             \
    if ((expr) != napi_ok) {                                       \
      const napi_extended_error_info *info_;                       \
      napi_get_last_error_info((env), &info_);                     \
      bool pending_;                                               \
      napi_is_exception_pending((env), &pending_);                 \
      if (!pending_)                                               \
        napi_throw_error((env), NULL,                              \
                         info_->error_message ? info_->error_message \
                                              : "node-api call failed"); \
      return NULL;                                                 \
    }                                                              \
  } while (0)

static const char *errno_code(int err) {
  const char *name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

static napi_value make_errno_error(napi_env env, int err, const char *syscall) {
  char message[256];
  snprintf(message, sizeof(message), "%s %s (%s)", syscall, errno_code(err), strerror(err));
  napi_value code, msg, error, errno_value, syscall_value;
  napi_create_string_utf8(env, errno_code(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, -err, &errno_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  return error;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_throw(env, make_errno_error(env, err, syscall));
  return NULL;
}

static void free_if_unused(dgram_t *d) {
  if (d->wrapper_gone && (!d->poll_initialized || d->poll_closed)) {
    free(d->recv_buffer);
    free(d);
  }
}

static void on_poll_closed(uv_handle_t *handle) {
  dgram_t *d = (dgram_t *)handle->data;
  d->poll_closed = 1;
  if (d->cleanup_hook) {
    napi_remove_async_cleanup_hook(d->cleanup_hook);
    d->cleanup_hook = NULL;
  }
  free_if_unused(d);
}

static void stop_receiving(dgram_t *d) {
  if (!d->receiving) return;
  d->receiving = 0;
  uv_poll_stop(&d->poll);
  if (d->on_message) {
    napi_delete_reference(d->env, d->on_message);
    d->on_message = NULL;
  }
  if (d->self) {
    napi_delete_reference(d->env, d->self);
    d->self = NULL;
  }
}

static void close_socket(dgram_t *d) {
  if (d->closed) return;
  d->closed = 1;
  stop_receiving(d);
  if (d->poll_initialized) uv_close((uv_handle_t *)&d->poll, on_poll_closed);
  // uv_close on a poll handle drops the fd from the backend at once, so the fd
  // can be released now: callers counting open fds see it go synchronously.
  close(d->fd);
  d->fd = -1;
  if (d->async_context) {
    napi_async_destroy(d->env, d->async_context);
    d->async_context = NULL;
  }
}

static void on_environment_exit(napi_async_cleanup_hook_handle hook, void *data) {
  dgram_t *d = (dgram_t *)data;
  d->cleanup_hook = hook;
  close_socket(d);
  // The environment waits for on_poll_closed to remove the hook.
}

static void finalize_socket(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  dgram_t *d = (dgram_t *)data;
  close_socket(d);
  d->wrapper_gone = 1;
  free_if_unused(d);
}

static dgram_t *unwrap_open(napi_env env, napi_callback_info info, size_t *argc,
                            napi_value *argv, const char *syscall) {
  napi_value self;
  void *data;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) {
    napi_throw_error(env, NULL, "not a DatagramSocket");
    return NULL;
  }
  dgram_t *d = (dgram_t *)data;
  if (d->closed) {
    throw_errno(env, EBADF, syscall);
    return NULL;
  }
  return d;
}

static int get_bytes(napi_env env, napi_value value, void **data, size_t *length) {
  bool is_buffer = false;
  napi_is_buffer(env, value, &is_buffer);
  if (is_buffer) return napi_get_buffer_info(env, value, data, length) == napi_ok;
  bool is_typed = false;
  napi_is_typedarray(env, value, &is_typed);
  if (is_typed) {
    napi_typedarray_type type;
    size_t count, offset;
    napi_value arraybuffer;
    if (napi_get_typedarray_info(env, value, &type, &count, data, &arraybuffer, &offset) != napi_ok)
      return 0;
    *length = count;
    return type == napi_uint8_array;
  }
  return 0;
}

static int get_int(napi_env env, napi_value value, int32_t *out) {
  return napi_get_value_int32(env, value, out) == napi_ok;
}

// new DatagramSocket(domain, type, protocol, netnsPath?)
static napi_value socket_new(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], self;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  int32_t domain, type, protocol;
  if (argc < 3 || !get_int(env, argv[0], &domain) || !get_int(env, argv[1], &type) ||
      !get_int(env, argv[2], &protocol)) {
    napi_throw_type_error(env, NULL, "DatagramSocket(domain, type, protocol[, netnsPath])");
    return NULL;
  }
  char netns_path[4096] = {0};
  napi_valuetype vt = napi_undefined;
  if (argc >= 4) napi_typeof(env, argv[3], &vt);
  if (vt == napi_string) {
    size_t len;
    CALL(env, napi_get_value_string_utf8(env, argv[3], netns_path, sizeof(netns_path), &len));
  }

  int original_ns = -1, target_ns = -1;
  if (netns_path[0]) {
    target_ns = open(netns_path, O_RDONLY | O_CLOEXEC);
    if (target_ns < 0) return throw_errno(env, errno, "open netns");
    original_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (original_ns < 0) {
      int err = errno;
      close(target_ns);
      return throw_errno(env, err, "open netns");
    }
    if (setns(target_ns, CLONE_NEWNET) < 0) {
      int err = errno;
      close(target_ns);
      close(original_ns);
      return throw_errno(env, err, "setns");
    }
  }
  int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  int socket_errno = errno;
  if (original_ns >= 0) {
    // A main thread left in the wrong namespace would silently misroute every
    // later socket of the agent; there is no safe way to continue.
    if (setns(original_ns, CLONE_NEWNET) < 0) abort();
    close(original_ns);
    close(target_ns);
  }
  if (fd < 0) return throw_errno(env, socket_errno, "socket");

  dgram_t *d = calloc(1, sizeof(dgram_t));
  if (!d) {
    close(fd);
    return throw_errno(env, ENOMEM, "socket");
  }
  d->fd = fd;
  d->domain = domain;
  d->env = env;
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok ||
      uv_poll_init(loop, &d->poll, fd) != 0) {
    close(fd);
    free(d);
    napi_throw_error(env, NULL, "uv_poll_init failed");
    return NULL;
  }
  d->poll.data = d;
  d->poll_initialized = 1;
  napi_value resource_name;
  napi_create_string_utf8(env, "failoverd.DatagramSocket", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &d->async_context);
  if (napi_add_async_cleanup_hook(env, on_environment_exit, d, &d->cleanup_hook) != napi_ok) d->cleanup_hook = NULL;
  if (napi_wrap(env, self, d, finalize_socket, NULL, NULL) != napi_ok) {
    close_socket(d);
    d->wrapper_gone = 1;
    free_if_unused(d);
    napi_throw_error(env, NULL, "napi_wrap failed");
    return NULL;
  }
  return self;
}

typedef int (*sockaddr_syscall)(int, const struct sockaddr *, socklen_t);

// bind(sockaddr) and connect(sockaddr): one Buffer argument, one syscall.
static napi_value call_with_sockaddr(napi_env env, napi_callback_info info, const char *syscall,
                                     sockaddr_syscall fn) {
  size_t argc = 1;
  napi_value argv[1];
  dgram_t *d = unwrap_open(env, info, &argc, argv, syscall);
  if (!d) return NULL;
  void *addr;
  size_t len;
  if (argc < 1 || !get_bytes(env, argv[0], &addr, &len)) {
    char message[64];
    snprintf(message, sizeof(message), "%s(sockaddr: Buffer)", syscall);
    napi_throw_type_error(env, NULL, message);
    return NULL;
  }
  if (fn(d->fd, (const struct sockaddr *)addr, (socklen_t)len) < 0) return throw_errno(env, errno, syscall);
  return NULL;
}

static napi_value socket_bind(napi_env env, napi_callback_info info) {
  return call_with_sockaddr(env, info, "bind", bind);
}

static napi_value socket_connect(napi_env env, napi_callback_info info) {
  return call_with_sockaddr(env, info, "connect", connect);
}

// send(data, sockaddr | null) -> bytes sent
static napi_value socket_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  dgram_t *d = unwrap_open(env, info, &argc, argv, "sendto");
  if (!d) return NULL;
  void *data, *addr = NULL;
  size_t len, addr_len = 0;
  if (argc < 1 || !get_bytes(env, argv[0], &data, &len)) {
    napi_throw_type_error(env, NULL, "send(data: Buffer, sockaddr?: Buffer)");
    return NULL;
  }
  napi_valuetype vt = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &vt);
  if (vt != napi_undefined && vt != napi_null && !get_bytes(env, argv[1], &addr, &addr_len)) {
    napi_throw_type_error(env, NULL, "send(data: Buffer, sockaddr?: Buffer)");
    return NULL;
  }
  ssize_t n;
  do {
    n = sendto(d->fd, data, len, 0, (struct sockaddr *)addr, (socklen_t)addr_len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, errno, "sendto");
  napi_value result;
  napi_create_int64(env, n, &result);
  return result;
}

static napi_value socket_setsockopt(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  dgram_t *d = unwrap_open(env, info, &argc, argv, "setsockopt");
  if (!d) return NULL;
  int32_t level, name;
  void *value;
  size_t len;
  if (argc < 3 || !get_int(env, argv[0], &level) || !get_int(env, argv[1], &name) ||
      !get_bytes(env, argv[2], &value, &len)) {
    napi_throw_type_error(env, NULL, "setsockopt(level, name, value: Buffer)");
    return NULL;
  }
  if (setsockopt(d->fd, level, name, value, (socklen_t)len) < 0)
    return throw_errno(env, errno, "setsockopt");
  return NULL;
}

// attachFilter(program: Buffer of struct sock_filter[]): SO_ATTACH_FILTER takes a
// struct holding a pointer to the program, which setsockopt(level, name, bytes)
// cannot express. A packet socket then wakes only for the frames it asks for.
static napi_value socket_attach_filter(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  dgram_t *d = unwrap_open(env, info, &argc, argv, "setsockopt");
  if (!d) return NULL;
  void *program;
  size_t len;
  if (argc < 1 || !get_bytes(env, argv[0], &program, &len) || len == 0 ||
      len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    napi_throw_type_error(env, NULL, "attachFilter(program: Buffer of 8-byte sock_filter instructions, 1 to 4096)");
    return NULL;
  }
  struct sock_fprog fprog = {.len = (unsigned short)(len / sizeof(struct sock_filter)), .filter = program};
  if (setsockopt(d->fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) < 0)
    return throw_errno(env, errno, "setsockopt(SO_ATTACH_FILTER)");
  return NULL;
}

static napi_value socket_getsockopt(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  dgram_t *d = unwrap_open(env, info, &argc, argv, "getsockopt");
  if (!d) return NULL;
  int32_t level, name, max_len;
  if (argc < 3 || !get_int(env, argv[0], &level) || !get_int(env, argv[1], &name) ||
      !get_int(env, argv[2], &max_len) || max_len < 0 || max_len > 65536) {
    napi_throw_type_error(env, NULL, "getsockopt(level, name, maxLength)");
    return NULL;
  }
  unsigned char value[65536];
  socklen_t len = (socklen_t)max_len;
  if (getsockopt(d->fd, level, name, value, &len) < 0) return throw_errno(env, errno, "getsockopt");
  napi_value result;
  CALL(env, napi_create_buffer_copy(env, len, value, NULL, &result));
  return result;
}

static napi_value socket_getsockname(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  dgram_t *d = unwrap_open(env, info, &argc, NULL, "getsockname");
  if (!d) return NULL;
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  if (getsockname(d->fd, (struct sockaddr *)&addr, &len) < 0)
    return throw_errno(env, errno, "getsockname");
  napi_value result;
  CALL(env, napi_create_buffer_copy(env, len, &addr, NULL, &result));
  return result;
}

static napi_value ancillary_array(napi_env env, struct msghdr *msg) {
  napi_value array;
  napi_create_array(env, &array);
  uint32_t index = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    napi_value item, level, type, data;
    size_t data_len = c->cmsg_len - CMSG_LEN(0);
    napi_create_object(env, &item);
    napi_create_int32(env, c->cmsg_level, &level);
    napi_create_int32(env, c->cmsg_type, &type);
    napi_create_buffer_copy(env, data_len, CMSG_DATA(c), NULL, &data);
    napi_set_named_property(env, item, "level", level);
    napi_set_named_property(env, item, "type", type);
    napi_set_named_property(env, item, "data", data);
    napi_set_element(env, array, index++, item);
  }
  return array;
}

// How long ago the kernel received a datagram, in ms, from its SO_TIMESTAMPNS stamp
// when the socket asked for one: CLOCK_REALTIME is the only clock the kernel stamps
// with, so it is read again here, right after recvmsg, and only the difference goes
// to JS (whose monotonic clock the VRRP timers run on). 0 when there is no stamp.
static double received_age_ms(struct msghdr *msg) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS || c->cmsg_len < CMSG_LEN(sizeof(struct timespec))) continue;
    struct timespec stamp, now;
    memcpy(&stamp, CMSG_DATA(c), sizeof(stamp));
    if (clock_gettime(CLOCK_REALTIME, &now) != 0) return 0;
    return (double)(now.tv_sec - stamp.tv_sec) * 1e3 + (double)(now.tv_nsec - stamp.tv_nsec) / 1e6;
  }
  return 0;
}

// Calls the JS receive callback. An exception it throws is not left pending (the
// next node-api call would fail and this socket would stop delivering): it goes
// to process 'uncaughtException', the same path as a throw from any other
// callback, and this socket keeps receiving if the process carries on.
static void call_js(dgram_t *d, napi_value callback, int argc, napi_value *argv) {
  napi_env env = d->env;
  napi_value receiver, result;
  napi_get_global(env, &receiver);
  napi_status status = napi_make_callback(env, d->async_context, receiver, callback, argc, argv, &result);
  if (status != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value exception;
      if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
    }
  }
}

static void deliver(dgram_t *d, int argc, napi_value *argv) {
  napi_value callback;
  if (!d->on_message || napi_get_reference_value(d->env, d->on_message, &callback) != napi_ok || !callback) return;
  call_js(d, callback, argc, argv);
}

static void deliver_error(dgram_t *d, napi_value error) {
  napi_value argv[1] = {error};
  deliver(d, 1, argv);
}

// errno values after which this fd will never receive again.
static int is_fatal_errno(int err) {
  return err == EBADF || err == ENOTSOCK || err == EFAULT || err == EINVAL;
}

// Reported once, with fatal: true, and the socket stops receiving before the
// callback runs (so the callback may start it again); the owner decides whether
// to reopen.
static void deliver_fatal(dgram_t *d, int err, const char *syscall) {
  napi_env env = d->env;
  napi_value callback, error, fatal;
  if (!d->on_message || napi_get_reference_value(env, d->on_message, &callback) != napi_ok || !callback) {
    stop_receiving(d);
    return;
  }
  stop_receiving(d);
  error = make_errno_error(env, err, syscall);
  napi_get_boolean(env, true, &fatal);
  napi_set_named_property(env, error, "fatal", fatal);
  napi_value argv[1] = {error};
  call_js(d, callback, 1, argv);
}

static int pending_socket_error(int fd, int *so_error) {
  socklen_t len = sizeof(*so_error);
  *so_error = 0;
  return getsockopt(fd, SOL_SOCKET, SO_ERROR, so_error, &len);
}

// The errno an IP_RECVERR/IPV6_RECVERR error-queue message carries, or 0.
static int queued_errno(struct msghdr *msg) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    int recverr = (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
                  (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR);
    if (recverr && c->cmsg_len >= CMSG_LEN(sizeof(struct sock_extended_err))) {
      struct sock_extended_err ee;
      memcpy(&ee, CMSG_DATA(c), sizeof(ee));
      return (int)ee.ee_errno;
    }
  }
  return 0;
}

// Only these read MSG_ERRQUEUE as the error queue: netlink and unix sockets
// ignore the flag and would hand over (and lose) a real datagram.
static int has_error_queue(int domain) {
  return domain == AF_INET || domain == AF_INET6 || domain == AF_PACKET;
}

// POLLERR: libuv has stopped the poll and says EBADF whatever the cause. The cause
// is in SO_ERROR (reading it clears it) and, with IP_RECVERR, in the error queue
// (which keeps POLLERR raised until drained). Reports the real errno; the caller
// restarts the poll. Returns -1 when the socket is dead (reported as fatal), 0
// when an error was found and cleared, 1 when there was none.
static int clear_socket_error(dgram_t *d) {
  int so_error, first_queued = 0, queued = 0, read_err = 0;
  if (pending_socket_error(d->fd, &so_error) < 0) {
    int err = errno;
    deliver_fatal(d, err, "getsockopt(SO_ERROR)");
    return -1;
  }
  for (int i = 0; has_error_queue(d->domain) && i < MAX_QUEUED_ERRORS_PER_WAKEUP; i++) {
    struct iovec iov = {d->recv_buffer, RECV_BUFFER_SIZE};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = d->control.bytes;
    msg.msg_controllen = sizeof(d->control.bytes);
    if (recvmsg(d->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      read_err = errno;
      if (read_err == EINTR) continue;
      break;
    }
    queued++;
    if (!first_queued) first_queued = queued_errno(&msg);
  }
  // Dequeuing an ICMP error re-arms SO_ERROR with the next one's errno.
  int late_error = 0;
  if (queued > 0 && pending_socket_error(d->fd, &late_error) == 0 && !so_error) so_error = late_error;
  if (read_err == EBADF || read_err == ENOTSOCK) {
    deliver_fatal(d, read_err, "recvmsg(MSG_ERRQUEUE)");
    return -1;
  }
  int err = so_error ? so_error : first_queued;
  if (err) {
    napi_value error, count;
    error = make_errno_error(d->env, err, "recvmsg");
    napi_create_int32(d->env, queued, &count);
    napi_set_named_property(d->env, error, "queuedErrors", count);
    deliver_error(d, error);
  }
  return err || queued ? 0 : 1;
}

static void receive_queued(dgram_t *d);

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  dgram_t *d = (dgram_t *)handle->data;
  if (!d->receiving) return;
  napi_env env = d->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  if (status < 0) {
    int cleared = clear_socket_error(d);
    // POLLERR with no error to clear would wake this callback forever.
    d->empty_error_wakeups = cleared == 1 ? d->empty_error_wakeups + 1 : 0;
    if (d->receiving && d->empty_error_wakeups > MAX_EMPTY_ERROR_WAKEUPS) deliver_fatal(d, EIO, "poll");
    if (d->receiving) {
      int rc = uv_poll_start(&d->poll, UV_READABLE, on_readable);
      if (rc < 0) deliver_fatal(d, -rc, "uv_poll_start");
    }
  }
  receive_queued(d);
  napi_close_handle_scope(env, scope);
}

// Reads what is queued on the socket now and hands each datagram to the receive
// callback, as a readiness callback would (both bounded by MAX_DATAGRAMS_PER_WAKEUP).
static void receive_queued(dgram_t *d) {
  napi_env env = d->env;
  for (int i = 0; i < MAX_DATAGRAMS_PER_WAKEUP && d->receiving; i++) {
    struct sockaddr_storage from;
    struct iovec iov = {d->recv_buffer, RECV_BUFFER_SIZE};
    struct msghdr msg = {0};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = d->control.bytes;
    msg.msg_controllen = sizeof(d->control.bytes);
    ssize_t n = recvmsg(d->fd, &msg, MSG_DONTWAIT);
    int err = errno;
    if (n < 0) {
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      if (err == EINTR) continue;
      if (is_fatal_errno(err)) {
        deliver_fatal(d, err, "recvmsg");
        break;
      }
      // A transient error (ENOBUFS, ECONNREFUSED, ...) was consumed by this read.
      deliver_error(d, make_errno_error(env, err, "recvmsg"));
      continue;
    }
    d->empty_error_wakeups = 0;
    size_t copied = (size_t)n > RECV_BUFFER_SIZE ? RECV_BUFFER_SIZE : (size_t)n;
    // The kernel reports the sender's full address length, which may exceed the buffer.
    size_t name_length = msg.msg_namelen > sizeof(from) ? sizeof(from) : msg.msg_namelen;
    napi_value argv[6];
    napi_get_null(env, &argv[0]);
    napi_create_buffer_copy(env, copied, d->recv_buffer, NULL, &argv[1]);
    napi_create_buffer_copy(env, name_length, &from, NULL, &argv[2]);
    argv[3] = ancillary_array(env, &msg);
    napi_create_int32(env, msg.msg_flags, &argv[4]);
    napi_create_double(env, received_age_ms(&msg), &argv[5]);
    deliver(d, 6, argv);
  }
}

// receivePending(): reads the datagrams queued now, at once, instead of at the event
// loop's next poll. After a stall, libuv runs due timers before it polls: a VRRP
// backup reads the adverts that came meanwhile before its Master_Down_Timer acts.
static napi_value socket_receive_pending(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data;
  CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  CALL(env, napi_unwrap(env, self, &data));
  dgram_t *d = (dgram_t *)data;
  if (d->closed || !d->receiving) return NULL;
  receive_queued(d);
  return NULL;
}

// startReceiving((err, data, sockaddr, ancillary, flags) => void)
static napi_value socket_start_receiving(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  void *data;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  CALL(env, napi_unwrap(env, self, &data));
  dgram_t *d = (dgram_t *)data;
  if (d->closed) return throw_errno(env, EBADF, "recvmsg");
  napi_valuetype vt;
  if (argc < 1 || napi_typeof(env, argv[0], &vt) != napi_ok || vt != napi_function) {
    napi_throw_type_error(env, NULL, "startReceiving(callback)");
    return NULL;
  }
  stop_receiving(d);
  if (!d->recv_buffer && !(d->recv_buffer = malloc(RECV_BUFFER_SIZE))) return throw_errno(env, ENOMEM, "recvmsg");
  CALL(env, napi_create_reference(env, argv[0], 1, &d->on_message));
  // While receiving, the socket object must outlive the caller's last reference.
  CALL(env, napi_create_reference(env, self, 1, &d->self));
  int rc = uv_poll_start(&d->poll, UV_READABLE, on_readable);
  if (rc < 0) {
    stop_receiving(d);
    return throw_errno(env, -rc, "uv_poll_start");
  }
  d->receiving = 1;
  return NULL;
}

static napi_value socket_stop_receiving(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data;
  CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  CALL(env, napi_unwrap(env, self, &data));
  stop_receiving((dgram_t *)data);
  return NULL;
}

static napi_value socket_close(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data;
  CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  CALL(env, napi_unwrap(env, self, &data));
  close_socket((dgram_t *)data);
  return NULL;
}

static napi_value socket_set_ref(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  void *data;
  bool keep_alive = true;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  CALL(env, napi_unwrap(env, self, &data));
  dgram_t *d = (dgram_t *)data;
  if (argc >= 1) napi_get_value_bool(env, argv[0], &keep_alive);
  if (!d->closed) {
    if (keep_alive)
      uv_ref((uv_handle_t *)&d->poll);
    else
      uv_unref((uv_handle_t *)&d->poll);
  }
  return NULL;
}

static napi_value socket_get_fd(napi_env env, napi_callback_info info) {
  napi_value self, result;
  void *data;
  CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  CALL(env, napi_unwrap(env, self, &data));
  napi_create_int32(env, ((dgram_t *)data)->fd, &result);
  return result;
}

static napi_value name_to_index(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  char name[IF_NAMESIZE + 1];
  size_t len;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof(name), &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "nameToIndex(name: string)");
    return NULL;
  }
  unsigned index = if_nametoindex(name);
  if (index == 0) return throw_errno(env, errno, "if_nametoindex");
  napi_create_uint32(env, index, &result);
  return result;
}

static napi_value index_to_name(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  uint32_t index;
  char name[IF_NAMESIZE + 1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &index) != napi_ok) {
    napi_throw_type_error(env, NULL, "indexToName(index: number)");
    return NULL;
  }
  if (!if_indextoname(index, name)) return throw_errno(env, errno, "if_indextoname");
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &result);
  return result;
}

static napi_value errno_name(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t err;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_int(env, argv[0], &err)) {
    napi_throw_type_error(env, NULL, "errnoName(errno: number)");
    return NULL;
  }
  napi_create_string_utf8(env, errno_code(err < 0 ? -err : err), NAPI_AUTO_LENGTH, &result);
  return result;
}

// Ambient capabilities are what a non-root process hands to the programs it
// executes; the agent needs CAP_NET_ADMIN/CAP_NET_RAW itself, its checks and notify
// programs never do. Capabilities are per thread, so this must run on the main
// thread before any thread that spawns children (the health worker) is created.
static napi_value clear_ambient_capabilities(napi_env env, napi_callback_info info) {
  (void)info;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    int err = errno;
    if (err != EINVAL) return throw_errno(env, err, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  }
  return NULL;
}

// ---- real-time scheduling of the VRRP thread (vrrp_realtime) ----------------
// The thread made real-time, for the SIGXCPU handler: the signal is sent to the
// process, and whichever thread takes it must demote this one.
static pid_t realtime_tid;
static volatile sig_atomic_t realtime_dropped;

// RLIMIT_RTTIME's soft limit was reached: the real-time thread ran that long without
// blocking. It goes back to SCHED_OTHER (a runaway must not hold a CPU) and the agent
// lives on; the hard limit (SIGKILL) sits a second further and is then never reached.
static void on_sigxcpu(int sig) {
  (void)sig;
  int saved = errno;
  struct sched_param param = {0};
  if (realtime_tid > 0 && sched_setscheduler(realtime_tid, SCHED_OTHER, &param) == 0) realtime_dropped = 1;
  errno = saved;
}

// setRealtime(priority, burstLimitMicros): SCHED_RR at `priority` for the calling
// thread, with SCHED_RESET_ON_FORK so that threads and processes it creates from here
// on (the checks worker, libuv's pool, notify programs) start at SCHED_OTHER; a run
// without blocking longer than burstLimitMicros demotes it (RLIMIT_RTTIME, SIGXCPU).
static napi_value set_realtime(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t priority;
  int64_t limit;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_int32(env, argv[0], &priority) != napi_ok || napi_get_value_int64(env, argv[1], &limit) != napi_ok ||
      limit <= 0) {
    napi_throw_type_error(env, NULL, "setRealtime(priority: number, burstLimitMicros: number)");
    return NULL;
  }
  struct rlimit current;
  if (getrlimit(RLIMIT_RTTIME, &current) != 0) return throw_errno(env, errno, "getrlimit(RLIMIT_RTTIME)");
  struct rlimit wanted = {(rlim_t)limit, (rlim_t)limit + 1000000};
  // An unprivileged process cannot raise its hard limit: stay under the one it has.
  if (current.rlim_max != RLIM_INFINITY && wanted.rlim_max > current.rlim_max) {
    wanted.rlim_max = current.rlim_max;
    if (wanted.rlim_cur > wanted.rlim_max) wanted.rlim_cur = wanted.rlim_max;
  }
  if (setrlimit(RLIMIT_RTTIME, &wanted) != 0) return throw_errno(env, errno, "setrlimit(RLIMIT_RTTIME)");
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = on_sigxcpu;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (sigaction(SIGXCPU, &action, NULL) != 0) return throw_errno(env, errno, "sigaction(SIGXCPU)");
  realtime_tid = (pid_t)syscall(SYS_gettid);
  realtime_dropped = 0;
  struct sched_param param = {.sched_priority = priority};
  if (sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &param) != 0) {
    int err = errno;
    realtime_tid = 0;
    return throw_errno(env, err, "sched_setscheduler(SCHED_RR)");
  }
  return NULL;
}

// resetScheduling(): the calling thread to SCHED_OTHER if it is real-time; true if it was.
static napi_value reset_scheduling(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  int policy = sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;
  int was_realtime = policy == SCHED_RR || policy == SCHED_FIFO;
  if (was_realtime) {
    struct sched_param param = {0};
    if (sched_setscheduler(0, SCHED_OTHER, &param) != 0) return throw_errno(env, errno, "sched_setscheduler(SCHED_OTHER)");
  }
  napi_get_boolean(env, was_realtime, &result);
  return result;
}

// realtimeDropped(): whether RLIMIT_RTTIME demoted the real-time thread (once read, cleared).
static napi_value realtime_dropped_flag(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  int dropped = realtime_dropped;
  realtime_dropped = 0;
  napi_get_boolean(env, dropped, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"bind", NULL, socket_bind, NULL, NULL, NULL, napi_default_method, NULL},
      {"connect", NULL, socket_connect, NULL, NULL, NULL, napi_default_method, NULL},
      {"send", NULL, socket_send, NULL, NULL, NULL, napi_default_method, NULL},
      {"setsockopt", NULL, socket_setsockopt, NULL, NULL, NULL, napi_default_method, NULL},
      {"getsockopt", NULL, socket_getsockopt, NULL, NULL, NULL, napi_default_method, NULL},
      {"attachFilter", NULL, socket_attach_filter, NULL, NULL, NULL, napi_default_method, NULL},
      {"getsockname", NULL, socket_getsockname, NULL, NULL, NULL, napi_default_method, NULL},
      {"startReceiving", NULL, socket_start_receiving, NULL, NULL, NULL, napi_default_method, NULL},
      {"stopReceiving", NULL, socket_stop_receiving, NULL, NULL, NULL, napi_default_method, NULL},
      {"receivePending", NULL, socket_receive_pending, NULL, NULL, NULL, napi_default_method, NULL},
      {"close", NULL, socket_close, NULL, NULL, NULL, napi_default_method, NULL},
      {"setRef", NULL, socket_set_ref, NULL, NULL, NULL, napi_default_method, NULL},
      {"fd", NULL, NULL, socket_get_fd, NULL, NULL, napi_default, NULL},
  };
  napi_value constructor;
  napi_define_class(env, "DatagramSocket", NAPI_AUTO_LENGTH, socket_new, NULL,
                    sizeof(methods) / sizeof(methods[0]), methods, &constructor);
  napi_set_named_property(env, exports, "DatagramSocket", constructor);
  napi_property_descriptor functions[] = {
      {"nameToIndex", NULL, name_to_index, NULL, NULL, NULL, napi_default, NULL},
      {"indexToName", NULL, index_to_name, NULL, NULL, NULL, napi_default, NULL},
      {"errnoName", NULL, errno_name, NULL, NULL, NULL, napi_default, NULL},
      {"clearAmbientCapabilities", NULL, clear_ambient_capabilities, NULL, NULL, NULL, napi_default, NULL},
      {"setRealtime", NULL, set_realtime, NULL, NULL, NULL, napi_default, NULL},
      {"resetScheduling", NULL, reset_scheduling, NULL, NULL, NULL, napi_default, NULL},
      {"realtimeDropped", NULL, realtime_dropped_flag, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(functions) / sizeof(functions[0]), functions);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
