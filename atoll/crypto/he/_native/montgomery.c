/*
 * Lane-parallel Montgomery arithmetic for atoll's HE layer (AVX-512 IFMA, radix 2^52):
 * fixed-base products of table entries (atoll_fb_products) and modular exponentiation with a
 * different base and exponent per lane (atoll_fb_powmod).
 *
 * Each 64-bit lane of a 512-bit register holds a limb of a DIFFERENT number ("vertical" SIMD),
 * so 8 independent products run at once with textbook word-serial Montgomery multiplication
 * (CIOS) where every scalar operation is a vector operation over 8 lanes. All lanes share one
 * odd modulus N of L 52-bit limbs, R = 2^(52 L) > 4N.
 *
 * Representation: a number is L limbs, each < 2^52, stored as limb-major vectors
 * (vector j holds limb j of the 8 lanes). Table entries are stored entry-major
 * (entry e: L consecutive uint64 limbs) and gathered per step. Exponentiation keeps a small
 * table per lane (entry-major, each entry L limb vectors of 8 lanes) and gathers each lane's own
 * entry for its current window digit; its squarings use mont_sqr (~3/4 of the IFMA work).
 *
 * Lazy reduction: with a, b < 2N and R > 4N, MontMul(a, b) = (ab + mN) / R < 2N, so the running
 * product stays below 2N and is fully reduced only once, at the end (MontMul by 1 gives a value
 * <= N, then one conditional subtraction).
 *
 * Accumulator bounds: inside MontMul every accumulator limb receives at most four 52-bit
 * partial products per outer iteration (lo(a_i b_j), lo(m n_j), hi(a_i b_{j-1}), hi(m n_{j-1}))
 * plus a carry < 2^13, and lives at most L iterations before it is shifted out, so it stays below
 * L * (2^54 + 2^13) < 2^62 for L <= 160 (8192-bit moduli need L = 158). No overflow.
 *
 * The CPU check (atoll_fb_cpu_ok) and the byte/limb converters are compiled for the baseline
 * ISA; only functions marked ATOLL_TGT use AVX-512, and Python calls them only after the check.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ATOLL_FB_ABI 2
#define ATOLL_FB_MAXL 160
#define LIMB_BITS 52
#define LIMB_MASK ((UINT64_C(1) << LIMB_BITS) - 1)
#define ATOLL_FB_MAXW 6 /* largest exponent window: 64 table entries per lane */

int atoll_fb_abi(void) { return ATOLL_FB_ABI; }

int atoll_fb_max_limbs(void) { return ATOLL_FB_MAXL; }

/* Little-endian bytes (count numbers of nbytes each) -> L 52-bit limbs per number. */
void atoll_fb_limbs_from_bytes(const uint8_t *in, int64_t count, int64_t nbytes, uint64_t *out,
                               int64_t L) {
    for (int64_t e = 0; e < count; e++) {
        const uint8_t *src = in + e * nbytes;
        uint64_t *dst = out + e * L;
        uint64_t acc = 0;
        int nb = 0;
        int64_t j = 0;
        for (int64_t i = 0; i < nbytes && j < L; i++) {
            acc |= (uint64_t)src[i] << nb;
            nb += 8;
            if (nb >= LIMB_BITS) {
                dst[j++] = acc & LIMB_MASK;
                acc >>= LIMB_BITS;
                nb -= LIMB_BITS;
            }
        }
        if (j < L) dst[j++] = acc & LIMB_MASK;
        for (; j < L; j++) dst[j] = 0;
    }
}

/* One number of L 52-bit limbs -> nbytes little-endian bytes (value must fit). */
static void limbs_to_bytes(const uint64_t *limbs, ptrdiff_t stride, int64_t L, uint8_t *out,
                           int64_t nbytes) {
    uint64_t acc = 0;
    int nb = 0;
    int64_t pos = 0;
    for (int64_t j = 0; j < L && pos < nbytes; j++) {
        acc |= limbs[j * stride] << nb; /* nb < 8, so nb + 52 <= 64 bits */
        nb += LIMB_BITS;
        while (nb >= 8 && pos < nbytes) {
            out[pos++] = (uint8_t)acc;
            acc >>= 8;
            nb -= 8;
        }
    }
    while (pos < nbytes) {
        out[pos++] = (uint8_t)acc;
        acc >>= 8;
    }
}

