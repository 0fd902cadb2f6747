// SPDX-License-Identifier: MIT
/*
 * client - every ioctl of /dev/dmakN, used the way pydmak uses them, from a
 * 32-bit process (built for i386 or armhf by the Makefile beside it; it
 * builds for 64-bit just the same).
 *
 *   client-i386 /dev/dmakN
 *
 * INFO and its version, REGS, buffers of both kinds mapped and looped back
 * (MM2S into S2MM: the simulator's loopback) with WAIT and with poll() and
 * read() of completion records, SYNC on the cached kind, every channel
 * operation, a cyclic capture (SG; EOPNOTSUPP in direct mode), EXPORT to a
 * dma-buf and IMPORT of it, then bad arguments. Every byte moved is checked.
 * Prints "info ...", "regs ...", "ok ..." and "errno NAME NUMBER SYMBOL"
 * lines and "PASS" at the end; on any mismatch "client: FAIL: ..." on
 * stderr and exit status 1.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/types.h>

#include "dmak.h"

/* mmap offsets are handle * page size: past 4 GiB after 2^20 handles. */
static_assert(sizeof(off_t) == 8, "build with -D_FILE_OFFSET_BITS=64");

#define TIMEOUT_MS	10000
#define NO_HANDLE	0x7ffffff0U

struct buf {
	struct dmak_alloc a;
	__u8 *p;
	size_t map_len;
};

static const char *path;
static int dev;
static struct dmak_info info;
static size_t page;

static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "client: FAIL: %s: ", path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

#define CHECK(cond, ...) do { if (!(cond)) fail(__VA_ARGS__); } while (0)

/* Bit n: ioctl number n was called at all (tried), and succeeded (ok). */
static unsigned int tried, ok;

static int dioctl(int fd, unsigned long req, void *arg)
{
	int ret = ioctl(fd, req, arg);

	if (_IOC_TYPE(req) == DMAK_IOC_MAGIC && _IOC_NR(req) < 32) {
		tried |= 1U << _IOC_NR(req);
		if (!ret)
			ok |= 1U << _IOC_NR(req);
	}
	return ret;
}

static void xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	if (dioctl(fd, req, arg))
		fail("%s: %s", what, strerror(errno));
}

static int is_sg(void)
{
	return !!(info.flags & DMAK_INFO_SG);
}

static void get_info(struct dmak_info *out)
{
	memset(out, 0xff, sizeof(*out));
	xioctl(dev, DMAK_IOC_INFO, out, "INFO");
	CHECK(!out->reserved0 && !out->reserved[0] && !out->reserved[1],
	      "INFO: reserved fields not zero");
}

static void check_info(void)
{
	unsigned int both = DMAK_INFO_MM2S | DMAK_INFO_S2MM;

	get_info(&info);
	CHECK(info.abi_version == DMAK_ABI_VERSION,
	      "INFO: the module speaks ABI %u, this client %u",
	      info.abi_version, DMAK_ABI_VERSION);
	CHECK((info.flags & both) == both, "INFO: flags %#x lack a channel",
	      info.flags);
	CHECK(info.data_width >= 8 && info.length_width >= 8 &&
	      info.addr_width >= 32 && info.addr_width <= 64,
	      "INFO: widths %u %u %u", info.data_width, info.length_width,
	      info.addr_width);
	if (is_sg()) {
		CHECK(info.ring_size && info.desc_max && info.delay_unit_ns,
		      "INFO: an SG IP without ring, desc_max or delay unit");
		CHECK(info.max_transfer == info.desc_max * info.ring_size,
		      "INFO: max_transfer %llu is not desc_max * ring_size",
		      (unsigned long long)info.max_transfer);
	} else {
		CHECK(!info.ring_size && !info.desc_max && !info.delay_unit_ns,
		      "INFO: SG fields set on a direct-mode IP");
		CHECK(info.max_transfer == (1ULL << info.length_width) - 1,
		      "INFO: max_transfer %llu, length_width %u",
		      (unsigned long long)info.max_transfer,
		      info.length_width);
	}
	CHECK(info.buf_used == 0, "INFO: a new file holds %llu bytes",
	      (unsigned long long)info.buf_used);
	printf("info abi_version=%u flags=%u length_width=%u addr_width=%u",
	       info.abi_version, info.flags, info.length_width,
	       info.addr_width);
	printf(" data_width=%u ring_size=%u max_transfer=%llu buf_quota=%llu",
	       info.data_width, info.ring_size,
	       (unsigned long long)info.max_transfer,
	       (unsigned long long)info.buf_quota);
	printf(" desc_max=%llu delay_unit_ns=%u\n",
	       (unsigned long long)info.desc_max, info.delay_unit_ns);
}

