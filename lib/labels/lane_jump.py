#!/usr/bin/env python3
"""Jump polynomials for the vector lanes of label_pairs_avx512.c (8 lanes)
and label_pairs_avx2.c (4 lanes): the coefficients of x^D mod P(x), P the
minimal polynomial of xoshiro256's state transition T, so that
T^D s = sum_j c_j T^j s. P is found by Berlekamp-Massey on one state bit;
each result is checked against D plain steps before it is printed.

usage: lane_jump.py [STEPS]   (STEPS = LABELS_LANE_STEPS, default 2048)
prints the constants for D = 7 STEPS and D = 3 STEPS, bit j of the
polynomial in bit j % 64 of word j / 64."""
import sys

MASK = (1 << 64) - 1


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


def step(s):
    s0, s1, s2, s3 = s
    t = (s1 << 17) & MASK
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    return [s0, s1, s2, rotl(s3, 45)]


def berlekamp_massey(bits):
    n = len(bits)
    c, b = [1] + [0] * n, [1] + [0] * n
    length, m = 0, 1
    for i in range(n):
        d = bits[i]
        for j in range(1, length + 1):
            d ^= c[j] & bits[i - j]
        if d == 0:
            m += 1
            continue
        previous = c[:]
        for j in range(n + 1 - m):
            c[j + m] ^= b[j]
        if 2 * length <= i:
            length, b, m = i + 1 - length, previous, 1
        else:
            m += 1
    return c[: length + 1], length


def multiply_mod(a, b, p, degree):
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if (a >> degree) & 1:
            a ^= p
    return r


def power_of_x(e, p, degree):
    r, base = 1, 2
    while e:
        if e & 1:
            r = multiply_mod(r, base, p, degree)
        base = multiply_mod(base, base, p, degree)
        e >>= 1
    return r


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
    start = [0x0123456789ABCDEF, 0xFEDCBA9876543210, 0x0F0F0F0F0F0F0F0F,
             0x1111111111111111]
    bits, s = [], start[:]
    for _ in range(1024):
        bits.append(s[0] & 1)
        s = step(s)
    c, degree = berlekamp_massey(bits)
    assert degree == 256
    p = 0
    for j in range(degree + 1):
        if c[j]:
            p |= 1 << (degree - j)
    for lanes in (8, 4):
        distance = (lanes - 1) * steps
        poly = power_of_x(distance, p, degree)
        jumped, s = [0, 0, 0, 0], start[:]
        for j in range(256):
            if (poly >> j) & 1:
                jumped = [a ^ b for a, b in zip(jumped, s)]
            s = step(s)
        plain = start[:]
        for _ in range(distance):
            plain = step(plain)
        assert jumped == plain
        words = ", ".join("0x%016xull" % ((poly >> (64 * i)) & MASK)
                          for i in range(4))
        print("%d lanes, x^(%d * %d): {%s}" % (lanes, lanes - 1, steps, words))


if __name__ == "__main__":
    main()
