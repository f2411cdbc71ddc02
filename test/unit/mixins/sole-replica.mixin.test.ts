import { describe, expect, it } from "vitest";
import { refusal, replicaToYieldTo, type Replica } from "../../../mixins/sole-replica.mixin.ts";

const replica = (nodeID: string, embedded: boolean | undefined, since: number, name = "vendors"): Replica => ({
	name,
	nodeID,
	available: true,
	metadata: embedded === undefined ? {} : { embedded, since },
});
const self = (nodeID: string, embedded: boolean, since: number) => ({ name: "vendors", nodeID, embedded, since });

describe("one replica of a service on the embedded store", () => {
	it("before serving, yields to any other replica of the name when either side is embedded", () => {
		const mesh = [replica("a", true, 100), replica("me", true, 50), replica("x", true, 10, "users")];
		expect(replicaToYieldTo(self("me", true, 50), mesh, false)?.nodeID).toBe("a");
		// A shared store here, but the other keeps its own: still two databases.
		expect(replicaToYieldTo(self("me", false, 50), [replica("a", true, 100)], false)?.nodeID).toBe("a");
		// Both on a shared store (or an older engine that states nothing): replicas are fine.
		expect(replicaToYieldTo(self("me", false, 50), [replica("a", false, 10), replica("b", undefined, 0)], false)).toBeUndefined();
		// Other services, itself (a restart of the same node id) and unavailable nodes do not count.
		expect(replicaToYieldTo(self("me", true, 50), [replica("x", true, 10, "users"), replica("me", true, 1)], false)).toBeUndefined();
		expect(replicaToYieldTo(self("me", true, 50), [{ ...replica("a", true, 10), available: false }], false)).toBeUndefined();
	});

	it("once both serve (started together), the later one yields, on a tie the higher node id, so exactly one goes", () => {
		const a = self("a", true, 100);
		const b = self("b", true, 200);
		const mesh = [replica("a", true, 100), replica("b", true, 200)];
		expect(replicaToYieldTo(a, mesh, true)).toBeUndefined();
		expect(replicaToYieldTo(b, mesh, true)?.nodeID).toBe("a");
		const tie = [replica("a", true, 100), replica("b", true, 100)];
		expect(replicaToYieldTo(self("a", true, 100), tie, true)).toBeUndefined();
		expect(replicaToYieldTo(self("b", true, 100), tie, true)?.nodeID).toBe("a");
	});

	it("says in one line where it already runs and what to set", () => {
		expect(refusal(self("b", true, 1), replica("node-a", true, 0), "MONGO_URL")).toBe(
			"vendors runs on the embedded store here and already runs on node node-a; set MONGO_URL to run more than one replica"
		);
		expect(refusal(self("b", false, 1), replica("node-a", true, 0), "MONGO_URL")).toBe(
			"vendors runs on the embedded store on node node-a; set MONGO_URL there too to run more than one replica"
		);
	});
});
