/* SPDX-License-Identifier: MIT */
/*
 * mapreg-io: an io_uring I/O engine whose registered buffers are a mapreg pool.
 *
 * It uses only the public API (include/mapreg.h).  An anonymous arena (huge
 * pages where available) is registered with io_uring as fixed buffers of at
 * most 1 GiB; a mapreg pool has one register per page of the arena and
 * boundary = pages per buffer (C30), so that no run crosses a buffer.  One
 * reactor thread per --threads, each with its own ring and its own poll-mode
 * adapter, whose eventfd the ring watches (multishot poll): the reactor
 * sleeps in io_uring_submit_and_wait and wakes for completions and grants
 * alike.
 *
 * An I/O of len bytes asks asynchronously (mapreg_allocate_channel_ex, no
 * SYNCHRONOUS flag) for mapreg_transfer_registers(0, len, page) registers.
 * Its routine runs on the reactor's thread either way (C16): nested in the
 * submission when the grant is possible at once, or in mapreg_poll when the
 * request had to wait.  It only prepares the SQE (read_fixed/write_fixed at
 * arena + first * page, buffer first / pages_per_buffer) and answers
 * MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS; it never calls the library on its
 * own adapter (C9, C18).  The completion frees the run
 * (mapreg_free_map_registers), which grants the next waiter in FIFO order
 * (C12): backpressure when the arena is smaller than depth x size.
 *
 * Exit codes: see usage() and engine/README section in the top README.
 */
#include <mapreg.h>

#include "../bench/histogram.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/fs.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Exit codes (documented in usage() and README.md). */
enum {
	EXIT_OK = 0,
	EXIT_RUN = 1,		/* the run failed: verify mismatch, I/O error, pool unbalanced, stall */
	EXIT_USAGE = 2,		/* bad option */
	EXIT_FILE = 3,		/* missing, unreadable or too small file; --create on an existing path */
	EXIT_FIT = 4,		/* an I/O size that does not fit the arena */
	EXIT_WRITE = 5,		/* writes to a file the engine did not create, without --allow-write */
	EXIT_RESOURCE = 6,	/* no memory for the arena, pool or rings */
};

#define PAGE 4096u
#define MAX_BUFFER (1ull << 30)			/* one registered buffer: at most 1 GiB */
#define SAMPLE_EVERY 16u			/* time mapreg calls on every 16th I/O */
#define EVENTFD_TAG 1ull			/* user_data of the eventfd poll (slots are pointers) */
#define WATCHDOG_MS 100				/* idle wait bound when nothing is in flight */
#define STALL_SECONDS 10.0			/* no progress this long while waiting: a stall */
#define SPAN_CAP_NS 50000.0			/* a timed span this long was preempted: dropped */

enum backend_kind { BK_LOCKED, BK_LOCKFREE, BK_MALLOC };
enum io_kind { IO_FIXED, IO_PLAIN, IO_PREAD };

struct options {
	const char *file;
	bool write, random;
	uint32_t bs_min, bs_max;
	uint32_t iodepth, threads;
	double runtime;
	uint64_t arena;
	uint64_t buffer;		/* registered buffer size, a power of two; default 1 GiB */
	enum backend_kind backend;
	bool no_uring, no_register, verify, json, allow_write;
	uint64_t create;
	uint64_t seed;
};

enum slot_state { S_IDLE, S_ASKING, S_WAITING, S_GRANTED, S_READY };

struct reactor;

struct slot {
	mapreg_transfer xfer;		/* names the request; never moved (C9) */
	struct reactor *r;
	uint64_t off;
	uint32_t len, nregs;
	mapreg_base base;
	uint8_t *buf;
	uint64_t t_ask;			/* rdtsc when the I/O asked for registers */
	enum slot_state state;
	bool sampled;
	struct slot *next;		/* ready list (pread fallback) */
};

struct engine;

struct reactor {
	int id;
	struct engine *e;
	pthread_t thread;
	struct io_uring ring;
	bool ring_ok, fixed_file;
	enum io_kind io;
	mapreg_adapter *adapter;
	int efd;
	struct slot *slots;
	uint8_t *scratch;
	uint64_t rng, seq, cursor;
	bool running;
	bool timing;			/* a timed mapreg call is in progress */
	uint64_t routine_cycles;	/* our routine's own cycles inside timed calls */
	uint64_t timed_routines;	/* routines run inside timed calls */
	uint32_t inflight, waiting;
	struct slot *ready_head, *ready_tail;
	/* counters */
	uint64_t ios, bytes, waits, cancels, grants, frees;
	uint64_t verify_errors, verify_bytes, io_errors, mapreg_errors, owner_errors;
	uint64_t alloc_cycles, alloc_samples, free_cycles, free_samples, poll_cycles, polls;
	uint64_t watchdog_wakeups, missed_wakeups, stalls, dropped_spans;
	uint64_t t_end;			/* CLOCK_MONOTONIC ns when the loop ended */
	char error[256];
	struct hist hist;
};

struct engine {
	struct options o;
	int fd;
	uint64_t file_size;
	bool created;
	enum io_kind io;		/* what the run asked for; a reactor may fall back further */
	uint8_t *arena;
	uint64_t arena_size, pages, pages_per_buffer, buffers;
	const char *arena_kind;
	mapreg_pool *pool;
	_Atomic uint32_t *owner;	/* --verify: which slot holds each page, 0 none */
	pthread_barrier_t ready, start, stop;
	uint64_t t_start;
	double ns_per_cycle;
	double rdtsc_ns;		/* one timer read, back to back */
	uint64_t empty_span;		/* cycles an empty timed span measures */
	uint64_t span_cap;		/* SPAN_CAP_NS in cycles */
	atomic_bool abort_run;
	atomic_bool said_unregistered;
	struct reactor *reactors;
	unsigned ring_flags;		/* what the rings were set up with */
};

static const char *prog = "mapreg-io";

/*
 * Test-only faults, from MAPREG_IO_FAULT, so that the tests can show each
 * check bites: setup-eperm (io_uring_setup "fails" with EPERM),
 * register-enomem (buffer registration "fails" with ENOMEM), corrupt (one
 * byte read is flipped before it is verified), leak (one run is not freed).
 */
enum fault { F_NONE, F_SETUP_EPERM, F_REGISTER_ENOMEM, F_CORRUPT, F_LEAK };
static enum fault fault;
#define FAULT_AT 100	/* the I/O of reactor 0 that corrupt and leak hit */

/* One line on stderr, "mapreg-io: ...". */
static void vnote(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

__attribute__((format(printf, 1, 2)))
static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
}

__attribute__((noreturn, format(printf, 2, 3)))
static void die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
	exit(code);
}

