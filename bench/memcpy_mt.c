// SPDX-License-Identifier: MIT
/*
 * memcpy_mt - multi-threaded memcpy bandwidth, the C baseline of
 * bench/hostdma_bench.py.
 *
 *   memcpy_mt BYTES THREADS REPEATS
 *
 * Copies BYTES from one buffer to another REPEATS times, each copy split
 * in THREADS equal slices run at once by THREADS threads (the calling
 * thread is one of them). Prints the best-of-REPEATS bandwidth in GB/s
 * (1e9 bytes per second) and the best time in microseconds:
 *
 *   gbps=19.84 usec=13529.1
 *
 * This is meant as the strongest plain baseline: the threads persist
 * across copies and meet at spinning barriers (that yield the CPU after
 * 50 us, in case the machine is busy), so no copy pays for thread creation
 * or a futex wake-up; both buffers are 2 MiB aligned, advised as
 * huge pages and touched before the first timed copy.
 *
 * Built with -shared -fPIC, the same code is a library whose
 * memcpy_mt_best() times copies between buffers of the caller's:
 * hostdma_bench.py uses it to time C on the very buffers it gives HostDMA,
 * as copy bandwidth depends on where the pages lie in physical memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define ALIGN (2UL << 20)

struct pool {
	char *dst;
	const char *src;
	size_t bytes;
	unsigned int threads;
	atomic_uint round;	/* bumped by thread 0 to start a copy */
	atomic_uint done;	/* slices finished in the current round */
	atomic_bool quit;
};

struct worker {
	struct pool *pool;
	unsigned int index;
	pthread_t thread;
};

#define SPIN_SECONDS 50e-6

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/*
 * Waiting: spin for SPIN_SECONDS, then yield. If the machine is busy and
 * two of our threads share a CPU, a pure spin would keep the thread we wait
 * for off that CPU until the end of a timeslice (milliseconds).
 */
struct backoff {
	unsigned int spins;
	bool yielding;
	double since;
};

static inline void relax(struct backoff *b)
{
	if (b->yielding) {
		sched_yield();
		return;
	}
	if ((b->spins++ & 63) == 0) {
		double t = now();

		if (b->spins == 1)
			b->since = t;
		else if (t - b->since > SPIN_SECONDS)
			b->yielding = true;
	}
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void copy_slice(struct pool *p, unsigned int index)
{
	size_t slice = p->bytes / p->threads;
	size_t start = slice * index;
	size_t len = index + 1 == p->threads ? p->bytes - start : slice;

	memcpy(p->dst + start, p->src + start, len);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	unsigned int seen = 0;

	for (;;) {
		struct backoff wait = { 0 };
		unsigned int round;

		while ((round = atomic_load_explicit(&p->round,
				memory_order_acquire)) == seen) {
			if (atomic_load_explicit(&p->quit, memory_order_relaxed))
				return NULL;
			relax(&wait);
		}
		seen = round;
		copy_slice(p, w->index);
		atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
	}
}

/* One copy by all threads; returns its duration in seconds. */
static double timed_copy(struct pool *p)
{
	struct backoff wait = { 0 };
	double t0, t1;

	t0 = now();
	atomic_store_explicit(&p->done, 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->round, 1, memory_order_release);
	copy_slice(p, 0);
	while (atomic_load_explicit(&p->done, memory_order_acquire) + 1 <
	       p->threads)
		relax(&wait);
	t1 = now();
	return t1 - t0;
}

static void *alloc_buffer(size_t bytes)
{
	size_t size = (bytes + ALIGN - 1) / ALIGN * ALIGN;
	void *mem;

	if (size == 0)
		size = ALIGN;
	errno = posix_memalign(&mem, ALIGN, size);
	if (errno) {
		perror("posix_memalign");
		exit(1);
	}
	madvise(mem, size, MADV_HUGEPAGE);	/* as numpy does; best effort */
	memset(mem, 0x5a, size);
	return mem;
}

static unsigned long parse(const char *arg, const char *what,
			   unsigned long min)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 0);
	if (errno || *end || end == arg || arg[0] == '-' || v < min) {
		fprintf(stderr, "memcpy_mt: bad %s '%s' (need an integer >= %lu)\n",
			what, arg, min);
		exit(2);
	}
	return v;
}

/*
 * Copies BYTES from SRC to DST REPEATS times (after one untimed copy) with
 * THREADS threads; returns the best time of one copy in seconds, or a
 * negative value if a thread cannot be started.
 */
double memcpy_mt_best(void *dst, const void *src, size_t bytes,
		      unsigned int threads, unsigned long repeats)
{
	struct pool p = { 0 };
	struct worker *workers;
	double best = 1e30;
	unsigned int i;

	p.dst = dst;
	p.src = src;
	p.bytes = bytes;
	p.threads = threads ? threads : 1;
	workers = calloc(p.threads, sizeof(*workers));
	if (!workers)
		return -1.0;
	for (i = 1; i < p.threads; i++) {
		workers[i].pool = &p;
		workers[i].index = i;
		if (pthread_create(&workers[i].thread, NULL, worker_main,
				   &workers[i])) {
			p.threads = i;	/* the started ones stop below */
			best = -1.0;
			break;
		}
	}

	if (best > 0) {
		timed_copy(&p);	/* warm up: caches, TLB, every thread awake */
		for (unsigned long r = 0; r < repeats; r++) {
			double t = timed_copy(&p);

			if (t < best)
				best = t;
		}
	}

	atomic_store(&p.quit, true);
	for (i = 1; i < p.threads; i++)
		pthread_join(workers[i].thread, NULL);
	free(workers);
	return best;
}

int main(int argc, char **argv)
{
	unsigned long bytes, threads, repeats;
	void *dst, *src;
	double best;

	if (argc != 4) {
		fprintf(stderr, "usage: %s BYTES THREADS REPEATS\n", argv[0]);
		return 2;
	}
	bytes = parse(argv[1], "BYTES", 1);
	threads = parse(argv[2], "THREADS", 1);
	repeats = parse(argv[3], "REPEATS", 1);
	if (threads > 1024) {
		fprintf(stderr, "memcpy_mt: at most 1024 threads\n");
		return 2;
	}

	dst = alloc_buffer(bytes);
	src = alloc_buffer(bytes);
	best = memcpy_mt_best(dst, src, bytes, (unsigned int)threads, repeats);
	if (best < 0) {
		fprintf(stderr, "memcpy_mt: cannot start %lu threads\n",
			threads);
		return 1;
	}
	printf("gbps=%.2f usec=%.1f\n", (double)bytes / best * 1e-9,
	       best * 1e6);
	free(dst);
	free(src);
	return 0;
}
