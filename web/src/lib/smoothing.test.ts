import { describe, expect, it } from "vitest";
import { ema, gaussian, isSmoothing, runningAverage, smooth, timeWeightedEma } from "./smoothing";

describe("ema", () => {
  it("is debiased: the first point is kept, a constant stays constant", () => {
    expect(ema([5, 5, 5], 0.9)).toEqual([5, 5, 5]);
    expect(ema([10], 0.99)[0]).toBeCloseTo(10);
  });
  it("weight 0 returns the input", () => {
    expect(ema([1, 4, 2], 0)).toEqual([1, 4, 2]);
  });
  it("follows the TensorBoard formula", () => {
    const w = 0.5;
    const out = ema([0, 10], w);
    // last = (0*w + (1-w)*0)*w + (1-w)*10 = 5; debias = (1-w)*w + (1-w) = 0.75
    expect(out[1]).toBeCloseTo(5 / 0.75);
  });
  it("keeps nulls and skips them", () => {
    const out = ema([1, null, NaN, 1], 0.5);
    expect(out[1]).toBeNull();
    expect(out[2]).toBeNull();
    expect(out[3]).toBeCloseTo(1);
  });
});

describe("time-weighted ema", () => {
  it("equals ema for evenly spaced x", () => {
    const ys = [3, 1, 4, 1, 5, 9, 2, 6];
    const xs = ys.map((_, i) => i * 10);
    const a = timeWeightedEma(xs, ys, 0.7);
    const b = ema(ys, 0.7);
    a.forEach((v, i) => expect(v).toBeCloseTo(b[i] as number));
  });
  it("forgets more after a long gap", () => {
    const xs = [0, 1, 2, 3, 100];
    const ys = [0, 0, 0, 0, 10];
    const tw = timeWeightedEma(xs, ys, 0.9)[4] as number;
    const plain = ema(ys, 0.9)[4] as number;
    expect(tw).toBeGreaterThan(plain);
  });
});

describe("gaussian", () => {
  it("sigma 0 returns the input; smoothing keeps a constant", () => {
    expect(gaussian([1, 2, 3], 0)).toEqual([1, 2, 3]);
    expect(gaussian([2, 2, 2, 2], 2)).toEqual([2, 2, 2, 2]);
  });
  it("is symmetric around a spike", () => {
    const out = gaussian([0, 0, 0, 9, 0, 0, 0], 1) as number[];
    expect(out[2]).toBeCloseTo(out[4]);
    expect(out[3]).toBeLessThan(9);
    expect(out[3]).toBeGreaterThan(out[2]);
  });
});

describe("running average", () => {
  it("averages the window before each point", () => {
    expect(runningAverage([1, 2, 3, 4], 2)).toEqual([1, 1.5, 2.5, 3.5]);
    expect(runningAverage([1, 2, 3, 4], 1)).toEqual([1, 2, 3, 4]);
  });
});

describe("smooth", () => {
  it("dispatches by kind and knows when it is off", () => {
    expect(smooth([0, 1], [1, 3], { kind: "none", value: 0 })).toEqual([1, 3]);
    expect(isSmoothing({ kind: "ema", value: 0 })).toBe(false);
    expect(isSmoothing({ kind: "average", value: 1 })).toBe(false);
    expect(isSmoothing({ kind: "gaussian", value: 2 })).toBe(true);
  });
});
