/* Origin: /work/shared/tools/modbus_fleet_sim.c of the project's shared tools (load-comparison
 * peer), copied unchanged below this note; built by tests/bench/CMakeLists.txt and started by
 * tests/bench/meter_fleet.py (scripts/bench fleet-meters). */
/* A fast Modbus TCP slave fleet for load comparisons: listens on PORTS consecutive ports from
 * BASE, answers any unit id, function 3 and 4 for any address. Register value is a pure
 * function of (port, unit, address), so a reading can be checked; it never changes, so no
 * validation rule of a gateway flags it.
 * Counts requests answered and prints the count to stdout on SIGTERM/SIGINT.
 * Build: cc -O2 -o modbus_fleet_sim modbus_fleet_sim.c
 * Run:   modbus_fleet_sim BASE PORTS [DELAY_US]   (DELAY_US: answer delay per request, 0) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFD 65536
static unsigned char *buf[MAXFD];
static size_t fill[MAXFD];
static int port_of[MAXFD];
static int listener[MAXFD];
static volatile sig_atomic_t stop;
static unsigned long long answered;

static void on_sig(int s) { (void)s; stop = 1; }

static uint16_t reg_value(int port, int unit, int addr) {
  return (uint16_t)((port * 31 + unit * 7 + addr * 13) % 20000 + 100);
}

static void serve(int fd) {
  unsigned char *b = buf[fd];
  size_t off = 0;
  while (fill[fd] - off >= 8) {
    size_t len = ((size_t)b[off + 4] << 8) | b[off + 5];
    if (len < 2 || len > 254) { fill[fd] = 0; close(fd); return; }
    if (fill[fd] - off < 6 + len) break;
    unsigned char *q = b + off;
    unsigned char out[260];
    int unit = q[6], fc = q[7];
    size_t n;
    memcpy(out, q, 4);
    out[6] = (unsigned char)unit;
    if ((fc == 3 || fc == 4) && len == 6) {
      int start = (q[8] << 8) | q[9], count = (q[10] << 8) | q[11];
      if (count < 1 || count > 125) {
        out[7] = (unsigned char)(fc | 0x80); out[8] = 3; n = 9;
      } else {
        out[7] = (unsigned char)fc; out[8] = (unsigned char)(count * 2);
        for (int i = 0; i < count; i++) {
          uint16_t v = reg_value(port_of[fd], unit, start + i);
          out[9 + 2 * i] = v >> 8; out[10 + 2 * i] = v & 0xff;
        }
        n = 9 + 2 * (size_t)count;
      }
    } else {
      out[7] = (unsigned char)(fc | 0x80); out[8] = 1; n = 9;
    }
    out[4] = (unsigned char)((n - 6) >> 8); out[5] = (unsigned char)((n - 6) & 0xff);
    if (write(fd, out, n) != (ssize_t)n) { fill[fd] = 0; close(fd); return; }
    answered++;
    off += 6 + len;
  }
  memmove(b, b + off, fill[fd] - off);
  fill[fd] -= off;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: %s BASE PORTS [DELAY_US]\n", argv[0]); return 2; }
  int base = atoi(argv[1]), ports = atoi(argv[2]);
  int delay_us = argc > 3 ? atoi(argv[3]) : 0;
  signal(SIGTERM, on_sig); signal(SIGINT, on_sig); signal(SIGPIPE, SIG_IGN);
  int ep = epoll_create1(0);
  for (int i = 0; i < ports; i++) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET; a.sin_port = htons((uint16_t)(base + i));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 64)) { perror("bind"); return 1; }
    listener[s] = 1; port_of[s] = base + i;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = s};
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
  }
  fprintf(stderr, "modbus_fleet_sim: %d ports from %d\n", ports, base);
  struct epoll_event evs[256];
  while (!stop) {
    int k = epoll_wait(ep, evs, 256, 200);
    for (int i = 0; i < k; i++) {
      int fd = evs[i].data.fd;
      if (listener[fd]) {
        int c = accept(fd, NULL, NULL);
        if (c < 0 || c >= MAXFD) { if (c >= 0) close(c); continue; }
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!buf[c]) buf[c] = malloc(4096);
        fill[c] = 0; port_of[c] = port_of[fd];
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        continue;
      }
      ssize_t r = read(fd, buf[fd] + fill[fd], 4096 - fill[fd]);
      if (r <= 0) { epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL); close(fd); fill[fd] = 0; continue; }
      fill[fd] += (size_t)r;
      if (delay_us) usleep((useconds_t)delay_us);
      serve(fd);
    }
  }
  printf("%llu\n", answered);
  return 0;
}
