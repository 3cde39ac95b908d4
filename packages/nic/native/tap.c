/*
 * pnet TAP addon: the smallest native piece the TAP backend needs.
 *
 * It opens a Linux TAP device (IFF_TAP | IFF_NO_PI, non-blocking), watches the
 * fd with libuv's uv_poll on the calling thread's loop (main thread or worker),
 * reads frames in a batch straight into the slots of a FrameRing's
 * (Shared)ArrayBuffer, and writes frames from a Uint8Array view.
 *
 * It never touches the ring's control words (indices, doorbell): JS owns the
 * ring protocol. JS tells `readBatch` which slot to start at and how many free
 * slots there are; C fills consecutive slots and reports the lengths; JS then
 * commits them. One JS->C call per batch, no allocation, no copy.
 *
 * Offload mode (open(name, true)): the fd carries a struct virtio_net_hdr in
 * front of every frame (IFF_VNET_HDR), as between QEMU and a virtio guest, and
 * the kernel is told (TUNSETOFFLOAD) that we take partial checksums and TCPv4
 * GSO super-frames. The header never reaches JS: readBatch strips it and
 * reports per-frame flags; writeFrame builds it from the frame's own headers.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define DISCARD_SIZE 65536

typedef struct tap_s {
  napi_env env;
  int fd;
  int owns_fd;
  uv_poll_t poll;
  int poll_inited;
  int polling;
  int want_ref;
  int closing;
  int done;      /* the uv handle is closed (or never existed) */
  int finalized; /* the JS external was collected */
  napi_ref cb_ref;
  napi_ref ring_ref;
  uint8_t *ring_base;
  size_t ring_len;
  uint32_t data_off, stride, slot_size, slots, min_frame;
  napi_async_cleanup_hook_handle cleanup;
  uint8_t *scratch;
  int complete_rx; /* fill in partial checksums of received frames (a capture is watching) */
  uint32_t mtu; /* IP MTU of the wire, for a GSO size the caller did not give */
  int vnet; /* IFF_VNET_HDR: every read and write starts with a struct virtio_net_hdr */
} tap_t;

/* Per-frame flags readBatch reports in offload mode. */
#define RX_CSUM_OK 1 /* the kernel vouches for the L4 checksum (partial or already verified): do not check it */
#define RX_GSO 2     /* a GSO super-frame: longer than the wire MTU, the kernel did not cut it */

/* Ones' complement sum of p[0, len) added to `sum`, not folded (32-bit words would be faster; captures only). */
static uint64_t sum_words(const uint8_t *p, size_t len, uint64_t sum) {
  size_t i = 0;
  for (; i + 1 < len; i += 2) sum += ((uint32_t)p[i] << 8) | p[i + 1];
  if (i < len) sum += (uint32_t)p[i] << 8;
  return sum;
}

static uint16_t fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, "EADDON", "pnet tap addon: " #call " failed"); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  char code[32];
  const char *name = "EUNKNOWN";
  switch (err) {
    case ENOENT: name = "ENOENT"; break;
    case EACCES: name = "EACCES"; break;
    case EPERM: name = "EPERM"; break;
    case EBUSY: name = "EBUSY"; break;
    case EINVAL: name = "EINVAL"; break;
    case ENODEV: name = "ENODEV"; break;
    case ENXIO: name = "ENXIO"; break;
    case EBADF: name = "EBADF"; break;
    case EBADFD: name = "EBADFD"; break;
    case EIO: name = "EIO"; break;
    default: break;
  }
  snprintf(code, sizeof code, "%s", name);
  snprintf(msg, sizeof msg, "%s: %s (%s)", what, strerror(err), name);
  napi_value m, c, e, no;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, m, &e);
  napi_create_int32(env, err, &no);
  napi_set_named_property(env, e, "errno", no);
  napi_throw(env, e);
  return NULL;
}

static void maybe_free(tap_t *h) {
  if (h->done && h->finalized) {
    free(h->scratch);
    free(h);
  }
}

static void on_poll_closed(uv_handle_t *handle) {
  tap_t *h = (tap_t *)handle->data;
  h->done = 1;
  if (h->cleanup != NULL) {
    napi_remove_async_cleanup_hook(h->cleanup);
    h->cleanup = NULL;
  }
  maybe_free(h);
}

