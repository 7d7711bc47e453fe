/* ws2core_byteorder.h: the little-endian fields of a Windows fd_set, read and written at any
 * alignment.  Internal to the Cython core (_handles_fdset.pxi); not shipped for providers.
 *
 * fd_set fields are little-endian and may sit at any alignment in a foreign buffer (guest
 * memory, a bytearray slice): memcpy compiles to one load or store on x86-64 and is defined
 * behaviour everywhere.
 */
#ifndef WS2CORE_BYTEORDER_H
#define WS2CORE_BYTEORDER_H

#include <stdint.h>
#include <string.h>

/* A little-endian value as the host holds it, and back (the same swap both ways). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ws2core_le64(v) __builtin_bswap64(v)
#define ws2core_le32(v) __builtin_bswap32(v)
#else
#define ws2core_le64(v) (v)
#define ws2core_le32(v) (v)
#endif

static inline uint64_t ws2core_load_le64(const unsigned char *p) {
    uint64_t v; memcpy(&v, p, 8); return ws2core_le64(v);
}
static inline void ws2core_store_le64(unsigned char *p, uint64_t v) {
    v = ws2core_le64(v); memcpy(p, &v, 8);
}
static inline uint32_t ws2core_load_le32(const unsigned char *p) {
    uint32_t v; memcpy(&v, p, 4); return ws2core_le32(v);
}
static inline void ws2core_store_le32(unsigned char *p, uint32_t v) {
    v = ws2core_le32(v); memcpy(p, &v, 4);
}

#endif /* WS2CORE_BYTEORDER_H */
