import { describe, expect, it } from "vitest";
import { Emitter } from "../../../../packages/client/src/emitter.ts";
import type { LiveEvents } from "../../../../packages/client/src/live/client.ts";
import { VendorsInView, type VendorInView } from "../../../../packages/client/src/store.ts";

/** The frames a live client would emit, handed to the store by the test. */
class Frames extends Emitter<LiveEvents> {
	push<K extends keyof LiveEvents>(event: K, value: LiveEvents[K]): void {
		this.emit(event, value);
	}
}

const at = (id: string, ts: number, cell = "c1", lat = 52.5): VendorInView => ({ id, lat, lng: 13.4, cell, ts });

function setup() {
	const frames = new Frames();
	const view = new VendorsInView(frames);
	const log: string[] = [];
	view.on("add", v => log.push(`add ${v.id}@${v.ts}`));
	view.on("move", v => log.push(`move ${v.id}@${v.ts}`));
	view.on("remove", v => log.push(`remove ${v.id}`));
	return { frames, view, log };
}

describe("VendorsInView", () => {
	it("adds from the snapshot, moves on newer positions, removes on gone", () => {
		const { frames, view, log } = setup();
		frames.push("snapshot", { op: "snapshot", cells: ["c1"], vendors: [at("a", 1), at("b", 1)] });
		frames.push("pos", { op: "pos", ...at("a", 2) });
		frames.push("gone", { op: "gone", id: "b", cell: "c1" });
		expect(log).toEqual(["add a@1", "add b@1", "move a@2", "remove b"]);
		expect(view.size).toBe(1);
		expect(view.get("a")).toEqual(at("a", 2));
	});

	it("keeps the newest ts per vendor: older or repeated positions change nothing", () => {
		const { frames, view, log } = setup();
		frames.push("pos", { op: "pos", ...at("a", 5, "c1", 1) });
		frames.push("pos", { op: "pos", ...at("a", 4, "c1", 2) });
		frames.push("pos", { op: "pos", ...at("a", 5, "c1", 3) });
		// A position streamed just before its snapshot: the snapshot's older entry does not win.
		frames.push("snapshot", { op: "snapshot", cells: ["c1"], vendors: [at("a", 3)] });
		expect(log).toEqual(["add a@5"]);
		expect(view.get("a")?.lat).toBe(1);
	});

	it("a snapshot removes the vendors no longer in view, but not one streamed in since the watch", () => {
		const { frames, view, log } = setup();
		frames.push("snapshot", { op: "snapshot", cells: ["c1", "c2"], vendors: [at("a", 1), at("b", 1, "c2")] });
		// Reconnect: the watch goes out again; b went offline meanwhile, c's first position is not stored yet.
		frames.push("watch", { op: "watch", cells: ["c1", "c2"] });
		frames.push("pos", { op: "pos", ...at("c", 2, "c2") });
		frames.push("snapshot", { op: "snapshot", cells: ["c1", "c2"], vendors: [at("a", 3)] });
		expect([...view.values()].map(v => v.id).sort()).toEqual(["a", "c"]);
		expect(log).toEqual(["add a@1", "add b@1", "add c@2", "remove b", "move a@3"]);
		// A new watch elsewhere: what was streamed before it goes with the next snapshot.
		frames.push("watch", { op: "watch", cells: ["c9"] });
		frames.push("snapshot", { op: "snapshot", cells: ["c9"], vendors: [] });
		expect(view.size).toBe(0);
	});

	it("ignores a gone for a cell the vendor already left, and a late older position after gone", () => {
		const { frames, view, log } = setup();
		frames.push("pos", { op: "pos", ...at("a", 2, "c2") });
		frames.push("gone", { op: "gone", id: "a", cell: "c1" });
		expect(view.get("a")?.cell).toBe("c2");
		frames.push("gone", { op: "gone", id: "a", cell: "c2" });
		frames.push("pos", { op: "pos", ...at("a", 1, "c2") });
		expect(view.size).toBe(0);
		frames.push("pos", { op: "pos", ...at("a", 3, "c3") });
		expect(log).toEqual(["add a@2", "remove a", "add a@3"]);
	});

	it("stops following once unbound, and clear() reports every vendor removed", () => {
		const frames = new Frames();
		const view = new VendorsInView();
		const stop = view.bind(frames);
		frames.push("pos", { op: "pos", ...at("a", 1) });
		stop();
		frames.push("pos", { op: "pos", ...at("b", 1) });
		expect(view.size).toBe(1);
		const removed: string[] = [];
		view.on("remove", v => removed.push(v.id));
		view.clear();
		expect(removed).toEqual(["a"]);
	});
});