/* Stops polling, closes the fd, starts closing the uv handle. Safe to call more than once. */
static void release(tap_t *h, int may_touch_refs) {
  if (h->closing) return;
  h->closing = 1;
  if (h->polling) {
    /* uv_poll_stop removes the fd from epoll right away, so closing it next is safe. */
    uv_poll_stop(&h->poll);
    h->polling = 0;
  }
  if (h->fd >= 0 && h->owns_fd) close(h->fd);
  h->fd = -1;
  if (may_touch_refs) {
    if (h->cb_ref) napi_delete_reference(h->env, h->cb_ref);
    if (h->ring_ref) napi_delete_reference(h->env, h->ring_ref);
  }
  h->cb_ref = NULL;
  h->ring_ref = NULL;
  h->ring_base = NULL;
  if (h->poll_inited) {
    uv_close((uv_handle_t *)&h->poll, on_poll_closed);
  } else {
    h->done = 1;
    if (h->cleanup != NULL) {
      napi_remove_async_cleanup_hook(h->cleanup);
      h->cleanup = NULL;
    }
  }
}

/* Environment teardown (process or worker exit): close what is still open so the loop can close. */
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  tap_t *h = (tap_t *)arg;
  (void)handle;
  if (h->closing) return; /* a close is already under way; its callback removes the hook */
  release(h, 0);
}

static void on_finalize(napi_env env, void *data, void *hint) {
  tap_t *h = (tap_t *)data;
  (void)env;
  (void)hint;
  release(h, 1);
  h->finalized = 1;
  maybe_free(h);
}

/*
 * Argument readers for the entry points: each throws a TypeError with the call's usage and returns 0
 * when the value is missing or of the wrong kind (the caller then returns NULL). An optional value that
 * is absent or undefined leaves *out as it was and succeeds.
 */
static int usage_error(napi_env env, const char *usage) {
  char msg[160];
  snprintf(msg, sizeof msg, "pnet tap addon: %s", usage);
  napi_throw_type_error(env, "EINVAL", msg);
  return 0;
}

static int is_absent(napi_env env, size_t argc, napi_value *argv, size_t i) {
  napi_valuetype t;
  return i >= argc || napi_typeof(env, argv[i], &t) != napi_ok || t == napi_undefined;
}

static int arg_u32(napi_env env, size_t argc, napi_value *argv, size_t i, int optional, uint32_t *out, const char *usage) {
  if (optional && is_absent(env, argc, argv, i)) return 1;
  if (i >= argc || napi_get_value_uint32(env, argv[i], out) != napi_ok) return usage_error(env, usage);
  return 1;
}

static int arg_bool(napi_env env, size_t argc, napi_value *argv, size_t i, bool *out, const char *usage) {
  if (i >= argc || napi_get_value_bool(env, argv[i], out) != napi_ok) return usage_error(env, usage);
  return 1;
}

/* A typed array of kind `want`: its data and element count. */
static int arg_array(napi_env env, size_t argc, napi_value *argv, size_t i, napi_typedarray_type want, void **data,
                     size_t *length, const char *usage) {
  napi_typedarray_type type;
  if (i >= argc || napi_get_typedarray_info(env, argv[i], &type, length, data, NULL, NULL) != napi_ok || type != want)
    return usage_error(env, usage);
  return 1;
}

static napi_value make_handle(napi_env env, int fd, int owns_fd) {
  tap_t *h = calloc(1, sizeof(tap_t));
  if (h == NULL) return throw_errno(env, "pnet tap addon: calloc", ENOMEM);
  h->env = env;
  h->fd = fd;
  h->owns_fd = owns_fd;
  h->want_ref = 0;
  napi_value ext;
  if (napi_create_external(env, h, on_finalize, NULL, &ext) != napi_ok) {
    free(h);
    napi_throw_error(env, "EADDON", "pnet tap addon: napi_create_external failed");
    return NULL;
  }
  napi_add_async_cleanup_hook(env, on_env_cleanup, h, &h->cleanup);
  return ext;
}

static tap_t *get_handle(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "EINVAL", "pnet tap addon: expected a TAP handle");
    return NULL;
  }
  return (tap_t *)data;
}

static tap_t *get_open_handle(napi_env env, napi_value v) {
  tap_t *h = get_handle(env, v);
  if (h != NULL && (h->closing || h->fd < 0)) {
    napi_throw_error(env, "ECLOSED", "pnet tap addon: the TAP handle is closed");
    return NULL;
  }
  return h;
}