static void chan_op(struct dmak_chan_op *op, unsigned int ch, unsigned int what,
		    const char *name)
{
	memset(op, 0, sizeof(*op));
	op->channel = ch;
	op->op = what;
	xioctl(dev, DMAK_IOC_CHAN_OP, op, name);
	CHECK(!op->flags && !op->reserved[0] && !op->reserved[1] &&
	      !op->reserved[2], "%s: flags or reserved not zero", name);
}

static void check_regs(void)
{
	struct dmak_chan_op mm2s, s2mm;
	struct dmak_regs r;
	unsigned int n;

	memset(&r, 0xff, sizeof(r));
	xioctl(dev, DMAK_IOC_REGS, &r, "REGS");
	CHECK(!r.reserved[0] && !r.reserved[1], "REGS: reserved not zero");
	/* MM2S_DMACR and DMASR at 0x00, 0x04; S2MM's at 0x30, 0x34 */
	CHECK((r.present & 0x3003) == 0x3003, "REGS: present %#x",
	      r.present);
	for (n = 0; n < DMAK_REGS_WORDS; n++)
		CHECK((r.present & (1U << n)) || !r.regs[n],
		      "REGS: absent word %u reads %#x", n, r.regs[n]);
	chan_op(&mm2s, DMAK_MM2S, DMAK_OP_STATUS, "CHAN_OP STATUS");
	chan_op(&s2mm, DMAK_S2MM, DMAK_OP_STATUS, "CHAN_OP STATUS");
	CHECK(r.regs[0] == mm2s.dmacr && r.regs[12] == s2mm.dmacr,
	      "REGS: DMACR %#x %#x, CHAN_OP says %#x %#x", r.regs[0],
	      r.regs[12], mm2s.dmacr, s2mm.dmacr);
	printf("regs present=%u\n", r.present);
}

static void alloc_buf(struct buf *b, __u64 size, __u32 flags)
{
	struct dmak_info now;
	void *p;

	memset(b, 0, sizeof(*b));
	b->a.size = size;
	b->a.flags = flags;
	b->a.handle = 0xffffffff;
	xioctl(dev, DMAK_IOC_ALLOC, &b->a, "ALLOC");
	CHECK(b->a.handle && b->a.handle != 0xffffffff &&
	      b->a.mmap_offset == (__u64)b->a.handle * page,
	      "ALLOC: handle %u, mmap_offset %#llx", b->a.handle,
	      (unsigned long long)b->a.mmap_offset);
	CHECK(b->a.dma_addr % (info.data_width / 8) == 0,
	      "ALLOC: dma_addr %#llx", (unsigned long long)b->a.dma_addr);
	get_info(&now);
	CHECK(now.buf_used >= size, "INFO: buf_used %llu after ALLOC of %llu",
	      (unsigned long long)now.buf_used, (unsigned long long)size);
	b->map_len = (size + page - 1) / page * page;
	p = mmap(NULL, b->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, dev,
		 (off_t)b->a.mmap_offset);
	CHECK(p != MAP_FAILED, "mmap of handle %u: %s", b->a.handle,
	      strerror(errno));
	b->p = p;
}

static void free_handle(__u32 handle)
{
	struct dmak_free f = { .handle = handle };

	xioctl(dev, DMAK_IOC_FREE, &f, "FREE");
}

static void free_buf(struct buf *b)
{
	CHECK(!munmap(b->p, b->map_len), "munmap: %s", strerror(errno));
	free_handle(b->a.handle);
}

static void fill(__u8 *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (__u8)(i * 31 + (i >> 8) + seed * 101 + 7);
}

static void check_bytes(const __u8 *got, const __u8 *want, size_t n,
			const char *what)
{
	size_t i;

	for (i = 0; i < n; i++)
		CHECK(got[i] == want[i], "%s: byte %zu is %#x, sent %#x", what,
		      i, got[i], want[i]);
}

static void sync_buf(struct buf *b, __u32 direction)
{
	struct dmak_sync s = {
		.handle = b->a.handle,
		.direction = direction,
		.offset = 0,
		.size = b->a.size,
	};

	xioctl(dev, DMAK_IOC_SYNC, &s, "SYNC");
}