/* Bit length of a little-endian number of ebytes bytes (0 for zero). */
static int64_t exp_bits(const uint8_t *e, int64_t ebytes) {
    for (int64_t i = ebytes - 1; i >= 0; i--) {
        if (e[i]) {
            int b = 0;
            for (unsigned v = e[i]; v; v >>= 1) b++;
            return i * 8 + b;
        }
    }
    return 0;
}

/* Bits [pos, pos + w) of a little-endian number of ebytes bytes (w <= 8; 0 past the end). */
static unsigned exp_digit(const uint8_t *e, int64_t ebytes, int64_t pos, int w) {
    const int64_t byte = pos >> 3;
    unsigned v = 0;
    if (byte < ebytes) v = e[byte];
    if (byte + 1 < ebytes) v |= (unsigned)e[byte + 1] << 8;
    return (v >> (pos & 7)) & ((1u << w) - 1);
}

/* The window (1..ATOLL_FB_MAXW) with the fewest multiplications for a bits-bit exponent:
 * 2^w - 2 to build the table, then (windows - 1) * (w squarings + 1 multiplication). */
int atoll_fb_window(int64_t bits) {
    int best = 1;
    int64_t best_cost = INT64_MAX;
    if (bits <= 0) return 1;
    for (int w = 1; w <= ATOLL_FB_MAXW; w++) {
        const int64_t windows = (bits + w - 1) / w;
        const int64_t cost = ((int64_t)1 << w) - 2 + (windows - 1) * (w + 1);
        if (cost < best_cost) {
            best = w;
            best_cost = cost;
        }
    }
    return best;
}

/* ATOLL_FB_NO_KERNEL (tests) builds the portable stub, as on a non-x86 machine. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(ATOLL_FB_NO_KERNEL)
#include <cpuid.h>
#include <immintrin.h>

static int cpu_ok_uncached(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27))) return 0; /* OSXSAVE: the OS manages extended state */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    /* XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM state enabled by the OS */
    if ((lo & 0xE6u) != 0xE6u) return 0;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & (1u << 16)) && (b & (1u << 21)); /* AVX512F, AVX512IFMA */
}

/* cpuid can trap to the hypervisor in a VM: ask once (a benign race at worst asks twice). */
int atoll_fb_cpu_ok(void) {
    static volatile int cached = -1;
    if (cached < 0) cached = cpu_ok_uncached();
    return cached;
}

#define ATOLL_TGT __attribute__((target("avx512f,avx512ifma,avx2")))

/*
 * r = a * b / R mod N, lazily reduced: r < 2N when a, b < 2N; all limbs of r < 2^52.
 * a and b limbs must be < 2^52 (IFMA reads only the low 52 bits of each operand).
 * r may alias a or b. Word-serial Montgomery (CIOS) with the shift folded in: in outer
 * iteration i, new t[j-1] = t[j] + lo(a_i b_j) + hi(a_i b_{j-1}) + lo(m n_j) + hi(m n_{j-1}).
 */
ATOLL_TGT static void mont_mul(__m512i *r, const __m512i *a, const __m512i *b, const uint64_t *n,
                               __m512i n0inv, int L) {
    __m512i t[ATOLL_FB_MAXL];
    const __m512i zero = _mm512_setzero_si512();
    for (int j = 0; j < L; j++) t[j] = zero;
    const __m512i n0 = _mm512_set1_epi64((long long)n[0]);
    const __m512i ntop = _mm512_set1_epi64((long long)n[L - 1]);
    const __m512i btop = b[L - 1];
    for (int i = 0; i < L; i++) {
        const __m512i ai = a[i];
        __m512i t0 = _mm512_madd52lo_epu64(t[0], ai, b[0]);
        /* m = (t0 mod 2^52) * (-N^-1) mod 2^52, so that t0 + m n_0 = 0 mod 2^52 */
        const __m512i m = _mm512_madd52lo_epu64(zero, t0, n0inv);
        t0 = _mm512_madd52lo_epu64(t0, m, n0);
        __m512i c = _mm512_srli_epi64(t0, LIMB_BITS); /* exact: low 52 bits are zero */
        if (L > 1) {
            t[1] = _mm512_add_epi64(t[1], c);
            c = zero;
        }
        __m512i bprev = b[0];
        __m512i nprev = n0;
        for (int j = 1; j < L; j++) {
            const __m512i bj = b[j];
            const __m512i nj = _mm512_set1_epi64((long long)n[j]);
            __m512i x = _mm512_madd52lo_epu64(t[j], ai, bj);
            x = _mm512_madd52hi_epu64(x, ai, bprev);
            x = _mm512_madd52lo_epu64(x, m, nj);
            x = _mm512_madd52hi_epu64(x, m, nprev);
            t[j - 1] = x;
            bprev = bj;
            nprev = nj;
        }
        const __m512i top = _mm512_madd52hi_epu64(c, ai, btop);
        t[L - 1] = _mm512_madd52hi_epu64(top, m, ntop);
    }
    /* Carry-propagate to 52-bit limbs; the value is < 2N < R, so nothing carries out. */
    const __m512i mask = _mm512_set1_epi64((long long)LIMB_MASK);
    __m512i c = zero;
    for (int j = 0; j < L; j++) {
        const __m512i x = _mm512_add_epi64(t[j], c);
        r[j] = _mm512_and_si512(x, mask);
        c = _mm512_srli_epi64(x, LIMB_BITS);
    }
}

