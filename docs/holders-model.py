"""The churn model of docs/simulation.md ("Why the fewest holders fall below 10").

How many online nodes hold one record t simulated hours after it was last published, and the
fewest holders of any of n such records:

- At publication the record is stored at its 20 closest peers; each is a writer with
  probability W (writers never leave).
- Each server among them is still online t hours later with probability s = exp(-C t / 24),
  C being the share of the servers replaced per simulated day.
- Newcomers land among the record's closest peers at random (their ids are random), as many on
  average as servers left, 20 (1 - W) (1 - s), independently of which ones left; a holder hands
  each the record with probability F. Their number is Poisson.

The fewest holders of n records is taken as the median of the least of n independent counts.

Run: python3 docs/holders-model.py [F]   (F defaults to 0.86, fitted to the measured mean)
"""

import math
import sys

W = 0.1  # 100 writers among 1,000 nodes
C = 0.5  # half the servers replaced per simulated day
HOURS = (2, 4, 6, 8, 11, 14, 16, 18, 20, 22)


def binomial(n, p):
    return [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]


def poisson(mean, most=60):
    return [math.exp(-mean) * mean**k / math.factorial(k) for k in range(most)]


def convolve(a, b):
    out = [0.0] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return out


def holders(hours, handed, writers_counted):
    """The distribution of one record's holders `hours` after its publication."""
    s = math.exp(-C * hours / 24)
    kept = (W if writers_counted else 0.0) + (1 - W) * s
    return convolve(binomial(20, kept), poisson(20 * (1 - W) * (1 - s) * handed))


def fewest(distribution, records):
    """The median of the fewest holders of `records` independent records."""
    least = 0
    for m in range(len(distribution)):
        if sum(distribution[m:]) ** records >= 0.5:
            least = m
    return least


def main():
    handed = float(sys.argv[1]) if len(sys.argv) > 1 else 0.86
    for writers_counted in (False, True):
        print("writers counted" if writers_counted else "servers only")
        print("  hours  mean  fewest of 10,000  fewest of 1,000  P(fewer than 10)")
        for hours in HOURS:
            p = holders(hours, handed, writers_counted)
            mean = sum(k * x for k, x in enumerate(p))
            print(
                f"  {hours:5}  {mean:4.1f}  {fewest(p, 10_000):16}  {fewest(p, 1_000):15}"
                f"  {sum(p[:10]):.1e}"
            )


if __name__ == "__main__":
    main()