static void submit(struct dmak_xfer *x, __u32 count)
{
	struct dmak_submit s = {
		.xfers = (unsigned long)x,
		.count = count,
	};
	__u32 i;

	for (i = 0; i < count; i++)
		x[i].seq = 0;
	xioctl(dev, DMAK_IOC_SUBMIT, &s, "SUBMIT");
	for (i = 0; i < count; i++)
		CHECK(x[i].seq, "SUBMIT: entry %u got no seq", i);
}

/* Queues dst <- src, n bytes: x[0] is the S2MM, x[1] the MM2S entry. */
static void submit_pair(struct dmak_xfer *x, struct buf *dst, struct buf *src,
			__u64 n, __u64 cookie, __u32 flags)
{
	memset(x, 0, 2 * sizeof(*x));
	x[0] = (struct dmak_xfer){ .channel = DMAK_S2MM,
				   .handle = dst->a.handle, .length = n,
				   .cookie = cookie, .flags = flags };
	x[1] = (struct dmak_xfer){ .channel = DMAK_MM2S,
				   .handle = src->a.handle, .length = n,
				   .cookie = cookie + 1, .flags = flags };
	submit(x, 2);
}

static int wait_for(__u32 ch, __u64 seq, __u32 timeout_ms,
		    struct dmak_wait *w)
{
	memset(w, 0xff, sizeof(*w));	/* the outputs must be written */
	w->channel = ch;
	w->seq = seq;
	w->timeout_ms = timeout_ms;
	w->flags = 0;
	memset(w->reserved, 0, sizeof(w->reserved));
	return dioctl(dev, DMAK_IOC_WAIT, w);
}

static void wait_ok(__u32 ch, __u64 seq, __u64 n)
{
	struct dmak_wait w;

	if (wait_for(ch, seq, TIMEOUT_MS, &w))
		fail("WAIT channel %u seq %llu: %s", ch,
		     (unsigned long long)seq, strerror(errno));
	CHECK(w.status == DMAK_ST_OK && w.bytes == n,
	      "WAIT channel %u seq %llu: status %u, %llu bytes of %llu", ch,
	      (unsigned long long)seq, w.status,
	      (unsigned long long)w.bytes, (unsigned long long)n);
}

/* The next record of @fd must be the one of @seq on @ch, as given. */
static void await_record(int fd, __u32 ch, __u64 seq, __u64 cookie,
			 __u64 bytes, __u32 flags)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct dmak_completion rec;
	ssize_t got;
	int r;

	r = poll(&pfd, 1, TIMEOUT_MS);
	CHECK(r == 1 && (pfd.revents & POLLIN),
	      "poll: no record of seq %llu on channel %u (%d, %#x)",
	      (unsigned long long)seq, ch, r, pfd.revents);
	got = read(fd, &rec, sizeof(rec));
	CHECK(got == sizeof(rec), "read: %zd: %s", got, strerror(errno));
	CHECK(rec.channel == ch && rec.seq == seq && rec.cookie == cookie &&
	      rec.bytes == bytes && rec.status == DMAK_ST_OK &&
	      rec.flags == flags,
	      "record: channel %u seq %llu cookie %llu bytes %llu status %u flags %#x; want %u %llu %llu %llu 0 %#x",
	      rec.channel, (unsigned long long)rec.seq,
	      (unsigned long long)rec.cookie, (unsigned long long)rec.bytes,
	      rec.status, rec.flags, ch, (unsigned long long)seq,
	      (unsigned long long)cookie, (unsigned long long)bytes, flags);
}

static int channel_fd(__u32 ch)
{
	struct dmak_channel_fd c = { .channel = ch };

	xioctl(dev, DMAK_IOC_CHANNEL_FD, &c, "CHANNEL_FD");
	CHECK(c.fd >= 0 && (fcntl(c.fd, F_GETFD) & FD_CLOEXEC),
	      "CHANNEL_FD: fd %d, not close-on-exec", c.fd);
	return c.fd;
}

static __u64 loop_size(__u64 want)
{
	__u64 beat = info.data_width / 8;

	if (want > info.max_transfer)
		want = info.max_transfer / beat * beat;
	return want;
}

