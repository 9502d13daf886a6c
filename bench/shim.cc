// SPDX-License-Identifier: MIT
//
// The C face of Google Benchmark 1.7.1 (see cbench.h): the only C++ in the
// project.  It adds to Google Benchmark what C benchmarks need and it lacks:
// a fixture that runs around all threads of a run, a failure that makes the
// process exit non-zero, thread pinning, and a side file of latency
// histograms keyed by the same run names as the JSON output.
#include <benchmark/benchmark.h>

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cbench.h"

namespace {

// Google Benchmark starts a run's threads anew each time: a barrier whose
// party count is given at each wait fits all runs of one benchmark.
class Barrier {
public:
	void wait(int parties)
	{
		std::unique_lock<std::mutex> lock(mutex_);
		unsigned long generation = generation_;
		if (++arrived_ == parties) {
			arrived_ = 0;
			generation_++;
			cv_.notify_all();
			return;
		}
		cv_.wait(lock, [&] { return generation_ != generation; });
	}

private:
	std::mutex mutex_;
	std::condition_variable cv_;
	int arrived_ = 0;
	unsigned long generation_ = 0;
};

struct Histogram {
	int64_t iterations;	// of the run it came from
	struct hist h;
};

struct Series {
	int64_t iterations;
	std::vector<std::pair<double, double>> points;
};

std::atomic<bool> any_failure{false};
std::mutex histograms_mutex;
std::map<std::pair<std::string, std::string>, std::unique_ptr<Histogram>> histograms;
std::map<std::pair<std::string, std::string>, Series> series;
std::vector<std::pair<std::string, std::string>> context;
std::vector<int> allowed_cpus;
void (*user_help)(void);
cbench_around_fn around_runs;

} // namespace

struct cbench {
	std::string name;
	cbench_body_fn body;
	cbench_setup_fn setup = nullptr;
	cbench_teardown_fn teardown = nullptr;
	const void *param;
	std::vector<std::string> arg_names;
	bool has_threads = false, pin = false, real_time = false, manual_time = false;
	bool wall_time = false;
	int64_t fixed_iterations = 0;
	benchmark::internal::Benchmark *gb = nullptr;
	// One run at a time: written by thread 0 before the first barrier.
	Barrier barrier;
	void *shared = nullptr;
	bool setup_failed = false;
	// Wall time: the first thread's loop start to the last thread's loop end.
	std::atomic<int64_t> first_start{0}, last_end{0};
};

struct cbench_state {
	benchmark::State *st;
	cbench *b;
	bool started;		// the timed loop has begun
	bool finished;		// the timed loop has ended
};

