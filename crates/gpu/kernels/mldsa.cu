/*
 * ML-DSA (FIPS 204) batch verification kernels for poai-gpu.
 *
 * One source, two compilers:
 * - NVRTC at run time (the CUDA backend): each kernel is an `extern "C" __global__` function
 *   whose thread index `gid` selects one unit of work.
 * - The host C++ compiler (build.rs, feature `emulate`), with POAI_HOST defined: each kernel
 *   becomes a plain function that runs the same body for gid in [begin, end), so `cargo test`
 *   runs this exact code on machines without a GPU.
 *
 * Every body is plain per-thread code (no shared memory, no warp intrinsics), so the two
 * compilations compute the same thing. No headers are included: NVRTC ships none by default.
 *
 * Layouts. Polynomials of many items are stored interleaved, coefficient-major:
 * element (item, slot, i) of an array for `n` items lives at ((slot * 256 + i) * n + item), so
 * neighbouring threads (neighbouring items, same slot) touch neighbouring words (coalesced).
 * Byte strings (public keys, signatures, mu, w1) are item-major.
 *
 * Algorithms and numbers refer to FIPS 204 (August 2024): ExpandA (Alg. 32) with RejNTTPoly
 * (Alg. 30), SampleInBall (Alg. 29), NTT / NTT^-1 (Alg. 41/42), Decompose / UseHint (Alg. 36/40),
 * w1Encode (Alg. 28), the final check of ML-DSA.Verify_internal (Alg. 8). Arithmetic uses
 * Montgomery reduction with R = 2^32, as the FIPS 204 reference code does.
 */

typedef unsigned char u8;
typedef unsigned int u32;
typedef int i32;
typedef unsigned long long u64;
typedef long long i64;

#ifdef POAI_HOST
#define DEV static inline
#define NOINLINE static
#define CONSTANT static const
#define UNROLL
#else
#define DEV __device__ __forceinline__
#define NOINLINE __device__ __noinline__
#define CONSTANT __constant__ const
#define UNROLL _Pragma("unroll")
#endif

#define N 256
#define Q 8380417
#define QINV 58728449 /* q^-1 mod 2^32 */
#define MONT_F 41978  /* R^2 / 256 mod q: undoes 1/R of the products and scales by 1/256 */

/* Interleaved index of coefficient i of polynomial `slot` of item `item` among `n` items. */
#define IDX(n, slot, i, item) ((((u64)(slot)) * N + (u64)(i)) * (u64)(n) + (u64)(item))

/* Parameter sets (FIPS 204 Table 1), selected by the kernels' `param` argument (44, 65, 87). */
typedef struct {
    u32 k, l, tau, beta, omega;
    u32 gamma1_bits; /* log2(gamma1) */
    i32 gamma2;
    u32 ctilde_len;  /* lambda / 4 */
    u32 z_bits;      /* bits per packed z coefficient: 1 + log2(gamma1) */
    u32 w1_bits;     /* bits per w1 coefficient: 6 for gamma2 = (q-1)/88, 4 for (q-1)/32 */
} params_t;

DEV params_t get_params(u32 param) {
    params_t p;
    if (param == 44) {
        p.k = 4; p.l = 4; p.tau = 39; p.beta = 78; p.omega = 80;
        p.gamma1_bits = 17; p.gamma2 = (Q - 1) / 88; p.ctilde_len = 32; p.z_bits = 18; p.w1_bits = 6;
    } else if (param == 65) {
        p.k = 6; p.l = 5; p.tau = 49; p.beta = 196; p.omega = 55;
        p.gamma1_bits = 19; p.gamma2 = (Q - 1) / 32; p.ctilde_len = 48; p.z_bits = 20; p.w1_bits = 4;
    } else {
        p.k = 8; p.l = 7; p.tau = 60; p.beta = 120; p.omega = 75;
        p.gamma1_bits = 19; p.gamma2 = (Q - 1) / 32; p.ctilde_len = 64; p.z_bits = 20; p.w1_bits = 4;
    }
    return p;
}

DEV u32 pk_len(const params_t *p) { return 32 + p->k * 320; }
DEV u32 zpoly_len(const params_t *p) { return 32 * p->z_bits; }
DEV u32 w1poly_len(const params_t *p) { return 32 * p->w1_bits; }
DEV u32 sig_len(const params_t *p) { return p->ctilde_len + p->l * zpoly_len(p) + p->omega + p->k; }

/* ---------------------------------------------------------------- Keccak-f[1600], SHAKE */

