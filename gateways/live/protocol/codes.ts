/**
 * The close and error codes of the live socket protocol. They are published with the client SDK
 * (packages/client/src/protocol), so apps and the engine read one definition.
 */
export * from "../../../packages/client/src/protocol/codes.ts";
