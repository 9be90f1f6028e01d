/**
 * erf to float64 precision, for building the GELU kernel's tables once (gelu.ts); far too slow to
 * call per element.
 *
 *   |x| < 2:  the Maclaurin series erf(x) = 2/√π · Σₙ (−1)ⁿ x²ⁿ⁺¹ / (n! (2n+1)); its largest term is
 *             below e⁴ ≈ 55, so cancellation costs under two of float64's sixteen digits.
 *   |x| ≥ 2:  erf(x) = 1 − erfc(x), with erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + 2/(x + …)))))
 *             (Laplace's continued fraction, Abramowitz & Stegun 7.1.14), evaluated from the tail up
 *             to a fixed depth that is exact to float64 at x ≥ 2.
 * erf is odd: erf(−x) = −erf(x).
 */
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  let r: number;
  if (a < 2) {
    let term = a; // (−1)ⁿ x²ⁿ⁺¹ / n!
    let sum = a;
    for (let n = 1; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    r = TWO_OVER_SQRT_PI * sum;
  } else {
    let f = a;
    for (let k = 60; k >= 1; k--) f = a + k / 2 / f;
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}
