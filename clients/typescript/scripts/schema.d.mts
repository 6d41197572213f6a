/** The path of src/schema.ts. */
export const SCHEMA_FILE: string;
/** The text of src/schema.ts for the framestate serving at `baseUrl`. */
export function generateSchema(baseUrl: string): Promise<string>;