/*
 * r = a^2 / R mod N, lazily reduced (r < 2N when a < 2N); r may alias a. About 3 L^2 IFMA
 * operations instead of mont_mul's 4 L^2: each off-diagonal product a_i a_j (i < j) is taken
 * once, as (2 a_i) a_j with 2 a_i = a2_i + c_i 2^52 (a2_i = 2 a_i mod 2^52, c_i its carry bit):
 * lo(a2_i a_j) goes to column i+j, hi(a2_i a_j) + c_i a_j to column i+j+1. Row i of the product
 * only touches columns >= 2i, so the Montgomery reduction of column i (which needs every
 * contribution to it) runs in the same row, over absolute columns t[0..2L-1].
 * Bounds: a column receives at most L/2 (lo) + L/2 (hi) + L/2 (c_i a_j) + 2 (diagonal) product
 * terms and 2L reduction terms, each < 2^52, plus a carry < 2^13: < 3.5 L 2^52 + 2^13 < 2^62 for
 * L <= 160.
 */
ATOLL_TGT static void mont_sqr(__m512i *r, const __m512i *a, const uint64_t *n, __m512i n0inv,
                               int L) {
    __m512i t[2 * ATOLL_FB_MAXL];
    const __m512i zero = _mm512_setzero_si512();
    const __m512i mask = _mm512_set1_epi64((long long)LIMB_MASK);
    const __m512i bit51 = _mm512_set1_epi64((long long)(UINT64_C(1) << 51));
    const __m512i n0 = _mm512_set1_epi64((long long)n[0]);
    for (int k = 0; k < 2 * L; k++) t[k] = zero;
    for (int i = 0; i < L; i++) {
        const __m512i ai = a[i];
        const __m512i a2 = _mm512_and_si512(_mm512_slli_epi64(ai, 1), mask);
        const __mmask8 ci = _mm512_test_epi64_mask(ai, bit51);
        t[2 * i] = _mm512_madd52lo_epu64(t[2 * i], ai, ai);
        t[2 * i + 1] = _mm512_madd52hi_epu64(t[2 * i + 1], ai, ai);
        /* column i is complete: reduce it (m n_0 clears its low 52 bits) */
        const __m512i m = _mm512_madd52lo_epu64(zero, t[i], n0inv);
        const __m512i x0 = _mm512_madd52lo_epu64(t[i], m, n0);
        t[i + 1] = _mm512_add_epi64(t[i + 1], _mm512_srli_epi64(x0, LIMB_BITS));
        __m512i nprev = n0;
        int j = 1;
        for (; j <= i; j++) { /* columns i+1 .. 2i: reduction only */
            const __m512i nj = _mm512_set1_epi64((long long)n[j]);
            __m512i x = _mm512_madd52lo_epu64(t[i + j], m, nj);
            t[i + j] = _mm512_madd52hi_epu64(x, m, nprev);
            nprev = nj;
        }
        if (j < L) { /* column 2i+1: reduction + lo(a2_i a_{i+1}) */
            const __m512i nj = _mm512_set1_epi64((long long)n[j]);
            __m512i x = _mm512_madd52lo_epu64(t[i + j], m, nj);
            x = _mm512_madd52hi_epu64(x, m, nprev);
            t[i + j] = _mm512_madd52lo_epu64(x, a2, a[j]);
            nprev = nj;
            j++;
        }
        __m512i aprev = a[j - 1];
        for (; j < L; j++) { /* columns 2i+2 .. i+L-1: reduction + product row i */
            const __m512i nj = _mm512_set1_epi64((long long)n[j]);
            const __m512i aj = a[j];
            __m512i x = _mm512_madd52lo_epu64(t[i + j], m, nj);
            x = _mm512_madd52hi_epu64(x, m, nprev);
            x = _mm512_madd52lo_epu64(x, a2, aj);
            x = _mm512_madd52hi_epu64(x, a2, aprev);
            t[i + j] = _mm512_mask_add_epi64(x, ci, x, aprev);
            nprev = nj;
            aprev = aj;
        }
        /* column i+L: the high halves of the last limb's products */
        __m512i x = _mm512_madd52hi_epu64(t[i + L], m, nprev);
        if (i < L - 1) {
            x = _mm512_madd52hi_epu64(x, a2, aprev);
            x = _mm512_mask_add_epi64(x, ci, x, aprev);
        }
        t[i + L] = x;
    }
    /* Carry-propagate the upper half to 52-bit limbs; the value is < 2N < R. */
    __m512i c = zero;
    for (int j = 0; j < L; j++) {
        const __m512i x = _mm512_add_epi64(t[L + j], c);
        r[j] = _mm512_and_si512(x, mask);
        c = _mm512_srli_epi64(x, LIMB_BITS);
    }
}