/*
 * open(name: string, offload?: boolean) -> [handle, ifname]. `name` may be '' (kernel picks tapN) or a pattern
 * like 'pnet%d'. With offload: IFF_VNET_HDR, and the kernel may send us partial checksums and TCPv4 GSO frames.
 */
static napi_value tap_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool offload = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ + 1] = {0};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "pnet tap addon: open(name) needs a string");
    return NULL;
  }
  if (len >= IFNAMSIZ) {
    napi_throw_range_error(env, "EINVAL", "pnet tap addon: interface name longer than 15 characters");
    return NULL;
  }
  if (argc >= 2) napi_get_value_bool(env, argv[1], &offload);
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "cannot open /dev/net/tun", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, len);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "ioctl(TUNSETIFF) on /dev/net/tun", err);
  }
  if (offload) {
    /* The plain 10-byte header (no num_buffers: no mergeable buffers on a tap fd). */
    int hdr_sz = (int)sizeof(struct virtio_net_hdr);
    unsigned int features = TUN_F_CSUM | TUN_F_TSO4;
    const char *what = NULL;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_sz) < 0) what = "ioctl(TUNSETVNETHDRSZ)";
    else if (ioctl(fd, TUNSETOFFLOAD, features) < 0) what = "ioctl(TUNSETOFFLOAD)";
    if (what != NULL) {
      int err = errno;
      close(fd);
      return throw_errno(env, what, err);
    }
  }
  napi_value handle = make_handle(env, fd, 1);
  if (handle == NULL) {
    close(fd);
    return NULL;
  }
  tap_t *th = NULL;
  napi_get_value_external(env, handle, (void **)&th);
  th->vnet = offload ? 1 : 0;
  napi_value arr, ifname;
  CHECK(napi_create_array_with_length(env, 2, &arr));
  CHECK(napi_create_string_utf8(env, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ), &ifname));
  CHECK(napi_set_element(env, arr, 0, handle));
  CHECK(napi_set_element(env, arr, 1, ifname));
  return arr;
}

/* dupFd(handle) -> fd: a duplicate of the TAP fd, for handing the device to a worker thread. */
static napi_value tap_dup_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *h = get_open_handle(env, argv[0]);
  if (h == NULL) return NULL;
  int fd = fcntl(h->fd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return throw_errno(env, "fcntl(F_DUPFD_CLOEXEC)", errno);
  napi_value r;
  CHECK(napi_create_int32(env, fd, &r));
  return r;
}

/* adopt(fd) -> handle: takes ownership of a TAP fd (from dupFd) in this thread. */
static napi_value tap_adopt(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "pnet tap addon: adopt(fd) needs a file descriptor");
    return NULL;
  }
  return make_handle(env, fd, 1);
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  tap_t *h = (tap_t *)poll->data;
  (void)events;
  if (h->closing || h->cb_ref == NULL) return;
  napi_env env = h->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, arg, result;
  if (napi_get_reference_value(env, h->cb_ref, &cb) == napi_ok && cb != NULL) {
    napi_get_global(env, &recv);
    napi_create_int32(env, status, &arg);
    /* make_callback (not call_function): runs nextTicks and microtasks afterwards, like any libuv callback. */
    if (napi_make_callback(env, NULL, recv, cb, 1, &arg, &result) == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

/* start(handle, onReadable(status)) : starts watching the fd for readability. */
static napi_value tap_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *h = get_open_handle(env, argv[0]);
  if (h == NULL) return NULL;
  napi_valuetype t;
  if (argc < 2 || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "EINVAL", "pnet tap addon: start(handle, callback) needs a function");
    return NULL;
  }
  if (h->polling) {
    napi_throw_error(env, "EBUSY", "pnet tap addon: already started");
    return NULL;
  }
  CHECK(napi_create_reference(env, argv[1], 1, &h->cb_ref));
  if (!h->poll_inited) {
    uv_loop_t *loop = NULL;
    CHECK(napi_get_uv_event_loop(env, &loop));
    int r = uv_poll_init(loop, &h->poll, h->fd);
    if (r != 0) return throw_errno(env, "uv_poll_init", -r);
    h->poll.data = h;
    h->poll_inited = 1;
  }
  int r = uv_poll_start(&h->poll, UV_READABLE, on_readable);
  if (r != 0) return throw_errno(env, "uv_poll_start", -r);
  h->polling = 1;
  if (h->want_ref) uv_ref((uv_handle_t *)&h->poll);
  else uv_unref((uv_handle_t *)&h->poll);
  return NULL;
}

