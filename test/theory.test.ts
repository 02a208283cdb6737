import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ACTIVATIONS } from '../lib/models/layers.js';
import {
  ACTIVATION_THEORY,
  THEORY_ACTIVATIONS,
  cMap,
  cStar,
  chi1,
  criticalPoint,
  criticalSigmaW2,
  depthScales,
  expect1d,
  expect2d,
  gaussHermite,
  pairMap,
  predictLayers,
  qMap,
  qStar,
  type ActivationTheory,
} from '../lib/theory/index.js';
import { runCli } from './helpers.js';

// ---- slow, independent reference integration: composite Simpson, split at the given kinks ----

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

function simpson(g: (x: number) => number, a: number, b: number, n: number): number {
  if (b <= a) return 0;
  const m = n % 2 === 0 ? n : n + 1;
  const h = (b - a) / m;
  // The ends are taken a hair inside, so that a jump at a break (relu') counts its one-sided value.
  let s = g(a + 1e-13 * (b - a)) + g(b - 1e-13 * (b - a));
  for (let i = 1; i < m; i++) s += (i % 2 === 1 ? 4 : 2) * g(a + i * h);
  return (s * h) / 3;
}

/** ∫ g over [−L, L] split at `breaks` (kinks of g), n Simpson intervals per unit length. */
function simpsonSplit(g: (x: number) => number, breaks: readonly number[], L: number, perUnit: number): number {
  const points = [-L, ...breaks.filter((x) => x > -L && x < L).sort((a, b) => a - b), L];
  let s = 0;
  for (let i = 0; i + 1 < points.length; i++) s += simpson(g, points[i]!, points[i + 1]!, Math.max(2, Math.ceil((points[i + 1]! - points[i]!) * perUnit)));
  return s;
}

/** E[f(√q z)] by Simpson in z on [−12, 12], split at z = 0. */
function ref1d(f: (u: number) => number, q: number, perUnit = 8000): number {
  const s = Math.sqrt(q);
  return simpsonSplit((z) => f(s * z) * INV_SQRT_2PI * Math.exp(-0.5 * z * z), [0], 12, perUnit);
}

/** E[f(u1, u2)] by nested Simpson, u1 = √q11 z1, u2 = √q22 (c z1 + √(1−c²) z2), split where u1 = 0 and u2 = 0. */
function ref2d(f: (u1: number, u2: number) => number, q11: number, q22: number, q12: number, perUnit = 100, L = 9): number {
  const c = q12 / Math.sqrt(q11 * q22);
  const s1 = Math.sqrt(q11);
  const a = Math.sqrt(q22) * c;
  const b = Math.sqrt(q22) * Math.sqrt(1 - c * c);
  return simpsonSplit(
    (z1) => {
      const u1 = s1 * z1;
      const inner = simpsonSplit((z2) => f(u1, a * z1 + b * z2) * INV_SQRT_2PI * Math.exp(-0.5 * z2 * z2), [(-a * z1) / b], L, perUnit);
      return inner * INV_SQRT_2PI * Math.exp(-0.5 * z1 * z1);
    },
    [0],
    L,
    perUnit,
  );
}

/** |actual − expected| ≤ rel·max(|expected|, floor): `floor` for quantities that may be ~0 (odd φ at c = 0). */
function close(actual: number, expected: number, rel: number, what: string, floor = 1e-300): void {
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), floor);
  assert.ok(err <= rel, `${what}: ${actual} vs ${expected} (relative error ${err.toExponential(2)} > ${rel})`);
}

function doubleFactorial(k: number): number {
  let p = 1;
  for (let i = k; i > 1; i -= 2) p *= i;
  return p;
}