static inline uint64_t cycles(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __builtin_ia32_rdtsc();
#else
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

/* The timer of mapreg calls: serialized, so that a span measures what ran inside it. */
static inline uint64_t tcycles(void)
{
#if defined(__x86_64__) || defined(__i386__)
	uint64_t c;

	__asm__ __volatile__("lfence" ::: "memory");
	c = __builtin_ia32_rdtsc();
	__asm__ __volatile__("lfence" ::: "memory");
	return c;
#else
	return cycles();
#endif
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline uint64_t next_rand(uint64_t *s)
{
	/* xorshift64* */
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* The bytes a pattern gives the file at [off, off + len): depends on the offset only. */
static void fill_pattern(uint8_t *buf, uint64_t off, size_t len, uint64_t seed)
{
	size_t i = 0;

	while (i < len) {
		uint64_t word_off = (off + i) & ~7ull;
		uint64_t w = splitmix(word_off ^ seed);
		size_t skip = (size_t)((off + i) - word_off);
		size_t n = 8 - skip;

		if (n > len - i)
			n = len - i;
		memcpy(buf + i, (uint8_t *)&w + skip, n);
		i += n;
	}
}

#define CREATE_SEED 0x6d61707265672d31ull	/* what --create writes */
#define WRITE_SEED 0x6d61707265672d32ull	/* what --rw write/randwrite writes */

/* ---------------------------------------------------------------- options */

static void usage(FILE *f)
{
	fprintf(f,
"usage: %s --file PATH [options]\n"
"  --file PATH           file or block device\n"
"  --create SIZE         create PATH (must not exist) filled with a pattern; writes are then allowed\n"
"  --rw MODE             read | write | randread | randwrite (default randread)\n"
"  --bs SIZE             I/O size, 4K..1M, a multiple of 512 (default 4K)\n"
"  --bs-range MIN-MAX    mixed sizes, uniform in MIN..MAX (multiples of 512)\n"
"  --iodepth N           I/Os in flight per thread (default 32)\n"
"  --threads N           reactor threads, one ring and one adapter each (default 1)\n"
"  --runtime SECONDS     default 1 (0: only --create)\n"
"  --arena SIZE          registered arena (default threads x iodepth x max bs)\n"
"  --buffer SIZE         registered buffer size, a power of two 4K..1G (default 1G)\n"
"  --backend NAME        lockfree | locked | malloc (a malloc'ed buffer per I/O, unregistered)\n"
"  --no-uring            pread/pwrite instead of io_uring\n"
"  --no-register         io_uring without registered buffers\n"
"  --allow-write         allow writes to a file this run did not create\n"
"  --verify              check every byte read against pread; writes: read back\n"
"  --seed N              random offsets and sizes\n"
"  --json                one JSON object on stdout instead of the text summary\n"
"exit codes: 0 ok; 1 run failed (verify, I/O error, pool unbalanced, stall); 2 usage;\n"
"  3 file missing, unreadable or too small; 4 I/O size does not fit the arena;\n"
"  5 write refused; 6 out of memory or resources\n", prog);
}

static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mult = 1;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return false;
	switch (*end) {
	case 'k': case 'K': mult = 1ull << 10; end++; break;
	case 'm': case 'M': mult = 1ull << 20; end++; break;
	case 'g': case 'G': mult = 1ull << 30; end++; break;
	case 't': case 'T': mult = 1ull << 40; end++; break;
	default: break;
	}
	if (*end == 'i' && mult > 1)
		end++;
	if ((*end == 'B' || *end == 'b') && end[1] == '\0')
		end++;
	if (*end != '\0' || v * (double)mult > 1e18)
		return false;
	*out = (uint64_t)(v * (double)mult);
	return true;
}

static uint32_t parse_u32(const char *opt, const char *s, uint32_t lo, uint32_t hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		die(EXIT_USAGE, "%s: '%s' is not a number in %u..%u", opt, s, lo, hi);
	return (uint32_t)v;
}

static uint32_t parse_bs(const char *opt, const char *s)
{
	uint64_t v;

	if (!parse_size(s, &v))
		die(EXIT_USAGE, "%s: '%s' is not a size", opt, s);
	if (v < 4096 || v > (1u << 20) || v % 512)
		die(EXIT_USAGE, "%s: %s must be 4K..1M and a multiple of 512", opt, s);
	return (uint32_t)v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { O_FILE = 256, O_CREATE, O_RW, O_BS, O_BSR, O_DEPTH, O_THREADS, O_RUNTIME,
	       O_ARENA, O_BUFFER, O_BACKEND, O_NOURING, O_NOREG, O_ALLOW, O_VERIFY, O_SEED, O_JSON, O_HELP };
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, O_FILE },
		{ "create", required_argument, NULL, O_CREATE },
		{ "rw", required_argument, NULL, O_RW },
		{ "bs", required_argument, NULL, O_BS },
		{ "bs-range", required_argument, NULL, O_BSR },
		{ "iodepth", required_argument, NULL, O_DEPTH },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "runtime", required_argument, NULL, O_RUNTIME },
		{ "arena", required_argument, NULL, O_ARENA },
		{ "buffer", required_argument, NULL, O_BUFFER },
		{ "backend", required_argument, NULL, O_BACKEND },
		{ "no-uring", no_argument, NULL, O_NOURING },
		{ "no-register", no_argument, NULL, O_NOREG },
		{ "allow-write", no_argument, NULL, O_ALLOW },
		{ "verify", no_argument, NULL, O_VERIFY },
		{ "seed", required_argument, NULL, O_SEED },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ 0, 0, 0, 0 },
	};
	int c;

	*o = (struct options){ .bs_min = 4096, .bs_max = 4096, .iodepth = 32, .threads = 1,
			       .runtime = 1.0, .random = true, .backend = BK_LOCKFREE,
			       .buffer = MAX_BUFFER,
			       .seed = 1 };
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_FILE: o->file = optarg; break;
		case O_CREATE:
			if (!parse_size(optarg, &o->create) || o->create < 4096)
				die(EXIT_USAGE, "--create: '%s' is not a size of at least 4K", optarg);
			o->create &= ~(uint64_t)4095;
			break;
		case O_RW:
			if (!strcmp(optarg, "read")) { o->write = false; o->random = false; }
			else if (!strcmp(optarg, "write")) { o->write = true; o->random = false; }
			else if (!strcmp(optarg, "randread")) { o->write = false; o->random = true; }
			else if (!strcmp(optarg, "randwrite")) { o->write = true; o->random = true; }
			else die(EXIT_USAGE, "--rw: '%s' is not read, write, randread or randwrite", optarg);
			break;
		case O_BS: o->bs_min = o->bs_max = parse_bs("--bs", optarg); break;
		case O_BSR: {
			char buf[64], *dash = NULL;

			if (strlen(optarg) >= sizeof(buf) || !(dash = strchr(strcpy(buf, optarg), '-')))
				die(EXIT_USAGE, "--bs-range: '%s' is not MIN-MAX", optarg);
			*dash = '\0';
			o->bs_min = parse_bs("--bs-range", buf);
			o->bs_max = parse_bs("--bs-range", dash + 1);
			if (o->bs_min > o->bs_max)
				die(EXIT_USAGE, "--bs-range: MIN is above MAX in '%s'", optarg);
			break;
		}
		case O_DEPTH: o->iodepth = parse_u32("--iodepth", optarg, 1, 4096); break;
		case O_THREADS: o->threads = parse_u32("--threads", optarg, 1, 256); break;
		case O_RUNTIME: {
			char *end;

			errno = 0;
			o->runtime = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->runtime >= 0) || o->runtime > 86400)
				die(EXIT_USAGE, "--runtime: '%s' is not a number of seconds", optarg);
			break;
		}
		case O_ARENA:
			if (!parse_size(optarg, &o->arena) || o->arena == 0)
				die(EXIT_USAGE, "--arena: '%s' is not a size", optarg);
			break;
		case O_BUFFER:
			if (!parse_size(optarg, &o->buffer) || o->buffer < PAGE || o->buffer > MAX_BUFFER ||
			    (o->buffer & (o->buffer - 1)))
				die(EXIT_USAGE, "--buffer: '%s' is not a power of two in 4K..1G", optarg);
			break;
		case O_BACKEND:
			if (!strcmp(optarg, "lockfree") || !strcmp(optarg, "default")) o->backend = BK_LOCKFREE;
			else if (!strcmp(optarg, "locked")) o->backend = BK_LOCKED;
			else if (!strcmp(optarg, "malloc")) o->backend = BK_MALLOC;
			else die(EXIT_USAGE, "--backend: '%s' is not lockfree, locked or malloc", optarg);
			break;
		case O_NOURING: o->no_uring = true; break;
		case O_NOREG: o->no_register = true; break;
		case O_ALLOW: o->allow_write = true; break;
		case O_VERIFY: o->verify = true; break;
		case O_SEED: {
			char *end;

			errno = 0;
			o->seed = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end)
				die(EXIT_USAGE, "--seed: '%s' is not a number", optarg);
			break;
		}
		case O_JSON: o->json = true; break;
		case O_HELP: usage(stdout); exit(EXIT_OK);
		default:
			die(EXIT_USAGE, "unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s' (see --help)", argv[optind]);
	if (!o->file)
		die(EXIT_USAGE, "--file PATH is required (see --help)");
}

