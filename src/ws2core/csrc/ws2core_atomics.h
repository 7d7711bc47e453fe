/* ws2core_atomics.h: the memory orderings between the table's writers (who hold the GIL) and
 * the native table's lock-free readers (who may not).  Internal to the Cython core; see
 * "Native table" in _handles_native.pxi for the protocol, a per-slot sequence lock.
 *
 * gcc and clang builtins, type-generic: the core is built for Linux and macOS hosts only.
 */
#ifndef WS2CORE_ATOMICS_H
#define WS2CORE_ATOMICS_H

#define ws2core_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ws2core_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ws2core_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ws2core_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define ws2core_fence_acquire() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define ws2core_fence_release() __atomic_thread_fence(__ATOMIC_RELEASE)

#endif /* WS2CORE_ATOMICS_H */