describe('Gauss–Hermite', () => {
  test('integrates polynomials exactly up to degree 2n−1, and not degree 2n', () => {
    for (const n of [1, 2, 3, 5, 8, 13, 20]) {
      for (let k = 0; k <= 2 * n - 1; k++) {
        const exact = k % 2 === 1 ? 0 : doubleFactorial(k - 1);
        const got = expect1d((z) => z ** k, n);
        if (exact === 0) assert.ok(Math.abs(got) < 1e-12 * doubleFactorial(k), `n=${n}, E[z^${k}] = ${got}`);
        else close(got, exact, 1e-12, `n=${n}, E[z^${k}]`);
      }
      const high = expect1d((z) => z ** (2 * n), n);
      assert.ok(Math.abs(high - doubleFactorial(2 * n - 1)) > 0.5, `degree ${2 * n} is not exact at n=${n}`);
    }
    assert.equal(Number(expect1d((z) => z ** 4, 3).toFixed(12)), 3);
  });

  test('weights are positive and sum to 1; the rule is cached per order', () => {
    const rule = gaussHermite(50);
    assert.ok(rule.weights.every((w) => w > 0));
    close(rule.weights.reduce((a, b) => a + b, 0), 1, 1e-15, 'sum of weights');
    assert.equal(gaussHermite(50), rule);
    assert.throws(() => gaussHermite(0), /whole number/);
  });

  test('the 2D rule reproduces bivariate Gaussian moments', () => {
    const [q11, q22, q12] = [1.3, 0.7, -0.4];
    close(expect2d((u1, u2) => u1 * u2, q11, q22, q12, 4), q12, 1e-13, 'E[u1 u2]');
    close(expect2d((u1, u2) => u1 * u1 * u2 * u2, q11, q22, q12, 4), q11 * q22 + 2 * q12 * q12, 1e-13, 'E[u1² u2²]');
    close(expect2d((u1) => u1 ** 4, q11, q22, q12, 4), 3 * q11 * q11, 1e-13, 'E[u1⁴]');
  });
});

describe('activation theory', () => {
  test('covers exactly the activations of lib/models/layers.ts', () => {
    assert.deepEqual([...THEORY_ACTIVATIONS].sort(), [...ACTIVATIONS].sort());
  });

  const pairs: [number, number, number][] = [
    [1, 1, 0.5],
    [0.3, 2, -0.6],
    [2.5, 2.5, 2.45],
    [0.5, 0.8, 0],
  ];

  // erf(√q z) is entire but grows like e^{q y²} off the real axis, so Gauss–Hermite converges more
  // slowly as q grows: measured against Simpson, order 120 is 3e-10 off at q = 3, order 400 2e-13.
  test('erf: the closed forms agree with high-order Gauss–Hermite (1D and 2D)', () => {
    const t = ACTIVATION_THEORY.erf;
    for (const q of [0.05, 0.5, 1, 3]) {
      close(t.secondMoment(q), expect1d((z) => t.phi(Math.sqrt(q) * z) ** 2, 400), 1e-12, `E[erf²] q=${q}`);
      close(t.derivSecondMoment(q), expect1d((z) => t.dphi(Math.sqrt(q) * z) ** 2, 400), 1e-12, `E[erf'²] q=${q}`);
      close(t.curvatureMoment(q), expect1d((z) => t.d2phi(Math.sqrt(q) * z) * t.phi(Math.sqrt(q) * z), 400), 1e-12, `E[erf'' erf] q=${q}`);
    }
    for (const [q11, q22, q12] of pairs) {
      close(t.crossMoment(q11, q22, q12), expect2d((a, b) => t.phi(a) * t.phi(b), q11, q22, q12, 200), 1e-11, `E[erf erf] ${[q11, q22, q12]}`, 1);
      close(t.derivCrossMoment(q11, q22, q12), expect2d((a, b) => t.dphi(a) * t.dphi(b), q11, q22, q12, 200), 1e-11, `E[erf' erf'] ${[q11, q22, q12]}`);
    }
  });

  // relu has a kink at 0, where Gauss–Hermite converges only algebraically; the reference is a
  // Simpson rule split at the kinks (error O(h⁴) on each smooth piece: ~1e-12 in 1D, ~1e-9 in 2D at
  // 100 intervals per unit).
  test('relu: the arc-cosine kernel agrees with a kink-aware Simpson reference (1D and 2D)', () => {
    const t = ACTIVATION_THEORY.relu;
    for (const q of [0.1, 1, 7]) {
      close(t.secondMoment(q), ref1d((u) => t.phi(u) ** 2, q), 1e-11, `E[relu²] q=${q}`);
      close(t.derivSecondMoment(q), ref1d((u) => t.dphi(u) ** 2, q), 1e-11, `E[relu'²] q=${q}`);
    }
    for (const [q11, q22, q12] of pairs) {
      close(t.crossMoment(q11, q22, q12), ref2d((a, b) => t.phi(a) * t.phi(b), q11, q22, q12), 1e-8, `E[relu relu] ${[q11, q22, q12]}`, 1);
      close(t.derivCrossMoment(q11, q22, q12), ref2d((a, b) => t.dphi(a) * t.dphi(b), q11, q22, q12), 1e-8, `E[relu' relu'] ${[q11, q22, q12]}`);
    }
  });

  for (const name of ['tanh', 'gelu'] as const) {
    test(`${name}: quadrature agrees with a slow Simpson reference within 1e-8 (1D and 2D)`, () => {
      const t: ActivationTheory = ACTIVATION_THEORY[name];
      for (const q of [0.01, 0.3, 1, 10, 100]) {
        const per = Math.max(8000, 4000 * Math.sqrt(q));
        close(t.secondMoment(q), ref1d((u) => t.phi(u) ** 2, q, per), 1e-8, `E[φ²] q=${q}`);
        close(t.derivSecondMoment(q), ref1d((u) => t.dphi(u) ** 2, q, per), 1e-8, `E[φ'²] q=${q}`);
        const curvature = ref1d((u) => t.d2phi(u) * t.phi(u), q, per);
        assert.ok(Math.abs(t.curvatureMoment(q) - curvature) <= 1e-8 * Math.max(Math.abs(curvature), 1e-3), `E[φ''φ] q=${q}`);
      }
      for (const [q11, q22, q12] of pairs) {
        // Absolute 1e-8 where the cross moment itself is ~0 (odd φ, c = 0).
        const cross = ref2d((a, b) => t.phi(a) * t.phi(b), q11, q22, q12, 80);
        assert.ok(Math.abs(t.crossMoment(q11, q22, q12) - cross) <= 1e-8 * Math.max(Math.abs(cross), 1), `E[φφ] ${[q11, q22, q12]}: ${t.crossMoment(q11, q22, q12)} vs ${cross}`);
        close(t.derivCrossMoment(q11, q22, q12), ref2d((a, b) => t.dphi(a) * t.dphi(b), q11, q22, q12, 80), 1e-8, `E[φ'φ'] ${[q11, q22, q12]}`);
      }
    });
  }

  test("the slope of the variance map is χ1 + σ_w² E[φ''φ] (Schoenholz et al. 2017, eq. 7)", () => {
    for (const activation of ['tanh', 'erf', 'gelu', 'relu', 'linear'] as const) {
      const mf = { activation, sigma_w2: 1.7, sigma_b2: 0.1 };
      const q = 0.8;
      const h = 1e-5;
      const slope = (qMap(mf, q + h) - qMap(mf, q - h)) / (2 * h);
      close(chi1(mf, q) + mf.sigma_w2 * ACTIVATION_THEORY[activation].curvatureMoment(q), slope, 1e-7, activation);
    }
  });
});