/* ---------------------------------------------------------------- the file */

static void open_file(struct engine *e)
{
	struct options *o = &e->o;
	struct stat st;

	if (o->create) {
		uint8_t *buf;
		uint64_t off;

		e->fd = open(o->file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (e->fd < 0)
			die(EXIT_FILE, "cannot create %s: %s%s", o->file, strerror(errno),
			    errno == EEXIST ? " (--create makes a new file)" : "");
		buf = malloc(1u << 20);
		if (!buf)
			die(EXIT_RESOURCE, "out of memory");
		for (off = 0; off < o->create; off += 1u << 20) {
			size_t n = o->create - off < (1u << 20) ? (size_t)(o->create - off) : 1u << 20;

			fill_pattern(buf, off, n, CREATE_SEED);
			if (pwrite(e->fd, buf, n, (off_t)off) != (ssize_t)n) {
				int err = errno;

				unlink(o->file);
				die(EXIT_FILE, "cannot write %s: %s", o->file, strerror(err));
			}
		}
		free(buf);
		e->created = true;
	} else {
		if (o->write && !o->allow_write)
			die(EXIT_WRITE, "refusing to write to %s, which this run did not create "
			    "(use --create SIZE for a new file, or --allow-write)", o->file);
		e->fd = open(o->file, (o->write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (e->fd < 0)
			die(EXIT_FILE, "cannot open %s: %s", o->file, strerror(errno));
	}
	if (fstat(e->fd, &st) != 0)
		die(EXIT_FILE, "cannot stat %s: %s", o->file, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(e->fd, BLKGETSIZE64, &e->file_size) != 0)
			die(EXIT_FILE, "cannot get the size of %s: %s", o->file, strerror(errno));
	} else if (S_ISREG(st.st_mode)) {
		e->file_size = (uint64_t)st.st_size;
	} else {
		die(EXIT_FILE, "%s is neither a regular file nor a block device", o->file);
	}
	if (e->file_size < o->bs_max)
		die(EXIT_FILE, "%s is too small: %" PRIu64 " bytes, I/Os up to %u bytes",
		    o->file, e->file_size, o->bs_max);
	/* An unreadable file (a directory opened, EIO, a write-only device) says so now. */
	{
		uint8_t probe[512];

		if (pread(e->fd, probe, sizeof(probe), 0) < 0)
			die(EXIT_FILE, "cannot read %s: %s", o->file, strerror(errno));
	}
}

/* ---------------------------------------------------------------- the arena */

static uint64_t pow2_ceil(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static void make_arena(struct engine *e)
{
	struct options *o = &e->o;
	uint64_t size = o->arena;
	uint64_t huge = 2ull << 20;
	void *p = MAP_FAILED;

	if (!size) {
		size = (uint64_t)o->threads * o->iodepth * o->bs_max;
		size = (size + huge - 1) / huge * huge;
	}
	size = (size + PAGE - 1) / PAGE * PAGE;
	if (size / PAGE > MAPREG_MAX_REGISTERS)
		die(EXIT_FIT, "--arena %" PRIu64 " bytes is above %u pages", size,
		    MAPREG_MAX_REGISTERS);
	if (size < o->bs_max)
		die(EXIT_FIT, "an I/O of %u bytes does not fit the arena of %" PRIu64 " bytes",
		    o->bs_max, size);
	e->arena_kind = "4k pages";
	if (size % huge == 0) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
		if (p != MAP_FAILED)
			e->arena_kind = "hugetlb 2M";
	}
	if (p == MAP_FAILED) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die(EXIT_RESOURCE, "cannot map an arena of %" PRIu64 " bytes: %s", size,
			    strerror(errno));
#ifdef MADV_HUGEPAGE
		if (size >= huge && madvise(p, size, MADV_HUGEPAGE) == 0)
			e->arena_kind = "thp (madvise)";
#endif
		memset(p, 0, size);	/* fault it in before it is registered or timed */
	}
	e->arena = p;
	e->arena_size = size;
	e->pages = size / PAGE;
	e->pages_per_buffer = o->buffer / PAGE;
	if (e->pages < e->pages_per_buffer)
		e->pages_per_buffer = pow2_ceil(e->pages);
	e->buffers = (e->pages + e->pages_per_buffer - 1) / e->pages_per_buffer;
	if (o->verify) {
		e->owner = calloc(e->pages, sizeof(*e->owner));
		if (!e->owner)
			die(EXIT_RESOURCE, "out of memory");
	}
}

/* ---------------------------------------------------------------- one I/O */

static uint64_t cycles_to_ns(const struct engine *e, uint64_t c)
{
	return (uint64_t)((double)c * e->ns_per_cycle);
}

__attribute__((format(printf, 2, 3)))
static void set_error(struct reactor *r, const char *fmt, ...)
{
	va_list ap;

	if (r->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	atomic_store(&r->e->abort_run, true);
}

static void owner_claim(struct reactor *r, struct slot *s)
{
	struct engine *e = r->e;
	uint32_t tag = (uint32_t)(r->id * e->o.iodepth + (uint32_t)(s - r->slots)) + 1;

	for (uint32_t i = 0; i < s->base.count; i++) {
		uint32_t expect = 0;

		if (!atomic_compare_exchange_strong(&e->owner[s->base.first + i], &expect, tag)) {
			r->owner_errors++;
			set_error(r, "register %u granted twice (held by %u)", s->base.first + i, expect);
		}
	}
}

static void owner_release(struct reactor *r, struct slot *s)
{
	struct engine *e = r->e;

	for (uint32_t i = 0; i < s->base.count; i++)
		atomic_store(&e->owner[s->base.first + i], 0);
}

/* Queues the slot's read or write: an SQE, or the ready list for pread. */
static void issue(struct reactor *r, struct slot *s)
{
	struct engine *e = r->e;

	if (e->o.write)
		fill_pattern(s->buf, s->off, s->len, WRITE_SEED);
	if (r->io == IO_PREAD) {
		s->state = S_READY;
		s->next = NULL;
		if (r->ready_tail)
			r->ready_tail->next = s;
		else
			r->ready_head = s;
		r->ready_tail = s;
		return;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	if (!sqe) {		/* cannot happen: the SQ holds iodepth + 8 */
		io_uring_submit(&r->ring);
		sqe = io_uring_get_sqe(&r->ring);
		if (!sqe) {
			set_error(r, "submission queue full");
			return;
		}
	}
	int fd = r->fixed_file ? 0 : e->fd;

	if (r->io == IO_FIXED) {
		int index = (int)(s->base.first / e->pages_per_buffer);

		if (e->o.write)
			io_uring_prep_write_fixed(sqe, fd, s->buf, s->len, s->off, index);
		else
			io_uring_prep_read_fixed(sqe, fd, s->buf, s->len, s->off, index);
	} else if (e->o.write) {
		io_uring_prep_write(sqe, fd, s->buf, s->len, s->off);
	} else {
		io_uring_prep_read(sqe, fd, s->buf, s->len, s->off);
	}
	if (r->fixed_file)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, s);
	s->state = S_GRANTED;
	r->inflight++;
}

/*
 * The control routine.  It runs on the reactor's own thread: nested in
 * start_io's submission, or in mapreg_poll (C16).  It must not allocate on
 * its own adapter (C9) and does not need to: it prepares the SQE and keeps
 * the registers for the completion to free.
 */
static mapreg_action io_routine(void *device, mapreg_transfer *xfer, mapreg_base base, void *ctx)
{
	struct slot *s = ctx;
	struct reactor *r = s->r;
	uint64_t t0 = r->timing ? tcycles() : 0;

	if (s->state == S_WAITING)
		r->waiting--;
	s->base = base;
	s->buf = r->e->arena + (uint64_t)base.first * PAGE;
	r->grants++;
	if (base.count != s->nregs ||
	    base.first / r->e->pages_per_buffer != (base.first + base.count - 1) / r->e->pages_per_buffer)
		set_error(r, "run %u+%u is not the %u registers asked for, or crosses a buffer",
			  base.first, base.count, s->nregs);
	if (r->e->owner)
		owner_claim(r, s);
	issue(r, s);
	if (r->timing) {
		r->routine_cycles += tcycles() - t0;
		r->timed_routines++;
	}
	return MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

static void pick(struct reactor *r, struct slot *s)
{
	const struct options *o = &r->e->o;
	uint64_t size = r->e->file_size;
	uint32_t len = o->bs_min;

	if (o->bs_max > o->bs_min)
		len += (uint32_t)(next_rand(&r->rng) % ((o->bs_max - o->bs_min) / 512 + 1)) * 512;
	if (o->random) {
		if (o->bs_max == o->bs_min)
			s->off = next_rand(&r->rng) % (size / len) * len;
		else
			s->off = next_rand(&r->rng) % ((size - len) / 512 + 1) * 512;
	} else {
		if (r->cursor + len > size)
			r->cursor = 0;
		s->off = r->cursor;
		r->cursor += len;
	}
	s->len = len;
}

/*
 * The cycles a timed call spent in mapreg: its span, less the spans of our
 * routines inside it, less what the timer itself adds (one empty span for the
 * call and one for each routine's pair of reads).
 */
static bool mapreg_part(struct reactor *r, uint64_t span, uint64_t rc0, uint64_t tr0, uint64_t *part)
{
	uint64_t inner = r->routine_cycles - rc0;
	uint64_t timer = r->e->empty_span * (1 + r->timed_routines - tr0);

	if (span > r->e->span_cap + inner) {	/* preempted or interrupted: not mapreg's time */
		r->dropped_spans++;
		return false;
	}
	*part = span > inner + timer ? span - inner - timer : 0;
	return true;
}

static void start_io(struct reactor *r, struct slot *s)
{
	struct engine *e = r->e;

	pick(r, s);
	s->sampled = (r->seq++ % SAMPLE_EVERY) == 0;
	s->t_ask = cycles();
	if (e->o.backend == BK_MALLOC) {
		s->buf = malloc(s->len);
		if (!s->buf) {
			set_error(r, "out of memory for a %u-byte buffer", s->len);
			return;
		}
		issue(r, s);
		return;
	}
	s->nregs = mapreg_transfer_registers(0, s->len, PAGE);
	s->state = S_ASKING;
	uint64_t t0 = 0, rc0 = 0, tr0 = 0;

	if (s->sampled) {
		r->timing = true;
		rc0 = r->routine_cycles;
		tr0 = r->timed_routines;
		t0 = tcycles();
	}
	mapreg_status st = mapreg_allocate_channel_ex(r->adapter, r, &s->xfer, s->nregs, 0,
						      io_routine, s, NULL);
	if (s->sampled) {
		uint64_t part;

		if (mapreg_part(r, tcycles() - t0, rc0, tr0, &part)) {
			r->alloc_cycles += part;
			r->alloc_samples++;
		}
		r->timing = false;
	}
	if (st != MAPREG_OK) {
		r->mapreg_errors++;
		s->state = S_IDLE;
		set_error(r, "mapreg_allocate_channel_ex: %s", mapreg_status_str(st));
		return;
	}
	if (s->state == S_ASKING) {	/* not granted at once: it waits (backpressure) */
		s->state = S_WAITING;
		r->waiting++;
		r->waits++;
	}
}

static void verify(struct reactor *r, struct slot *s)
{
	struct engine *e = r->e;
	ssize_t n = pread(e->fd, r->scratch, s->len, (off_t)s->off);

	r->verify_bytes += s->len;
	if (n != (ssize_t)s->len) {
		r->verify_errors++;
		set_error(r, "verify: pread of %u bytes at %" PRIu64 " returned %zd", s->len, s->off, n);
		return;
	}
	if (e->o.write) {
		/* What was written must be on file, and still in the buffer. */
		fill_pattern(r->scratch + s->len, s->off, s->len, WRITE_SEED);
		if (memcmp(r->scratch, r->scratch + s->len, s->len) ||
		    memcmp(s->buf, r->scratch + s->len, s->len)) {
			r->verify_errors++;
			set_error(r, "verify: %u bytes written at %" PRIu64 " read back different",
				  s->len, s->off);
		}
	} else if (memcmp(r->scratch, s->buf, s->len)) {
		r->verify_errors++;
		set_error(r, "verify: %u bytes read at %" PRIu64 " differ from pread", s->len, s->off);
	}
}

/* The I/O finished with result res: check it, give its buffer back, count it. */
static void complete(struct reactor *r, struct slot *s, int res)
{
	struct engine *e = r->e;

	hist_record(&r->hist, cycles_to_ns(e, cycles() - s->t_ask));
	if (fault == F_CORRUPT && r->id == 0 && r->ios == FAULT_AT && res > 0)
		s->buf[res / 2] ^= 0x5a;
	if (res != (int)s->len) {
		r->io_errors++;
		set_error(r, "%s of %u bytes at %" PRIu64 ": %s", e->o.write ? "write" : "read",
			  s->len, s->off, res < 0 ? strerror(-res) : "short");
	} else if (e->o.verify) {
		verify(r, s);
	}
	r->ios++;
	r->bytes += s->len;
	s->state = S_IDLE;
	if (e->o.backend == BK_MALLOC) {
		free(s->buf);
		s->buf = NULL;
		return;
	}
	if (e->owner)
		owner_release(r, s);
	if (fault == F_LEAK && r->id == 0 && r->ios == FAULT_AT + 1)
		return;
	uint64_t t0 = s->sampled ? tcycles() : 0;
	mapreg_status st = mapreg_free_map_registers(r->adapter, s->base, s->base.count);

	uint64_t part;

	if (s->sampled && mapreg_part(r, tcycles() - t0, r->routine_cycles, r->timed_routines, &part)) {
		r->free_cycles += part;
		r->free_samples++;
	}
	if (st != MAPREG_OK) {
		r->mapreg_errors++;
		set_error(r, "mapreg_free_map_registers: %s", mapreg_status_str(st));
		return;
	}
	r->frees++;
}

/* Runs the routines of grants made while we waited (they prepare SQEs). */
static void run_polls(struct reactor *r)
{
	size_t ran;

	if (!r->adapter)
		return;
	do {
		uint64_t rc0 = r->routine_cycles, tr0 = r->timed_routines;
		uint64_t t0 = tcycles();

		r->timing = true;
		ran = mapreg_poll(r->adapter, 64);
		r->timing = false;
		uint64_t part;

		if (mapreg_part(r, tcycles() - t0, rc0, tr0, &part))
			r->poll_cycles += part;
		r->polls++;
	} while (ran == 64);
}

/* After the deadline: withdraw what still waits; what cannot be withdrawn will run. */
static void stop_asking(struct reactor *r)
{
	r->running = false;
	for (uint32_t i = 0; i < r->e->o.iodepth; i++) {
		struct slot *s = &r->slots[i];

		if (s->state == S_WAITING && mapreg_cancel_channel(r->adapter, r, &s->xfer)) {
			s->state = S_IDLE;
			r->waiting--;
			r->cancels++;
		}
	}
}

static bool past(const struct reactor *r, uint64_t deadline)
{
	return atomic_load_explicit(&r->e->abort_run, memory_order_relaxed) || now_ns() >= deadline;
}

/* ---------------------------------------------------------------- reactors */

static void arm_eventfd(struct reactor *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	if (!sqe) {
		io_uring_submit(&r->ring);
		sqe = io_uring_get_sqe(&r->ring);
	}
	io_uring_prep_poll_multishot(sqe, r->efd, POLLIN);
	io_uring_sqe_set_data64(sqe, EVENTFD_TAG);
}

static void loop_uring(struct reactor *r, uint64_t deadline)
{
	struct engine *e = r->e;
	uint64_t last_progress = now_ns();

	if (r->adapter)
		arm_eventfd(r);
	for (uint32_t i = 0; i < e->o.iodepth && r->running; i++)
		start_io(r, &r->slots[i]);
	for (;;) {
		if (r->running && past(r, deadline))
			stop_asking(r);
		if (!r->running && r->inflight == 0 && r->waiting == 0)
			break;
		int ret;

		if (r->inflight == 0) {
			/* Only grants can wake us: bound the sleep, to catch a lost wake-up. */
			struct __kernel_timespec ts = { .tv_nsec = WATCHDOG_MS * 1000000ll };
			struct io_uring_cqe *cqe;

			ret = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
			if (ret == -ETIME) {
				size_t before = r->grants;

				r->watchdog_wakeups++;
				run_polls(r);
				if (r->grants != before)
					r->missed_wakeups++;	/* pending, yet the eventfd did not wake us */
				if (r->inflight == 0 && r->waiting > 0 &&
				    now_ns() - last_progress > (uint64_t)(STALL_SECONDS * 1e9)) {
					r->stalls++;
					set_error(r, "stall: %u I/Os waiting for registers, none in flight",
						  r->waiting);
					stop_asking(r);
					if (r->waiting)
						break;
				}
				continue;
			}
		} else {
			ret = io_uring_submit_and_wait(&r->ring, 1);
		}
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY && ret != -ETIME) {
			set_error(r, "io_uring_submit_and_wait: %s", strerror(-ret));
			break;
		}
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		bool wake = false;

		io_uring_for_each_cqe(&r->ring, head, cqe) {
			n++;
			if (cqe->user_data == EVENTFD_TAG) {
				wake = true;
				if (!(cqe->flags & IORING_CQE_F_MORE))
					arm_eventfd(r);		/* the multishot poll ended: re-arm */
				continue;
			}
			struct slot *s = io_uring_cqe_get_data(cqe);

			r->inflight--;
			complete(r, s, cqe->res);
			if (r->running)
				start_io(r, s);
		}
		io_uring_cq_advance(&r->ring, n);
		if (n)
			last_progress = now_ns();
		/* Our own frees may have granted our waiters: run them now, not a wake-up later. */
		if (wake || r->waiting)
			run_polls(r);
	}
	r->t_end = now_ns();
}

static void loop_pread(struct reactor *r, uint64_t deadline)
{
	struct engine *e = r->e;
	uint64_t last_progress = now_ns();

	for (uint32_t i = 0; i < e->o.iodepth && r->running; i++)
		start_io(r, &r->slots[i]);
	for (;;) {
		if (r->running && past(r, deadline))
			stop_asking(r);
		if (!r->running && r->waiting == 0 && !r->ready_head)
			break;
		while (r->ready_head) {
			struct slot *s = r->ready_head;
			ssize_t n;

			r->ready_head = s->next;
			if (!r->ready_head)
				r->ready_tail = NULL;
			if (e->o.write)
				n = pwrite(e->fd, s->buf, s->len, (off_t)s->off);
			else
				n = pread(e->fd, s->buf, s->len, (off_t)s->off);
			complete(r, s, n < 0 ? -errno : (int)n);
			last_progress = now_ns();
			if (r->running && !past(r, deadline))
				start_io(r, s);
		}
		if (r->waiting) {
			size_t before = r->grants;

			run_polls(r);
			if (r->grants == before && !r->ready_head) {
				struct pollfd pfd = { .fd = r->efd, .events = POLLIN };

				if (poll(&pfd, 1, WATCHDOG_MS) == 0) {
					r->watchdog_wakeups++;
					run_polls(r);
					if (r->grants != before)
						r->missed_wakeups++;
					else if (now_ns() - last_progress > (uint64_t)(STALL_SECONDS * 1e9)) {
						r->stalls++;
						set_error(r, "stall: %u I/Os waiting for registers", r->waiting);
						stop_asking(r);
						if (r->waiting)
							break;
					}
				}
			}
		}
	}
	r->t_end = now_ns();
}

static int setup_ring(struct reactor *r)
{
	struct engine *e = r->e;
	unsigned entries = (unsigned)pow2_ceil(e->o.iodepth + 8);
	const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int ret = -EINVAL;

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct io_uring_params p = { .flags = tries[i] | IORING_SETUP_CQSIZE,
					     .cq_entries = entries * 2 };

		ret = io_uring_queue_init_params(entries, &r->ring, &p);
		if (ret == 0) {
			if (r->id == 0)
				e->ring_flags = tries[i];
			break;
		}
		if (ret != -EINVAL)
			break;
	}
	if (ret < 0)
		return ret;
	r->ring_ok = true;
	if (io_uring_register_files(&r->ring, &e->fd, 1) == 0)
		r->fixed_file = true;
	if (r->io == IO_FIXED) {
		struct iovec *iov = calloc(e->buffers, sizeof(*iov));

		if (!iov)
			return -ENOMEM;
		for (uint64_t b = 0; b < e->buffers; b++) {
			uint64_t first = b * e->pages_per_buffer;
			uint64_t n = e->pages - first < e->pages_per_buffer ? e->pages - first
									: e->pages_per_buffer;

			iov[b].iov_base = e->arena + first * PAGE;
			iov[b].iov_len = n * PAGE;
		}
		ret = fault == F_REGISTER_ENOMEM ? -ENOMEM
			: io_uring_register_buffers(&r->ring, iov, (unsigned)e->buffers);
		free(iov);
		if (ret < 0) {
			r->io = IO_PLAIN;
			if (!atomic_exchange(&e->said_unregistered, true))
				note("io_uring_register_buffers: %s%s: falling back to unregistered "
				     "buffers (plain read/write)", strerror(-ret),
				     ret == -ENOMEM ? " (RLIMIT_MEMLOCK?)" : "");
		}
	}
	return 0;
}

static void *reactor_main(void *arg)
{
	struct reactor *r = arg;
	struct engine *e = r->e;

	r->running = true;
	if (r->io != IO_PREAD) {
		int ret = setup_ring(r);

		if (ret < 0)
			set_error(r, "io_uring setup: %s", strerror(-ret));
	}
	pthread_barrier_wait(&e->ready);
	pthread_barrier_wait(&e->start);
	uint64_t deadline = e->t_start + (uint64_t)(e->o.runtime * 1e9);

	if (!atomic_load(&e->abort_run)) {
		if (r->io == IO_PREAD)
			loop_pread(r, deadline);
		else
			loop_uring(r, deadline);
	} else {
		r->t_end = now_ns();
	}
	pthread_barrier_wait(&e->stop);
	if (r->ring_ok)
		io_uring_queue_exit(&r->ring);
	return NULL;
}

/* ---------------------------------------------------------------- main */

static void calibrate(struct engine *e)
{
	uint64_t t0 = now_ns(), c0 = cycles();
	struct timespec ts = { .tv_nsec = 20 * 1000000 };

	nanosleep(&ts, NULL);
	uint64_t t1 = now_ns(), c1 = cycles();

	e->ns_per_cycle = c1 > c0 ? (double)(t1 - t0) / (double)(c1 - c0) : 1.0;
	/* What one timer read costs: the price of timing a call is two of these. */
	uint64_t a = cycles();

	for (int i = 0; i < 1000; i++)
		(void)tcycles();
	e->rdtsc_ns = (double)(cycles() - a) * e->ns_per_cycle / 1000.0;
	/* An empty timed span: the median of 255 (its lower half, to skip interrupts). */
	uint64_t spans[255];

	for (int i = 0; i < 255; i++) {
		uint64_t b = tcycles();

		spans[i] = tcycles() - b;
	}
	for (int i = 1; i < 255; i++)		/* insertion sort: 255 values */
		for (int j = i; j > 0 && spans[j - 1] > spans[j]; j--) {
			uint64_t x = spans[j];

			spans[j] = spans[j - 1];
			spans[j - 1] = x;
		}
	e->empty_span = spans[127];
	e->span_cap = (uint64_t)(SPAN_CAP_NS / e->ns_per_cycle);
}

static enum io_kind probe_uring(struct engine *e)
{
	struct io_uring ring;
	int ret;

	if (e->o.no_uring)
		return IO_PREAD;
	ret = fault == F_SETUP_EPERM ? -EPERM : io_uring_queue_init(4, &ring, 0);
	if (ret < 0) {
		note("io_uring unavailable (io_uring_setup: %s): falling back to %s", strerror(-ret),
		     e->o.write ? "pwrite" : "pread");
		return IO_PREAD;
	}
	io_uring_queue_exit(&ring);
	if (e->o.backend == BK_MALLOC || e->o.no_register)
		return IO_PLAIN;
	return IO_FIXED;
}

static const char *io_name(enum io_kind k)
{
	switch (k) {
	case IO_FIXED: return "io_uring, registered buffers";
	case IO_PLAIN: return "io_uring, unregistered buffers";
	default: return "pread/pwrite";
	}
}

static const char *backend_name(enum backend_kind b)
{
	return b == BK_LOCKED ? "locked" : b == BK_LOCKFREE ? "lockfree" : "malloc";
}

static void human_size(char *buf, size_t n, uint64_t v)
{
	if (v >= (1ull << 30) && v % (1ull << 30) == 0)
		snprintf(buf, n, "%" PRIu64 " GiB", v >> 30);
	else if (v >= (1ull << 20) && v % (1ull << 20) == 0)
		snprintf(buf, n, "%" PRIu64 " MiB", v >> 20);
	else if (v >= 1024 && v % 1024 == 0)
		snprintf(buf, n, "%" PRIu64 " KiB", v >> 10);
	else
		snprintf(buf, n, "%" PRIu64 " B", v);
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	struct engine *e = calloc(1, sizeof(*e));
	struct options *o;

	if (!e)
		die(EXIT_RESOURCE, "out of memory");
	o = &e->o;
	{
		const char *f = getenv("MAPREG_IO_FAULT");

		if (f && *f) {
			if (!strcmp(f, "setup-eperm")) fault = F_SETUP_EPERM;
			else if (!strcmp(f, "register-enomem")) fault = F_REGISTER_ENOMEM;
			else if (!strcmp(f, "corrupt")) fault = F_CORRUPT;
			else if (!strcmp(f, "leak")) fault = F_LEAK;
			else die(EXIT_USAGE, "MAPREG_IO_FAULT: '%s' is not setup-eperm, register-enomem, corrupt or leak", f);
		}
	}
	parse_options(argc, argv, o);
	open_file(e);
	if (o->runtime == 0) {
		if (!o->json)
			printf("%s: %s ready, %" PRIu64 " bytes%s\n", prog, o->file, e->file_size,
			       e->created ? " (created)" : "");
		return EXIT_OK;
	}
	calibrate(e);
	e->io = probe_uring(e);

	/* The pool: one register per page of the arena, no run across a buffer (C30). */
	uint32_t limit = 0;
	mapreg_adapter_config acfg = { .dispatch = MAPREG_DISPATCH_POLL };

	if (o->backend != BK_MALLOC) {
		make_arena(e);
		mapreg_pool_config pcfg = {
			.registers = (uint32_t)e->pages,
			.page_size = PAGE,
			.backend = o->backend == BK_LOCKED ? MAPREG_BACKEND_LOCKED : MAPREG_BACKEND_LOCKFREE,
			.boundary = (uint32_t)e->pages_per_buffer,
		};
		mapreg_status st = mapreg_pool_create(&pcfg, &e->pool);

		if (st != MAPREG_OK)
			die(st == MAPREG_NO_MEMORY ? EXIT_RESOURCE : EXIT_RUN, "mapreg_pool_create: %s",
			    mapreg_status_str(st));
	}
	e->reactors = calloc(o->threads, sizeof(*e->reactors));
	if (!e->reactors)
		die(EXIT_RESOURCE, "out of memory");
	for (uint32_t t = 0; t < o->threads; t++) {
		struct reactor *r = &e->reactors[t];

		r->id = (int)t;
		r->e = e;
		r->io = e->io;
		r->efd = -1;
		r->rng = splitmix(o->seed * 0x100000001b3ull + t) | 1;
		r->cursor = o->random ? 0 : e->file_size / o->threads * t / PAGE * PAGE;
		hist_init(&r->hist);
		r->slots = calloc(o->iodepth, sizeof(*r->slots));
		if (!r->slots || (o->verify && !(r->scratch = malloc(2 * (size_t)o->bs_max))))
			die(EXIT_RESOURCE, "out of memory");
		if (!e->pool)
			continue;
		mapreg_status st = mapreg_adapter_create(e->pool, &acfg, &r->adapter, &limit);

		if (st != MAPREG_OK)
			die(st == MAPREG_NO_MEMORY ? EXIT_RESOURCE : EXIT_RUN, "mapreg_adapter_create: %s",
			    mapreg_status_str(st));
		if (mapreg_transfer_registers(0, o->bs_max, PAGE) > limit)
			die(EXIT_FIT, "an I/O of %u bytes needs %u pages; the arena allows %u per I/O",
			    o->bs_max, mapreg_transfer_registers(0, o->bs_max, PAGE), limit);
		r->efd = mapreg_adapter_eventfd(r->adapter);
		for (uint32_t i = 0; i < o->iodepth; i++) {
			r->slots[i].r = r;
			if (mapreg_transfer_init(r->adapter, &r->slots[i].xfer) != MAPREG_OK)
				die(EXIT_RUN, "mapreg_transfer_init failed");
		}
	}
	for (uint32_t t = 0; t < o->threads; t++)
		for (uint32_t i = 0; i < o->iodepth; i++)
			e->reactors[t].slots[i].r = &e->reactors[t];

	pthread_barrier_init(&e->ready, NULL, o->threads + 1);
	pthread_barrier_init(&e->start, NULL, o->threads + 1);
	pthread_barrier_init(&e->stop, NULL, o->threads + 1);
	for (uint32_t t = 0; t < o->threads; t++)
		if (pthread_create(&e->reactors[t].thread, NULL, reactor_main, &e->reactors[t]) != 0)
			die(EXIT_RESOURCE, "cannot start a thread: %s", strerror(errno));

	struct rusage ru0, ru1;

	pthread_barrier_wait(&e->ready);	/* rings set up, buffers registered */
	e->t_start = now_ns();
	getrusage(RUSAGE_SELF, &ru0);
	pthread_barrier_wait(&e->start);	/* the reactors read t_start after this */
	pthread_barrier_wait(&e->stop);
	getrusage(RUSAGE_SELF, &ru1);
	for (uint32_t t = 0; t < o->threads; t++)
		pthread_join(e->reactors[t].thread, NULL);

	/* Totals. */
	struct hist *all = malloc(sizeof(*all));
	struct reactor sum = { 0 };
	uint64_t t_end = e->t_start;
	const char *first_error = NULL;
	int fell_back_unregistered = 0;

	if (!all)
		die(EXIT_RESOURCE, "out of memory");
	hist_init(all);
	for (uint32_t t = 0; t < o->threads; t++) {
		struct reactor *r = &e->reactors[t];

		hist_merge(all, &r->hist);
		if (r->t_end > t_end)
			t_end = r->t_end;
		if (r->error[0] && !first_error)
			first_error = r->error;
		if (r->io != e->io)
			fell_back_unregistered = 1;
#define ADD(f) sum.f += r->f
		ADD(ios); ADD(bytes); ADD(waits); ADD(cancels); ADD(grants); ADD(frees);
		ADD(verify_errors); ADD(verify_bytes); ADD(io_errors); ADD(mapreg_errors);
		ADD(owner_errors); ADD(alloc_cycles); ADD(alloc_samples); ADD(free_cycles);
		ADD(free_samples); ADD(poll_cycles); ADD(polls); ADD(watchdog_wakeups);
		ADD(missed_wakeups); ADD(stalls); ADD(timed_routines); ADD(dropped_spans); ADD(waiting); ADD(inflight);
#undef ADD
	}
	enum io_kind io_used = fell_back_unregistered ? IO_PLAIN : e->io;

	/* The pool must be balanced: nothing held, nothing waiting, every run freed. */
	mapreg_pool_stats ps = { 0 };
	bool balanced = true;
	mapreg_status destroy_st = MAPREG_OK;

	if (e->pool) {
		if (mapreg_pool_get_stats(e->pool, &ps) != MAPREG_OK)
			balanced = false;
		if (ps.held || ps.waiting_channel || ps.waiting_registers ||
		    ps.free + ps.cached != ps.registers || ps.caller_errors ||
		    sum.grants != sum.frees || ps.grants != sum.grants)
			balanced = false;
		for (uint32_t t = 0; t < o->threads; t++) {
			mapreg_status st = mapreg_adapter_destroy(e->reactors[t].adapter);

			if (st != MAPREG_OK && destroy_st == MAPREG_OK)
				destroy_st = st;
		}
		if (destroy_st == MAPREG_OK)
			destroy_st = mapreg_pool_destroy(e->pool);
	}

	double elapsed = (double)(t_end - e->t_start) / 1e9;
	double usr = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
	double sys = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
	double ios = (double)sum.ios;
	double iops = elapsed > 0 ? ios / elapsed : 0;
	double mbps = elapsed > 0 ? (double)sum.bytes / elapsed / 1e6 : 0;
	double cpu_us = ios > 0 ? (usr + sys) * 1e6 / ios : 0;
	/* mapreg ns per I/O: the sampled allocate + free, plus every poll, per I/O. */
	double alloc_ns = sum.alloc_samples ? (double)sum.alloc_cycles * e->ns_per_cycle / (double)sum.alloc_samples : 0;
	double free_ns = sum.free_samples ? (double)sum.free_cycles * e->ns_per_cycle / (double)sum.free_samples : 0;
	double poll_ns = ios > 0 ? (double)sum.poll_cycles * e->ns_per_cycle / ios : 0;
	double mapreg_ns = e->pool ? alloc_ns + free_ns + poll_ns : 0;
	double share = cpu_us > 0 ? mapreg_ns / (cpu_us * 1000) * 100 : 0;
	/* Timer overhead: two reads per timed call (1/SAMPLE_EVERY of the I/Os, every poll) and per routine inside one. */
	double timed_calls = ios > 0 ? (double)(sum.alloc_samples + sum.free_samples + sum.polls +
						sum.timed_routines) / ios : 0;
	double overhead = cpu_us > 0 ? timed_calls * 2 * e->rdtsc_ns / (cpu_us * 1000) * 100 : 0;
	uint64_t p50 = hist_percentile(all, 50), p99 = hist_percentile(all, 99);
	uint64_t p999 = hist_percentile(all, 99.9);
	bool ok = !first_error && balanced && destroy_st == MAPREG_OK && sum.verify_errors == 0 &&
		  sum.io_errors == 0 && sum.mapreg_errors == 0 && sum.stalls == 0 && sum.ios > 0;
	char bs[64], arena[32];
	const char *rw = o->write ? (o->random ? "randwrite" : "write") : (o->random ? "randread" : "read");

	if (o->bs_min == o->bs_max)
		human_size(bs, sizeof(bs), o->bs_min);
	else {
		char a[24], b[24];

		human_size(a, sizeof(a), o->bs_min);
		human_size(b, sizeof(b), o->bs_max);
		snprintf(bs, sizeof(bs), "%s-%s", a, b);
	}
	human_size(arena, sizeof(arena), e->arena_size);

	if (o->json) {
		printf("{\"engine\":\"mapreg-io\",\"pid\":%d,\"backend\":\"%s\",\"rw\":\"%s\",\"bs_min\":%u,"
		       "\"bs_max\":%u,\"iodepth\":%u,\"threads\":%u,\"runtime_s\":%.3f,"
		       "\"elapsed_s\":%.6f,\"io\":\"%s\",\"ring_flags\":%u,\"fixed_file\":%s,"
		       "\"arena_bytes\":%" PRIu64 ",\"arena_kind\":\"%s\",\"buffers\":%" PRIu64 ","
		       "\"ios\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"iops\":%.1f,\"mbps\":%.2f,"
		       "\"usr_s\":%.6f,\"sys_s\":%.6f,\"cpu_us_per_io\":%.4f,"
		       "\"lat_ns\":{\"p50\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p99.9\":%" PRIu64 ","
		       "\"mean\":%.1f,\"max\":%" PRIu64 "},"
		       "\"mapreg_ns_per_io\":%.2f,\"mapreg_alloc_ns\":%.2f,\"mapreg_free_ns\":%.2f,"
		       "\"mapreg_poll_ns_per_io\":%.2f,\"mapreg_share_pct\":%.3f,"
		       "\"timing\":{\"sample_every\":%u,\"timer_read_ns\":%.2f,\"empty_span_ns\":%.2f,\"overhead_pct\":%.3f,\"dropped_spans\":%" PRIu64 "},"
		       "\"waits\":%" PRIu64 ",\"cancels\":%" PRIu64 ",\"grants\":%" PRIu64 ","
		       "\"frees\":%" PRIu64 ",\"polls\":%" PRIu64 ",\"watchdog_wakeups\":%" PRIu64 ","
		       "\"missed_wakeups\":%" PRIu64 ",\"stalls\":%" PRIu64 ","
		       "\"verify\":%s,\"verify_bytes\":%" PRIu64 ",\"verify_errors\":%" PRIu64 ","
		       "\"owner_errors\":%" PRIu64 ",\"io_errors\":%" PRIu64 ",\"mapreg_errors\":%" PRIu64 ","
		       "\"pool\":{\"registers\":%" PRIu64 ",\"free\":%" PRIu64 ",\"cached\":%" PRIu64 ","
		       "\"held\":%" PRIu64 ",\"waiting_channel\":%" PRIu64 ",\"waiting_registers\":%" PRIu64 ","
		       "\"grants\":%" PRIu64 ",\"caller_errors\":%" PRIu64 ",\"balanced\":%s,"
		       "\"destroy\":\"%s\"},\"error\":\"%s\",\"ok\":%s}\n",
		       (int)getpid(), backend_name(o->backend), rw, o->bs_min, o->bs_max, o->iodepth, o->threads,
		       o->runtime, elapsed, io_name(io_used), e->ring_flags,
		       e->reactors[0].fixed_file ? "true" : "false", e->arena_size,
		       e->arena_kind ? e->arena_kind : "none", e->buffers, sum.ios, sum.bytes, iops, mbps,
		       usr, sys, cpu_us, p50, p99, p999, hist_mean(all), all->max, mapreg_ns,
		       alloc_ns, free_ns, poll_ns, share, SAMPLE_EVERY, e->rdtsc_ns, (double)e->empty_span * e->ns_per_cycle, overhead,
		       sum.dropped_spans, sum.waits, sum.cancels, sum.grants, sum.frees, sum.polls, sum.watchdog_wakeups,
		       sum.missed_wakeups, sum.stalls, o->verify ? "true" : "false", sum.verify_bytes,
		       sum.verify_errors, sum.owner_errors, sum.io_errors, sum.mapreg_errors,
		       ps.registers, ps.free, ps.cached, ps.held, ps.waiting_channel,
		       ps.waiting_registers, ps.grants, ps.caller_errors, balanced ? "true" : "false",
		       mapreg_status_str(destroy_st), first_error ? first_error : "",
		       ok ? "true" : "false");
	} else {
		printf("%s: %s %s, iodepth %u, %u thread%s, %.2f s, backend %s, %s%s\n", prog, rw, bs,
		       o->iodepth, o->threads, o->threads == 1 ? "" : "s", elapsed,
		       backend_name(o->backend), io_name(io_used),
		       e->reactors[0].fixed_file ? ", registered file" : "");
		if (e->pool)
			printf("  arena %s (%s), %" PRIu64 " registered buffer%s, pool of %" PRIu64
			       " registers, boundary %" PRIu64 "\n", arena, e->arena_kind, e->buffers,
			       e->buffers == 1 ? "" : "s", e->pages, e->pages_per_buffer);
		printf("  %.0f IOPS, %.1f MB/s, %" PRIu64 " I/Os\n", iops, mbps, sum.ios);
		printf("  CPU %.3f us per I/O (usr %.3f s + sys %.3f s, whole process)\n", cpu_us, usr, sys);
		printf("  latency, ask to completion: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n",
		       (double)p50 / 1e3, (double)p99 / 1e3, (double)p999 / 1e3, (double)all->max / 1e3);
		if (e->pool)
			printf("  mapreg %.1f ns per I/O (allocate %.1f + free %.1f + poll %.1f) = %.2f %% of CPU "
			       "per I/O; timed with lfence+rdtsc on every %uth I/O and every poll, less the timer's own %.1f ns per span\n"
			       "    (timer overhead %.2f %% of CPU; %" PRIu64 " spans over %.0f us dropped as preempted)\n",
			       mapreg_ns, alloc_ns, free_ns, poll_ns, share, SAMPLE_EVERY,
			       (double)e->empty_span * e->ns_per_cycle, overhead, sum.dropped_spans,
			       SPAN_CAP_NS / 1e3);
		printf("  waits %" PRIu64 " (I/Os queued for registers), cancels %" PRIu64
		       ", missed wake-ups %" PRIu64 ", stalls %" PRIu64 "\n", sum.waits, sum.cancels,
		       sum.missed_wakeups, sum.stalls);
		if (o->verify)
			printf("  verify: %" PRIu64 " bytes checked, %" PRIu64 " errors\n", sum.verify_bytes,
			       sum.verify_errors + sum.owner_errors);
		if (e->pool)
			printf("  pool %s: held %" PRIu64 ", waiting %" PRIu64 ", grants %" PRIu64
			       " = runs freed %" PRIu64 ", destroy %s\n", balanced ? "balanced" : "NOT BALANCED",
			       ps.held, ps.waiting_channel + ps.waiting_registers, ps.grants, sum.frees,
			       mapreg_status_str(destroy_st));
	}
	fflush(stdout);
	if (first_error)
		note("%s", first_error);
	else if (!ok)
		note("run failed: %s", !balanced ? "pool not balanced" : destroy_st != MAPREG_OK
		     ? "destroy failed" : "no I/O completed");
	/* Everything goes back (a pool that could not be destroyed has failed the run already). */
	for (uint32_t t = 0; t < o->threads; t++) {
		free(e->reactors[t].slots);
		free(e->reactors[t].scratch);
	}
	free(e->reactors);
	free(all);
	free(e->owner);
	if (e->arena)
		munmap(e->arena, e->arena_size);
	close(e->fd);
	free(e);
	return ok ? EXIT_OK : EXIT_RUN;
}
