import { join } from "node:path";
import type { ServiceSchema } from "moleculer";
import DbService from "moleculer-db";
import MongoAdapter from "moleculer-db-adapter-mongo";
import { isMemoryDataDir, type Config } from "../config/index.ts";

/** One index of a collection; `text` fields only matter on Mongo (the embedded store scans). */
export type IndexSpec = { fields: Record<string, 1 | -1 | "text">; unique?: boolean };

/** The moleculer-db adapter surface our services use (same on NeDB and Mongo). */
export type Store = {
	init(broker: unknown, service: unknown): void;
	connect(): Promise<unknown>;
	disconnect(): Promise<unknown> | void;
	find(params: { query?: object; sort?: string[]; limit?: number; offset?: number }): Promise<any[]>;
	findOne(query: object): Promise<any>;
	findById(id: string): Promise<any>;
	findByIds(ids: string[]): Promise<any[]>;
	count(params: { query?: object }): Promise<number>;
	insert(entity: object): Promise<any>;
	updateById(id: string, update: object): Promise<any>;
	updateMany(query: object, update: object): Promise<number>;
	/** Set when connected: NeDB Datastore or Mongo Db. */
	db?: any;
	collection?: any;
};

export type DbMethods = {
	adapter: Store;
	clearCache(): Promise<void>;
	checkStore(): Promise<void>;
	textQuery(q: string, fields: string[]): object;
	openStore(collection: string, indexes: IndexSpec[]): Promise<Store>;
};

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
		const db = this.db;
		const update = Object.getPrototypeOf(db).update as (...args: unknown[]) => void;
		db.update = (query: object, change: object, options: object) =>
			new Promise((resolve, reject) =>
				update.call(db, query, change, options, (err: Error | null, ...results: unknown[]) => (err ? reject(err) : resolve(results)))
			);
		return loaded;
	}
}

/** A store for `collection`: Mongo when MONGO_URL is set, else NeDB persisted under DATA_DIR (or in memory). */
export function createStore(config: Config, collection: string): Store {
	if (config.mongoUrl) return new MongoAdapter(config.mongoUrl, { useUnifiedTopology: true }) as unknown as Store;
	if (isMemoryDataDir(config)) return new EmbeddedAdapter();
	return new EmbeddedAdapter({ filename: join(config.dataDir, `${collection}.db`) });
}

async function ensureIndexes(store: Store, mongo: boolean, indexes: IndexSpec[]): Promise<void> {
	for (const index of indexes) {
		const names = Object.keys(index.fields);
		if (mongo) {
			await store.collection.createIndex(index.fields, { unique: Boolean(index.unique) });
		} else if (names.length === 1 && index.fields[names[0]!] !== "text") {
			await store.db.ensureIndex({ fieldName: names[0], unique: Boolean(index.unique) });
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
	const mixin = {
		mixins: [DbService as unknown as Partial<ServiceSchema>],
		// moleculer-db (and the Mongo adapter) read the collection name from the schema.
		collection,
		settings: { idField: "id" },
		actions: { find: false, count: false, list: false, create: false, insert: false, get: false, update: false, remove: false },
		events: {
			[`cache.clean.${collection}`](this: any) {
				if (this.broker.cacher) return this.broker.cacher.clean(`${this.fullName}.**`);
			},
		},
		methods: {
			/** Store readiness for /health/ready. */
			async checkStore(this: any) {
				if (this.settings.config.mongoUrl) {
					if (!this.adapter.db) throw new Error("mongo not connected");
					await this.adapter.db.command({ ping: 1 });
				} else if (!this.adapter.db) {
					throw new Error("store not loaded");
				}
			},

			/** Text filter over `fields`: Mongo's text index when on Mongo, word-prefix match on the embedded store. */
			textQuery(this: any, q: string, fields: string[]) {
				if (this.settings.config.mongoUrl) return { $text: { $search: q } };
				const words = q.split(/\s+/).filter(Boolean).slice(0, 8);
				const tests = words.map(w => new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRegExp(w)}`, "iu"));
				return { $or: fields.flatMap(f => tests.map(re => ({ [f]: { $regex: re } }))) };
			},

			/** A second collection owned by the same service (e.g. reviews next to vendors). */
			async openStore(this: any, name: string, storeIndexes: IndexSpec[]) {
				const store = createStore(this.settings.config, name);
				store.init(this.broker, { schema: { collection: name }, logger: this.logger, broker: this.broker });
				await store.connect();
				await ensureIndexes(store, Boolean(this.settings.config.mongoUrl), storeIndexes);
				this.extraStores.push(store);
				this.trackFile(store);
				return store;
			},

			/** Remembers a file-backed NeDB datastore so that it is compacted periodically and on stop. */
			trackFile(this: any, store: Store) {
				if (this.settings.config.mongoUrl || !store.db?.filename) return;
				store.db.setAutocompactionInterval(COMPACT_EVERY_MS);
				this.nedbFiles.push(store.db);
			},
		},
		created(this: any) {
			this.adapter = createStore(this.settings.config, collection);
			this.adapter.init(this.broker, this);
			this.extraStores = [];
			this.nedbFiles = [];
		},
		async started(this: any) {
			await ensureIndexes(this.adapter, Boolean(this.settings.config.mongoUrl), indexes);
			this.trackFile(this.adapter);
		},
		async stopped(this: any) {
			for (const db of this.nedbFiles.splice(0)) {
				db.stopAutocompaction();
				await db.compactDatafileAsync();
			}
			await Promise.all(this.extraStores.splice(0).map((store: Store) => store.disconnect()));
		},
	};
	return mixin as Partial<ServiceSchema>;
}
