import { describe, expect, it } from "vitest";
import { KeyedQueue } from "../../../lib/keyed-queue.ts";

const later = (ms: number) => new Promise(r => setTimeout(r, ms));

describe("KeyedQueue", () => {
	it("runs one task per key at a time, in order; other keys run alongside", async () => {
		const queue = new KeyedQueue();
		const log: string[] = [];
		const task = (name: string, ms: number) => async () => {
			log.push(`${name}+`);
			await later(ms);
			log.push(`${name}-`);
		};
		await Promise.all([queue.run("a", task("a1", 20)), queue.run("a", task("a2", 1)), queue.run("b", task("b1", 5))]);
		expect(log).toEqual(["a1+", "b1+", "b1-", "a1-", "a2+", "a2-"]);
		expect(queue.busy("a")).toBe(false);
	});

	it("a failed task does not stop the next one of its key", async () => {
		const queue = new KeyedQueue();
		await expect(queue.run("a", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
		expect(await queue.run("a", async () => "next")).toBe("next");
	});

	it("runs a batch at once for idle keys; their later tasks wait for it", async () => {
		const queue = new KeyedQueue();
		const log: string[] = [];
		const batch = queue.runNow(["a", "b"], async () => {
			await later(10);
			log.push("batch");
		});
		expect(queue.busy("a") && queue.busy("b")).toBe(true);
		await Promise.all([batch, queue.run("b", async () => void log.push("b after"))]);
		expect(log).toEqual(["batch", "b after"]);
		expect(queue.busy("a") || queue.busy("b")).toBe(false);
	});
});