describe('mean-field maps', () => {
  test('qStar: relu σ_w² = 1, σ_b² = 0.1 gives 0.1/(1 − 0.5) = 0.2; marginal relu keeps q0; relu σ_w² = 3 diverges', () => {
    close(qStar({ activation: 'relu', sigma_w2: 1, sigma_b2: 0.1 }), 0.2, 1e-12, 'q*');
    assert.equal(qStar({ activation: 'relu', sigma_w2: 2, sigma_b2: 0 }, 0.7), 0.7);
    assert.equal(qStar({ activation: 'relu', sigma_w2: 3, sigma_b2: 0 }), Infinity);
    assert.equal(qStar({ activation: 'relu', sigma_w2: 2, sigma_b2: 0.1 }), Infinity);
    close(qStar({ activation: 'relu', sigma_w2: 1.9, sigma_b2: 0.05 }), 1, 1e-10, 'q* = σ_b²/(1 − σ_w²/2), slow approach');
    const mf = { activation: 'tanh' as const, sigma_w2: 2.5, sigma_b2: 0.05 };
    close(qMap(mf, qStar(mf)), qStar(mf), 1e-12, 'tanh q* is a fixed point');
  });

  test('criticalSigmaW2: tanh at σ_b² = 0.05 ≈ 1.76, relu 2, linear 1, erf at 0 is π/4; χ1 = 1 there', () => {
    assert.ok(Math.abs(criticalSigmaW2('tanh', 0.05) - 1.76) < 0.01);
    close(criticalSigmaW2('relu', 0), 2, 1e-12, 'relu');
    close(criticalSigmaW2('linear', 0), 1, 1e-12, 'linear');
    close(criticalSigmaW2('erf', 0), Math.PI / 4, 1e-9, 'erf');
    for (const [activation, b] of [['tanh', 0.05], ['erf', 0.05], ['tanh', 0.3]] as const) {
      const mf = { activation, sigma_w2: criticalSigmaW2(activation, b), sigma_b2: b };
      close(chi1(mf), 1, 1e-9, `χ1 at the critical point of ${activation}, σ_b² = ${b}`);
      assert.equal(criticalPoint(activation, b).continuous, true);
    }
  });

  test('gelu: q* jumps at its "critical" σ_w², and criticalPoint says so', () => {
    const p = criticalPoint('gelu', 0.05);
    assert.equal(p.continuous, false);
    assert.ok(p.chi1_below < 1 && p.chi1_above > 1);
  });

  test('cStar is 1 in the ordered phase and a fixed point below 1 in the chaotic one', () => {
    assert.equal(cStar({ activation: 'tanh', sigma_w2: 1.2, sigma_b2: 0.05 }), 1);
    const chaotic = { activation: 'tanh' as const, sigma_w2: 3, sigma_b2: 0.05 };
    const c = cStar(chaotic);
    assert.ok(c < 1 && c > 0, `c* = ${c}`);
    close(cMap(chaotic, c), c, 1e-10, 'c* is a fixed point');
    // relu's correlation map does not depend on q: c* = 1 even where q* = 0 or q* = ∞.
    assert.equal(cStar({ activation: 'relu', sigma_w2: 1, sigma_b2: 0 }), 1);
    assert.equal(cStar({ activation: 'relu', sigma_w2: 3, sigma_b2: 0 }) > 1 - 1e-9, true);
    const erfChaotic = { activation: 'erf' as const, sigma_w2: 3, sigma_b2: 0.2 };
    assert.ok(cStar(erfChaotic) < 1);
  });

  test('pairMap agrees with qMap on the diagonal and with cMap off it', () => {
    const mf = { activation: 'tanh' as const, sigma_w2: 2, sigma_b2: 0.05 };
    const q = 0.6;
    const next = pairMap(mf, q, q, 0.3 * q);
    close(next.q11, qMap(mf, q), 1e-15, 'q11');
    close(next.q12 / next.q11, cMap(mf, 0.3, q), 1e-14, 'c');
  });

  test('depth scales are finite away from criticality and large near it', () => {
    const w = criticalSigmaW2('tanh', 0.05);
    for (const sigma_w2 of [1, 3]) {
      const { xi_q, xi_c } = depthScales({ activation: 'tanh', sigma_w2, sigma_b2: 0.05 });
      assert.ok(Number.isFinite(xi_q) && Number.isFinite(xi_c) && xi_c < 20, `σ_w² = ${sigma_w2}: ${xi_q}, ${xi_c}`);
    }
    for (const sigma_w2 of [w * (1 - 1e-4), w * (1 + 1e-4)]) {
      const { xi_c } = depthScales({ activation: 'tanh', sigma_w2, sigma_b2: 0.05 });
      assert.ok(xi_c > 1000, `σ_w² = ${sigma_w2}: ξ_c = ${xi_c}`);
    }
    assert.equal(depthScales({ activation: 'relu', sigma_w2: 2, sigma_b2: 0 }).xi_c, Infinity);
  });
});

