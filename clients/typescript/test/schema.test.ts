// src/schema.ts is what openapi-typescript makes of the document the running service serves:
// when the API changes, this fails until `make client-schema` has regenerated it.
import { readFile } from "node:fs/promises";
import { expect, test } from "vitest";
import { generateSchema, SCHEMA_FILE } from "../scripts/schema.mjs";
import { BASE_URL } from "./service.js";

test("the committed schema is what the service's OpenAPI document generates", async () => {
  const committed = await readFile(SCHEMA_FILE, "utf8");
  const generated = await generateSchema(BASE_URL);
  expect(committed === generated, "src/schema.ts differs from the service's document: run `make client-schema`").toBe(
    true,
  );
});
