#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Proves that a bench check catches the bug it exists for (suite `bench`).

    fault_test.py MAPREG_BENCH_FAULTY EXPECTED_TEXT BENCH_ARGS...

Runs the bench built on the fault-injecting library with BENCH_ARGS (which
plant one bug with --fault=NAME) and passes only if the run failed (exit 1)
and its output names the check that must catch that bug: a crash, or a
failure of some other check, does not count.
"""
import subprocess
import sys


def main():
    bench, expected, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    result = subprocess.run([bench] + args, capture_output=True, text=True, timeout=100)
    output = result.stdout + result.stderr
    failures = []
    if result.returncode != 1:
        failures.append("exit status %d, want 1 (a failed run)" % result.returncode)
    if expected not in output:
        failures.append("output does not name %r" % expected)
    for f in failures:
        print("FAIL:", f)
    if failures:
        print(output[-3000:])
    print("%d passed, %d failed" % (2 - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
