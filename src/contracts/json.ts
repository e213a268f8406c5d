/** JSON as it travels in workflow payloads, tool arguments and results (types only). */

/** A JSON value as it travels in workflow payloads. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A JSON Schema object (draft 2020-12 subset, as MCP uses for inputSchema/outputSchema). */
export type JsonSchema = { [key: string]: Json };
