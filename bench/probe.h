/* SPDX-License-Identifier: MIT */
/*
 * How far apart the two CPUs the bench pins to are, right now: the mean
 * time one cache line takes to go from one to the other.  On the 2-vCPU
 * KVM guests these figures come from, it is 27-33 ns most of the time and
 * 157-168 ns for minutes at a stretch (the hypervisor's placement of the
 * vCPUs, not the guest's load), and every row that hands lines between
 * threads slows with it, lock-free rows most (BENCHMARKS.md, "Reading the
 * tables").  Probed before and after every run, so that a table can say
 * which runs ran in which state.
 */
#ifndef MAPREG_BENCH_PROBE_H
#define MAPREG_BENCH_PROBE_H

/*
 * One-way transfer time of a line between the first two allowed CPUs
 * (pin_self(0) and pin_self(1)), in ns: a ping-pong of `transfers` stores,
 * the caller's CPU mask put back after.  0 with fewer than two CPUs, or if
 * the helper thread cannot start.
 */
double cpu_line_transfer_ns(unsigned int transfers);

#endif /* MAPREG_BENCH_PROBE_H */