/* r := r - N if r >= N (r < 2N, limbs normalized), per lane. */
ATOLL_TGT static inline void cond_sub(__m512i *r, const uint64_t *n, int L) {
    __m512i d[ATOLL_FB_MAXL];
    const __m512i mask = _mm512_set1_epi64((long long)LIMB_MASK);
    __m512i borrow = _mm512_setzero_si512();
    for (int j = 0; j < L; j++) {
        __m512i x = _mm512_sub_epi64(r[j], _mm512_set1_epi64((long long)n[j]));
        x = _mm512_sub_epi64(x, borrow);
        borrow = _mm512_srli_epi64(x, 63);
        d[j] = _mm512_and_si512(x, mask);
    }
    const __mmask8 ge = _mm512_cmpeq_epi64_mask(borrow, _mm512_setzero_si512());
    for (int j = 0; j < L; j++) r[j] = _mm512_mask_mov_epi64(r[j], ge, d[j]);
}

/*
 * Out of Montgomery form and out to bytes for one group of 8 lanes: MontMul(acc, 1) =
 * (acc + mN) / R <= N, then subtract N once if needed (the result equals N exactly when the
 * product is 0 mod N); each lane's L limbs become nbytes little-endian bytes in out.
 * acc and scratch are clobbered; lanes is 64-byte aligned scratch of 8 L words.
 */
ATOLL_TGT static void store_group(__m512i *acc, __m512i *scratch, const uint64_t *n,
                                  __m512i n0inv, int L, uint64_t *lanes, uint8_t *out,
                                  int64_t nbytes) {
    for (int j = 0; j < L; j++) scratch[j] = _mm512_setzero_si512();
    scratch[0] = _mm512_set1_epi64(1);
    mont_mul(acc, acc, scratch, n, n0inv, L);
    cond_sub(acc, n, L);
    for (int j = 0; j < L; j++) _mm512_store_si512((void *)(lanes + 8 * j), acc[j]);
    for (int l = 0; l < 8; l++) limbs_to_bytes(lanes + l, 8, L, out + l * nbytes, nbytes);
}

/*
 * Fixed-base products.
 *   table:  k entries x L limbs (entry-major), Montgomery form, each < N.
 *   index:  groups x steps x 8 int32 (lane-minor); -1 = skip, else 0 <= idx < k
 *           (checked by the caller), idx * L < 2^31.
 *   one_m:  R mod N (L limbs), Montgomery form of 1.
 *   out:    groups * 8 numbers of nbytes little-endian bytes, fully reduced to [0, N).
 */
