import { RouteIndex } from "./route-index";

const table = [
  { method: "get", path: "/accounts/:id" },
  { method: "post", path: "/payments" },
  { method: "get", path: "/payments/:id" },
  { method: "post", path: "/payments/:id/refunds" },
  { method: "post", path: "/payments/batch" },
];
const index = new RouteIndex(table);
const served = (method: string, path: string) => {
  const found = index.match(method, path);
  return found && { path: found.route.path, method: found.route.method, params: found.params };
};

it("finds a path without parameters, and one with them, by method", () => {
  expect(served("POST", "/payments")).toEqual({ method: "post", path: "/payments", params: {} });
  expect(served("GET", "/payments/abc")).toEqual({ method: "get", path: "/payments/:id", params: { id: "abc" } });
  expect(served("POST", "/payments/abc/refunds")).toEqual({ method: "post", path: "/payments/:id/refunds", params: { id: "abc" } });
  expect(served("POST", "/payments/batch")).toEqual({ method: "post", path: "/payments/batch", params: {} });
  expect(served("GET", "/payments")).toBeUndefined();
  expect(served("DELETE", "/payments/abc")).toBeUndefined();
  expect(served("GET", "/payments/abc/refunds")).toBeUndefined();
});

it("matches as Express does: any letter case in literals, one trailing slash, HEAD by GET", () => {
  expect(served("POST", "/PAYMENTS")?.path).toBe("/payments");
  expect(served("POST", "/payments/")?.path).toBe("/payments");
  expect(served("POST", "/payments//")).toBeUndefined();
  expect(served("GET", "/Payments/AbC")?.params).toEqual({ id: "AbC" });
  expect(served("HEAD", "/accounts/x")).toEqual({ method: "get", path: "/accounts/:id", params: { id: "x" } });
});

it("decodes parameters, keeps one that does not decode as sent, and never matches an empty one", () => {
  expect(served("GET", "/payments/a%20b")?.params).toEqual({ id: "a b" });
  expect(served("GET", "/payments/%E0%A4%A")?.params).toEqual({ id: "%E0%A4%A" });
  expect(served("GET", "/payments//")).toBeUndefined();
});

it("lists the methods served at a path for OPTIONS, HEAD wherever GET is", () => {
  expect(index.methodsAt("/payments")).toEqual(["POST"]);
  expect(index.methodsAt("/payments/abc")).toEqual(["GET", "HEAD"]);
  expect(index.methodsAt("/nowhere")).toEqual([]);
});

it("refuses a table where an earlier entry with parameters would serve a later one", () => {
  expect(
    () =>
      new RouteIndex([
        { method: "get", path: "/payments/:id" },
        { method: "get", path: "/payments/batch" },
      ]),
  ).toThrow(/served by an earlier entry/);
  expect(
    () =>
      new RouteIndex([
        { method: "get", path: "/x" },
        { method: "get", path: "/X" },
      ]),
  ).toThrow(/served by an earlier entry/);
});