/* setRef(handle, keepAlive): whether the open device keeps the event loop (and so the process) alive. */
static napi_value tap_set_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool ref = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *h = get_handle(env, argv[0]);
  if (h == NULL) return NULL;
  if (!arg_bool(env, argc, argv, 1, &ref, "setRef(handle, keepAlive: boolean)")) return NULL;
  h->want_ref = ref ? 1 : 0;
  if (h->poll_inited && !h->closing) {
    if (ref) uv_ref((uv_handle_t *)&h->poll);
    else uv_unref((uv_handle_t *)&h->poll);
  }
  return NULL;
}

/*
 * bindRing(handle, bytes: Uint8Array over the whole ring buffer, dataOffset, stride, slotSize, slots, minFrame)
 * Remembers where the ring's slots are; keeps the buffer alive.
 */
static napi_value tap_bind_ring(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  static const char usage[] = "bindRing(handle, Uint8Array over the ring, dataOffset, stride, slotSize, slots, minFrame)";
  tap_t *h = get_open_handle(env, argv[0]);
  if (h == NULL) return NULL;
  size_t length;
  void *data;
  if (!arg_array(env, argc, argv, 1, napi_uint8_array, &data, &length, usage)) return NULL;
  uint32_t v[5];
  for (int i = 0; i < 5; i++) {
    if (!arg_u32(env, argc, argv, 2 + i, 0, &v[i], usage)) return NULL;
  }
  uint32_t data_off = v[0], stride = v[1], slot_size = v[2], slots = v[3], min_frame = v[4];
  if (slots == 0 || (slots & (slots - 1)) != 0 || stride < slot_size || slot_size == 0 ||
      (uint64_t)data_off + (uint64_t)slots * stride > length) {
    napi_throw_range_error(env, "EINVAL", "pnet tap addon: ring layout does not fit the buffer");
    return NULL;
  }
  if (h->ring_ref) napi_delete_reference(env, h->ring_ref);
  CHECK(napi_create_reference(env, argv[1], 1, &h->ring_ref));
  h->ring_base = (uint8_t *)data;
  h->ring_len = length;
  h->data_off = data_off;
  h->stride = stride;
  h->slot_size = slot_size;
  h->slots = slots;
  h->min_frame = min_frame;
  return NULL;
}

/*
 * readBatch(handle, startSlot, max, lens: Int32Array, status: Int32Array, flags?: Int32Array) -> frames read
 * Reads until EAGAIN or `max` good frames, into slots startSlot, startSlot+1, ... (mod slots).
 * Runts and giants are read and skipped (their slot is reused). status = [bad, errno, drained].
 * In offload mode `flags[k]` gets RX_CSUM_OK / RX_GSO for frame k (0 without a flags array's room).
 */