ATOLL_TGT static void products_avx512(const uint64_t *table, const int32_t *index, int64_t groups,
                                      int64_t steps, const uint64_t *n, uint64_t n0inv,
                                      const uint64_t *one_m, int L, uint8_t *out,
                                      int64_t nbytes) {
    __m512i acc[ATOLL_FB_MAXL];
    __m512i b[ATOLL_FB_MAXL];
    __m512i tmp[ATOLL_FB_MAXL];
    uint64_t lanes[ATOLL_FB_MAXL * 8] __attribute__((aligned(64)));
    const __m512i vn0inv = _mm512_set1_epi64((long long)n0inv);
    const __m256i vL = _mm256_set1_epi32(L);
    const __m512i zero = _mm512_setzero_si512();
    const int64_t entry_bytes = (int64_t)L * 8;
    for (int64_t g = 0; g < groups; g++) {
        const int32_t *ig = index + g * steps * 8;
        for (int j = 0; j < L; j++) acc[j] = _mm512_set1_epi64((long long)one_m[j]);
        for (int64_t s = 0; s < steps; s++) {
            const __m256i idx = _mm256_loadu_si256((const __m256i *)(ig + s * 8));
            const __mmask8 live = _mm512_cmpge_epi64_mask(_mm512_cvtepi32_epi64(idx), zero);
            if (live == 0) continue;
            const __m512i off = _mm512_cvtepi32_epi64(_mm256_mullo_epi32(idx, vL));
            for (int j = 0; j < L; j++)
                b[j] = _mm512_mask_i64gather_epi64(zero, live, off, (const void *)(table + j), 8);
            /* The table may exceed L2 (7+ MB for 56 x 256 entries of 4096 bits): pull the next
             * step's entries toward L2 while this step multiplies (T0 would evict the L1
             * working set at large L). */
            if (s + 1 < steps) {
                const int32_t *nx = ig + (s + 1) * 8;
                for (int l = 0; l < 8; l++) {
                    if (nx[l] < 0) continue;
                    const char *p = (const char *)(table + (int64_t)nx[l] * L);
                    for (int64_t o = 0; o < entry_bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T1);
                    _mm_prefetch(p + entry_bytes - 1, _MM_HINT_T1);
                }
            }
            if (live == 0xFF) {
                mont_mul(acc, acc, b, n, vn0inv, L);
            } else {
                mont_mul(tmp, acc, b, n, vn0inv, L);
                for (int j = 0; j < L; j++) acc[j] = _mm512_mask_mov_epi64(acc[j], live, tmp[j]);
            }
        }
        store_group(acc, b, n, vn0inv, L, lanes, out + g * 8 * nbytes, nbytes);
    }
}

/* In place: entries (k x L limbs, each value < N) -> Montgomery form via MontMul(e, R^2 mod N). */
ATOLL_TGT static void to_mont_avx512(uint64_t *table, int64_t k, const uint64_t *n,
                                     uint64_t n0inv, const uint64_t *r2, int L) {
    __m512i a[ATOLL_FB_MAXL];
    __m512i b[ATOLL_FB_MAXL];
    uint64_t lanes[ATOLL_FB_MAXL * 8] __attribute__((aligned(64)));
    const __m512i vn0inv = _mm512_set1_epi64((long long)n0inv);
    for (int j = 0; j < L; j++) b[j] = _mm512_set1_epi64((long long)r2[j]);
    for (int64_t e0 = 0; e0 < k; e0 += 8) {
        const int live = (k - e0) < 8 ? (int)(k - e0) : 8;
        memset(lanes, 0, sizeof(uint64_t) * 8 * (size_t)L);
        for (int l = 0; l < live; l++)
            for (int j = 0; j < L; j++) lanes[8 * j + l] = table[(e0 + l) * L + j];
        for (int j = 0; j < L; j++) a[j] = _mm512_load_si512((const void *)(lanes + 8 * j));
        mont_mul(a, a, b, n, vn0inv, L);
        cond_sub(a, n, L); /* keep table entries fully reduced */
        for (int j = 0; j < L; j++) _mm512_store_si512((void *)(lanes + 8 * j), a[j]);
        for (int l = 0; l < live; l++)
            for (int j = 0; j < L; j++) table[(e0 + l) * L + j] = lanes[8 * j + l];
    }
}

