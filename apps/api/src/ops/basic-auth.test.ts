import { parseBasicAuth } from "./basic-auth";

const header = (credentials: string) => `Basic ${Buffer.from(credentials, "utf8").toString("base64")}`;

it("reads user and password, keeping colons that belong to the password", () => {
  expect(parseBasicAuth(header("ops:s3cret:with:colons"))).toEqual({ user: "ops", password: "s3cret:with:colons" });
  expect(parseBasicAuth(header("ünï:pässwörd"))).toEqual({ user: "ünï", password: "pässwörd" });
  expect(parseBasicAuth(`basic ${Buffer.from("a:b").toString("base64")}`)).toEqual({ user: "a", password: "b" });
});

it("refuses anything that is not basic credentials", () => {
  for (const bad of [undefined, "", "Basic", "Bearer abc", header("no-colon"), "Basic !!!", `Digest ${Buffer.from("a:b").toString("base64")}`]) {
    expect(parseBasicAuth(bad)).toBeUndefined();
  }
});