static napi_value tap_read_batch(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  static const char usage[] = "readBatch(handle, startSlot, max, lens: Int32Array, status: Int32Array(3), flags?: Int32Array)";
  tap_t *h = get_open_handle(env, argv[0]);
  if (h == NULL) return NULL;
  if (h->ring_base == NULL) {
    napi_throw_error(env, "EINVAL", "pnet tap addon: readBatch before bindRing");
    return NULL;
  }
  uint32_t start, max;
  size_t n1, n2, n3;
  void *d1, *d2, *d3 = NULL;
  if (!arg_u32(env, argc, argv, 1, 0, &start, usage) || !arg_u32(env, argc, argv, 2, 0, &max, usage) ||
      !arg_array(env, argc, argv, 3, napi_int32_array, &d1, &n1, usage) ||
      !arg_array(env, argc, argv, 4, napi_int32_array, &d2, &n2, usage)) return NULL;
  if (n2 < 3) return usage_error(env, usage), NULL;
  if (!is_absent(env, argc, argv, 5) && !arg_array(env, argc, argv, 5, napi_int32_array, &d3, &n3, usage)) return NULL;
  int32_t *lens = (int32_t *)d1;
  int32_t *status = (int32_t *)d2;
  if (max > n1) max = (uint32_t)n1;
  int32_t *flags = (int32_t *)d3;
  if (flags != NULL && max > n3) max = (uint32_t)n3;
  if (h->scratch == NULL) {
    h->scratch = malloc(DISCARD_SIZE);
    if (h->scratch == NULL) return throw_errno(env, "pnet tap addon: malloc", ENOMEM);
  }
  struct iovec iov[3];
  struct virtio_net_hdr vh;
  /* With a vnet header: [header][slot][spill]; without: [slot][spill]. */
  struct iovec *slot_iov = h->vnet ? &iov[1] : &iov[0];
  int iovcnt = h->vnet ? 3 : 2;
  size_t hdr_len = h->vnet ? sizeof vh : 0;
  iov[0].iov_base = &vh;
  iov[0].iov_len = sizeof vh;
  slot_iov[1].iov_base = h->scratch;
  slot_iov[1].iov_len = DISCARD_SIZE;
  uint32_t mask = h->slots - 1;
  uint32_t idx = start;
  int32_t count = 0, bad = 0, err = 0, drained = 0;
  while ((uint32_t)count < max) {
    uint8_t *p = h->ring_base + h->data_off + (size_t)(idx & mask) * h->stride;
    /* The spill buffer catches the tail of a frame longer than a slot: the kernel truncates silently to
       the buffer it is given, so only a read longer than the slot tells us the frame was a giant. */
    slot_iov[0].iov_base = p;
    slot_iov[0].iov_len = h->slot_size;
    ssize_t n = readv(h->fd, iov, iovcnt);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) drained = 1;
      else err = errno;
      break;
    }
    if ((size_t)n < hdr_len) {
      bad++;
      continue;
    }
    n -= (ssize_t)hdr_len;
    if ((size_t)n < h->min_frame || (size_t)n > h->slot_size) {
      bad++;
      continue;
    }
    int32_t f = 0;
    if (h->vnet) {
      if (vh.flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) f |= RX_CSUM_OK;
      if ((vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE) f |= RX_GSO;
      /* Slots are 64 KiB for GSO frames; any other frame longer than the wire allows is still a giant. */
      if (!(f & RX_GSO) && h->mtu > 0 && (size_t)n > (size_t)h->mtu + 18) {
        bad++;
        continue;
      }
    }
    /* A partial checksum holds the pseudo-header sum: sum from csum_start on, store the complement (as a NIC would). */
    if (h->complete_rx && (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && (size_t)vh.csum_start + vh.csum_offset + 2 <= (size_t)n) {
      uint8_t *field = p + vh.csum_start + vh.csum_offset;
      /* The segment ends where IPv4 says (any Ethernet padding is not summed). */
      size_t end = (size_t)n;
      if (p[12] == 0x08 && p[13] == 0x00 && n >= 34) {
        size_t ip_end = 14 + (((size_t)p[16] << 8) | p[17]);
        if (ip_end < end && ip_end > vh.csum_start) end = ip_end;
      }
      uint16_t c = (uint16_t)~fold(sum_words(p + vh.csum_start, end - vh.csum_start, 0));
      if (c == 0 && p[14 + 9] == 17) c = 0xffff; /* UDP: 0 means "no checksum" */
      field[0] = (uint8_t)(c >> 8);
      field[1] = (uint8_t)c;
    }
    if (flags != NULL) flags[count] = f;
    lens[count++] = (int32_t)n;
    idx++;
  }
  status[0] = bad;
  status[1] = err;
  status[2] = drained;
  napi_value r;
  CHECK(napi_create_int32(env, count, &r));
  return r;
}

/* discard(handle, max) -> frames read and thrown away (ring full, link down), or -errno. */
static napi_value tap_discard(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *h = get_open_handle(env, argv[0]);
  if (h == NULL) return NULL;
  uint32_t max = 0;
  if (!arg_u32(env, argc, argv, 1, 0, &max, "discard(handle, max)")) return NULL;
  if (h->scratch == NULL) {
    h->scratch = malloc(DISCARD_SIZE);
    if (h->scratch == NULL) return throw_errno(env, "pnet tap addon: malloc", ENOMEM);
  }
  int32_t count = 0;
  while ((uint32_t)count < max) {
    ssize_t n = read(h->fd, h->scratch, DISCARD_SIZE);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK && count == 0) count = -errno;
      break;
    }
    count++;
  }
  napi_value r;
  CHECK(napi_create_int32(env, count, &r));
  return r;
}