/* The 8 lanes' own table entries for their digits d[l]: r[j] lane l = tbl[d[l]][j] lane l. */
ATOLL_TGT static inline void gather_digits(__m512i *r, const __m512i *tbl, const uint64_t *d,
                                           int L) {
    /* uint64 offset of (entry d, limb 0, lane l) = d * 8 L + l; scalar (no AVX512DQ needed) */
    uint64_t o[8] __attribute__((aligned(64)));
    for (int l = 0; l < 8; l++) o[l] = d[l] * 8 * (uint64_t)L + (uint64_t)l;
    const __m512i off = _mm512_load_si512((const void *)o);
    const uint64_t *base = (const uint64_t *)tbl;
    for (int j = 0; j < L; j++) r[j] = _mm512_i64gather_epi64(off, (const void *)(base + 8 * j), 8);
}

/*
 * Modular exponentiation, a different base and exponent per lane.
 *   bases:  groups * 8 numbers x L limbs (number-major), each value < N.
 *   exps:   groups * 8 numbers of ebytes little-endian bytes.
 *   r2:     R^2 mod N; one_m: R mod N (L limbs each).
 *   window: 0 = choose per group from the group's longest exponent, else 1..ATOLL_FB_MAXW.
 *   out:    groups * 8 numbers of nbytes little-endian bytes, fully reduced to [0, N).
 * Per group: bases -> Montgomery form, per-lane tables b^0..b^(2^w - 1), then fixed windows
 * from the top: w squarings for all lanes, one multiplication by each lane's own entry (a zero
 * digit multiplies by the Montgomery one; a window where every digit is zero is skipped).
 * All values stay < 2N (lazy reduction); see mont_mul.
 */
ATOLL_TGT static int powmod_avx512(const uint64_t *bases, const uint8_t *exps, int64_t groups,
                                   int64_t ebytes, const uint64_t *n, uint64_t n0inv,
                                   const uint64_t *r2, const uint64_t *one_m, int L, int window,
                                   uint8_t *out, int64_t nbytes) {
    __m512i acc[ATOLL_FB_MAXL];
    __m512i b[ATOLL_FB_MAXL];
    uint64_t lanes[ATOLL_FB_MAXL * 8] __attribute__((aligned(64)));
    uint64_t d[8] __attribute__((aligned(64)));
    /* The widest window any group uses: size the table for it (not for ATOLL_FB_MAXW, as
     * large blocks come from mmap and would be faulted in again on every call). */
    int wmax = window;
    for (int64_t g = 0; !window && g < groups; g++) {
        int64_t maxbits = 0;
        for (int l = 0; l < 8; l++) {
            const int64_t bits = exp_bits(exps + (g * 8 + l) * ebytes, ebytes);
            if (bits > maxbits) maxbits = bits;
        }
        const int w = atoll_fb_window(maxbits);
        if (w > wmax) wmax = w;
    }
    /* (2^wmax table entries + R^2 mod N) x L vectors; a multiple of 64 bytes. */
    const size_t slots = ((size_t)1 << wmax) + 1;
    __m512i *tbl = (__m512i *)aligned_alloc(64, slots * (size_t)L * sizeof(__m512i));
    if (tbl == NULL) return -3;
    __m512i *r2v = tbl + ((size_t)1 << wmax) * (size_t)L;
    for (int j = 0; j < L; j++) r2v[j] = _mm512_set1_epi64((long long)r2[j]);
    const __m512i vn0inv = _mm512_set1_epi64((long long)n0inv);
    for (int64_t g = 0; g < groups; g++) {
        const uint8_t *eg = exps + g * 8 * ebytes;
        int64_t maxbits = 0;
        for (int l = 0; l < 8; l++) {
            const int64_t bits = exp_bits(eg + l * ebytes, ebytes);
            if (bits > maxbits) maxbits = bits;
        }
        if (maxbits == 0) {
            for (int j = 0; j < L; j++) acc[j] = _mm512_set1_epi64((long long)one_m[j]);
        } else {
            const int w = window ? window : atoll_fb_window(maxbits);
            const int entries = 1 << w;
            for (int l = 0; l < 8; l++)
                for (int j = 0; j < L; j++) lanes[8 * j + l] = bases[(g * 8 + l) * L + j];
            for (int j = 0; j < L; j++) b[j] = _mm512_load_si512((const void *)(lanes + 8 * j));
            mont_mul(b, b, r2v, n, vn0inv, L); /* b R mod N (< 2N) */
            for (int j = 0; j < L; j++) {
                tbl[j] = _mm512_set1_epi64((long long)one_m[j]);
                tbl[L + j] = b[j];
            }
            for (int k = 2; k < entries; k++)
                mont_mul(tbl + (size_t)k * L, tbl + (size_t)(k - 1) * L, b, n, vn0inv, L);
            const int64_t windows = (maxbits + w - 1) / w;
            int64_t pos = (windows - 1) * w;
            for (int l = 0; l < 8; l++) d[l] = exp_digit(eg + l * ebytes, ebytes, pos, w);
            gather_digits(acc, tbl, d, L);
            while (pos > 0) {
                pos -= w;
                for (int s = 0; s < w; s++) mont_sqr(acc, acc, n, vn0inv, L);
                uint64_t any = 0;
                for (int l = 0; l < 8; l++) {
                    d[l] = exp_digit(eg + l * ebytes, ebytes, pos, w);
                    any |= d[l];
                }
                if (!any) continue;
                gather_digits(b, tbl, d, L);
                mont_mul(acc, acc, b, n, vn0inv, L);
            }
        }
        store_group(acc, b, n, vn0inv, L, lanes, out + g * 8 * nbytes, nbytes);
    }
    free(tbl);
    return 0;
}