describe('predictLayers', () => {
  const inputs = [
    [1, 0, 2, -1],
    [0.5, 1, -1, 0],
    [2, 2, 0, 1],
  ];
  const stack = (L: number, sigma_w2: number, sigma_b2: number) => Array.from({ length: L }, () => ({ sigma_w2, sigma_b2, fanIn: 4, fanOut: 4 }));

  test('relu at σ_w² = 2, σ_b² = 0 keeps q flat; σ_w² = 1 halves it each layer', () => {
    const flat = predictLayers({ activation: 'relu', layers: stack(6, 2, 0), inputs });
    const q1 = (2 * (6 + 2.25 + 9)) / 3 / 4;
    for (const p of flat) close(p.q, q1, 1e-12, `layer ${p.layer}`);
    assert.deepEqual(flat.map((p) => p.layer), [1, 2, 3, 4, 5, 6]);
    assert.equal(flat[5]!.chi1, undefined);
    close(flat[0]!.chi1!, 1, 1e-15, 'chi1');
    const halving = predictLayers({ activation: 'relu', layers: stack(6, 1, 0), inputs });
    halving.forEach((p, k) => close(p.q, q1 / 2 / 2 ** k, 1e-12, `layer ${p.layer}`));
    // Correlations of relu rise towards 1 with depth.
    for (let k = 1; k < flat.length; k++) assert.ok(flat[k]!.c > flat[k - 1]!.c);
  });

  test('layer 1 is the inputs\' normalised Gram matrix; tanh follows qMap from there', () => {
    const [p1, p2] = predictLayers({ activation: 'tanh', layers: stack(2, 1.5, 0.1), inputs });
    const q = inputs.map((x) => (1.5 * x.reduce((s, v) => s + v * v, 0)) / 4 + 0.1);
    close(p1!.q, (q[0]! + q[1]! + q[2]!) / 3, 1e-15, 'q1');
    const mf = { activation: 'tanh' as const, sigma_w2: 1.5, sigma_b2: 0.1 };
    close(p2!.q, q.map((qi) => qMap(mf, qi)).reduce((a, b) => a + b) / 3, 1e-14, 'q2');
    close(p1!.chi1!, q.map((qi) => chi1(mf, qi)).reduce((a, b) => a + b) / 3, 1e-14, 'chi1');
  });

  test('refuses mismatched shapes', () => {
    assert.throws(() => predictLayers({ activation: 'relu', layers: stack(2, 1, 0), inputs: [[1, 2]] }), /dimension 2/);
    assert.throws(() => predictLayers({ activation: 'relu', layers: [{ sigma_w2: 1, sigma_b2: 0, fanIn: 4, fanOut: 3 }, { sigma_w2: 1, sigma_b2: 0, fanIn: 4, fanOut: 1 }], inputs }), /differs/);
  });

  test('tanh over 50 layers settles at the fixed point q* from any inputs, correlations rising', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const x = Array.from({ length: 12 }, () => Array.from({ length: 32 }, rnd));
    const layers = Array.from({ length: 50 }, () => ({ sigma_w2: 1.5, sigma_b2: 0.05, fanIn: 32, fanOut: 32 }));
    const out = predictLayers({ activation: 'tanh', layers, inputs: x });
    assert.equal(out.length, 50);
    const q = qStar({ activation: 'tanh', sigma_w2: 1.5, sigma_b2: 0.05 });
    // xi_q is under 2 layers here: 50 layers is far past convergence.
    assert.ok(Math.abs(out[49]!.q - q) < 1e-9 * q, `q_50 ${out[49]!.q} vs q* ${q}`);
    // Ordered phase (chi1 < 1): every pair of inputs converges towards c* = 1, over xi_c ~ 16 layers.
    assert.ok(out[49]!.c > out[0]!.c && out[49]!.c > 0.95, `c_1 ${out[0]!.c}, c_50 ${out[49]!.c}`);
  });
});