/*
 * The virtio header for a frame we send in offload mode. An IPv4 TCP segment (not a fragment) gets a partial
 * checksum: the pseudo-header sum goes into its checksum field (whatever the stack left there: 0, or a full
 * checksum on a forwarded packet) and the kernel sums the rest. One whose payload is longer than `gso_size`
 * (0: what the wire MTU leaves after its headers) is a TSO super-segment the kernel cuts into gso_size pieces.
 * Anything else goes as is (flags 0).
 */
static void offload_header(struct virtio_net_hdr *vh, uint8_t *f, uint32_t len, uint32_t gso_size, uint32_t mtu) {
  memset(vh, 0, sizeof *vh);
  if (len < 14 + 20 + 20 || f[12] != 0x08 || f[13] != 0x00) return;
  uint8_t *ip = f + 14;
  uint32_t ihl = (uint32_t)(ip[0] & 15) * 4;
  uint32_t total = ((uint32_t)ip[2] << 8) | ip[3];
  if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != 6 || (((ip[6] << 8) | ip[7]) & 0x3fff) != 0) return;
  if (total > len - 14 || total < ihl + 20) return;
  uint8_t *tcp = ip + ihl;
  uint32_t thl = (uint32_t)(tcp[12] >> 4) * 4;
  if (thl < 20 || ihl + thl > total) return;
  uint32_t seg_len = total - ihl;
  /* Pseudo header: source, destination, protocol, TCP length; folded, not complemented (the partial convention). */
  uint32_t sum = ((uint32_t)ip[12] << 8 | ip[13]) + ((uint32_t)ip[14] << 8 | ip[15]) +
                 ((uint32_t)ip[16] << 8 | ip[17]) + ((uint32_t)ip[18] << 8 | ip[19]) + 6 + seg_len;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  tcp[16] = (uint8_t)(sum >> 8);
  tcp[17] = (uint8_t)sum;
  vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  vh->csum_start = (uint16_t)(14 + ihl);
  vh->csum_offset = 16;
  uint32_t payload = seg_len - thl;
  if (gso_size == 0 && mtu > ihl + thl) gso_size = mtu - ihl - thl;
  if (gso_size > 0 && payload > gso_size) {
    vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    vh->gso_size = (uint16_t)gso_size;
    vh->hdr_len = (uint16_t)(14 + ihl + thl);
  }
}

/*
 * write(handle, frame: Uint8Array, length, gsoSize?) -> bytes of the frame written, or -errno (EAGAIN: queue full).
 * In offload mode a virtio header goes in front (see offload_header); `gsoSize` is the TCP MSS of a super-segment.
 */
static napi_value tap_write(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *h = get_open_handle(env, argv[0]);
  if (h == NULL) return NULL;
  static const char usage[] = "write(handle, Uint8Array, length, gsoSize?)";
  size_t length;
  void *data;
  uint32_t want = 0, gso_size = 0;
  if (!arg_array(env, argc, argv, 1, napi_uint8_array, &data, &length, usage) ||
      !arg_u32(env, argc, argv, 2, 0, &want, usage) || !arg_u32(env, argc, argv, 3, 1, &gso_size, usage)) return NULL;
  if (want > length) {
    napi_throw_range_error(env, "EINVAL", "pnet tap addon: write length beyond the view");
    return NULL;
  }
  ssize_t n;
  if (h->vnet) {
    struct virtio_net_hdr vh;
    offload_header(&vh, (uint8_t *)data, want, gso_size, h->mtu);
    struct iovec iov[2] = {{&vh, sizeof vh}, {data, want}};
    do {
      n = writev(h->fd, iov, 2);
    } while (n < 0 && errno == EINTR);
    if (n >= (ssize_t)sizeof vh) n -= (ssize_t)sizeof vh;
  } else {
    do {
      n = write(h->fd, data, want);
    } while (n < 0 && errno == EINTR);
  }
  napi_value r;
  CHECK(napi_create_int32(env, n < 0 ? -errno : (int32_t)n, &r));
  return r;
}

/* close(handle): stops polling, closes the fd (the kernel interface goes away unless persistent). Idempotent. */
static napi_value tap_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *h = get_handle(env, argv[0]);
  if (h == NULL) return NULL;
  release(h, 1);
  return NULL;
}

static int ifreq_socket_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  strncpy(ifr->ifr_name, ifname, IFNAMSIZ - 1);
  int r = ioctl(s, req, ifr);
  int err = r < 0 ? errno : 0;
  close(s);
  return err;
}

