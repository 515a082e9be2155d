// One jest run for the whole workspace; each project is a kind of test (see README "Tests").
const moduleNameMapper = {
  "^@settle/core$": "<rootDir>/packages/core/src/index.ts",
  "^@settle/core/testing$": "<rootDir>/packages/core/src/testing/index.ts",
  "^@settle/client$": "<rootDir>/packages/client/src/index.ts",
  "^@settle/client/webhooks$": "<rootDir>/packages/client/src/webhooks.ts",
};
const transform = { "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/tsconfig.base.json", diagnostics: false }] };
const base = { rootDir: __dirname, testEnvironment: "node", moduleNameMapper, transform, moduleFileExtensions: ["ts", "js", "json"] };

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    { ...base, displayName: "unit", testMatch: ["<rootDir>/{apps,packages}/*/src/**/*.test.ts", "<rootDir>/bench/lib/*.test.ts"], testPathIgnorePatterns: ["\\.int\\.test\\.ts$", "\\.faults\\.test\\.ts$"] },
    { ...base, displayName: "integration", testMatch: ["<rootDir>/{apps,packages}/*/src/**/*.int.test.ts", "<rootDir>/tests/**/*.int.test.ts"] },
    { ...base, displayName: "faults", testMatch: ["<rootDir>/tests/**/*.faults.test.ts"] },
  ],
  testTimeout: 60_000,
};