describe('dlphys theory', () => {
  test('prints the critical σ_w² and a table', () => {
    const r = runCli(['theory', '--activation', 'tanh', '--sigma-b2', '0.05', '--sigma-w2', '1,1.5,2,3']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^critical sigma_w2 = 1\.76\d\d \(chi1 = 1 at q\* = /);
    assert.deepEqual(lines[1]!.trim().split(/\s+/), ['sigma_w2', 'q_star', 'c_star', 'chi1', 'xi_q', 'xi_c', 'phase']);
    assert.equal(lines.length, 3 + 4);
    assert.match(lines[3]!, /ordered$/);
    assert.match(lines[6]!, /chaotic$/);
  });

  test('CSV and JSON carry the same rows at full precision', () => {
    const args = ['theory', '--activation', 'relu', '--sigma-b2', '0.1', '--sigma-w2', '0.5:2:0.5'];
    const csv = runCli([...args, '--format', 'csv']);
    assert.equal(csv.status, 0, csv.stderr);
    const rows = csv.stdout.trim().split('\r\n');
    assert.equal(rows[0], 'sigma_w2,q_star,c_star,chi1,xi_q,xi_c,phase');
    assert.equal(rows.length, 5);
    assert.match(rows[2]!, /^1,0\.2000000000000\d*,1,0\.5,/);
    const json = runCli([...args, '--format', 'json']);
    assert.equal(json.status, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.critical.sigma_w2, 2);
    assert.equal(parsed.rows.length, 4);
    assert.equal(parsed.rows[3].q_star, 'Infinity');
    assert.equal(parsed.rows[3].phase, 'critical');
  });

  test('a bad activation is one line on stderr and a non-zero exit', () => {
    const r = runCli(['theory', '--activation', 'sigmoid']);
    assert.notEqual(r.status, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^dlphys: --activation must be one of relu, tanh, linear, gelu, erf/);
  });

  test('a bad range names the fix', () => {
    const r = runCli(['theory', '--activation', 'tanh', '--sigma-w2', '2:1:0.5']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /STOP 1 is below START 2; give a comma list/);
  });
});
