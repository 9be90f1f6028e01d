/**
 * erf and exp from arithmetic alone, for the elementwise kernels: V8's Math.exp costs ~15 ns per
 * call here, several times a multiply-add, and GELU needs one per element each way.
 *
 * erf(x) by Abramowitz & Stegun 7.1.28 (|error| ≤ 3e-7):
 *   erf(x) = 1 − 1 / (1 + a₁x + a₂x² + a₃x³ + a₄x⁴ + a₅x⁵ + a₆x⁶)¹⁶,  x ≥ 0, odd in x.
 * exp(v) = 2ⁿ · 2ᶠ with n = round(v·log₂e), f ∈ [−½, ½] and 2ᶠ by its degree-6 Taylor polynomial
 * (relative error < 2e-7, float32's own rounding); 0 below 2⁻¹²⁶.
 */
const A = [0.0705230784, 0.0422820123, 0.0092705272, 0.0001520143, 0.0002765672, 0.0000430638];

export function erf(x: number): number {
  const a = Math.abs(x);
  let t = 1 + a * (A[0] + a * (A[1] + a * (A[2] + a * (A[3] + a * (A[4] + a * A[5])))));
  t *= t; // t¹⁶ by four squarings
  t *= t;
  t *= t;
  t *= t;
  const r = 1 - 1 / t;
  return x < 0 ? -r : r;
}

const POW2 = new Float64Array(256).map((_, i) => 2 ** (i - 128)); // 2ⁿ for n ∈ [−128, 127]
const LOG2E = Math.LOG2E;

/** exp(v) for v ≤ 88 (the kernels call it with v ≤ 0). */
export function exp(v: number): number {
  const t = v * LOG2E;
  if (t < -126) return 0;
  const n = Math.floor(t + 0.5);
  const f = t - n;
  const p = 1 + f * (0.6931471805599453 + f * (0.2402265069591007 + f * (0.05550410866482158 + f * (0.009618129107628477 + f * (0.0013333558146428443 + f * 0.00015403530393381606)))));
  return p * POW2[n + 128];
}