CONSTANT u64 KECCAK_RC[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

DEV u64 rotl64(u64 x, u32 n) { return (x << n) | (x >> (64 - n)); }

/* Keccak-f[1600] (FIPS 202 section 3), lanes indexed x + 5y. Rho and pi are written out as the
 * single 24-step cycle of lane moves, so every rotation amount is a non-zero constant. */
NOINLINE void keccak_f(u64 state[25]) {
    /* Work on a copy indexed only by constants, so the device compiler keeps it in registers
     * (the sponge indexes `state` by position, which puts `state` itself in local memory). */
    u64 s[25];
    UNROLL
    for (u32 i = 0; i < 25; ++i) s[i] = state[i];
    for (u32 round = 0; round < 24; ++round) {
        u64 c0 = s[0] ^ s[5] ^ s[10] ^ s[15] ^ s[20];
        u64 c1 = s[1] ^ s[6] ^ s[11] ^ s[16] ^ s[21];
        u64 c2 = s[2] ^ s[7] ^ s[12] ^ s[17] ^ s[22];
        u64 c3 = s[3] ^ s[8] ^ s[13] ^ s[18] ^ s[23];
        u64 c4 = s[4] ^ s[9] ^ s[14] ^ s[19] ^ s[24];
        u64 d0 = c4 ^ rotl64(c1, 1);
        u64 d1 = c0 ^ rotl64(c2, 1);
        u64 d2 = c1 ^ rotl64(c3, 1);
        u64 d3 = c2 ^ rotl64(c4, 1);
        u64 d4 = c3 ^ rotl64(c0, 1);
        UNROLL
        for (u32 y = 0; y < 25; y += 5) {
            s[y + 0] ^= d0; s[y + 1] ^= d1; s[y + 2] ^= d2; s[y + 3] ^= d3; s[y + 4] ^= d4;
        }
        /* rho + pi: B[y, 2x+3y] = rot(A[x, y], r[x, y]); following lane 1 around the cycle. */
        u64 t = s[1], u;
        u = s[10]; s[10] = rotl64(t, 1);  t = u;
        u = s[7];  s[7]  = rotl64(t, 3);  t = u;
        u = s[11]; s[11] = rotl64(t, 6);  t = u;
        u = s[17]; s[17] = rotl64(t, 10); t = u;
        u = s[18]; s[18] = rotl64(t, 15); t = u;
        u = s[3];  s[3]  = rotl64(t, 21); t = u;
        u = s[5];  s[5]  = rotl64(t, 28); t = u;
        u = s[16]; s[16] = rotl64(t, 36); t = u;
        u = s[8];  s[8]  = rotl64(t, 45); t = u;
        u = s[21]; s[21] = rotl64(t, 55); t = u;
        u = s[24]; s[24] = rotl64(t, 2);  t = u;
        u = s[4];  s[4]  = rotl64(t, 14); t = u;
        u = s[15]; s[15] = rotl64(t, 27); t = u;
        u = s[23]; s[23] = rotl64(t, 41); t = u;
        u = s[19]; s[19] = rotl64(t, 56); t = u;
        u = s[13]; s[13] = rotl64(t, 8);  t = u;
        u = s[12]; s[12] = rotl64(t, 25); t = u;
        u = s[2];  s[2]  = rotl64(t, 43); t = u;
        u = s[20]; s[20] = rotl64(t, 62); t = u;
        u = s[14]; s[14] = rotl64(t, 18); t = u;
        u = s[22]; s[22] = rotl64(t, 39); t = u;
        u = s[9];  s[9]  = rotl64(t, 61); t = u;
        u = s[6];  s[6]  = rotl64(t, 20); t = u;
        s[1] = rotl64(t, 44);
        UNROLL
        for (u32 y = 0; y < 25; y += 5) {
            u64 a0 = s[y], a1 = s[y + 1], a2 = s[y + 2], a3 = s[y + 3], a4 = s[y + 4];
            s[y + 0] = a0 ^ (~a1 & a2);
            s[y + 1] = a1 ^ (~a2 & a3);
            s[y + 2] = a2 ^ (~a3 & a4);
            s[y + 3] = a3 ^ (~a4 & a0);
            s[y + 4] = a4 ^ (~a0 & a1);
        }
        s[0] ^= KECCAK_RC[round];
    }
    UNROLL
    for (u32 i = 0; i < 25; ++i) state[i] = s[i];
}

/* A SHAKE sponge (FIPS 202 section 6.2): rate 168 (SHAKE128) or 136 (SHAKE256) bytes. */
typedef struct {
    u64 s[25];
    u32 pos;
    u32 rate;
} shake_t;

DEV void shake_init(shake_t *h, u32 rate) {
    UNROLL
    for (u32 i = 0; i < 25; ++i) h->s[i] = 0;
    h->pos = 0;
    h->rate = rate;
}

DEV void shake_absorb_byte(shake_t *h, u8 b) {
    h->s[h->pos >> 3] ^= ((u64)b) << (8 * (h->pos & 7));
    if (++h->pos == h->rate) {
        keccak_f(h->s);
        h->pos = 0;
    }
}

NOINLINE void shake_absorb(shake_t *h, const u8 *in, u32 len) {
    for (u32 i = 0; i < len; ++i) shake_absorb_byte(h, in[i]);
}

/* Pads (SHAKE domain bits 1111, then pad10*1) and switches to squeezing. */
DEV void shake_finalize(shake_t *h) {
    h->s[h->pos >> 3] ^= 0x1FULL << (8 * (h->pos & 7));
    h->s[(h->rate - 1) >> 3] ^= 0x80ULL << (8 * ((h->rate - 1) & 7));
    keccak_f(h->s);
    h->pos = 0;
}

DEV u8 shake_squeeze_byte(shake_t *h) {
    if (h->pos == h->rate) {
        keccak_f(h->s);
        h->pos = 0;
    }
    u8 b = (u8)(h->s[h->pos >> 3] >> (8 * (h->pos & 7)));
    h->pos++;
    return b;
}

/* ---------------------------------------------------------------- arithmetic mod q, NTT */

CONSTANT i32 ZETAS[N] = {
    0, 25847, -2608894, -518909, 237124, -777960, -876248, 466468,
    1826347, 2353451, -359251, -2091905, 3119733, -2884855, 3111497, 2680103,
    2725464, 1024112, -1079900, 3585928, -549488, -1119584, 2619752, -2108549,
    -2118186, -3859737, -1399561, -3277672, 1757237, -19422, 4010497, 280005,
    2706023, 95776, 3077325, 3530437, -1661693, -3592148, -2537516, 3915439,
    -3861115, -3043716, 3574422, -2867647, 3539968, -300467, 2348700, -539299,
    -1699267, -1643818, 3505694, -3821735, 3507263, -2140649, -1600420, 3699596,
    811944, 531354, 954230, 3881043, 3900724, -2556880, 2071892, -2797779,
    -3930395, -1528703, -3677745, -3041255, -1452451, 3475950, 2176455, -1585221,
    -1257611, 1939314, -4083598, -1000202, -3190144, -3157330, -3632928, 126922,
    3412210, -983419, 2147896, 2715295, -2967645, -3693493, -411027, -2477047,
    -671102, -1228525, -22981, -1308169, -381987, 1349076, 1852771, -1430430,
    -3343383, 264944, 508951, 3097992, 44288, -1100098, 904516, 3958618,
    -3724342, -8578, 1653064, -3249728, 2389356, -210977, 759969, -1316856,
    189548, -3553272, 3159746, -1851402, -2409325, -177440, 1315589, 1341330,
    1285669, -1584928, -812732, -1439742, -3019102, -3881060, -3628969, 3839961,
    2091667, 3407706, 2316500, 3817976, -3342478, 2244091, -2446433, -3562462,
    266997, 2434439, -1235728, 3513181, -3520352, -3759364, -1197226, -3193378,
    900702, 1859098, 909542, 819034, 495491, -1613174, -43260, -522500,
    -655327, -3122442, 2031748, 3207046, -3556995, -525098, -768622, -3595838,
    342297, 286988, -2437823, 4108315, 3437287, -3342277, 1735879, 203044,
    2842341, 2691481, -2590150, 1265009, 4055324, 1247620, 2486353, 1595974,
    -3767016, 1250494, 2635921, -3548272, -2994039, 1869119, 1903435, -1050970,
    -1333058, 1237275, -3318210, -1430225, -451100, 1312455, 3306115, -1962642,
    -1279661, 1917081, -2546312, -1374803, 1500165, 777191, 2235880, 3406031,
    -542412, -2831860, -1671176, -1846953, -2584293, -3724270, 594136, -3776993,
    -2013608, 2432395, 2454455, -164721, 1957272, 3369112, 185531, -1207385,
    -3183426, 162844, 1616392, 3014001, 810149, 1652634, -3694233, -1799107,
    -3038916, 3523897, 3866901, 269760, 2213111, -975884, 1717735, 472078,
    -426683, 1723600, -1803090, 1910376, -1667432, -1104333, -260646, -3833893,
    -2939036, -2235985, -420899, -2286327, 183443, -976891, 1612842, -3545687,
    -554416, 3919660, -48306, -1362209, 3937738, 1400424, -846154, 1976782,
};

/* For |a| < 2^31 q: a value congruent to a * 2^-32 mod q in (-q, q). */
DEV i32 montgomery_reduce(i64 a) {
    i32 t = (i32)((i64)(i32)a * QINV);
    return (i32)((a - (i64)t * Q) >> 32);
}

/* For a <= 2^31 - 2^22 - 1: a value congruent to a in [-6283008, 6283008]. */
DEV i32 reduce32(i32 a) {
    i32 t = (a + (1 << 22)) >> 23;
    return a - t * Q;
}

/* The representative of a in [0, q). */
DEV i32 freeze(i32 a) {
    a %= Q;
    return a < 0 ? a + Q : a;
}

/* The NTTs below compute exactly the butterflies of Alg. 41/42 (same operands, same order
 * within each dependency chain), grouped so that several levels run on values held in
 * registers: levels 0-2 and 3-5 as radix-8 passes and levels 6-7 as a radix-4 pass, so a
 * polynomial (which lives in slow per-thread local memory on the GPU) is read and written three
 * times instead of eight. At level l (block length 128 >> l), block b of the forward transform
 * uses ZETAS[(1 << l) + b]. */

/* Cooley-Tukey butterfly: (x, y) -> (x + zeta y, x - zeta y). */
#define FWD_BF(x, y, zeta)                                        \
    do {                                                          \
        i32 t_ = montgomery_reduce((i64)(zeta) * (y));            \
        (y) = (x) - t_;                                           \
        (x) = (x) + t_;                                           \
    } while (0)

/* Gentleman-Sande butterfly: (x, y) -> (x + y, zeta (x - y)). */
#define INV_BF(x, y, zeta)                                        \
    do {                                                          \
        i32 t_ = (x);                                             \
        (x) = t_ + (y);                                           \
        (y) = montgomery_reduce((i64)(zeta) * (t_ - (y)));        \
    } while (0)

/* Forward NTT (Alg. 41) in place; input |a| < q, output |a| < 9q, bit-reversed order. */
NOINLINE void ntt(i32 a[N]) {
    for (u32 l = 0; l < 6; l += 3) {
        u32 d = 32 >> l; /* butterfly distance at the pass's last level */
        for (u32 sb = 0; sb < N; sb += 8 * d) {
            u32 b = sb / (8 * d);
            i32 z0 = ZETAS[(1u << l) + b];
            i32 z1a = ZETAS[(2u << l) + 2 * b], z1b = ZETAS[(2u << l) + 2 * b + 1];
            i32 z2a = ZETAS[(4u << l) + 4 * b], z2b = ZETAS[(4u << l) + 4 * b + 1];
            i32 z2c = ZETAS[(4u << l) + 4 * b + 2], z2d = ZETAS[(4u << l) + 4 * b + 3];
            for (u32 o = 0; o < d; ++o) {
                i32 x[8];
                UNROLL
                for (u32 i = 0; i < 8; ++i) x[i] = a[sb + o + i * d];
                UNROLL
                for (u32 i = 0; i < 4; ++i) FWD_BF(x[i], x[i + 4], z0);
                FWD_BF(x[0], x[2], z1a);
                FWD_BF(x[1], x[3], z1a);
                FWD_BF(x[4], x[6], z1b);
                FWD_BF(x[5], x[7], z1b);
                FWD_BF(x[0], x[1], z2a);
                FWD_BF(x[2], x[3], z2b);
                FWD_BF(x[4], x[5], z2c);
                FWD_BF(x[6], x[7], z2d);
                UNROLL
                for (u32 i = 0; i < 8; ++i) a[sb + o + i * d] = x[i];
            }
        }
    }
    /* Levels 6 (distance 2) and 7 (distance 1). */
    for (u32 sb = 0; sb < N; sb += 4) {
        u32 b = sb / 4;
        i32 x0 = a[sb], x1 = a[sb + 1], x2 = a[sb + 2], x3 = a[sb + 3];
        i32 z0 = ZETAS[64 + b];
        FWD_BF(x0, x2, z0);
        FWD_BF(x1, x3, z0);
        FWD_BF(x0, x1, ZETAS[128 + 2 * b]);
        FWD_BF(x2, x3, ZETAS[128 + 2 * b + 1]);
        a[sb] = x0;
        a[sb + 1] = x1;
        a[sb + 2] = x2;
        a[sb + 3] = x3;
    }
}

/* Inverse NTT (Alg. 42) times R (the factor R undoes the 1/R of one Montgomery product);
 * input |a| < 2^23 (after reduce32), output |a| < q. At block length len = 128 / nb, block b
 * uses -ZETAS[2 nb - 1 - b]; the final scaling by 256^-1 (MONT_F) is folded into the last
 * pass. */
NOINLINE void invntt_tomont(i32 a[N]) {
    /* Levels with len 1 and 2. */
    for (u32 sb = 0; sb < N; sb += 4) {
        u32 b = sb / 4;
        i32 x0 = a[sb], x1 = a[sb + 1], x2 = a[sb + 2], x3 = a[sb + 3];
        INV_BF(x0, x1, -ZETAS[255 - 2 * b]);
        INV_BF(x2, x3, -ZETAS[255 - (2 * b + 1)]);
        i32 z = -ZETAS[127 - b];
        INV_BF(x0, x2, z);
        INV_BF(x1, x3, z);
        a[sb] = x0;
        a[sb + 1] = x1;
        a[sb + 2] = x2;
        a[sb + 3] = x3;
    }
    /* Levels with len d, 2d, 4d for d = 4, then d = 32. */
    for (u32 d = 4; d <= 32; d *= 8) {
        u32 nb = 128 / d; /* blocks at len d */
        for (u32 sb = 0; sb < N; sb += 8 * d) {
            u32 b = sb / (8 * d);
            i32 z0a = -ZETAS[2 * nb - 1 - 4 * b], z0b = -ZETAS[2 * nb - 1 - (4 * b + 1)];
            i32 z0c = -ZETAS[2 * nb - 1 - (4 * b + 2)], z0d = -ZETAS[2 * nb - 1 - (4 * b + 3)];
            i32 z1a = -ZETAS[nb - 1 - 2 * b], z1b = -ZETAS[nb - 1 - (2 * b + 1)];
            i32 z2 = -ZETAS[nb / 2 - 1 - b];
            for (u32 o = 0; o < d; ++o) {
                i32 x[8];
                UNROLL
                for (u32 i = 0; i < 8; ++i) x[i] = a[sb + o + i * d];
                INV_BF(x[0], x[1], z0a);
                INV_BF(x[2], x[3], z0b);
                INV_BF(x[4], x[5], z0c);
                INV_BF(x[6], x[7], z0d);
                INV_BF(x[0], x[2], z1a);
                INV_BF(x[1], x[3], z1a);
                INV_BF(x[4], x[6], z1b);
                INV_BF(x[5], x[7], z1b);
                UNROLL
                for (u32 i = 0; i < 4; ++i) INV_BF(x[i], x[i + 4], z2);
                if (d == 32) {
                    UNROLL
                    for (u32 i = 0; i < 8; ++i) x[i] = montgomery_reduce((i64)MONT_F * x[i]);
                }
                UNROLL
                for (u32 i = 0; i < 8; ++i) a[sb + o + i * d] = x[i];
            }
        }
    }
}

/* Bits [bit, bit + nbits) of the little-endian bit string `buf` of `len` bytes (nbits <= 24). */
DEV u32 get_bits(const u8 *buf, u32 len, u32 bit, u32 nbits) {
    u32 byte = bit >> 3, v = 0;
    UNROLL
    for (u32 i = 0; i < 4; ++i) {
        if (byte + i < len) v |= ((u32)buf[byte + i]) << (8 * i);
    }
    return (v >> (bit & 7)) & ((1u << nbits) - 1);
}

/* ---------------------------------------------------------------- kernel bodies */

/* One piece of a key: slots 0..k*l-1 are A[r][s] = RejNTTPoly(rho || s || r) (ExpandA,
 * Alg. 32 and 30, already in the NTT domain); slots k*l..k*l+k-1 are NTT(t1[r] * 2^d); slot
 * k*(l+1) is tr. */
DEV void expand_key_body(u32 gid, u32 param, u32 nkeys, const u8 *pk, i32 *a_hat, i32 *t1_hat,
                         u8 *tr) {
    params_t p = get_params(param);
    u32 key = gid % nkeys, slot = gid / nkeys;
    if (slot > p.k * (p.l + 1)) return;
    const u8 *kp = pk + (u64)key * pk_len(&p);
    if (slot == p.k * (p.l + 1)) {
        /* tr = H(pk, 64) (Alg. 8 step 6). */
        shake_t h;
        shake_init(&h, 136);
        shake_absorb(&h, kp, pk_len(&p));
        shake_finalize(&h);
        u8 *out = tr + (u64)key * 64;
        for (u32 i = 0; i < 64; ++i) out[i] = shake_squeeze_byte(&h);
    } else if (slot < p.k * p.l) {
        u32 r = slot / p.l, s = slot % p.l;
        shake_t h;
        shake_init(&h, 168);
        shake_absorb(&h, kp, 32);
        shake_absorb_byte(&h, (u8)s);
        shake_absorb_byte(&h, (u8)r);
        shake_finalize(&h);
        u32 j = 0;
        while (j < N) {
            u32 b0 = shake_squeeze_byte(&h), b1 = shake_squeeze_byte(&h), b2 = shake_squeeze_byte(&h);
            u32 v = b0 | (b1 << 8) | ((b2 & 0x7F) << 16);
            if (v < Q) {
                a_hat[IDX(nkeys, slot, j, key)] = (i32)v;
                ++j;
            }
        }
    } else {
        u32 r = slot - p.k * p.l;
        i32 a[N];
        const u8 *t1 = kp + 32 + r * 320;
        for (u32 i = 0; i < N; ++i) a[i] = (i32)(get_bits(t1, 320, 10 * i, 10) << 13);
        ntt(a);
        for (u32 i = 0; i < N; ++i) t1_hat[IDX(nkeys, r, i, key)] = a[i];
    }
}

/* mu = H(tr || M', 64) (Alg. 8 step 7) where the host packed M' = 0 || |ctx| || ctx || M of item
 * i into msgs[off[i]..off[i+1]]. An empty range means the host computed mu itself (very long
 * messages, which one GPU thread would hash slowly); that mu is left as uploaded. */
DEV void mu_body(u32 gid, u32 nsig, const u32 *key_idx, const u8 *tr, const u8 *msgs,
                 const u64 *off, u8 *mu) {
    u32 item = gid;
    if (item >= nsig) return;
    u64 begin = off[item], end = off[item + 1];
    if (begin >= end) return;
    shake_t h;
    shake_init(&h, 136);
    shake_absorb(&h, tr + (u64)key_idx[item] * 64, 64);
    const u8 *m = msgs + begin;
    for (u64 left = end - begin; left > 0;) {
        u32 take = left > 0x40000000ULL ? 0x40000000u : (u32)left;
        shake_absorb(&h, m, take);
        m += take;
        left -= take;
    }
    shake_finalize(&h);
    u8 *out = mu + (u64)item * 64;
    for (u32 i = 0; i < 64; ++i) out[i] = shake_squeeze_byte(&h);
}

/* One polynomial of a signature: slots 0..l-1 are NTT(z[s]) (z decoded as in sigDecode,
 * Alg. 27), with zbad[s][item] = 1 if a coefficient breaks ||z||inf < gamma1 - beta (Alg. 8
 * step 13); slot l is NTT(SampleInBall(c_tilde)) (Alg. 29). */
DEV void sig_prep_body(u32 gid, u32 param, u32 nsig, const u8 *sig, i32 *zc_hat, u8 *zbad) {
    params_t p = get_params(param);
    u32 item = gid % nsig, slot = gid / nsig;
    if (slot > p.l) return;
    const u8 *sp = sig + (u64)item * sig_len(&p);
    i32 a[N];
    if (slot < p.l) {
        const u8 *zp = sp + p.ctilde_len + slot * zpoly_len(&p);
        i32 gamma1 = 1 << p.gamma1_bits;
        i32 bound = gamma1 - (i32)p.beta;
        u32 bad = 0;
        for (u32 i = 0; i < N; ++i) {
            i32 z = gamma1 - (i32)get_bits(zp, zpoly_len(&p), p.z_bits * i, p.z_bits);
            bad |= (u32)(z >= bound || z <= -bound);
            a[i] = z;
        }
        zbad[(u64)slot * nsig + item] = (u8)bad;
    } else {
        for (u32 i = 0; i < N; ++i) a[i] = 0;
        shake_t h;
        shake_init(&h, 136);
        shake_absorb(&h, sp, p.ctilde_len);
        shake_finalize(&h);
        u64 signs = 0;
        for (u32 i = 0; i < 8; ++i) signs |= ((u64)shake_squeeze_byte(&h)) << (8 * i);
        for (u32 i = N - p.tau; i < N; ++i) {
            u32 j;
            do {
                j = shake_squeeze_byte(&h);
            } while (j > i);
            a[i] = a[j];
            a[j] = 1 - 2 * (i32)(signs & 1);
            signs >>= 1;
        }
    }
    ntt(a);
    for (u32 i = 0; i < N; ++i) zc_hat[IDX(nsig, slot, i, item)] = a[i];
}

/* UseHint (Alg. 40) with Decompose (Alg. 36) for alpha = 2 gamma2, one function per gamma2 so
 * that the divisions are by constants. */
#define DEFINE_USE_HINT(NAME, ALPHA)                                  \
    DEV i32 NAME(i32 a, u32 h) {                                      \
        i32 rp = freeze(a);                                           \
        i32 r0 = rp % (ALPHA);                                        \
        if (r0 > (ALPHA) / 2) r0 -= (ALPHA);                          \
        i32 r1;                                                       \
        if (rp - r0 == Q - 1) {                                       \
            r1 = 0;                                                   \
            r0 -= 1;                                                  \
        } else {                                                      \
            r1 = (rp - r0) / (ALPHA);                                 \
        }                                                             \
        const i32 m = (Q - 1) / (ALPHA);                              \
        if (h) r1 = r0 > 0 ? (r1 + 1) % m : (r1 - 1 + m) % m;         \
        return r1;                                                    \
    }
DEFINE_USE_HINT(use_hint_88, 2 * ((Q - 1) / 88))
DEFINE_USE_HINT(use_hint_32, 2 * ((Q - 1) / 32))

/* Row r of w'_approx = NTT^-1(A z_hat - c_hat t1_hat), then UseHint (Alg. 40) with hint row r
 * and w1Encode (Alg. 28) of the row into w1[item][r]. */
DEV void sig_w1_body(u32 gid, u32 param, u32 nsig, u32 nkeys, const u32 *key_idx,
                     const i32 *a_hat, const i32 *t1_hat, const i32 *zc_hat, const u8 *sig,
                     u8 *w1) {
    params_t p = get_params(param);
    u32 item = gid % nsig, r = gid / nsig;
    if (r >= p.k) return;
    u32 key = key_idx[item];
    i32 a[N];
    for (u32 i = 0; i < N; ++i) {
        i64 acc = 0;
        for (u32 s = 0; s < p.l; ++s) {
            acc += montgomery_reduce((i64)a_hat[IDX(nkeys, r * p.l + s, i, key)] *
                                     zc_hat[IDX(nsig, s, i, item)]);
        }
        acc -= montgomery_reduce((i64)zc_hat[IDX(nsig, p.l, i, item)] * t1_hat[IDX(nkeys, r, i, key)]);
        a[i] = reduce32((i32)acc);
    }
    invntt_tomont(a);

    /* Hint row r (HintBitUnpack, Alg. 21; the host checked the encoding): positions
     * y[first..last] where first = y[omega + r - 1] (0 for r = 0) and last = y[omega + r]. */
    const u8 *y = sig + (u64)item * sig_len(&p) + p.ctilde_len + p.l * zpoly_len(&p);
    u32 first = r == 0 ? 0 : y[p.omega + r - 1];
    u32 last = y[p.omega + r];
    u32 hint[8];
    UNROLL
    for (u32 i = 0; i < 8; ++i) hint[i] = 0;
    for (u32 idx = first; idx < last && idx < p.omega; ++idx) hint[y[idx] >> 5] |= 1u << (y[idx] & 31);

    u8 *out = w1 + ((u64)item * p.k + r) * w1poly_len(&p);
    for (u32 i = 0; i < w1poly_len(&p); ++i) out[i] = 0;
    for (u32 i = 0; i < N; ++i) {
        u32 h = (hint[i >> 5] >> (i & 31)) & 1;
        i32 r1 = p.w1_bits == 6 ? use_hint_88(a[i], h) : use_hint_32(a[i], h);
        /* w1Encode: SimpleBitPack with w1_bits bits per coefficient, little-endian bits. */
        u32 bit = i * p.w1_bits;
        u32 v = ((u32)r1) << (bit & 7);
        out[bit >> 3] |= (u8)v;
        if ((bit & 7) + p.w1_bits > 8) out[(bit >> 3) + 1] |= (u8)(v >> 8);
    }
}

/* c_tilde' = H(mu || w1Encode(w1), lambda/4) and the final check of Alg. 8 step 13: ok[item]
 * = 1 when c_tilde' = c_tilde and no z row broke the bound, else 0. */
DEV void sig_final_body(u32 gid, u32 param, u32 nsig, const u8 *sig, const u8 *mu,
                        const u8 *w1, const u8 *zbad, u8 *ok) {
    params_t p = get_params(param);
    u32 item = gid;
    if (item >= nsig) return;
    shake_t h;
    shake_init(&h, 136);
    shake_absorb(&h, mu + (u64)item * 64, 64);
    shake_absorb(&h, w1 + (u64)item * p.k * w1poly_len(&p), p.k * w1poly_len(&p));
    shake_finalize(&h);
    const u8 *ct = sig + (u64)item * sig_len(&p);
    u8 diff = 0;
    for (u32 i = 0; i < p.ctilde_len; ++i) diff |= (u8)(shake_squeeze_byte(&h) ^ ct[i]);
    for (u32 s = 0; s < p.l; ++s) diff |= zbad[(u64)s * nsig + item];
    ok[item] = diff == 0 ? 1 : 0;
}

/* ---------------------------------------------------------------- entry points */

#ifdef POAI_HOST
/* Host emulation: run the body for every thread index in [begin, end). The Rust side splits
 * the index range over its worker threads. */
#define HOST_LOOP for (u32 gid = begin; gid < end; ++gid)
extern "C" void poai_expand_keys(u32 begin, u32 end, u32 param, u32 nkeys, const u8 *pk,
                                 i32 *a_hat, i32 *t1_hat, u8 *tr) {
    HOST_LOOP expand_key_body(gid, param, nkeys, pk, a_hat, t1_hat, tr);
}
extern "C" void poai_mu(u32 begin, u32 end, u32 nsig, const u32 *key_idx, const u8 *tr,
                        const u8 *msgs, const u64 *off, u8 *mu) {
    HOST_LOOP mu_body(gid, nsig, key_idx, tr, msgs, off, mu);
}
extern "C" void poai_sig_prep(u32 begin, u32 end, u32 param, u32 nsig, const u8 *sig,
                              i32 *zc_hat, u8 *zbad) {
    HOST_LOOP sig_prep_body(gid, param, nsig, sig, zc_hat, zbad);
}
extern "C" void poai_sig_w1(u32 begin, u32 end, u32 param, u32 nsig, u32 nkeys,
                            const u32 *key_idx, const i32 *a_hat, const i32 *t1_hat,
                            const i32 *zc_hat, const u8 *sig, u8 *w1) {
    HOST_LOOP sig_w1_body(gid, param, nsig, nkeys, key_idx, a_hat, t1_hat, zc_hat, sig, w1);
}
extern "C" void poai_sig_final(u32 begin, u32 end, u32 param, u32 nsig, const u8 *sig,
                               const u8 *mu, const u8 *w1, const u8 *zbad, u8 *ok) {
    HOST_LOOP sig_final_body(gid, param, nsig, sig, mu, w1, zbad, ok);
}
#else
/* Device: one thread per unit of work; threads past `total` return. */
#define GID_OR_RETURN                                             \
    u32 gid = blockIdx.x * blockDim.x + threadIdx.x;              \
    if (gid >= total) return;
extern "C" __global__ void poai_expand_keys(u32 total, u32 param, u32 nkeys, const u8 *pk,
                                            i32 *a_hat, i32 *t1_hat, u8 *tr) {
    GID_OR_RETURN
    expand_key_body(gid, param, nkeys, pk, a_hat, t1_hat, tr);
}
extern "C" __global__ void poai_mu(u32 total, u32 nsig, const u32 *key_idx, const u8 *tr,
                                   const u8 *msgs, const u64 *off, u8 *mu) {
    GID_OR_RETURN
    mu_body(gid, nsig, key_idx, tr, msgs, off, mu);
}
extern "C" __global__ void poai_sig_prep(u32 total, u32 param, u32 nsig, const u8 *sig,
                                         i32 *zc_hat, u8 *zbad) {
    GID_OR_RETURN
    sig_prep_body(gid, param, nsig, sig, zc_hat, zbad);
}
extern "C" __global__ void poai_sig_w1(u32 total, u32 param, u32 nsig, u32 nkeys,
                                       const u32 *key_idx, const i32 *a_hat, const i32 *t1_hat,
                                       const i32 *zc_hat, const u8 *sig, u8 *w1) {
    GID_OR_RETURN
    sig_w1_body(gid, param, nsig, nkeys, key_idx, a_hat, t1_hat, zc_hat, sig, w1);
}
extern "C" __global__ void poai_sig_final(u32 total, u32 param, u32 nsig, const u8 *sig,
                                          const u8 *mu, const u8 *w1, const u8 *zbad, u8 *ok) {
    GID_OR_RETURN
    sig_final_body(gid, param, nsig, sig, mu, w1, zbad, ok);
}
#endif
