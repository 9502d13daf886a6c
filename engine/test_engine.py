#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The io_uring engine's tests: test_engine.py MAPREG_IO CASE.

Each case runs mapreg-io on a small file made in a fresh temporary directory
and checks its JSON summary (and exit code, and stderr): data verified, every
run freed, pool balanced, waits where the arena is too small, the fallbacks.
Every mapreg-io run has a timeout, so that a hang fails the test instead of
stalling the suite.  Exits 0 when every check passes, 1 with the reasons.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

ENGINE = sys.argv[1]
CASE = sys.argv[2]
failures = []

# Exit codes (mapreg-io --help).
EXIT_OK, EXIT_RUN, EXIT_USAGE, EXIT_FILE, EXIT_FIT, EXIT_WRITE = 0, 1, 2, 3, 4, 5


def check(cond, what):
    if not cond:
        failures.append(what)


def run(args, env_extra=None, timeout=30):
    env = dict(os.environ)
    env.pop("MAPREG_IO_FAULT", None)
    env.update(env_extra or {})
    try:
        p = subprocess.run([ENGINE] + args, capture_output=True, text=True, env=env,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        failures.append("hung: %s" % " ".join(args))
        return None, "", ""
    print("$ mapreg-io %s  -> exit %d" % (" ".join(args), p.returncode))
    if p.stderr:
        print("  stderr: " + p.stderr.rstrip().replace("\n", "\n  stderr: "))
    return p.returncode, p.stdout, p.stderr


def run_json(args, env_extra=None, expect_rc=EXIT_OK):
    rc, out, err = run(args + ["--json"], env_extra)
    if rc is None:
        return None, err
    check(rc == expect_rc, "exit %s, expected %d: %s" % (rc, expect_rc, " ".join(args)))
    try:
        d = json.loads(out)
    except ValueError:
        failures.append("no JSON from: %s (stdout %r)" % (" ".join(args), out[:200]))
        return None, err
    print("  ios %(ios)d iops %(iops).0f waits %(waits)d cancels %(cancels)d grants %(grants)d "
          "frees %(frees)d verify_bytes %(verify_bytes)d errors %(verify_errors)d io %(io)s"
          % d)
    return d, err


def healthy(d, what, io=None, verify=True):
    """The run did I/O, verified it, freed every run and left the pool balanced."""
    if d is None:
        return
    check(d["ok"], "%s: ok is false (%s)" % (what, d["error"]))
    check(d["ios"] > 0, "%s: no I/O completed" % what)
    check(d["io_errors"] == 0, "%s: %d I/O errors" % (what, d["io_errors"]))
    check(d["stalls"] == 0, "%s: stalled" % what)
    check(d["missed_wakeups"] == 0, "%s: %d grants found only by the watchdog" % (what, d["missed_wakeups"]))
    if verify:
        check(d["verify"] and d["verify_bytes"] > 0, "%s: nothing verified" % what)
        check(d["verify_errors"] == 0 and d["owner_errors"] == 0,
              "%s: verify errors %d, registers granted twice %d"
              % (what, d["verify_errors"], d["owner_errors"]))
    if io:
        check(d["io"] == io, "%s: io is %r, expected %r" % (what, d["io"], io))
    if d["backend"] != "malloc":
        pool = d["pool"]
        check(pool["balanced"], "%s: pool not balanced: %r" % (what, pool))
        check(pool["held"] == 0 and pool["waiting_channel"] == 0 and pool["waiting_registers"] == 0,
              "%s: pool holds or queues something at the end: %r" % (what, pool))
        check(pool["free"] + pool["cached"] == pool["registers"], "%s: registers missing: %r" % (what, pool))
        check(d["grants"] == d["frees"] == pool["grants"],
              "%s: grants %d, runs freed %d, pool grants %d" % (what, d["grants"], d["frees"], pool["grants"]))
        check(pool["destroy"] == "MAPREG_OK", "%s: destroy returned %s" % (what, pool["destroy"]))


def make_file(path, size):
    """Random bytes, so that a buffer mix-up cannot read back as the same data."""
    rnd = random.Random(14)
    with open(path, "wb") as f:
        chunk = bytes(rnd.getrandbits(8) for _ in range(1 << 16))
        for i in range(size // len(chunk)):
            # rotate the chunk so that no two 64 KiB blocks are the same
            k = (i * 4099) % len(chunk)
            f.write(chunk[k:] + chunk[:k])


REGISTERED = "io_uring, registered buffers"
UNREGISTERED = "io_uring, unregistered buffers"
PREAD = "pread/pwrite"


def main():
    tmp = tempfile.mkdtemp(prefix="mapreg-io-test-")
    data = os.path.join(tmp, "data")
    try:
        if CASE not in ("write-verify", "write-verify-locked", "bad-input"):
            make_file(data, 64 << 20)
        base = ["--file", data, "--runtime", "1", "--verify"]
        if CASE in ("verify-lockfree", "verify-locked"):
            backend = CASE.split("-")[1]
            d, _ = run_json(base + ["--backend", backend, "--rw", "randread", "--bs-range", "4K-64K",
                                    "--iodepth", "16", "--threads", "2"])
            healthy(d, CASE, REGISTERED)
        elif CASE == "verify-mixed":
            d, _ = run_json(base + ["--rw", "read", "--bs-range", "4K-1M", "--iodepth", "8",
                                    "--threads", "2", "--arena", "4M"])
            healthy(d, CASE, REGISTERED)
            d, _ = run_json(base + ["--rw", "randread", "--bs", "6K", "--iodepth", "64",
                                    "--runtime", "0.5"])
            healthy(d, CASE + " (6K: 2 pages)", REGISTERED)
        elif CASE == "buffers":
            # 16 registered buffers of 64 KiB: runs must not cross one (C30), and
            # each I/O names the buffer its run lies in (a wrong index is EFAULT).
            for backend in ("lockfree", "locked"):
                d, _ = run_json(base + ["--backend", backend, "--arena", "1M", "--buffer", "64K",
                                        "--bs-range", "4K-64K", "--iodepth", "32", "--threads", "2",
                                        "--runtime", "0.5"])
                healthy(d, "%s %s" % (CASE, backend), REGISTERED)
                if d:
                    check(d["buffers"] == 16, "%s: %d buffers, expected 16" % (CASE, d["buffers"]))
        elif CASE.startswith("backpressure"):
            backend = "locked" if CASE.endswith("locked") else "lockfree"
            threads = "4" if CASE.endswith("threads") else "2"
            # 16 pages for 2 x 32 I/Os of 1..8 pages: most must wait for a free.
            d, _ = run_json(base + ["--backend", backend, "--rw", "randread", "--bs-range", "4K-32K",
                                    "--iodepth", "32", "--threads", threads, "--arena", "64K"])
            healthy(d, CASE, REGISTERED)
            if d:
                check(d["waits"] > d["ios"] // 2,
                      "%s: only %d of %d I/Os waited for registers" % (CASE, d["waits"], d["ios"]))
                check(d["arena_bytes"] == 64 << 10, "%s: arena is %d bytes" % (CASE, d["arena_bytes"]))
        elif CASE == "no-uring":
            d, _ = run_json(base + ["--no-uring", "--threads", "2", "--bs-range", "4K-64K"])
            healthy(d, CASE, PREAD)
            d, _ = run_json(base + ["--no-uring", "--threads", "2", "--bs-range", "4K-32K",
                                    "--arena", "64K", "--runtime", "0.5"])
            healthy(d, CASE + " (small arena)", PREAD)
            if d:
                check(d["waits"] > 0, "no-uring small arena: no I/O waited")
            # io_uring refused at setup (seccomp, io_uring_disabled): fall back and say so.
            d, err = run_json(base + ["--runtime", "0.3"], {"MAPREG_IO_FAULT": "setup-eperm"})
            healthy(d, CASE + " (setup EPERM)", PREAD)
            check("io_uring unavailable" in err and "falling back to pread" in err,
                  "setup EPERM: no fallback note on stderr: %r" % err)
        elif CASE == "no-register":
            d, _ = run_json(base + ["--no-register", "--bs-range", "4K-64K", "--runtime", "0.5"])
            healthy(d, CASE, UNREGISTERED)
            d, err = run_json(base + ["--runtime", "0.5", "--threads", "2"],
                              {"MAPREG_IO_FAULT": "register-enomem"})
            healthy(d, CASE + " (register ENOMEM)", UNREGISTERED)
            check("ENOMEM" in err or "Cannot allocate memory" in err,
                  "register ENOMEM: no fallback note on stderr: %r" % err)
            check(err.count("falling back to unregistered") == 1,
                  "register ENOMEM: the fallback should be said once: %r" % err)
        elif CASE in ("write-verify", "write-verify-locked"):
            locked = CASE.endswith("locked")
            args = ["--file", data, "--create", "32M", "--runtime", "1", "--verify",
                    "--rw", "write" if locked else "randwrite", "--bs-range", "4K-64K",
                    "--threads", "2", "--iodepth", "16"]
            if locked:
                args += ["--backend", "locked", "--arena", "128K"]
            d, _ = run_json(args)
            healthy(d, CASE, REGISTERED)
            if d and locked:
                check(d["waits"] > 0, "%s: no I/O waited" % CASE)
            # The engine refuses to write to a file it did not create...
            rc, _, err = run(["--file", data, "--rw", "randwrite", "--runtime", "0.2"])
            check(rc == EXIT_WRITE and err.count("\n") == 1, "write without --allow-write: exit %s %r" % (rc, err))
            # ...unless told; then the data written reads back.
            d, _ = run_json(["--file", data, "--rw", "randwrite", "--allow-write", "--verify",
                             "--runtime", "0.3", "--no-uring"])
            healthy(d, CASE + " (pwrite)", PREAD)
        elif CASE == "malloc":
            d, _ = run_json(base + ["--backend", "malloc", "--bs-range", "4K-64K", "--threads", "2"])
            healthy(d, CASE, UNREGISTERED)
            d, _ = run_json(base + ["--backend", "malloc", "--no-uring", "--runtime", "0.3"])
            healthy(d, CASE + " (pread)", PREAD)
        elif CASE == "bad-input":
            make_file(data, 1 << 20)
            small = os.path.join(tmp, "small")
            with open(small, "wb") as f:
                f.write(b"x" * 4096)
            cases = [
                (["--file", os.path.join(tmp, "missing")], EXIT_FILE, "cannot open"),
                (["--file", tmp], EXIT_FILE, "neither a regular file"),
                (["--file", small, "--bs", "64K"], EXIT_FILE, "too small"),
                (["--file", data, "--create", "1M"], EXIT_FILE, "exists"),
                (["--file", data, "--bs", "64K", "--arena", "16K"], EXIT_FIT, "does not fit"),
                (["--file", data, "--bs", "64K", "--buffer", "16K"], EXIT_FIT, "allows 4 per I/O"),
                (["--file", data, "--buffer", "3K"], EXIT_USAGE, "--buffer"),
                (["--file", data, "--rw", "write"], EXIT_WRITE, "refusing to write"),
                (["--file", data, "--bs", "2M"], EXIT_USAGE, "--bs"),
                (["--file", data, "--bs", "5000"], EXIT_USAGE, "--bs"),
                (["--file", data, "--bs-range", "64K-4K"], EXIT_USAGE, "--bs-range"),
                (["--file", data, "--rw", "trim"], EXIT_USAGE, "--rw"),
                (["--file", data, "--iodepth", "0"], EXIT_USAGE, "--iodepth"),
                (["--file", data, "--backend", "fast"], EXIT_USAGE, "--backend"),
                (["--file", data, "--bogus"], EXIT_USAGE, "unknown"),
                (["--runtime", "1"], EXIT_USAGE, "--file"),
            ]
            for args, code, words in cases:
                rc, out, err = run(args + ["--runtime", "0.2"] if "--runtime" not in args else args)
                check(rc == code, "%s: exit %s, expected %d" % (args, rc, code))
                check(err.count("\n") == 1 and err.startswith("mapreg-io: ") and words in err,
                      "%s: expected one line naming %r on stderr, got %r" % (args, words, err))
                check(out == "", "%s: printed on stdout: %r" % (args, out))
            # The checks bite: a flipped byte fails verify, a run never freed fails the balance.
            d, err = run_json(["--file", data, "--verify", "--runtime", "0.3"],
                              {"MAPREG_IO_FAULT": "corrupt"}, expect_rc=EXIT_RUN)
            check(d is not None and d["verify_errors"] > 0 and not d["ok"],
                  "a corrupted read was not caught")
            d, err = run_json(["--file", data, "--runtime", "0.3"],
                              {"MAPREG_IO_FAULT": "leak",
                               # the pool it cannot destroy is leaked on purpose
                               "ASAN_OPTIONS": "detect_leaks=0"}, expect_rc=EXIT_RUN)
            check(d is not None and not d["pool"]["balanced"] and not d["ok"],
                  "a run never freed was not caught")
        else:
            failures.append("unknown case %r" % CASE)
    finally:
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("ok")
    return 0


sys.exit(main())
