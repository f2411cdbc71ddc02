import { join } from "node:path";
import type { Context, ServiceSchema } from "moleculer";
import { unavailable } from "../lib/errors.ts";
import DbService from "moleculer-db";
import MongoAdapter from "moleculer-db-adapter-mongo";
import { isMemoryDataDir, type Config } from "../config/index.ts";
import { servicePart, type VentaService } from "../config/settings.ts";
import { soleReplicaMixin } from "./sole-replica.mixin.ts";

/** One index of a collection; `text` fields only matter on Mongo (the embedded store scans). */
export type IndexSpec = { fields: Record<string, 1 | -1 | "text">; unique?: boolean };

/** A stored document as the adapter hands it over (`_id` and the fields). */
export type Doc = Record<string, unknown>;
export type FindParams = { query?: object; sort?: string[]; limit?: number; offset?: number };

/** What we use of an embedded NeDB datastore. */
type NeDbFile = {
	filename?: string;
	ensureIndex(opts: { fieldName: string; unique: boolean }): Promise<void> | void;
	setAutocompactionInterval(ms: number): void;
	stopAutocompaction(): void;
	compactDatafileAsync(): Promise<void>;
	update: (query: object, change: object, options: object) => unknown;
	removeAsync(query: object, options: { multi: boolean }): Promise<number>;
};
/** What we use of a Mongo database and collection. */
type MongoDb = { command(cmd: object): Promise<unknown> };
type MongoCollection = { createIndex(fields: object, opts: object): Promise<unknown> };

/**
 * The moleculer-db adapter surface our services use (same on NeDB and Mongo). The element type
 * of a read is the caller's statement of what the collection holds.
 */
export type Store = {
	init(broker: unknown, service: unknown): void;
	connect(): Promise<unknown>;
	disconnect(): Promise<unknown> | undefined;
	find<T extends object = Doc>(params: FindParams): Promise<T[]>;
	findOne<T extends object = Doc>(query: object): Promise<T | null>;
	findById<T extends object = Doc>(id: string): Promise<T | null>;
	findByIds<T extends object = Doc>(ids: string[]): Promise<T[]>;
	count(params: { query?: object }): Promise<number>;
	insert<T extends object = Doc>(entity: object): Promise<T>;
	updateById<T extends object = Doc>(id: string, update: object): Promise<T | null>;
	updateMany(query: object, update: object): Promise<number>;
	/** Deletes what matches; answers how many. */
	removeMany(query: object): Promise<number>;
	/** Set when connected: the NeDB datastore, or the Mongo database (and its collection). */
	db?: NeDbFile | MongoDb;
	collection?: MongoCollection;
};

export type DbMethods = {
	adapter: Store;
	clearCache(): Promise<void>;
	checkStore(): Promise<void>;
	textQuery(q: string, fields: string[]): object;
	openStore(collection: string, indexes: IndexSpec[]): Promise<Store>;
};
type DbVars = { extraStores: Store[]; nedbFiles: NeDbFile[] };
type DbSettings = { idField: string };
type DbThis = VentaService<DbSettings, DbMethods & { trackFile(store: Store): void }, DbVars>;

/** NeDB appends every write to its file; compacting now and then keeps the file (and the next start) small. */
const COMPACT_EVERY_MS = 10 * 60_000;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const MemoryAdapter = (DbService as unknown as { MemoryAdapter: new (opts?: object) => Store }).MemoryAdapter;

/**
 * moleculer-db's NeDB adapter, with its `update` wrapper replaced: the original promisifies a
 * function that returns a Promise, and Node prints a DEP0174 warning on every write.
 */
class EmbeddedAdapter extends MemoryAdapter {
	override async connect() {
		const loaded = super.connect();
		const db = this.db as NeDbFile;
		const update = Object.getPrototypeOf(db).update as (...args: unknown[]) => void;
		db.update = (query: object, change: object, options: object) =>
			new Promise((resolve, reject) =>
				update.call(db, query, change, options, (err: Error | null, ...results: unknown[]) => (err ? reject(err) : resolve(results)))
			);
		return loaded;
	}

	/** moleculer-db's calls NeDB's callback-style `remove` without a callback, so it answers nothing. */
	override removeMany(query: object): Promise<number> {
		return (this.db as NeDbFile).removeAsync(query, { multi: true });
	}
}

/**
 * The MongoClient options (driver 3.x), made for a replica set (`mongodb://h1,h2,h3/venta?replicaSet=rs0`):
 * a write is acknowledged once a majority holds it (so a failover cannot roll it back; no answer
 * within 10 s, as callers' own timeout, is an error), reads see majority-committed data on the
 * primary (with majority writes, a node reads its own writes), and a write or read cut by an
 * election is retried once by the driver.
 */
export const MONGO_CLIENT_OPTIONS = {
	useUnifiedTopology: true,
	w: "majority",
	wtimeout: 10_000,
	readConcern: { level: "majority" },
	readPreference: "primary",
	retryWrites: true,
	retryReads: true,
} as const;

