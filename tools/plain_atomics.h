/* SPDX-License-Identifier: MIT */
/*
 * tools/plain-experiment.sh's header, never part of the library: included
 * first into the lock-free protocol's files of a scratch copy, it makes
 * every C11 read-modify-write and fence, and liburcu's exchange and
 * compare-and-swap (the wfcq's), a relaxed load and a relaxed store.  The
 * result is correct for one thread only, and is the best a pool biased to
 * that thread could do: the same instructions, none of them locked.
 */
#ifndef MAPREG_PLAIN_ATOMICS_H
#define MAPREG_PLAIN_ATOMICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <urcu/uatomic.h>
#define P_LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define P_ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#undef atomic_fetch_add_explicit
#define atomic_fetch_add_explicit(p, v, mo) __extension__({ __auto_type _p = (p); __auto_type _o = P_LD(_p); P_ST(_p, _o + (v)); _o; })
#undef atomic_fetch_sub_explicit
#define atomic_fetch_sub_explicit(p, v, mo) __extension__({ __auto_type _p = (p); __auto_type _o = P_LD(_p); P_ST(_p, _o - (v)); _o; })
#undef atomic_fetch_and_explicit
#define atomic_fetch_and_explicit(p, v, mo) __extension__({ __auto_type _p = (p); __auto_type _o = P_LD(_p); P_ST(_p, _o & (v)); _o; })
#undef atomic_fetch_or_explicit
#define atomic_fetch_or_explicit(p, v, mo) __extension__({ __auto_type _p = (p); __auto_type _o = P_LD(_p); P_ST(_p, _o | (v)); _o; })
#undef atomic_exchange_explicit
#define atomic_exchange_explicit(p, v, mo) __extension__({ __auto_type _p = (p); __auto_type _o = P_LD(_p); P_ST(_p, (v)); _o; })
#undef atomic_compare_exchange_strong_explicit
#define atomic_compare_exchange_strong_explicit(p, e, d, s, f) __extension__({ __auto_type _p = (p); __auto_type _e = (e); __auto_type _c = P_LD(_p); bool _ok = _c == *_e; if (_ok) P_ST(_p, (d)); else *_e = _c; _ok; })
#undef atomic_compare_exchange_weak_explicit
#define atomic_compare_exchange_weak_explicit atomic_compare_exchange_strong_explicit
#undef atomic_thread_fence
#define atomic_thread_fence(mo) __atomic_signal_fence(__ATOMIC_SEQ_CST)
#undef uatomic_xchg
#define uatomic_xchg(addr, v) __extension__({ __auto_type _a = (addr); __auto_type _o = CMM_LOAD_SHARED(*_a); CMM_STORE_SHARED(*_a, (v)); _o; })
#undef uatomic_cmpxchg
#define uatomic_cmpxchg(addr, old, _new) __extension__({ __auto_type _a = (addr); __auto_type _o = CMM_LOAD_SHARED(*_a); if (_o == (old)) CMM_STORE_SHARED(*_a, (_new)); _o; })

#endif /* MAPREG_PLAIN_ATOMICS_H */