int atoll_fb_products(const uint64_t *table, const int32_t *index, int64_t groups, int64_t steps,
                      const uint64_t *n, uint64_t n0inv, const uint64_t *one_m, int64_t L,
                      uint8_t *out, int64_t nbytes) {
    if (L < 1 || L > ATOLL_FB_MAXL || groups < 0 || steps < 0 || nbytes < 1) return -1;
    if (!atoll_fb_cpu_ok()) return -2;
    products_avx512(table, index, groups, steps, n, n0inv, one_m, (int)L, out, nbytes);
    return 0;
}

int atoll_fb_to_mont(uint64_t *table, int64_t k, const uint64_t *n, uint64_t n0inv,
                     const uint64_t *r2, int64_t L) {
    if (L < 1 || L > ATOLL_FB_MAXL || k < 0) return -1;
    if (!atoll_fb_cpu_ok()) return -2;
    to_mont_avx512(table, k, n, n0inv, r2, (int)L);
    return 0;
}

int atoll_fb_powmod(const uint64_t *bases, const uint8_t *exps, int64_t groups, int64_t ebytes,
                    const uint64_t *n, uint64_t n0inv, const uint64_t *r2, const uint64_t *one_m,
                    int64_t L, int64_t window, uint8_t *out, int64_t nbytes) {
    if (L < 1 || L > ATOLL_FB_MAXL || groups < 0 || ebytes < 1 || nbytes < 1) return -1;
    if (window < 0 || window > ATOLL_FB_MAXW) return -1;
    if (!atoll_fb_cpu_ok()) return -2;
    return powmod_avx512(bases, exps, groups, ebytes, n, n0inv, r2, one_m, (int)L, (int)window,
                         out, nbytes);
}

#else /* not x86-64 with GCC/Clang: no kernel */

int atoll_fb_cpu_ok(void) { return 0; }

int atoll_fb_products(const uint64_t *table, const int32_t *index, int64_t groups, int64_t steps,
                      const uint64_t *n, uint64_t n0inv, const uint64_t *one_m, int64_t L,
                      uint8_t *out, int64_t nbytes) {
    (void)table; (void)index; (void)groups; (void)steps; (void)n; (void)n0inv; (void)one_m;
    (void)L; (void)out; (void)nbytes; (void)limbs_to_bytes;
    return -2;
}

int atoll_fb_to_mont(uint64_t *table, int64_t k, const uint64_t *n, uint64_t n0inv,
                     const uint64_t *r2, int64_t L) {
    (void)table; (void)k; (void)n; (void)n0inv; (void)r2; (void)L;
    return -2;
}

int atoll_fb_powmod(const uint64_t *bases, const uint8_t *exps, int64_t groups, int64_t ebytes,
                    const uint64_t *n, uint64_t n0inv, const uint64_t *r2, const uint64_t *one_m,
                    int64_t L, int64_t window, uint8_t *out, int64_t nbytes) {
    (void)bases; (void)exps; (void)groups; (void)ebytes; (void)n; (void)n0inv; (void)r2;
    (void)one_m; (void)L; (void)window; (void)out; (void)nbytes; (void)exp_digit; (void)exp_bits;
    return -2;
}

#endif
