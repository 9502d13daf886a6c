# Shared by tools/*.sh: configure-once builds and a tally of meson test results.
# shellcheck shell=bash

# build DIR [meson options...]: configure DIR once, then (re)build it.
build() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
  fi
  ninja -C "$dir" >"$dir.ninja.log" 2>&1 || { tail -n 60 "$dir.ninja.log"; return 1; }
}

# scratch_copy DIR: the tracked files of the working tree, copied into DIR
# (for experiments that patch a copy: tools/*-experiment.sh).
scratch_copy() {
  mkdir -p "$1"
  git ls-files -z | tar -c --null -T - | tar -x -C "$1"
}

# The benchmark build (tools/bench.sh, tools/io-bench.sh): release, the
# benchmarks and the io_uring engine, no tests, so that it needs only
# tools/deps.sh bench's packages (the tests' cmocka is not among them).
bench_build_options=(-Dbuildtype=release -Dbench=enabled -Dengine=enabled -Dtests=false)

# build_bench_only DIR: the release benchmark programs alone, configured once.
build_bench_only() {
  (cd "$1" && build build -Dbuildtype=release -Dbench=enabled -Dtests=false \
     -Dfuzz=disabled -Dstress=disabled -Dengine=disabled -Dexamples=false)
}

passed=0; failed=0; skipped=0
# suite DIR [meson test options...]: run tests in DIR and add them to the tally.
suite() {
  local dir=$1; shift
  local rc=0
  meson test -C "$dir" --print-errorlogs "$@" || rc=$?
  local log="$dir/meson-logs/testlog.json"
  if [ -f "$log" ]; then
    read -r p f s < <(/usr/bin/python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(p, f, s)
PY
)
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  fi
  [ $rc -eq 0 ] || failed=$((failed > 0 ? failed : 1))
  return 0
}

# The closing line CI reads: "N passed, N failed, N skipped".
# With MAPREG_TALLY set, also appends the counts there for .ci/run to sum.
tally() {
  [ -z "${MAPREG_TALLY:-}" ] || echo "$passed $failed $skipped" >>"$MAPREG_TALLY"
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}
