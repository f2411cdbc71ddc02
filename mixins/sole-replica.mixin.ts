import type { ServiceSchema } from "moleculer";
import type { Config } from "../config/index.ts";
import { servicePart, type VentaService } from "../config/settings.ts";

/** What a stateful service states in its registry metadata, so every node can tell whether two replicas would split its data. */
export type ReplicaMetadata = { embedded: boolean; since: number };

/** One replica as the registry lists it. */
export type Replica = { name: string; nodeID: string; available: boolean; metadata?: Partial<ReplicaMetadata> };

type Self = { name: string; nodeID: string } & ReplicaMetadata;

/** The replica that came first keeps running (on a tie, the lower node id): every node orders two replicas alike. */
const precedes = (a: Pick<Self, "nodeID" | "since">, b: Pick<Self, "nodeID" | "since">) =>
	a.since < b.since || (a.since === b.since && a.nodeID < b.nodeID);

/**
 * Another replica of `self` that `self` must yield to, if any. Two replicas of one name split its
 * data when either keeps it in-process. Before `self` serves (`serving` false) any such replica
 * wins, for it is serving already; once both serve (they started together), the later one yields.
 */
export function replicaToYieldTo(self: Self, replicas: readonly Replica[], serving: boolean): Replica | undefined {
	return replicas.find(
		other =>
			other.name === self.name &&
			other.nodeID !== self.nodeID &&
			other.available &&
			(self.embedded || other.metadata?.embedded === true) &&
			(!serving || precedes({ nodeID: other.nodeID, since: other.metadata?.since ?? 0 }, self))
	);
}

/** The one line a refused replica says. */
export function refusal(self: Self, other: Replica, remedy: string): string {
	return self.embedded
		? `${self.name} runs on the embedded store here and already runs on node ${other.nodeID}; set ${remedy} to run more than one replica`
		: `${self.name} runs on the embedded store on node ${other.nodeID}; set ${remedy} there too to run more than one replica`;
}

type This = VentaService & { self(): Self; yieldIfShared(serving: boolean): void };

/**
 * Keeps a stateful service the only replica of its name in its namespace while its store is
 * in-process (`embedded(config)`): without it, callers on other nodes would be balanced across
 * separate databases. Checked before the service is registered (a replica already in the mesh
 * wins, so a second one refuses to start) and again whenever the mesh changes (two that started
 * together: the later exits). `remedy` is the variable that gives it a shared store.
 */
export function soleReplicaMixin(embedded: (config: Config) => boolean, remedy: string): Partial<ServiceSchema> {
	return servicePart<object, Pick<This, "self" | "yieldIfShared">, object>({
		merged(schema) {
			const config = (schema.settings as { config: Config }).config;
			const metadata: ReplicaMetadata = { embedded: embedded(config), since: Date.now() };
			schema.metadata = { ...schema.metadata, ...metadata };
		},
		events: {
			"$broker.started"(this: This) {
				this.yieldIfShared(true);
			},
			"$services.changed"(this: This) {
				this.yieldIfShared(true);
			},
		},
		methods: {
			self(this: This): Self {
				const { embedded: isEmbedded, since } = this.metadata as ReplicaMetadata;
				return { name: this.name, nodeID: this.broker.nodeID, embedded: isEmbedded, since };
			},
			/** Refuses to start (throws) before serving; exits the process once serving, as a fatal start-up fault would. */
			yieldIfShared(this: This, serving: boolean) {
				if (!this.broker.transit) return;
				const self = this.self();
				const replicas = this.broker.registry.getServiceList({ skipInternal: true }) as Replica[];
				const other = replicaToYieldTo(self, replicas, serving);
				if (!other) return;
				if (!serving) throw new Error(refusal(self, other, remedy));
				this.broker.fatal(refusal(self, other, remedy));
			},
		},
		started(this: This) {
			this.yieldIfShared(false);
		},
	});
}