/* A loopback of @n bytes ended by WAIT; on cached buffers, explicit SYNC. */
static void loopback_wait(struct buf *dst, struct buf *src, __u64 n,
			  unsigned int seed)
{
	int cached = src->a.flags & DMAK_BUF_CACHED;
	struct dmak_xfer x[2];

	fill(src->p, n, seed);
	memset(dst->p, 0, n);
	if (cached) {
		sync_buf(src, DMAK_SYNC_TO_DEVICE);
		sync_buf(dst, DMAK_SYNC_BIDIRECTIONAL);
	}
	submit_pair(x, dst, src, n, 1000 + seed,
		    cached ? DMAK_XFER_NO_SYNC : 0);
	wait_ok(DMAK_MM2S, x[1].seq, n);
	wait_ok(DMAK_S2MM, x[0].seq, n);
	if (cached)
		sync_buf(dst, DMAK_SYNC_FROM_DEVICE);
	check_bytes(dst->p, src->p, n, "loopback (WAIT)");
}

/* A loopback whose ends come as records: S2MM's from a channel file,
 * MM2S's from the device; WAIT still reports both afterwards.
 */
static void loopback_records(struct buf *dst, struct buf *src, __u64 n,
			     unsigned int seed)
{
	struct dmak_xfer x[2];
	int s2mm = channel_fd(DMAK_S2MM);

	fill(src->p, n, seed);
	memset(dst->p, 0, n);
	submit_pair(x, dst, src, n, 2000 + seed, 0);
	await_record(s2mm, DMAK_S2MM, x[0].seq, 2000 + seed, n, 0);
	await_record(dev, DMAK_MM2S, x[1].seq, 2001 + seed, n, 0);
	wait_ok(DMAK_MM2S, x[1].seq, n);
	wait_ok(DMAK_S2MM, x[0].seq, n);
	check_bytes(dst->p, src->p, n, "loopback (records)");
	close(s2mm);
}

static void loopbacks(__u32 flags, const char *kind)
{
	__u64 n = loop_size(65536);
	struct buf src, dst;

	alloc_buf(&src, n, flags);
	alloc_buf(&dst, n, flags);
	loopback_wait(&dst, &src, n, flags + 1);
	loopback_records(&dst, &src, n, flags + 3);
	free_buf(&src);
	free_buf(&dst);
	printf("ok loopback %s %llu\n", kind, (unsigned long long)n);
}

static void small_loopback(unsigned int seed)
{
	__u64 n = loop_size(4096);
	struct buf src, dst;

	alloc_buf(&src, n, DMAK_BUF_COHERENT);
	alloc_buf(&dst, n, DMAK_BUF_COHERENT);
	loopback_wait(&dst, &src, n, seed);
	free_buf(&src);
	free_buf(&dst);
}

static void chan_ops(void)
{
	struct dmak_chan_op op, was;
	__u64 n = loop_size(4096);
	struct buf src, dst;
	struct dmak_xfer x[2];
	struct dmak_wait w;
	int ch;

	for (ch = DMAK_MM2S; ch <= DMAK_S2MM; ch++) {
		chan_op(&op, ch, DMAK_OP_STATUS, "CHAN_OP STATUS");
		CHECK(!op.queued && !op.error && op.irqs,
		      "STATUS of channel %d: queued %u error %u irqs %llu", ch,
		      op.queued, op.error, (unsigned long long)op.irqs);
	}
	/* STOP holds queued transfers back until START. */
	alloc_buf(&src, n, DMAK_BUF_COHERENT);
	alloc_buf(&dst, n, DMAK_BUF_COHERENT);
	fill(src.p, n, 9);
	chan_op(&op, DMAK_MM2S, DMAK_OP_STOP, "CHAN_OP STOP");
	CHECK(!(op.dmacr & 1), "STOP: DMACR %#x still runs", op.dmacr);
	submit_pair(x, &dst, &src, n, 3000, 0);
	CHECK(wait_for(DMAK_MM2S, x[1].seq, 300, &w) && errno == ETIMEDOUT,
	      "WAIT on a stopped channel: %s", strerror(errno));
	chan_op(&op, DMAK_MM2S, DMAK_OP_STATUS, "CHAN_OP STATUS");
	CHECK(op.queued == 1, "STATUS: %u queued while stopped", op.queued);
	chan_op(&op, DMAK_MM2S, DMAK_OP_START, "CHAN_OP START");
	wait_ok(DMAK_MM2S, x[1].seq, n);
	wait_ok(DMAK_S2MM, x[0].seq, n);
	check_bytes(dst.p, src.p, n, "loopback after START");
	/* CANCEL of a transfer that ended */
	memset(&op, 0, sizeof(op));
	op.channel = DMAK_MM2S;
	op.op = DMAK_OP_CANCEL;
	op.seq = x[1].seq;
	CHECK(dioctl(dev, DMAK_IOC_CHAN_OP, &op) && errno == EALREADY,
	      "CANCEL of an ended transfer: %s", strerror(errno));
	free_buf(&src);
	free_buf(&dst);
	/* COALESCE: SG only */
	chan_op(&was, DMAK_S2MM, DMAK_OP_STATUS, "CHAN_OP STATUS");
	memset(&op, 0, sizeof(op));
	op.channel = DMAK_S2MM;
	op.op = DMAK_OP_COALESCE;
	op.irq_threshold = 4;
	op.irq_delay = 10;
	if (is_sg()) {
		xioctl(dev, DMAK_IOC_CHAN_OP, &op, "CHAN_OP COALESCE");
		CHECK(op.irq_threshold == 4 && op.irq_delay == 10,
		      "COALESCE: %u, %u", op.irq_threshold, op.irq_delay);
		op.irq_threshold = was.irq_threshold;
		op.irq_delay = was.irq_delay;
		xioctl(dev, DMAK_IOC_CHAN_OP, &op, "CHAN_OP COALESCE");
		chan_op(&op, DMAK_S2MM, DMAK_OP_STATUS, "CHAN_OP STATUS");
		CHECK(op.irq_threshold == was.irq_threshold &&
		      op.irq_delay == was.irq_delay,
		      "COALESCE did not restore %u, %u", was.irq_threshold,
		      was.irq_delay);
	} else {
		CHECK(dioctl(dev, DMAK_IOC_CHAN_OP, &op) && errno == EOPNOTSUPP,
		      "COALESCE in direct mode: %s", strerror(errno));
	}
	/* RESET: both channels work again afterwards */
	chan_op(&op, DMAK_MM2S, DMAK_OP_RESET, "CHAN_OP RESET");
	CHECK(!op.queued && !op.error, "RESET: queued %u error %u",
	      op.queued, op.error);
	small_loopback(11);
	printf("ok chan_op status stop start cancel coalesce reset\n");
}

