/*
 * strata-tap-bridge: puts a TAP device on a Strata network.
 *
 * Node has neither ioctl() nor AF_PACKET, so it cannot open a TAP device itself. This helper opens one and carries
 * its frames to and from a network's switch endpoint (the Unix stream socket a `strata network serve` process
 * listens on): records of a 4-byte big-endian length and that many bytes, the first one a JSON hello each way,
 * every later one an Ethernet frame.
 *
 *   strata-tap-bridge --socket PATH --ifname NAME [--netns FILE] [--port-name NAME] [--mac MAC] [--vlan N]
 *                     [--watch-pid PID] [--hello-timeout SECONDS]
 *
 * With --netns, the TAP device is created inside that network namespace (a container's /proc/PID/ns/net) and the
 * helper then returns to its own namespace. A TAP device rather than a veth pair read through AF_PACKET: the TAP
 * is one device with no host end to name, clean up or keep off the host's own networking; it lives exactly as long
 * as this process holds its file descriptor (it vanishes when the helper exits, and the helper sees an error and
 * exits when the namespace holding the device goes away), and it is created directly where it belongs, so it never
 * shows up in the host's namespace. With --watch-pid the helper also ends when that process does (a container's
 * init), through a pidfd.
 *
 * Once attached it prints one line `attached PORT IFNAME` on stdout. It exits 0 when the endpoint closes, the
 * watched process ends, or on SIGTERM/SIGINT; 1 on a runtime error and 2 on bad arguments, each with one line on
 * stderr. An endpoint that does not take the connection and answer the hello within --hello-timeout seconds
 * (default 10) is a runtime error, so the helper never hangs before it is attached. Memory is bounded: the TAP is read only while a full record fits in the output buffer (OUT_MAX; the
 * device's own queue drops what does not fit meanwhile), the socket only while one fits in the input buffer, and a
 * frame the TAP device cannot take at once is dropped, like a full NIC queue.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_RECORD 65535u
#define IN_MAX (2u * (MAX_RECORD + 4u))
#define OUT_MAX (256u * 1024u)

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static const char *prog = "strata-tap-bridge";
static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void die(int code, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(code);
}

static void usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "%s: ", prog);
  fprintf(stderr, fmt, arg);
  fprintf(stderr,
          " (usage: %s --socket PATH --ifname NAME [--netns FILE] [--port-name NAME] [--mac MAC] [--vlan N]"
          " [--watch-pid PID] [--hello-timeout SECONDS])\n",
          prog);
  exit(2);
}

static int valid_name(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n == 0 || n > max) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          c == '.'))
      return 0;
  }
  return 1;
}

static int parse_mac(const char *s, unsigned char mac[6]) {
  unsigned int b[6];
  char tail;
  if (strlen(s) != 17) return 0;
  if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6) return 0;
  for (int i = 0; i < 6; i++) {
    if (s[i * 3] == ' ' || s[i * 3] == '+' || s[i * 3] == '-') return 0;
    mac[i] = (unsigned char)b[i];
  }
  return (mac[0] & 1) == 0; /* unicast only */
}

static long parse_num(const char *s, long lo, long hi) {
  char *end;
  if (*s < '0' || *s > '9') return -1;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return -1;
  return v;
}

/* Writes all of buf to a blocking fd (used only for the hello). */
static int write_all(int fd, const unsigned char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, unsigned char *buf, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, buf, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) {
      errno = 0; /* end of stream, not a timeout */
      return -1;
    }
    buf += r;
    n -= (size_t)r;
  }
  return 0;
}

static void put_len(unsigned char *p, uint32_t n) {
  p[0] = (unsigned char)(n >> 24);
  p[1] = (unsigned char)(n >> 16);
  p[2] = (unsigned char)(n >> 8);
  p[3] = (unsigned char)n;
}

