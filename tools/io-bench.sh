#!/usr/bin/env bash
# Real I/O: the io_uring engine (engine/mapreg-io) beside fio, under 30 s.
# tools/bench.sh runs it last.  Random reads of a page-cached 1 GiB file
# (created once under build-bench/, then reused), at 4 KiB and 64 KiB, queue
# depth 32 and 128, 1 and 2 threads, through:
#   lockfree  the engine, registered buffers from a lock-free mapreg pool
#   locked    the same on the locked backend
#   malloc    the engine with a malloc'ed buffer per I/O, unregistered reads
#   fio       fio --ioengine=io_uring --fixedbufs --registerfiles, fio's defaults
#             (one io_uring_enter per I/O: iodepth_batch_submit=1)
#   fio-batch the same, submitting and reaping up to iodepth at once, as the
#             engine does
# Writes build-bench/results/io/*.json (every run), io.md (the table, also
# printed) and io.png.  Where perf works, the runs go under one system-wide
# `perf record -e cpu-clock` (4 kHz per CPU, every run alike), and the table
# adds mapreg's sampled share of each engine run's CPU beside the engine's
# timed one (engine/io_report.py says how they differ).
# Usage: tools/io-bench.sh [--publish]   (--publish also copies io.png to bench/results/)
# IO_BENCH_RUNTIME (default 0.4 s) is each run's length: 40 runs.  IO_BENCH_BUILD
# (default build-bench) is the build directory (configured as tools/bench.sh does
# if missing); the file and the results go under it.
set -euo pipefail
cd "$(dirname "$0")/.."

publish=0
runs_only=0
[ "${1:-}" != "--publish" ] || publish=1
[ "${1:-}" != "--runs" ] || runs_only=1		# internal: the runs, under perf
[ "$runs_only" -eq 1 ] || tools/deps.sh bench
. tools/lib.sh
dir=${IO_BENCH_BUILD:-build-bench}
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" "${bench_build_options[@]}" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; exit 1; }
fi
[ "$runs_only" -eq 1 ] ||
  ninja -C "$dir" engine/mapreg-io >"$dir.io-ninja.log" 2>&1 || { tail -n 40 "$dir.io-ninja.log"; exit 1; }
engine=$dir/engine/mapreg-io
out=$dir/results/io
mkdir -p "$out"
runtime=${IO_BENCH_RUNTIME:-0.4}
if [ "$runs_only" -eq 0 ]; then
  rm -f "$out"/*.json "$out"/perf.data "$out"/samples.txt
  samples=()
  failed=0
  if perf record -q -e cpu-clock -o /dev/null true >/dev/null 2>&1; then
    perf record -q -a -e cpu-clock -F 4000 -o "$out/perf.data" -- "$0" --runs || failed=1
    perf script -i "$out/perf.data" -F pid,ip,dso >"$out/samples.txt" 2>/dev/null \
      && samples=(--samples "$out/samples.txt")
  else
    echo "io-bench: perf record does not work here: timed shares only" >&2
    "$0" --runs || failed=1
  fi
  /usr/bin/python3 engine/io_report.py --dir "$out" --runtime "$runtime" --md "$dir/results/io.md" \
    --plot "$dir/results/io.png" "${samples[@]}" || failed=1
  if [ "$publish" -eq 1 ] && [ "$failed" -eq 0 ]; then
    cp "$dir/results/io.png" bench/results/io.png
  fi
  exit "$failed"
fi

# The file: made once by the engine itself (--create), then kept in the page
# cache by reading it through once per run of this script.
data=$dir/io-data-1g
[ -f "$data" ] || "$engine" --file "$data" --create 1G --runtime 0 >/dev/null
cat "$data" >/dev/null

fio_runtime="$(/usr/bin/python3 -c "print(max(1, round($runtime * 1000)))")ms"
start=$SECONDS
failed=0
for bs in 4K 64K; do
  for depth in 32 128; do
    for threads in 1 2; do
      tag="bs=$bs,depth=$depth,threads=$threads"
      for backend in lockfree locked malloc; do
        "$engine" --file "$data" --rw randread --bs "$bs" --iodepth "$depth" --threads "$threads" \
          --runtime "$runtime" --backend "$backend" --json >"$out/$backend,$tag.json" \
          || { echo "io-bench: mapreg-io $backend $tag failed" >&2; failed=1; }
      done
      for variant in fio fio-batch; do
        batch=()
        [ "$variant" = fio ] || batch=(--iodepth_batch_submit="$depth" --iodepth_batch_complete_min=1
                                       --iodepth_batch_complete_max="$depth")
        fio --name=io-bench --filename="$data" --ioengine=io_uring --fixedbufs --registerfiles \
          --rw=randread --bs="$bs" --iodepth="$depth" --numjobs="$threads" --thread \
          --group_reporting --direct=0 --invalidate=0 --norandommap --lat_percentiles=1 --time_based \
          --runtime="$fio_runtime" "${batch[@]}" --output-format=json \
          >"$out/$variant,$tag.json" 2>"$out/$variant,$tag.err" \
          || { echo "io-bench: fio $variant $tag failed:" >&2; cat "$out/$variant,$tag.err" >&2; failed=1; }
      done
    done
  done
done
echo "io-bench: 40 runs of ${runtime} s in $((SECONDS - start)) s"
exit "$failed"