/** A store for `collection`: Mongo when MONGO_URL is set, else NeDB persisted under DATA_DIR (or in memory). */
export function createStore(config: Config, collection: string): Store {
	if (config.mongoUrl) return new MongoAdapter(config.mongoUrl, MONGO_CLIENT_OPTIONS) as unknown as Store;
	if (isMemoryDataDir(config)) return new EmbeddedAdapter();
	return new EmbeddedAdapter({ filename: join(config.dataDir, `${collection}.db`) });
}

/** Creates the indexes a collection needs (on Mongo all of them, text ones included; on NeDB the single-field ones). */
export async function ensureIndexes(store: Store, mongo: boolean, indexes: IndexSpec[]): Promise<void> {
	for (const index of indexes) {
		const names = Object.keys(index.fields);
		if (mongo) {
			await store.collection?.createIndex(index.fields, { unique: Boolean(index.unique) });
		} else if (names.length === 1 && index.fields[names[0]!] !== "text") {
			await (store.db as NeDbFile).ensureIndex({ fieldName: names[0]!, unique: Boolean(index.unique) });
		}
	}
}

/**
 * moleculer-db with the adapter picked from config, indexes ensured on start, cache cleaned on
 * every write (also on other nodes through the `cache.clean.<service>` broadcast), and a
 * readiness check. The generic CRUD actions of moleculer-db are switched off: every service
 * exposes its own validated, authorised actions and uses the adapter through methods.
 */
export function createDbMixin(collection: string, indexes: IndexSpec[] = []): Partial<ServiceSchema> {
	const part = servicePart<DbSettings, DbMethods & { trackFile(store: Store): void }, DbVars>({
		// On NeDB the data is this process's own: a second replica would be a second database.
		mixins: [DbService as unknown as Partial<ServiceSchema>, soleReplicaMixin(config => !config.mongoUrl, "MONGO_URL")],
		settings: { idField: "id" },
		actions: { find: false, count: false, list: false, create: false, insert: false, get: false, update: false, remove: false },
		hooks: {
			error: {
				/** The database is down or unreachable: a 503 for the caller, never the driver's error. */
				"*"(this: DbThis, ctx: Context, err: Error) {
					if (!/^Mongo/.test(err.name)) throw err;
					this.logger.warn({ requestId: ctx.requestID, err: err.message, action: ctx.action?.name }, "Database unavailable");
					throw unavailable("The database is unavailable; retry shortly");
				},
			},
		},
		events: {
			async [`cache.clean.${collection}`](this: DbThis) {
				await this.broker.cacher?.clean(`${this.fullName}.**`);
			},
		},
		methods: {
			/** Store readiness for /health/ready. */
			async checkStore() {
				if (!this.adapter.db) throw new Error(this.settings.config.mongoUrl ? "mongo not connected" : "store not loaded");
				if (this.settings.config.mongoUrl) await (this.adapter.db as MongoDb).command({ ping: 1 });
			},

			/** Text filter over `fields`: Mongo's text index when on Mongo, word-prefix match on the embedded store. */
			textQuery(q: string, fields: string[]) {
				if (this.settings.config.mongoUrl) return { $text: { $search: q } };
				const words = q.split(/\s+/).filter(Boolean).slice(0, 8);
				const tests = words.map(w => new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRegExp(w)}`, "iu"));
				return { $or: fields.flatMap(f => tests.map(re => ({ [f]: { $regex: re } }))) };
			},

			/** A second collection owned by the same service (e.g. reviews next to vendors). */
			async openStore(name: string, storeIndexes: IndexSpec[]) {
				const store = createStore(this.settings.config, name);
				store.init(this.broker, { schema: { collection: name }, logger: this.logger, broker: this.broker });
				await store.connect();
				await ensureIndexes(store, Boolean(this.settings.config.mongoUrl), storeIndexes);
				this.extraStores.push(store);
				this.trackFile(store);
				return store;
			},

			/** Remembers a file-backed NeDB datastore so that it is compacted periodically and on stop. */
			trackFile(store: Store) {
				const file = store.db as NeDbFile | undefined;
				if (this.settings.config.mongoUrl || !file?.filename) return;
				file.setAutocompactionInterval(COMPACT_EVERY_MS);
				this.nedbFiles.push(file);
			},
		},
		created() {
			this.adapter = createStore(this.settings.config, collection);
			this.adapter.init(this.broker, this);
			this.extraStores = [];
			this.nedbFiles = [];
		},
		async started() {
			await ensureIndexes(this.adapter, Boolean(this.settings.config.mongoUrl), indexes);
			this.trackFile(this.adapter);
		},
		async stopped() {
			for (const file of this.nedbFiles.splice(0)) {
				file.stopAutocompaction();
				await file.compactDatafileAsync();
			}
			await Promise.all(this.extraStores.splice(0).map(store => store.disconnect()));
		},
	});
	// moleculer-db (and the Mongo adapter) read the collection name from the schema.
	return { ...part, collection } as Partial<ServiceSchema>;
}
