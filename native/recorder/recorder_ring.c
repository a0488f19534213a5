/*
 * recorder_ring.c (ebpf-recorder): the ring buffer consumer: the `events` ring drained into an
 * in-memory queue, and the queue written to --events-fd.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "ebpf_recorder.h"

/* ---- the ring buffer consumer ----
 * The ring is drained into memory as fast as records arrive, and written to --events-fd as fast as
 * the reader takes them: a reader slower than the workload for a while (a tight loop of opens
 * makes records faster than any parser) costs memory here, not records. Only past QUEUE_MAX
 * queued bytes is the ring left to fill (and overflow, counted as events_lost). */
#define QUEUE_MAX ((size_t)1 << 30)
#define CHUNK (1 << 20)
struct chunk { struct chunk *next; size_t len, off; uint8_t data[CHUNK]; };
struct chunk *q_head;
static struct chunk *q_tail;
size_t q_bytes;
int events_fd = -1;
static uint8_t *rb_data;
volatile uint64_t *rb_cons, *rb_prod;
static uint64_t rb_mask;
void ring_open(size_t size) {
  long page = sysconf(_SC_PAGESIZE);
  void *cons = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, map_events, 0);
  if (cons == MAP_FAILED) fail(errno, "mmap(ring buffer consumer page)");
  /* The data pages are mapped twice in a row, so a record that wraps around reads as one piece. */
  void *prod = mmap(NULL, (size_t)page + 2 * size, PROT_READ, MAP_SHARED, map_events, page);
  if (prod == MAP_FAILED) fail(errno, "mmap(ring buffer data pages)");
  rb_cons = cons;
  rb_prod = prod;
  rb_data = (uint8_t *)prod + page;
  rb_mask = size - 1;
}
static void enqueue(const void *p, size_t n) {
  if (!q_tail || q_tail->len + n > CHUNK) {
    struct chunk *c = malloc(sizeof *c);
    need(c != NULL, "out of memory for the record queue");
    c->next = NULL;
    c->len = c->off = 0;
    if (q_tail) q_tail->next = c;
    else q_head = c;
    q_tail = c;
  }
  memcpy(q_tail->data + q_tail->len, p, n);
  q_tail->len += n;
  q_bytes += n;
}
/* Moves every committed record from the ring to the queue (up to QUEUE_MAX). */
void ring_drain(void) {
  uint64_t cons = __atomic_load_n(rb_cons, __ATOMIC_ACQUIRE);
  for (;;) {
    uint64_t prod = __atomic_load_n(rb_prod, __ATOMIC_ACQUIRE);
    if (cons >= prod) return;
    while (cons < prod) {
      uint32_t *hdr = (uint32_t *)(rb_data + (cons & rb_mask));
      uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
      if (len & BPF_RINGBUF_BUSY_BIT) return; /* still being written */
      uint32_t size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
      if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
        if (q_bytes + size > QUEUE_MAX) return;
        enqueue(hdr + 2, size);
      }
      cons += ((uint64_t)size + BPF_RINGBUF_HDR_SZ + 7) & ~7ull;
      __atomic_store_n(rb_cons, cons, __ATOMIC_RELEASE);
    }
  }
}
/* Writes queued records to --events-fd until it would block (or, with `all`, until none is left). */
void queue_flush(int all) {
  while (q_head) {
    struct chunk *c = q_head;
    if (c->off == c->len) {
      if (c == q_tail && !all) { c->len = c->off = 0; return; }
      q_head = c->next;
      if (!q_head) q_tail = NULL;
      free(c);
      continue;
    }
    ssize_t n = write(events_fd, c->data + c->off, c->len - c->off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN && !all) return;
      if (errno == EAGAIN) { struct pollfd w = { .fd = events_fd, .events = POLLOUT }; (void)poll(&w, 1, -1); continue; }
      fail(errno, "write(--events-fd)");
    }
    c->off += (size_t)n;
    q_bytes -= (size_t)n;
  }
}
