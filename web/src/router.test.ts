import { describe, expect, it } from "vitest";
import { parseRoute, paths } from "./router";

describe("artifact routes", () => {
  it("parse the project's artifacts, a type, a collection and a version", () => {
    expect(parseRoute("/admin/demo/artifacts")).toEqual({ page: "artifacts", entity: "admin", project: "demo", type: undefined });
    expect(parseRoute("/admin/demo/artifacts/dataset")).toEqual({ page: "artifacts", entity: "admin", project: "demo", type: "dataset" });
    expect(parseRoute("/admin/demo/artifacts/dataset/mnist")).toEqual({ page: "collection", entity: "admin", project: "demo", type: "dataset", name: "mnist" });
    expect(parseRoute("/admin/demo/artifacts/dataset/mnist/v3")).toEqual({
      page: "artifact",
      entity: "admin",
      project: "demo",
      type: "dataset",
      name: "mnist",
      version: "v3",
    });
    expect(parseRoute("/admin/demo/artifacts/dataset/mnist/v3/extra")).toMatchObject({ page: "notfound" });
    expect(parseRoute("/admin/demo/runs/abc/artifacts")).toMatchObject({ page: "run", tab: "artifacts" });
  });

  it("round-trip names that need escaping", () => {
    const path = paths.artifact("ann", "my proj", "raw data", "set #1", "best?");
    expect(path).toBe("/ann/my%20proj/artifacts/raw%20data/set%20%231/best%3F");
    expect(parseRoute(path)).toEqual({ page: "artifact", entity: "ann", project: "my proj", type: "raw data", name: "set #1", version: "best?" });
    expect(parseRoute(paths.collection("a", "p", "model", "m"))).toMatchObject({ page: "collection", type: "model", name: "m" });
    expect(paths.artifacts("a", "p")).toBe("/a/p/artifacts");
    expect(paths.run("a", "p", "r", "artifacts")).toBe("/a/p/runs/r/artifacts");
  });
});
