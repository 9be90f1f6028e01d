/**
 * Chinchilla's approach 2 (Hoffmann et al. 2022, §3.2), as pure functions: for each compute budget,
 * fit a parabola to final loss against log N and take its vertex as that budget's optimal model
 * size; then fit power laws N_opt ∝ C^a and D_opt ∝ C^b across budgets (the paper finds a ≈ b ≈ 0.5,
 * about 20 tokens per parameter). Parameters may be counted with or without the embedding tables
 * (Kaplan et al. 2020 counted without, Chinchilla with; Pearce & Song 2024 trace much of the two
 * papers' disagreement at small scale to this choice), so every fit takes the count as given.
 */

/** Least squares y = a·x² + b·x + c (the normal equations, solved by Cramer's rule on 3 × 3). */
export function fitParabola(xs: readonly number[], ys: readonly number[]): { a: number; b: number; c: number } {
  if (xs.length !== ys.length || xs.length < 3) throw new Error(`fitParabola: need at least 3 points, got ${Math.min(xs.length, ys.length)}`);
  const s = (p: number, withY = false) => xs.reduce((acc, x, i) => acc + x ** p * (withY ? ys[i] : 1), 0);
  const [s0, s1, s2, s3, s4] = [s(0), s(1), s(2), s(3), s(4)];
  const [t0, t1, t2] = [s(0, true), s(1, true), s(2, true)];
  // | s4 s3 s2 | |a|   |t2|
  // | s3 s2 s1 | |b| = |t1|
  // | s2 s1 s0 | |c|   |t0|
  const det3 = (m: number[][]) => m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  const M = [[s4, s3, s2], [s3, s2, s1], [s2, s1, s0]];
  const d = det3(M);
  if (Math.abs(d) < 1e-300) throw new Error('fitParabola: the points do not determine a parabola (too few distinct x)');
  const withColumn = (col: number) => M.map((row, i) => row.map((v, j) => (j === col ? [t2, t1, t0][i] : v)));
  return { a: det3(withColumn(0)) / d, b: det3(withColumn(1)) / d, c: det3(withColumn(2)) / d };
}

/** Least squares y = k·x^exponent, fitted as a line in log–log. */
export function fitPowerLaw(xs: readonly number[], ys: readonly number[]): { k: number; exponent: number } {
  if (xs.length !== ys.length || xs.length < 2) throw new Error(`fitPowerLaw: need at least 2 points, got ${Math.min(xs.length, ys.length)}`);
  if ([...xs, ...ys].some((v) => !(v > 0))) throw new Error('fitPowerLaw: every value must be positive');
  const lx = xs.map(Math.log);
  const ly = ys.map(Math.log);
  const n = lx.length;
  const mx = lx.reduce((a, b) => a + b, 0) / n;
  const my = ly.reduce((a, b) => a + b, 0) / n;
  const sxx = lx.reduce((a, x) => a + (x - mx) ** 2, 0);
  if (sxx === 0) throw new Error('fitPowerLaw: every x is the same');
  const exponent = lx.reduce((a, x, i) => a + (x - mx) * (ly[i] - my), 0) / sxx;
  return { k: Math.exp(my - exponent * mx), exponent };
}

/** One trained point of a sweep. */
export interface SweepPoint {
  /** Training FLOPs of the run (C ≈ 6·N·D, see flops.ts). */
  budget: number;
  /** Parameters as counted for this fit (with or without embeddings). */
  params: number;
  tokens: number;
  valLoss: number;
}

export interface BudgetFit {
  budget: number;
  /** The parabola in x = ln N. */
  parabola: { a: number; b: number; c: number };
  optimalParams: number;
  /** Tokens at the optimum, read off the budget's own points (ln D against ln N is a line along an IsoFLOP curve). */
  optimalTokens: number;
  /** The lowest measured loss is at neither the smallest nor the largest size: the vertex is a real optimum. */
  interiorMinimum: boolean;
  /** The parabola opens upwards (a > 0); otherwise there is no minimum and the optimum is not trusted. */
  convex: boolean;
}

export interface IsoFlopFit {
  fits: BudgetFit[];
  /**
   * N_opt ∝ C^a and D_opt ∝ C^b, across the budgets whose optimum is trusted: a parabola that opens
   * upwards with the lowest loss inside the sizes (a vertex outside them is an extrapolation that can
   * land anywhere). Null with fewer than two such budgets.
   */
  exponents: { params: number; tokens: number } | null;
  /** Tokens per parameter at each budget's optimum. */
  tokensPerParam: number[];
}

/** A budget's optimum is measured, not extrapolated: a minimum, inside the sizes tried. */
export const isTrusted = (f: BudgetFit): boolean => f.convex && f.interiorMinimum;

/** Fits each budget's points (≥ 3 sizes) and the power laws across budgets. */
export function isoFlopFit(points: readonly SweepPoint[]): IsoFlopFit {
  const budgets = [...new Set(points.map((p) => p.budget))].sort((a, b) => a - b);
  const fits = budgets.map((budget): BudgetFit => {
    const at = points.filter((p) => p.budget === budget).sort((a, b) => a.params - b.params);
    const parabola = fitParabola(at.map((p) => Math.log(p.params)), at.map((p) => p.valLoss));
    const convex = parabola.a > 0;
    const lowest = at.reduce((best, p, i) => (p.valLoss < at[best].valLoss ? i : best), 0);
    // Without a minimum the vertex means nothing: fall back on the best measured size.
    const optimalParams = convex ? Math.exp(-parabola.b / (2 * parabola.a)) : at[lowest].params;
    // Not budget / (6·N): with embeddings left out of N, the budget was spent on more parameters than N counts.
    const line = fitPowerLaw(at.map((p) => p.params), at.map((p) => p.tokens));
    const optimalTokens = line.k * optimalParams ** line.exponent;
    return { budget, parabola, optimalParams, optimalTokens, interiorMinimum: lowest > 0 && lowest < at.length - 1, convex };
  });
  const trusted = fits.filter(isTrusted);
  const exponents = trusted.length >= 2
    ? { params: fitPowerLaw(trusted.map((f) => f.budget), trusted.map((f) => f.optimalParams)).exponent, tokens: fitPowerLaw(trusted.map((f) => f.budget), trusted.map((f) => f.optimalTokens)).exponent }
    : null;
  return { fits, exponents, tokensPerParam: fits.map((f) => f.optimalTokens / f.optimalParams) };
}
