/* SPDX-License-Identifier: MIT */
/*
 * tools/plain-experiment.sh's header, never part of the library: included
 * first into the locked backend's files of a scratch copy, it makes the
 * pool's mutex a compiler barrier.  The result is correct for one thread
 * only, and is the best any one-thread path could do on a shape: the
 * locked backend's sequential algorithm, with nothing to exclude anyone.
 * <pthread.h> first, so that its prototypes are read before the macros.
 */
#ifndef MAPREG_NO_MUTEX_H
#define MAPREG_NO_MUTEX_H

#include <pthread.h>
#define pthread_mutex_lock(m) __extension__({ (void)(m); __asm__ __volatile__("" ::: "memory"); 0; })
#define pthread_mutex_unlock(m) __extension__({ (void)(m); __asm__ __volatile__("" ::: "memory"); 0; })

#endif /* MAPREG_NO_MUTEX_H */