static void cyclic_op(struct dmak_cyclic *c, __u32 op, const char *name)
{
	c->channel = DMAK_S2MM;
	c->op = op;
	xioctl(dev, DMAK_IOC_CYCLIC, c, name);
}

static void cyclic_capture(void)
{
	const __u64 slot = 4096;
	struct dmak_cyclic c;
	struct buf ring, src;
	struct dmak_xfer x[2];
	int s2mm, i;

	alloc_buf(&ring, 4 * slot, DMAK_BUF_COHERENT);
	memset(&c, 0, sizeof(c));
	c.handle = ring.a.handle;
	c.slots = 4;
	c.slot_size = slot;
	if (!is_sg()) {
		c.channel = DMAK_S2MM;
		c.op = DMAK_CYCLIC_START;
		CHECK(dioctl(dev, DMAK_IOC_CYCLIC, &c) && errno == EOPNOTSUPP,
		      "CYCLIC START in direct mode: %s", strerror(errno));
		free_buf(&ring);
		printf("ok cyclic refused in direct mode\n");
		return;
	}
	CHECK(slot <= info.desc_max, "desc_max %llu",
	      (unsigned long long)info.desc_max);
	alloc_buf(&src, 2 * slot, DMAK_BUF_COHERENT);
	fill(src.p, 2 * slot, 13);
	memset(ring.p, 0, 4 * slot);
	s2mm = channel_fd(DMAK_S2MM);
	cyclic_op(&c, DMAK_CYCLIC_START, "CYCLIC START");
	memset(x, 0, sizeof(x));
	for (i = 0; i < 2; i++)
		x[i] = (struct dmak_xfer){ .channel = DMAK_MM2S,
					   .handle = src.a.handle,
					   .offset = i * slot,
					   .length = slot, .cookie = 40 + i };
	submit(x, 2);
	wait_ok(DMAK_MM2S, x[1].seq, slot);
	for (i = 0; i < 2; i++)
		await_record(s2mm, DMAK_S2MM, i + 1, i, slot,
			     DMAK_COMPL_CYCLIC | DMAK_COMPL_SOF |
			     DMAK_COMPL_EOF);
	check_bytes(ring.p, src.p, 2 * slot, "cyclic slots 0 and 1");
	memset(&c, 0, sizeof(c));
	c.seq = 2;
	cyclic_op(&c, DMAK_CYCLIC_RELEASE, "CYCLIC RELEASE");
	memset(&c, 0, sizeof(c));
	cyclic_op(&c, DMAK_CYCLIC_STATUS, "CYCLIC STATUS");
	CHECK(c.filled == 2 && c.released == 2 && !c.overruns &&
	      !c.reserved[0] && !c.reserved[1],
	      "CYCLIC STATUS: filled %llu released %llu overruns %llu",
	      (unsigned long long)c.filled, (unsigned long long)c.released,
	      (unsigned long long)c.overruns);
	memset(&c, 0, sizeof(c));
	cyclic_op(&c, DMAK_CYCLIC_STOP, "CYCLIC STOP");
	close(s2mm);
	free_buf(&ring);
	free_buf(&src);
	small_loopback(15);		/* S2MM takes SUBMIT again */
	printf("ok cyclic start release status stop\n");
}