/* setMtu(ifname, mtu): the kernel-side interface MTU (in the caller's network namespace). */
static napi_value tap_set_mtu(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ + 1] = {0};
  size_t len;
  int32_t mtu;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok ||
      napi_get_value_int32(env, argv[1], &mtu) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "pnet tap addon: setMtu(ifname, mtu)");
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_mtu = mtu;
  int err = ifreq_socket_ioctl(name, SIOCSIFMTU, &ifr);
  if (err) return throw_errno(env, "ioctl(SIOCSIFMTU)", err);
  return NULL;
}

/* setWireMtu(handle, mtu): the IP MTU offload_header cuts TCP super-frames for when no GSO size is given. */
static napi_value tap_set_wire_mtu(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint32_t mtu = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *h = get_handle(env, argv[0]);
  if (h == NULL) return NULL;
  if (!arg_u32(env, argc, argv, 1, 0, &mtu, "setWireMtu(handle, mtu)")) return NULL;
  h->mtu = mtu;
  return NULL;
}

/* setCompleteRx(handle, on): fill in the partial checksums of received frames (while a capture watches). */
static napi_value tap_set_complete_rx(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool on = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *h = get_handle(env, argv[0]);
  if (h == NULL) return NULL;
  if (!arg_bool(env, argc, argv, 1, &on, "setCompleteRx(handle, on: boolean)")) return NULL;
  h->complete_rx = on ? 1 : 0;
  return NULL;
}

/*
 * completeChecksum(frame: Uint8Array, length): computes the TCP checksum of an IPv4 TCP frame (not a fragment)
 * in place, as the kernel will: so a capture of what we send shows the checksum that goes on the wire.
 */
static napi_value tap_complete_checksum(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  static const char usage[] = "completeChecksum(Uint8Array, length <= its length)";
  size_t length;
  void *data;
  uint32_t want = 0;
  if (!arg_array(env, argc, argv, 0, napi_uint8_array, &data, &length, usage) ||
      !arg_u32(env, argc, argv, 1, 0, &want, usage)) return NULL;
  if (want > length) return usage_error(env, usage), NULL;
  struct virtio_net_hdr vh;
  uint8_t *f = (uint8_t *)data;
  /* offload_header leaves the pseudo-header sum in the field and says where the segment starts. */
  offload_header(&vh, f, want, 0, 0);
  if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    uint32_t total = ((uint32_t)f[16] << 8) | f[17];
    uint8_t *seg = f + vh.csum_start;
    size_t seg_len = total - (vh.csum_start - 14);
    uint16_t c = (uint16_t)~fold(sum_words(seg, seg_len, 0));
    seg[16] = (uint8_t)(c >> 8);
    seg[17] = (uint8_t)c;
  }
  return NULL;
}

/* fd(handle) -> the file descriptor, or -1 when closed (for diagnostics). */
static napi_value tap_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *h = get_handle(env, argv[0]);
  if (h == NULL) return NULL;
  napi_value r;
  CHECK(napi_create_int32(env, h->fd, &r));
  return r;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"open", NULL, tap_open, NULL, NULL, NULL, napi_default, NULL},
    {"dupFd", NULL, tap_dup_fd, NULL, NULL, NULL, napi_default, NULL},
    {"adopt", NULL, tap_adopt, NULL, NULL, NULL, napi_default, NULL},
    {"start", NULL, tap_start, NULL, NULL, NULL, napi_default, NULL},
    {"setRef", NULL, tap_set_ref, NULL, NULL, NULL, napi_default, NULL},
    {"bindRing", NULL, tap_bind_ring, NULL, NULL, NULL, napi_default, NULL},
    {"readBatch", NULL, tap_read_batch, NULL, NULL, NULL, napi_default, NULL},
    {"discard", NULL, tap_discard, NULL, NULL, NULL, napi_default, NULL},
    {"write", NULL, tap_write, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, tap_close, NULL, NULL, NULL, napi_default, NULL},
    {"setMtu", NULL, tap_set_mtu, NULL, NULL, NULL, napi_default, NULL},
    {"setWireMtu", NULL, tap_set_wire_mtu, NULL, NULL, NULL, napi_default, NULL},
    {"setCompleteRx", NULL, tap_set_complete_rx, NULL, NULL, NULL, napi_default, NULL},
    {"completeChecksum", NULL, tap_complete_checksum, NULL, NULL, NULL, napi_default, NULL},
    {"fd", NULL, tap_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