namespace {

std::vector<std::unique_ptr<cbench>> registry;

int64_t now_ns()
{
	return std::chrono::duration_cast<std::chrono::nanoseconds>(
		       std::chrono::steady_clock::now().time_since_epoch())
		.count();
}

void atomic_min(std::atomic<int64_t> &a, int64_t v)
{
	int64_t cur = a.load();
	while ((cur == 0 || v < cur) && !a.compare_exchange_weak(cur, v))
		;
}

void atomic_max(std::atomic<int64_t> &a, int64_t v)
{
	int64_t cur = a.load();
	while (v > cur && !a.compare_exchange_weak(cur, v))
		;
}

// Google Benchmark averages the threads' real times: with more threads than
// CPUs a thread that ran early finishes early and shortens the average, so
// throughput reads high.  Wall time gives every thread the span from the
// first start to the last end, which the average then equals.
void loop_started(cbench_state *s)
{
	s->started = true;
	if (s->b->wall_time)
		atomic_min(s->b->first_start, now_ns());
}

// Called before the call that ends the loop: it holds Google Benchmark's
// stop barrier, after which every thread's end is recorded.
void loop_ending(cbench_state *s)
{
	if (s->b->wall_time && s->started)
		atomic_max(s->b->last_end, now_ns());
}

void loop_ended(cbench_state *s)
{
	s->finished = true;
	if (s->b->wall_time && s->started && !s->st->error_occurred())
		s->st->SetIterationTime((double)(s->b->last_end - s->b->first_start) / 1e9);
}

// The name Google Benchmark 1.7.1 gives a run (BenchmarkName::str()):
// name/args/iterations/time type/threads, the parts we use, in that order.
std::string run_name(const cbench_state *s)
{
	const cbench *b = s->b;
	std::string name = b->name;

	for (size_t i = 0; i < b->arg_names.size(); i++)
		name += "/" + b->arg_names[i] + ":" + std::to_string(s->st->range(i));
	if (b->fixed_iterations != 0)
		name += "/iterations:" + std::to_string(b->fixed_iterations);
	if (b->manual_time || b->wall_time)
		name += "/manual_time";
	else if (b->real_time)
		name += "/real_time";
	name += "/threads:" + std::to_string(s->st->threads());
	return name;
}

// Pins the calling thread for one run and puts its old mask back after.
class PinGuard {
public:
	PinGuard(const cbench *b, const benchmark::State &st)
	{
		int threads = st.threads();
		if (!b->pin || allowed_cpus.empty() || threads > (int)allowed_cpus.size())
			return;
		if (pthread_getaffinity_np(pthread_self(), sizeof(saved_), &saved_) != 0)
			return;
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(allowed_cpus[st.thread_index()], &one);
		pinned_ = pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
	}
	~PinGuard()
	{
		if (pinned_)
			pthread_setaffinity_np(pthread_self(), sizeof(saved_), &saved_);
	}
	PinGuard(const PinGuard &) = delete;
	PinGuard &operator=(const PinGuard &) = delete;

private:
	cpu_set_t saved_;
	bool pinned_ = false;
};

// Ends the timed loop for a body that returned without ending it, so that
// the other threads are not left at Google Benchmark's stop barrier.
void finish_loop(cbench_state *s)
{
	if (s->finished)
		return;
	if (!s->st->error_occurred())
		cbench_fail(s, "%s: the body returned before its loop ended", s->b->name.c_str());
	loop_ending(s);
	while (s->st->KeepRunningBatch(1))
		;
	loop_ended(s);
}

void run_thread(cbench *b, benchmark::State &st)
{
	cbench_state s = { &st, b, false, false };
	PinGuard pin(b, st);

	if (st.thread_index() == 0) {
		if (around_runs != nullptr)
			around_runs(&s, false);
		b->first_start = 0;
		b->last_end = 0;
		b->shared = b->setup != nullptr ? b->setup(&s) : nullptr;
		b->setup_failed = st.error_occurred();
	}
	b->barrier.wait(st.threads());
	if (b->setup_failed) {
		if (st.thread_index() != 0)
			st.SkipWithError("setup failed");
	} else {
		b->body(&s);
	}
	finish_loop(&s);
	b->barrier.wait(st.threads());
	if (st.thread_index() == 0 && !b->setup_failed && b->teardown != nullptr)
		b->teardown(&s, b->shared);
	if (st.thread_index() == 0 && around_runs != nullptr)
		around_runs(&s, true);
}

void print_help()
{
	if (user_help != nullptr)
		user_help();
	benchmark::PrintDefaultHelp();
}

void write_json_string(FILE *f, const std::string &text)
{
	fputc('"', f);
	for (char c : text) {
		if (c == '"' || c == '\\')
			fputc('\\', f);
		if ((unsigned char)c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void write_histogram(FILE *f, const std::string &name, const std::string &metric,
		     const struct hist *h)
{
	fputs("    {\"run_name\": ", f);
	write_json_string(f, name);
	fputs(", \"metric\": ", f);
	write_json_string(f, metric);
	fprintf(f, ", \"count\": %llu, \"min\": %llu, \"max\": %llu, \"mean\": %.1f,\n",
		(unsigned long long)h->count, (unsigned long long)(h->count ? h->min : 0),
		(unsigned long long)h->max, hist_mean(h));
	fputs("     \"buckets\": [", f);
	bool first = true;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		if (h->buckets[i] == 0)
			continue;
		fprintf(f, "%s[%llu, %llu, %llu]", first ? "" : ", ",
			(unsigned long long)hist_bucket_low(i),
			(unsigned long long)hist_bucket_high(i),
			(unsigned long long)h->buckets[i]);
		first = false;
	}
	fputs("]}", f);
}

} // namespace

extern "C" {

cbench *cbench_register(const char *name, cbench_body_fn body, const void *param)
{
	registry.push_back(std::make_unique<cbench>());
	cbench *b = registry.back().get();
	b->name = name;
	b->body = body;
	b->param = param;
	b->gb = benchmark::RegisterBenchmark(name, [b](benchmark::State &st) { run_thread(b, st); });
	return b;
}

void cbench_fixture(cbench *b, cbench_setup_fn setup, cbench_teardown_fn teardown)
{
	b->setup = setup;
	b->teardown = teardown;
}

void cbench_arg_names(cbench *b, int count, const char *const names[])
{
	b->arg_names.assign(names, names + count);
	b->gb->ArgNames(b->arg_names);
}

void cbench_args(cbench *b, int count, const int64_t args[])
{
	b->gb->Args(std::vector<int64_t>(args, args + count));
}

void cbench_ranges(cbench *b, int count, const int64_t lo[], const int64_t hi[],
		   int multiplier)
{
	std::vector<std::pair<int64_t, int64_t>> ranges;

	for (int i = 0; i < count; i++)
		ranges.emplace_back(lo[i], hi[i]);
	b->gb->RangeMultiplier(multiplier > 0 ? multiplier : 8);
	b->gb->Ranges(ranges);
}

void cbench_threads(cbench *b, int threads)
{
	b->has_threads = true;
	b->gb->Threads(threads);
}

void cbench_pin_threads(cbench *b)
{
	b->pin = true;
}

void cbench_fixed_iterations(cbench *b, int64_t iterations)
{
	b->fixed_iterations = iterations;
	b->gb->Iterations(iterations);
}

void cbench_use_real_time(cbench *b)
{
	b->real_time = true;
	b->gb->UseRealTime();
}

void cbench_use_wall_time(cbench *b)
{
	b->wall_time = true;
	b->gb->UseManualTime();
}

void cbench_use_manual_time(cbench *b)
{
	b->manual_time = true;
	b->gb->UseManualTime();
}

int64_t cbench_batch(cbench_state *s)
{
	if (s->finished)
		return 0;
	int64_t n = s->st->max_iterations;
	if (!s->started) {
		if (s->st->KeepRunningBatch(n)) {	// the start barrier is in here
			loop_started(s);
			return n;
		}
	} else {
		loop_ending(s);
		if (s->st->KeepRunningBatch(n))		// cannot happen: one batch
			return n;
	}
	loop_ended(s);
	return 0;
}

void cbench_pause(cbench_state *s)
{
	s->st->PauseTiming();
}

void cbench_resume(cbench_state *s)
{
	s->st->ResumeTiming();
}

void cbench_set_iteration_time(cbench_state *s, double seconds)
{
	s->st->SetIterationTime(seconds);
}

int64_t cbench_arg(const cbench_state *s, int index)
{
	return s->st->range((size_t)index);
}

int cbench_thread_index(const cbench_state *s)
{
	return s->st->thread_index();
}

int cbench_thread_count(const cbench_state *s)
{
	return s->st->threads();
}

const void *cbench_param(const cbench_state *s)
{
	return s->b->param;
}

void *cbench_shared(const cbench_state *s)
{
	return s->b->shared;
}

int64_t cbench_max_iterations(const cbench_state *s)
{
	return s->st->max_iterations;
}

int64_t cbench_iterations(const cbench_state *s)
{
	return s->st->iterations();
}

void cbench_items_processed(cbench_state *s, int64_t items)
{
	s->st->SetItemsProcessed(items);
}

void cbench_counter(cbench_state *s, const char *name, double value, unsigned int kind)
{
	int flags = 0;

	if (kind & CBENCH_RATE)
		flags |= benchmark::Counter::kIsRate;
	if (kind & CBENCH_AVG_THREADS)
		flags |= benchmark::Counter::kAvgThreads;
	if (kind & CBENCH_AVG_ITERATIONS)
		flags |= benchmark::Counter::kAvgIterations;
	s->st->counters[name] = benchmark::Counter(value, (benchmark::Counter::Flags)flags);
}

void cbench_fail(cbench_state *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cbench: FAILED %s: %s\n", s->b->name.c_str(), msg);
	any_failure = true;
	if (!s->st->error_occurred())
		s->st->SkipWithError(msg);
}

bool cbench_failed(const cbench_state *s)
{
	return s->st->error_occurred();
}

void cbench_report_latency(cbench_state *s, const char *metric, const struct hist *h)
{
	std::string m(metric);

	cbench_counter(s, (m + "_p50_ns").c_str(), (double)hist_percentile(h, 50.0), CBENCH_VALUE);
	cbench_counter(s, (m + "_p99_ns").c_str(), (double)hist_percentile(h, 99.0), CBENCH_VALUE);
	cbench_counter(s, (m + "_p999_ns").c_str(), (double)hist_percentile(h, 99.9), CBENCH_VALUE);
	cbench_counter(s, (m + "_p9999_ns").c_str(), (double)hist_percentile(h, 99.99),
		       CBENCH_VALUE);
	cbench_counter(s, (m + "_max_ns").c_str(), (double)h->max, CBENCH_VALUE);
	cbench_counter(s, (m + "_samples").c_str(), (double)h->count, CBENCH_VALUE);

	std::lock_guard<std::mutex> lock(histograms_mutex);
	std::unique_ptr<Histogram> &kept = histograms[{ run_name(s), m }];
	int64_t iterations = s->st->max_iterations;
	if (kept == nullptr || iterations > kept->iterations) {
		kept = std::make_unique<Histogram>();
		kept->iterations = iterations;
		kept->h = *h;
	} else if (iterations == kept->iterations) {
		hist_merge(&kept->h, h);	// another repetition
	}
}

void cbench_report_series(cbench_state *s, const char *metric, int count, const double x[],
			  const double y[])
{
	std::lock_guard<std::mutex> lock(histograms_mutex);
	auto key = std::make_pair(run_name(s), std::string(metric));
	int64_t iterations = s->st->max_iterations;
	auto found = series.find(key);
	if (found != series.end() && iterations <= found->second.iterations)
		return;
	Series &kept = series[key];
	kept.iterations = iterations;
	kept.points.clear();
	for (int i = 0; i < count; i++)
		kept.points.emplace_back(x[i], y[i]);
}

void cbench_around_runs(cbench_around_fn fn)
{
	around_runs = fn;
}

void cbench_context(const char *key, const char *value)
{
	context.emplace_back(key, value);
	benchmark::AddCustomContext(key, value);
}

bool cbench_initialize(int *argc, char **argv, void (*help)(void))
{
	user_help = help;
	benchmark::Initialize(argc, argv, print_help);
	return !benchmark::ReportUnrecognizedArguments(*argc, argv);
}

int cbench_run(int64_t iterations)
{
	cpu_set_t mask;

	if (sched_getaffinity(0, sizeof(mask), &mask) == 0)
		for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
			if (CPU_ISSET(cpu, &mask))
				allowed_cpus.push_back(cpu);
	for (auto &b : registry) {
		if (!b->has_threads)
			cbench_threads(b.get(), 1);	// so every run name ends in threads:N
		if (iterations > 0)
			cbench_fixed_iterations(b.get(), iterations);
	}
	size_t ran = benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return (int)ran;
}

bool cbench_any_failed(void)
{
	return any_failure;
}

bool cbench_write_histograms(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == nullptr)
		return false;
	fputs("{\n  \"context\": {", f);
	for (size_t i = 0; i < context.size(); i++) {
		fputs(i ? ", " : "", f);
		write_json_string(f, context[i].first);
		fputs(": ", f);
		write_json_string(f, context[i].second);
	}
	fputs("},\n  \"histograms\": [\n", f);
	bool first = true;
	for (const auto &entry : histograms) {
		fputs(first ? "" : ",\n", f);
		write_histogram(f, entry.first.first, entry.first.second, &entry.second->h);
		first = false;
	}
	fputs("\n  ],\n  \"series\": [\n", f);
	first = true;
	for (const auto &entry : series) {
		fputs(first ? "    {\"run_name\": " : ",\n    {\"run_name\": ", f);
		write_json_string(f, entry.first.first);
		fputs(", \"metric\": ", f);
		write_json_string(f, entry.first.second);
		fputs(", \"points\": [", f);
		const auto &points = entry.second.points;
		for (size_t i = 0; i < points.size(); i++)
			fprintf(f, "%s[%.17g, %.17g]", i ? ", " : "", points[i].first,
				points[i].second);
		fputs("]}", f);
		first = false;
	}
	fputs("\n  ]\n}\n", f);
	return fclose(f) == 0;
}

} // extern "C"