static void dmabuf_share(void)
{
	__u64 n = loop_size(16384);
	struct dmak_export e;
	struct dmak_import im;
	struct buf a, dst, imp;
	struct dmak_xfer x[2];
	__u8 *p;

	alloc_buf(&a, n, DMAK_BUF_COHERENT);
	alloc_buf(&dst, n, DMAK_BUF_COHERENT);
	fill(a.p, n, 17);
	memset(&e, 0, sizeof(e));
	e.handle = a.a.handle;
	e.fd = -1;
	xioctl(dev, DMAK_IOC_EXPORT, &e, "EXPORT");
	CHECK(e.fd >= 0 && (fcntl(e.fd, F_GETFD) & FD_CLOEXEC) &&
	      (fcntl(e.fd, F_GETFL) & O_ACCMODE) == O_RDWR,
	      "EXPORT: fd %d is not O_RDWR and close-on-exec", e.fd);
	/* The dma-buf maps the same memory. */
	p = mmap(NULL, a.map_len, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, 0);
	CHECK(p != MAP_FAILED, "mmap of the dma-buf: %s", strerror(errno));
	check_bytes(p, a.p, n, "the dma-buf's mapping");
	p[1] ^= 0xff;
	CHECK(a.p[1] == p[1], "a write through the dma-buf is not seen");
	p[1] ^= 0xff;
	/* IMPORT: a new handle of this file on the same memory */
	memset(&im, 0, sizeof(im));
	im.fd = e.fd;
	xioctl(dev, DMAK_IOC_IMPORT, &im, "IMPORT");
	CHECK(im.handle && im.handle != a.a.handle && im.size >= n &&
	      im.mmap_offset == (__u64)im.handle * page,
	      "IMPORT: handle %u size %llu mmap_offset %#llx", im.handle,
	      (unsigned long long)im.size,
	      (unsigned long long)im.mmap_offset);
	imp.a.handle = im.handle;
	imp.map_len = a.map_len;
	imp.p = mmap(NULL, imp.map_len, PROT_READ, MAP_SHARED, dev,
		     (off_t)im.mmap_offset);
	CHECK(imp.p != MAP_FAILED, "mmap of the import: %s", strerror(errno));
	check_bytes(imp.p, a.p, n, "the import's mapping");
	/* ... and sends from it */
	memset(dst.p, 0, n);
	submit_pair(x, &dst, &imp, n, 5000, 0);
	wait_ok(DMAK_MM2S, x[1].seq, n);
	wait_ok(DMAK_S2MM, x[0].seq, n);
	check_bytes(dst.p, a.p, n, "loopback from the import");
	free_buf(&imp);
	CHECK(!munmap(p, a.map_len) && !close(e.fd), "dma-buf: %s",
	      strerror(errno));
	free_buf(&a);
	free_buf(&dst);
	printf("ok dmabuf export mmap import %llu\n", (unsigned long long)n);
}

static const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "?";
}

/* One bad call: its errno must be @want; printed for the 64-bit check. */
static void bad(const char *name, int ret, int want)
{
	int err = errno;

	CHECK(ret < 0, "%s succeeded, want %s", name, errno_name(want));
	CHECK(err == want, "%s: %s, want %s", name, errno_name(err),
	      errno_name(want));
	printf("errno %s %d %s\n", name, err, errno_name(err));
}

#define BAD_IOCTL(name, req, want, ...) do {				\
	typeof(__VA_ARGS__) arg_ = __VA_ARGS__;				\
	bad(name, dioctl(dev, req, &arg_), want);			\
} while (0)

/* @err on an SG IP; a direct-mode IP refuses SG operations first. */
static int sg_or(int err)
{
	return is_sg() ? err : EOPNOTSUPP;
}

/*
 * The bad arguments, in the order tests/vm/test_compat32.py makes the same
 * calls from 64-bit Python: the same errno must come back.
 */
