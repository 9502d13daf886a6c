#!/usr/bin/env python3
"""Instructions and locked instructions per fast-path cycle, without noise.

Runs bench/cycles.c's shapes under callgrind at two cycle counts and divides
the difference of the totals by the difference of the counts, so that set-up
and tear-down cancel out.  Locked instructions (lock-prefixed read-modify-
writes, xchg with memory, mfence) are found by disassembling (objdump) every
instruction callgrind saw executed, in the program and in the libraries it
mapped (their load addresses from the program's /proc/self/maps).

callgrind has no rseq: the lock-free rows run its fallback, and, with the
counting build's mapreg_rseq_assume_cpu0() (the library's code and that one
hook: no fault checks), its restartable sequences as plain code on "CPU 0"
(single-threaded, so exact).

Usage: tools/count.py BUILD_DIR [--markdown]
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

N1, N2 = 2000, 4000


def callgrind(cmd, env, out):
    full = ["valgrind", "--tool=callgrind", "--fair-sched=yes", "--dump-instr=yes",
            "--compress-strings=no", "--compress-pos=no", "--callgrind-out-file=" + out] + cmd
    subprocess.run(full, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def costs(path):
    """{(object, address): Ir} of self cost, and the total."""
    per = collections.Counter()
    obj, skip, total = None, False, 0
    for line in open(path):
        if skip:
            skip = False
            continue
        if line.startswith("ob="):
            obj = line[3:].strip()
        elif line.startswith("calls="):
            skip = True			# the next line is the call's inclusive cost
        elif line.startswith("0x"):
            parts = line.split()
            if len(parts) >= 3:
                per[(obj, int(parts[0], 16))] += int(parts[2])
        elif line.startswith("totals:") or line.startswith("summary:"):
            total = int(line.split()[1])
    return per, total


def bases(maps):
    """{object path: load base} from /proc/self/maps."""
    out = {}
    for line in open(maps):
        f = line.split()
        if len(f) >= 6 and f[5].startswith("/"):
            start = int(f[0].split("-")[0], 16)
            off = int(f[2], 16)
            out[f[5]] = min(out.get(f[5], start - off), start - off)
    return out


_disassembly = {}


def locked_addresses(path):
    """Virtual addresses of the locked instructions in an ELF file."""
    if path not in _disassembly:
        text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path],
                              capture_output=True, text=True).stdout
        found = set()
        for line in text.splitlines():
            m = re.match(r"\s*([0-9a-f]+):\s+(.*)", line)
            if not m:
                continue
            ins = m.group(2).strip()
            if (ins.startswith("lock ") or ins.startswith("mfence") or
                    (ins.startswith("xchg") and "(" in ins)):
                found.add(int(m.group(1), 16))
        _disassembly[path] = found
    return _disassembly[path]


def measure(binary, shape, backend, extra_env):
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (N1, N2):
            out, maps = os.path.join(tmp, f"cg.{n}"), os.path.join(tmp, f"maps.{n}")
            env = dict(os.environ, COUNT_MAPS=maps, **extra_env)
            callgrind([binary, shape, backend, str(n)], env, out)
            per, total = costs(out)
            runs.append((per, total, bases(maps)))
    (p1, t1, b1), (p2, t2, b2) = runs
    cycles = N2 - N1
    locked = 0
    for (obj, addr), ir in p2.items():
        delta = ir - p1.get((obj, addr), 0)
        if delta <= 0 or obj is None or not obj.startswith("/"):
            continue
        # callgrind gives a position-independent object's addresses relative
        # to its load address, others absolute.
        base = b2.get(obj, 0)
        vaddr = addr - base if addr >= base > 0 else addr
        if vaddr in locked_addresses(obj):
            locked += delta	# Ir of a locked instruction = its executions
    return (t2 - t1) / cycles, locked / cycles


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    plain = os.path.join(build, "bench", "cycles")
    hooked = os.path.join(build, "bench", "cycles-hooked")
    rows = [
        ("malloc(64) + free", plain, "malloc", "locked", {}),
    ]
    for shape, what in (("sync", "sync: allocate_ex(SYNC) + free_adapter_object(KEEP_REGISTERS) "
                         "+ free_map_registers"),
                        ("async", "async granted at once, routine answers DEALLOCATE"),
                        ("wait", "wait: async request waits for registers, the free that "
                         "grants it (pool of 1)"),
                        ("poll", "poll: one reactor's request on a poll adapter: waits for "
                         "the channel, then registers; free, poll (pool of 1)")):
        rows += [
            (f"{what}, locked", plain, shape, "locked", {}),
            (f"{what}, lock-free, rseq", hooked, shape, "lockfree", {"MAPREG_ASSUME_RSEQ": "1"}),
            (f"{what}, lock-free, no rseq", plain, shape, "lockfree", {}),
        ]
    md = "--markdown" in sys.argv
    if md:
        print("| cycle (1 thread, nregs 1, pool 64) | instructions | locked instructions |")
        print("|---|---|---|")
    for label, binary, shape, backend, env in rows:
        ins, locked = measure(binary, shape, backend, env)
        if md:
            print(f"| {label} | {ins:.0f} | {locked:.2f} |")
        else:
            print(f"{label:<100} {ins:7.0f} instructions  {locked:5.2f} locked")


if __name__ == "__main__":
    main()
