import { describe, expect, it } from "vitest";
import { parseJson, toNumber } from "./json";
import { aggregateGroup, interpolate, nearestIndex, sectionsOf, stepRangeFor, toPlotSeries, type ApiSeries } from "./chartData";
import { parseAnsi } from "./ansi";
import { fmtDuration, fmtNumber, flatten } from "./format";
import { assignColors, hash, runColor, PALETTE } from "./colors";
import { parseRoute } from "../router";

function series(partial: Partial<ApiSeries>): ApiSeries {
  const step = partial.step ?? [0, 1, 2];
  return {
    run: "r1",
    key: "loss",
    step,
    last_step: partial.last_step ?? step,
    time: partial.time ?? step.map((s) => 1000 + s * 2),
    min: partial.min ?? partial.mean ?? step.map(() => 1),
    max: partial.max ?? partial.mean ?? step.map(() => 1),
    mean: partial.mean ?? step.map(() => 1),
    first: partial.first ?? step.map(() => 1),
    last: partial.last ?? partial.mean?.map((v) => v ?? "NaN") ?? step.map(() => 1),
    count: partial.count ?? step.map(() => 1),
    ...partial,
  } as ApiSeries;
}

const run = { id: "r1", label: "run one", color: "#000000", createdAt: 1000 };

describe("json", () => {
  it("parses NaN and Infinity tokens outside strings", () => {
    const v = parseJson('{"a": NaN, "b": [Infinity, -Infinity], "c": "NaN in a string"}') as Record<string, unknown>;
    expect(Number.isNaN(v.a as number)).toBe(true);
    expect(v.b).toEqual([Infinity, -Infinity]);
    expect(v.c).toBe("NaN in a string");
    expect(toNumber("Infinity")).toBe(Infinity);
  });
});

describe("chart data", () => {
  it("uses steps, relative and wall time as x", () => {
    const s = series({ step: [0, 5], mean: [1, 2], time: [1010, 1020] });
    expect(toPlotSeries(s, run, "_step").x).toEqual([0, 5]);
    expect(toPlotSeries(s, run, "_relative").x).toEqual([10, 20]);
    expect(toPlotSeries(s, run, "_wall").x).toEqual([1010, 1020]);
    expect(toPlotSeries(s, run, "_step").y).toEqual([1, 2]);
  });
  it("puts a multi-point bucket at the middle of its steps", () => {
    const s = series({ step: [0, 10], last_step: [9, 19], mean: [1, 2] });
    expect(toPlotSeries(s, run, "_step").x).toEqual([4.5, 14.5]);
  });
  it("maps a metric x-axis by step and sorts by it", () => {
    const y = series({ step: [0, 1, 2], mean: [10, 20, 30] });
    const x = series({ key: "epoch", step: [0, 1, 2], mean: [3, 1, 2], last: [3, 1, 2] });
    const p = toPlotSeries(y, run, "epoch", x);
    expect(p.x).toEqual([1, 2, 3]);
    expect(p.y).toEqual([20, 30, 10]);
  });
  it("turns non-finite buckets into gaps and smooths", () => {
    const s = series({ step: [0, 1, 2], mean: [1, null, 3] });
    const p = toPlotSeries(s, run, "_step", undefined, { kind: "average", value: 2 });
    expect(p.raw).toEqual([1, null, 3]);
    expect(p.y).toEqual([1, null, 2]);
  });
  it("aggregates groups: mean line, min/max band", () => {
    const a = toPlotSeries(series({ step: [0, 1], mean: [0, 2] }), run, "_step");
    const b = toPlotSeries(series({ step: [0, 1], mean: [2, 4] }), { ...run, id: "r2" }, "_step");
    const g = aggregateGroup("g", "g", "#fff", [a, b]);
    expect(g.x).toEqual([0, 1]);
    expect(g.y).toEqual([1, 3]);
    expect(g.min).toEqual([0, 2]);
    expect(g.max).toEqual([2, 4]);
  });
  it("interpolates, finds nearest points and step ranges", () => {
    expect(interpolate([0, 10], [0, 100], [5, 10, 11])).toEqual([50, 100, null]);
    expect(nearestIndex([0, 10, 20], 14)).toBe(1);
    const p = toPlotSeries(series({ step: [0, 10, 20], mean: [1, 2, 3] }), run, "_relative");
    expect(stepRangeFor([p], p.x[1], p.x[2])).toEqual([10, 20]);
  });
  it("groups keys in sections by prefix", () => {
    expect(sectionsOf(["val/loss", "loss", "train/acc", "train/loss"])).toEqual([
      ["Charts", ["loss"]],
      ["train", ["train/acc", "train/loss"]],
      ["val", ["val/loss"]],
    ]);
  });
});

describe("ansi", () => {
  it("colours and resets", () => {
    const { spans } = parseAnsi("a\u001b[31mred\u001b[0m b");
    expect(spans.map((s) => s.text)).toEqual(["a", "red", " b"]);
    expect(spans[1].style.fg).toBe("#cd3131");
    expect(spans[2].style.fg).toBeUndefined();
  });
  it("handles 256 and truecolour, and carriage returns", () => {
    expect(parseAnsi("\u001b[38;5;196mx").spans[0].style.fg).toBe("rgb(255,0,0)");
    expect(parseAnsi("\u001b[38;2;1;2;3mx").spans[0].style.fg).toBe("rgb(1,2,3)");
    expect(parseAnsi("10%\r50%\r100%").spans.map((s) => s.text).join("")).toBe("100%");
  });
});

describe("format and colours", () => {
  it("formats", () => {
    expect(fmtDuration(3725)).toBe("1h 2m");
    expect(fmtNumber(0.000012345)).toBe("1.234e-5");
    expect(fmtNumber(NaN)).toBe("NaN");
    expect(flatten({ a: { b: 1 }, c: 2 })).toEqual([["a.b", 1], ["c", 2]]);
  });
  it("gives a run the same colour every time", () => {
    expect(runColor("abc")).toBe(runColor("abc"));
    expect(PALETTE).toContain(runColor("xyz"));
  });
  it("gives runs shown together distinct colours, whatever their order", () => {
    const ids: string[] = [];
    for (let i = 0; ids.length < 2; i++) {
      const id = `run${i}`;
      if (ids.length === 0 || hash(id) % PALETTE.length === hash(ids[0]) % PALETTE.length) ids.push(id);
    }
    const a = assignColors(ids);
    const b = assignColors([...ids].reverse());
    expect(a.get(ids[0])).not.toBe(a.get(ids[1]));
    expect([...a.entries()].sort()).toEqual([...b.entries()].sort());
    const alone = assignColors(["solo"]);
    expect(alone.get("solo")).toBe(runColor("solo"));
  });
});

describe("routes", () => {
  it("parses the URLs the wandb client prints", () => {
    expect(parseRoute("/admin/demo")).toEqual({ page: "workspace", entity: "admin", project: "demo" });
    expect(parseRoute("/admin/demo/runs/abc123")).toEqual({ page: "run", entity: "admin", project: "demo", run: "abc123", tab: "overview" });
    expect(parseRoute("/admin/demo/runs/abc123/logs")).toMatchObject({ page: "run", tab: "logs" });
    expect(parseRoute("/system-admin")).toEqual({ page: "admin" });
    expect(parseRoute("/signin", "?next=//evil.example")).toEqual({ page: "signin", next: "/" });
    expect(parseRoute("/admin")).toEqual({ page: "home", entity: "admin" });
  });
});