static void bad_arguments(void)
{
	struct dmak_xfer x = { .channel = DMAK_MM2S, .length = 64 };
	struct dmak_completion rec;
	__u64 word = 0;
	struct buf b;
	void *p;
	int ch;

	alloc_buf(&b, page, DMAK_BUF_COHERENT);
	x.handle = b.a.handle;
	BAD_IOCTL("alloc-size-0", DMAK_IOC_ALLOC, EINVAL,
		  (struct dmak_alloc){ .size = 0 });
	BAD_IOCTL("alloc-unknown-flags", DMAK_IOC_ALLOC, EINVAL,
		  (struct dmak_alloc){ .size = 4096, .flags = 0x80 });
	BAD_IOCTL("free-unknown-handle", DMAK_IOC_FREE, ENOENT,
		  (struct dmak_free){ .handle = NO_HANDLE });
	BAD_IOCTL("free-reserved", DMAK_IOC_FREE, EINVAL,
		  (struct dmak_free){ .handle = b.a.handle, .reserved = 1 });
	BAD_IOCTL("sync-unknown-handle", DMAK_IOC_SYNC, ENOENT,
		  (struct dmak_sync){ .handle = NO_HANDLE, .direction = 1,
				      .size = 1 });
	BAD_IOCTL("sync-unknown-direction", DMAK_IOC_SYNC, EINVAL,
		  (struct dmak_sync){ .handle = b.a.handle, .direction = 9,
				      .size = 1 });
	/* 2^32 + 1 bytes: a 32-bit truncation would make it 1 */
	BAD_IOCTL("sync-past-the-end", DMAK_IOC_SYNC, EINVAL,
		  (struct dmak_sync){ .handle = b.a.handle, .direction = 1,
				      .size = (1ULL << 32) + 1 });
	BAD_IOCTL("submit-count-0", DMAK_IOC_SUBMIT, EINVAL,
		  (struct dmak_submit){ .xfers = (unsigned long)&x, .count = 0 });
	/* the array's address with the high 32 bits set: not user memory */
	BAD_IOCTL("submit-high-address", DMAK_IOC_SUBMIT, EFAULT,
		  (struct dmak_submit){
			.xfers = 0xffffffff00000000ULL | (unsigned long)&x,
			.count = 1 });
	x.handle = NO_HANDLE;
	BAD_IOCTL("submit-unknown-handle", DMAK_IOC_SUBMIT, ENOENT,
		  (struct dmak_submit){ .xfers = (unsigned long)&x, .count = 1 });
	x.handle = b.a.handle;
	x.length = info.max_transfer + 1;
	BAD_IOCTL("submit-too-long", DMAK_IOC_SUBMIT, EMSGSIZE,
		  (struct dmak_submit){ .xfers = (unsigned long)&x, .count = 1 });
	BAD_IOCTL("wait-unknown-channel", DMAK_IOC_WAIT, EINVAL,
		  (struct dmak_wait){ .channel = 2, .seq = 1 });
	BAD_IOCTL("wait-seq-never-given", DMAK_IOC_WAIT, EINVAL,
		  (struct dmak_wait){ .channel = DMAK_S2MM,
				      .seq = 1ULL << 40 });
	BAD_IOCTL("wait-flags", DMAK_IOC_WAIT, EINVAL,
		  (struct dmak_wait){ .channel = DMAK_S2MM, .seq = 1,
				      .flags = DMAK_WAIT_PEEK << 1 });
	BAD_IOCTL("chan-op-flags", DMAK_IOC_CHAN_OP, EINVAL,
		  (struct dmak_chan_op){ .channel = DMAK_MM2S, .flags = 1 });
	BAD_IOCTL("chan-op-unknown-op", DMAK_IOC_CHAN_OP, EINVAL,
		  (struct dmak_chan_op){ .channel = DMAK_MM2S, .op = 99 });
	BAD_IOCTL("chan-op-reserved", DMAK_IOC_CHAN_OP, EINVAL,
		  (struct dmak_chan_op){ .channel = DMAK_MM2S,
					 .reserved = { 0, 1 } });
	BAD_IOCTL("cancel-seq-0", DMAK_IOC_CHAN_OP, EINVAL,
		  (struct dmak_chan_op){ .channel = DMAK_S2MM,
					 .op = DMAK_OP_CANCEL });
	BAD_IOCTL("cancel-unknown-seq", DMAK_IOC_CHAN_OP, ENOENT,
		  (struct dmak_chan_op){ .channel = DMAK_S2MM,
					 .op = DMAK_OP_CANCEL,
					 .seq = 1ULL << 40 });
	BAD_IOCTL("coalesce-threshold-0", DMAK_IOC_CHAN_OP, sg_or(EINVAL),
		  (struct dmak_chan_op){ .channel = DMAK_S2MM,
					 .op = DMAK_OP_COALESCE });
	BAD_IOCTL("channel-fd-unknown-channel", DMAK_IOC_CHANNEL_FD, EINVAL,
		  (struct dmak_channel_fd){ .channel = 5 });
	BAD_IOCTL("channel-fd-not-zero", DMAK_IOC_CHANNEL_FD, EINVAL,
		  (struct dmak_channel_fd){ .channel = DMAK_S2MM, .fd = -1 });
	BAD_IOCTL("channel-fd-flags", DMAK_IOC_CHANNEL_FD, EINVAL,
		  (struct dmak_channel_fd){ .channel = DMAK_S2MM, .flags = 1 });
	BAD_IOCTL("cyclic-status-no-capture", DMAK_IOC_CYCLIC, sg_or(ENOENT),
		  (struct dmak_cyclic){ .channel = DMAK_S2MM,
					.op = DMAK_CYCLIC_STATUS });
	BAD_IOCTL("cyclic-mm2s", DMAK_IOC_CYCLIC, EINVAL,
		  (struct dmak_cyclic){ .channel = DMAK_MM2S,
					.op = DMAK_CYCLIC_STATUS });
	BAD_IOCTL("export-unknown-handle", DMAK_IOC_EXPORT, ENOENT,
		  (struct dmak_export){ .handle = NO_HANDLE });
	BAD_IOCTL("export-flags", DMAK_IOC_EXPORT, EINVAL,
		  (struct dmak_export){ .handle = b.a.handle, .flags = 1 });
	BAD_IOCTL("import-not-an-fd", DMAK_IOC_IMPORT, EBADF,
		  (struct dmak_import){ .fd = -1 });
	BAD_IOCTL("import-not-a-dmabuf", DMAK_IOC_IMPORT, EINVAL,
		  (struct dmak_import){ .fd = dev });
	BAD_IOCTL("unknown-number", _IOWR(DMAK_IOC_MAGIC, 0x0C,
					  struct dmak_free), ENOTTY,
		  (struct dmak_free){ 0 });
	BAD_IOCTL("info-wrong-size", _IOR(DMAK_IOC_MAGIC, 0x00, __u64),
		  ENOTTY, word);
	BAD_IOCTL("regs-wrong-size", _IOR(DMAK_IOC_MAGIC, 0x09,
					  struct dmak_free), ENOTTY,
		  (struct dmak_free){ 0 });
	bad("read-short", read(dev, &rec, sizeof(rec) - 1), EINVAL);
	ch = channel_fd(DMAK_MM2S);
	CHECK(!fcntl(ch, F_SETFL, O_NONBLOCK), "O_NONBLOCK: %s",
	      strerror(errno));
	bad("read-nothing-pending", read(ch, &rec, sizeof(rec)), EAGAIN);
	close(ch);
	/* an offset past 4 GiB that names no buffer */
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, dev,
		 (off_t)NO_HANDLE * page);
	bad("mmap-unknown-offset", p == MAP_FAILED ? -1 : 0, EINVAL);
	p = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, dev,
		 (off_t)b.a.mmap_offset);
	bad("mmap-past-the-end", p == MAP_FAILED ? -1 : 0, EINVAL);
	free_buf(&b);
	printf("ok bad arguments\n");
}

int main(int argc, char **argv)
{
	struct dmak_info end;

	if (argc != 2) {
		fprintf(stderr, "usage: %s /dev/dmakN\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	path = argv[1];
	page = sysconf(_SC_PAGESIZE);
	dev = open(path, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		fail("open: %s", strerror(errno));
	printf("client %zu-bit\n", 8 * sizeof(void *));
	check_info();
	loopbacks(DMAK_BUF_COHERENT, "coherent");
	loopbacks(DMAK_BUF_CACHED, "cached");
	check_regs();
	chan_ops();
	cyclic_capture();
	dmabuf_share();
	bad_arguments();
	get_info(&end);
	CHECK(end.buf_used == 0, "INFO: %llu bytes still held",
	      (unsigned long long)end.buf_used);
	close(dev);
	printf("ioctls tried=%#x ok=%#x\n", tried, ok);
	printf("PASS\n");
	return 0;
}
