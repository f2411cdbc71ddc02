import { describe, expect, it } from "vitest";
import { CLOSE_ACTIONS, CLOSE_CODES, closeAction, STANDARD_CLOSE_CODES } from "../../../../packages/client/src/protocol/codes.ts";
import { doc, tableAfter } from "../../../helpers/docs.ts";

describe("close codes sorted into retry / reauthenticate / give up", () => {
	it("classifies every close code the gateway sends, and only those", () => {
		const sent = [...Object.values(CLOSE_CODES), ...Object.values(STANDARD_CLOSE_CODES)].sort();
		expect(Object.keys(CLOSE_ACTIONS).map(Number).sort()).toEqual(sent);
	});

	it("is the `client` column of docs/live-protocol.md", () => {
		const column = (heading: string) =>
			Object.fromEntries(
				tableAfter(doc("live-protocol.md"), heading).map(row => {
					return [Number(row[0]), row.at(-1)];
				})
			);
		expect({ ...column("## Close codes"), ...column("Standard codes the gateway sends") }).toEqual(CLOSE_ACTIONS);
	});

	it("retries a lost connection or a refused upgrade (1006) and any code it does not know", () => {
		expect(closeAction(1006)).toBe("retry");
		expect(closeAction(1001)).toBe("retry");
		expect(closeAction(4999)).toBe("retry");
		expect(closeAction(CLOSE_CODES.TOKEN_EXPIRED)).toBe("reauthenticate");
		expect(closeAction(CLOSE_CODES.KICKED)).toBe("give up");
	});
});