static uint32_t get_len(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Creates the TAP device `name` in the current namespace, sets its MAC and brings it up. */
static int open_tap(const char *name, const unsigned char *mac) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) die(1, "cannot open /dev/net/tun: %s", strerror(errno));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die(1, "cannot create TAP device %s: %s", name, strerror(errno));
  int ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (ctl < 0) die(1, "socket: %s", strerror(errno));
  if (mac) {
    struct ifreq hw;
    memset(&hw, 0, sizeof hw);
    strncpy(hw.ifr_name, name, IFNAMSIZ - 1);
    hw.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
    memcpy(hw.ifr_hwaddr.sa_data, mac, 6);
    if (ioctl(ctl, SIOCSIFHWADDR, &hw) < 0) die(1, "cannot set the MAC address of %s: %s", name, strerror(errno));
  }
  struct ifreq fl;
  memset(&fl, 0, sizeof fl);
  strncpy(fl.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(ctl, SIOCGIFFLAGS, &fl) < 0) die(1, "cannot read the flags of %s: %s", name, strerror(errno));
  fl.ifr_flags |= IFF_UP;
  if (ioctl(ctl, SIOCSIFFLAGS, &fl) < 0) die(1, "cannot bring %s up: %s", name, strerror(errno));
  close(ctl);
  return fd;
}

