/* crc32c: CRC-32C (Castagnoli), the checksum of Kafka record batches v2. Uses the SSE4.2 crc32
 * instruction when the CPU has it (checked once at run time), a slicing-by-8 table otherwise. */
#ifndef FERRY_CRC32C_H
#define FERRY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over n bytes. */
uint32_t crc32c(uint32_t crc, const void *data, size_t n);
/* The portable implementation, exposed so tests can compare it with the accelerated one. */
uint32_t crc32c_sw(uint32_t crc, const void *data, size_t n);

#endif
