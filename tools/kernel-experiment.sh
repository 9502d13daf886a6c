#!/usr/bin/env bash
# An experiment, not a build of the library: how much of the one-reactor
# poll row's gap between the backends is the library's own work, and how
# much comes with the kernel.  Two measurements:
#  1. The row (mode 0, busy polling: nothing blocks on the eventfd), both
#     backends in one process, ROUNDS times for each eventfd treatment of
#     tools/eventfd_stub.c (LD_PRELOAD): "none" (no system call: the
#     libraries' work alone), "getppid" (a kernel entry and exit that does
#     next to nothing, in place of each eventfd call) and "real".  Prints
#     each run's ns a request and lock-free minus locked.
#  2. The footprint between two system calls: valgrind lackey traces
#     bench/cycles-hooked's poll shape (rseq path, as tools/count.py runs
#     it) and counts the distinct 64-byte lines and 4 KiB pages of code and
#     of data touched between consecutive `syscall` instructions of glibc's
#     syscall(), the middle half of the segments averaged, and whose each
#     data page is (the stack's share moves with the environment's size,
#     which sets where in its page the stack starts).
#  3. What a touched line and a touched page cost right after a kernel
#     entry, against warm (tools/kernel_entry_probe.c): the price of 2.
# BENCHMARKS.md, "The one reactor without the kernel" and "The one
# reactor's pages", are its runs.
#
# Usage: tools/kernel-experiment.sh [ROUNDS [N]]     (3 3000)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3} n=${2:-3000}

tools/deps.sh bench
. tools/lib.sh
build build-bench "${bench_build_options[@]}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -Wall -shared -fPIC -o "$work/eventfd_stub.so" tools/eventfd_stub.c -ldl
cc -O2 -Wall -o "$work/kernel_entry_probe" tools/kernel_entry_probe.c

echo "The one-reactor poll row, mode 0, ns a request (median of 3 repetitions):"
for ((r = 1; r <= rounds; r++)); do
  for how in none getppid real; do
    EVENTFD_STUB=$how LD_PRELOAD="$work/eventfd_stub.so" build-bench/bench/mapreg-bench \
      --benchmark_filter='^poll/.*/mode:0/.*threads:1$' --benchmark_min_time=0.3 \
      --benchmark_repetitions=3 --benchmark_display_aggregates_only=true \
      --benchmark_format=csv 2>/dev/null >"$work/row.csv"
    /usr/bin/python3 - "$work/row.csv" "$r" "$how" <<'PY'
import csv, sys
# mapreg-bench exits non-zero (set -e stops the script) if a run fails a check.
with open(sys.argv[1]) as f:
    rows = {r["name"].split("/")[1]: float(r["real_time"]) for r in csv.DictReader(
        l for l in f if l.startswith(("name,", '"poll/'))) if r["name"].endswith("_median")}
locked, lockfree = rows["locked"], rows["lockfree"]
print(f"  round {sys.argv[2]} {sys.argv[3]:8s} locked {locked:7.0f}  lock-free {lockfree:7.0f}"
      f"  difference {lockfree - locked:+5.0f}  ratio (locked/lock-free) {locked / lockfree:.3f}")
PY
  done
done

echo "Touched between two system calls, bench/cycles-hooked poll, $n requests:"
for backend in locked lockfree; do
  COUNT_MAPS="$work/maps" MAPREG_ASSUME_RSEQ=1 valgrind --tool=lackey --trace-mem=yes \
    --log-file="$work/trace" build-bench/bench/cycles-hooked poll "$backend" "$n" >/dev/null
  libc=$(awk '$NF ~ /\/libc\.so/ && $3 == "00000000" {print $NF; exit}' "$work/maps")
  base=$(awk -v l="$libc" '$NF == l && $3 == "00000000" {split($1, a, "-"); print a[1]; exit}' "$work/maps")
  # No early exit from awk: objdump would die of SIGPIPE, and pipefail stop us.
  entry=$(objdump -T "$libc" | awk '$NF == "syscall" && !found {print $1; found = 1}')
  insn=$(objdump -d --start-address=0x"$entry" --stop-address=$((0x$entry + 0x40)) "$libc" |
         awk '$NF == "syscall" && !found {sub(":", "", $1); print $1; found = 1}')
  /usr/bin/python3 - "$work/trace" $((0x$base + 0x$insn)) "$backend" "$work/maps" <<'PY'
import bisect, collections, sys
marker, segs = int(sys.argv[2]), []
code, data = set(), set()      # 64-byte lines
# Whose each data page is: a mapped file's name, or anonymous memory (the
# heap and the other threads' stacks), but for the main thread's stack:
# the mapping of the trace's first data access, the return address that
# ld.so's first instruction after its entry's `call` pushes.
maps = sorted((int(f[0].split("-")[0], 16), int(f[0].split("-")[1], 16),
               f[5].rsplit("/", 1)[-1] if len(f) > 5 else "anonymous")
              for f in (l.split() for l in open(sys.argv[4])))
starts = [m[0] for m in maps]
def mapping(page):
    i = bisect.bisect_right(starts, page << 12) - 1
    return i if i >= 0 and page << 12 < maps[i][1] else None
stack = None
def owner(page):
    i = mapping(page)
    return "unmapped" if i is None else "the stack" if i == stack else maps[i][2]
owned = collections.Counter()
for line in open(sys.argv[1]):
    if line.startswith("=") or len(line) < 4:
        continue
    try:
        addr = int(line[3:].split(",")[0], 16)
    except ValueError:
        continue
    if line[:2].strip() != "I":
        if stack is None:
            stack = mapping(addr >> 12)
        data.add(addr >> 6)
    elif addr != marker:
        code.add(addr >> 6)
    else:
        pages = {l >> 6 for l in data}
        segs.append((len(code), len(data), len({l >> 6 for l in code}), len(pages),
                     collections.Counter(owner(p) for p in pages)))
        code, data = set(), set()
mid = segs[len(segs) // 4: 3 * len(segs) // 4]
code_lines, data_lines, code_pages, data_pages = (sum(s[i] for s in mid) / len(mid)
                                                  for i in range(4))
print(f"  {sys.argv[3]:8s} {len(segs)} segments; each: code {code_lines:.1f} lines "
      f"({code_pages:.1f} pages), data {data_lines:.1f} lines ({data_pages:.1f} pages)")
for s in mid:
    owned.update(s[4])
print("    data pages by owner: " + ", ".join(f"{name} {n / len(mid):.2f}"
                                           for name, n in owned.most_common() if n / len(mid) >= 0.05))
PY
done

echo "A chain of dependent loads after getppid(2), against warm (tools/kernel_entry_probe.c):"
"$work/kernel_entry_probe" | sed 's/^/  /'