int main(int argc, char **argv) {
  const char *sock_path = NULL, *ifname = NULL, *netns = NULL, *port_name = NULL, *mac_text = NULL;
  long vlan = 0, watch_pid = 0, hello_timeout = 10;
  unsigned char mac[6];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) usage_error("%s", "puts a TAP device on a network");
    if (strncmp(a, "--", 2) != 0) usage_error("unexpected argument '%s'", a);
    if (i + 1 >= argc) usage_error("option %s needs a value", a);
    const char *v = argv[++i];
    if (strcmp(a, "--socket") == 0) sock_path = v;
    else if (strcmp(a, "--ifname") == 0) ifname = v;
    else if (strcmp(a, "--netns") == 0) netns = v;
    else if (strcmp(a, "--port-name") == 0) port_name = v;
    else if (strcmp(a, "--mac") == 0) mac_text = v;
    else if (strcmp(a, "--vlan") == 0) {
      vlan = parse_num(v, 1, 4094);
      if (vlan < 0) usage_error("invalid VLAN id '%s' (1-4094)", v);
    } else if (strcmp(a, "--watch-pid") == 0) {
      watch_pid = parse_num(v, 1, 0x3fffffff);
      if (watch_pid < 0) usage_error("invalid pid '%s'", v);
    } else if (strcmp(a, "--hello-timeout") == 0) {
      hello_timeout = parse_num(v, 1, 600);
      if (hello_timeout < 0) usage_error("invalid hello timeout '%s' (1-600 seconds)", v);
    } else
      usage_error("unknown option '%s'", a);
  }
  if (!sock_path) usage_error("%s", "missing --socket");
  if (!ifname) usage_error("%s", "missing --ifname");
  if (!valid_name(ifname, IFNAMSIZ - 1)) usage_error("invalid interface name '%s' (1-15 of A-Z a-z 0-9 _ . -)", ifname);
  if (!port_name) port_name = ifname;
  if (!valid_name(port_name, 64)) usage_error("invalid port name '%s' (1-64 of A-Z a-z 0-9 _ . -)", port_name);
  if (mac_text && !parse_mac(mac_text, mac)) usage_error("invalid MAC address '%s' (unicast aa:bb:cc:dd:ee:ff)", mac_text);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(sock_path) >= sizeof addr.sun_path) usage_error("socket path too long: '%s'", sock_path);
  strcpy(addr.sun_path, sock_path);

  signal(SIGPIPE, SIG_IGN);

  int pidfd = -1;
  if (watch_pid > 0) {
    pidfd = (int)syscall(SYS_pidfd_open, (pid_t)watch_pid, 0);
    if (pidfd < 0) die(1, "cannot watch pid %ld: %s", watch_pid, strerror(errno));
  }

  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) die(1, "socket: %s", strerror(errno));
  /* Bounded waits until attached: connect (a full backlog), the hello and its answer. */
  struct timeval tv = {.tv_sec = hello_timeout, .tv_usec = 0};
  setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0)
    die(1, "cannot connect to the switch endpoint %s: %s", sock_path, strerror(errno));

  int tap;
  if (netns) {
    int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own < 0) die(1, "cannot open /proc/self/ns/net: %s", strerror(errno));
    int target = open(netns, O_RDONLY | O_CLOEXEC);
    if (target < 0) die(1, "cannot open network namespace %s: %s", netns, strerror(errno));
    /* A container's /proc/PID/ns/net whose PID has ended and been reused can name the host's namespace: the device
     * must never land there. And a watched process still alive now means the namespace opened above was its own. */
    struct stat own_st, target_st;
    if (fstat(own, &own_st) < 0 || fstat(target, &target_st) < 0) die(1, "cannot stat network namespaces: %s", strerror(errno));
    if (own_st.st_dev == target_st.st_dev && own_st.st_ino == target_st.st_ino)
      die(1, "network namespace %s is the helper's own, not a container's", netns);
    if (pidfd >= 0) {
      struct pollfd pf = {.fd = pidfd, .events = POLLIN};
      if (poll(&pf, 1, 0) > 0) die(1, "process %ld ended before its network namespace was entered", watch_pid);
    }
    if (setns(target, CLONE_NEWNET) < 0) die(1, "cannot enter network namespace %s: %s", netns, strerror(errno));
    tap = open_tap(ifname, mac_text ? mac : NULL);
    if (setns(own, CLONE_NEWNET) < 0) die(1, "cannot return to the own network namespace: %s", strerror(errno));
    close(own);
    close(target);
  } else {
    tap = open_tap(ifname, mac_text ? mac : NULL);
  }

  /* The hello, then its answer (blocking; the endpoint answers at once). */
  char hello[512];
  int n;
  char vlan_part[64] = "";
  char mac_part[48] = "";
  if (vlan) snprintf(vlan_part, sizeof vlan_part, ",\"vlan\":{\"mode\":\"access\",\"vlan\":%ld}", vlan);
  if (mac_text) snprintf(mac_part, sizeof mac_part, ",\"mac\":\"%s\"", mac_text);
  n = snprintf(hello + 4, sizeof hello - 4, "{\"strata\":1,\"name\":\"%s\"%s%s}", port_name, vlan_part, mac_part);
  put_len((unsigned char *)hello, (uint32_t)n);
  if (write_all(sock, (unsigned char *)hello, (size_t)n + 4) < 0)
    die(1, "cannot send the hello to %s: %s", sock_path, strerror(errno));
  unsigned char lenbuf[4];
  if (read_all(sock, lenbuf, 4) < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      die(1, "the switch endpoint %s did not answer the hello within %ld s", sock_path, hello_timeout);
    die(1, "the switch endpoint %s closed before answering", sock_path);
  }
  uint32_t alen = get_len(lenbuf);
  if (alen == 0 || alen > 4096) die(1, "bad hello answer from %s (%u bytes)", sock_path, alen);
  char answer[4097];
  if (read_all(sock, (unsigned char *)answer, alen) < 0) die(1, "the switch endpoint %s closed while answering", sock_path);
  answer[alen] = 0;
  if (!strstr(answer, "\"ok\":true")) {
    char *e = strstr(answer, "\"error\":\"");
    die(1, "the network refused the attachment: %s", e ? e + 9 : answer);
  }
  long port_no = -1;
  char *p = strstr(answer, "\"port\":");
  if (p) port_no = strtol(p + 7, NULL, 10);
  printf("attached %ld %s\n", port_no, ifname);
  fflush(stdout);

  /* From here SIGTERM/SIGINT only interrupt ppoll: blocked otherwise, so the flag is checked once per loop. Before
   * this point they end the helper at once (their default), with nothing attached yet. */
  sigset_t block, wait_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigprocmask(SIG_BLOCK, &block, &wait_mask);
  sigdelset(&wait_mask, SIGTERM);
  sigdelset(&wait_mask, SIGINT);

  fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
  fcntl(tap, F_SETFL, fcntl(tap, F_GETFL) | O_NONBLOCK);
  static unsigned char in[IN_MAX];
  static unsigned char out[OUT_MAX];
  static unsigned char frame[MAX_RECORD];
  size_t in_len = 0, out_off = 0, out_len = 0;
  int code = 0;

  while (!stop_requested) {
    struct pollfd fds[3];
    int nfds = 0;
    fds[nfds++] = (struct pollfd){.fd = tap, .events = (short)(out_len + MAX_RECORD + 4 <= OUT_MAX ? POLLIN : 0)};
    fds[nfds++] =
        (struct pollfd){.fd = sock, .events = (short)((in_len + MAX_RECORD + 4 <= IN_MAX ? POLLIN : 0) |
                                                      (out_len > out_off ? POLLOUT : 0))};
    if (pidfd >= 0) fds[nfds++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
    int r = ppoll(fds, (nfds_t)nfds, NULL, &wait_mask);
    if (r < 0) {
      if (errno == EINTR) continue;
      die(1, "poll: %s", strerror(errno));
    }
    if (pidfd >= 0 && fds[2].revents) break; /* the watched process ended */
    if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
      fprintf(stderr, "%s: TAP device %s is gone\n", prog, ifname);
      break;
    }
    if (fds[0].revents & POLLIN) {
      /* Up to 64 frames per turn, so the other direction gets its turn too. */
      for (int k = 0; k < 64 && out_len + MAX_RECORD + 4 <= OUT_MAX; k++) {
        ssize_t got = read(tap, frame, sizeof frame);
        if (got < 0) {
          int err = errno;
          if (err == EAGAIN || err == EINTR) break;
          fprintf(stderr, "%s: reading TAP device %s: %s\n", prog, ifname, strerror(err));
          stop_requested = 1;
          code = err == EBADFD || err == EIO ? 0 : 1;
          break;
        }
        if (got == 0) break;
        put_len(out + out_len, (uint32_t)got);
        memcpy(out + out_len + 4, frame, (size_t)got);
        out_len += (size_t)got + 4;
      }
    }
    if (fds[1].revents & POLLIN) {
      ssize_t got = read(sock, in + in_len, IN_MAX - in_len);
      if (got == 0) break; /* the network closed the attachment */
      if (got < 0 && errno != EAGAIN && errno != EINTR) {
        fprintf(stderr, "%s: reading %s: %s\n", prog, sock_path, strerror(errno));
        code = 1;
        break;
      }
      if (got > 0) in_len += (size_t)got;
      size_t off = 0;
      while (in_len - off >= 4) {
        uint32_t len = get_len(in + off);
        if (len > MAX_RECORD) die(1, "record of %u bytes from %s exceeds %u", len, sock_path, MAX_RECORD);
        if (in_len - off - 4 < len) break;
        /* A TAP write takes the whole frame or fails; a frame the device cannot take now is dropped. */
        if (len > 0) (void)!write(tap, in + off + 4, len);
        off += 4 + len;
      }
      if (off > 0) {
        memmove(in, in + off, in_len - off);
        in_len -= off;
      }
    } else if (fds[1].revents & (POLLHUP | POLLERR)) {
      break;
    }
    if (out_len > out_off) {
      ssize_t w = send(sock, out + out_off, out_len - out_off, MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN && errno != EINTR) {
        if (errno != EPIPE && errno != ECONNRESET) {
          fprintf(stderr, "%s: writing %s: %s\n", prog, sock_path, strerror(errno));
          code = 1;
        }
        break;
      }
      if (w > 0) out_off += (size_t)w;
      if (out_off == out_len) out_off = out_len = 0;
      else if (out_off > OUT_MAX / 2) {
        memmove(out, out + out_off, out_len - out_off);
        out_len -= out_off;
        out_off = 0;
      }
    }
  }
  close(sock);
  close(tap);
  return code;
}
