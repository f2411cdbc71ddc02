import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceBroker, type Context } from "moleculer";
import { AuthorizationMiddleware } from "../../../middlewares/authorization.middleware.ts";

/** A broker in this process (no transporter): the middleware wraps real actions, called as any caller would. */
describe("authorization middleware (auth, roles, owns)", () => {
	const broker = new ServiceBroker({ logger: false, middlewares: [AuthorizationMiddleware] });
	const vendorReads: string[] = [];
	const caller = (id: string, role: "customer" | "vendor" | "admin") => ({ meta: { user: { id, role } } });

	beforeAll(async () => {
		broker.createService({
			name: "vendors",
			actions: {
				get(ctx: Context<{ id: string }>) {
					vendorReads.push(ctx.params.id);
					if (ctx.params.id === "ven_missing")
						throw Object.assign(new Error("Vendor ven_missing not found"), { code: 404, type: "NOT_FOUND" });
					return { id: ctx.params.id, ownerId: "user_owner" };
				},
			},
		});
		broker.createService({
			name: "guarded",
			actions: {
				open: { handler: () => "open" },
				signedIn: { auth: "required", handler: (ctx: Context<unknown, { user: { id: string } }>) => ctx.meta.user.id },
				adminOnly: { roles: ["admin"], handler: () => "admin" },
				edit: { owns: "vendor", handler: (ctx: Context) => ctx.locals.vendor },
				editBy: { owns: { vendor: "vendorId" }, handler: () => "ok" },
			},
		});
		await broker.start();
	});
	afterAll(() => broker.stop());

	it("leaves actions without rules alone", async () => {
		expect(await broker.call("guarded.open")).toBe("open");
	});

	it("refuses a call without an identity with 401, whoever sends it", async () => {
		for (const action of ["guarded.signedIn", "guarded.adminOnly", "guarded.edit"]) {
			await expect(broker.call(action, { id: "ven_1" })).rejects.toMatchObject({ code: 401, type: "NO_TOKEN" });
		}
		expect(vendorReads).toEqual([]);
	});

	it("checks roles", async () => {
		await expect(broker.call("guarded.adminOnly", {}, caller("user_1", "vendor"))).rejects.toMatchObject({ code: 403, type: "FORBIDDEN" });
		expect(await broker.call("guarded.adminOnly", {}, caller("user_1", "admin"))).toBe("admin");
	});

	it("lets only the owner (or an admin) act on a vendor, and hands the handler the vendor it read", async () => {
		await expect(broker.call("guarded.edit", { id: "ven_1" }, caller("user_other", "vendor"))).rejects.toMatchObject({
			code: 403,
			message: "This vendor is not yours",
		});
		expect(await broker.call("guarded.edit", { id: "ven_1" }, caller("user_owner", "vendor"))).toEqual({
			id: "ven_1",
			ownerId: "user_owner",
		});
		expect(await broker.call("guarded.edit", { id: "ven_1" }, caller("user_root", "admin"))).toEqual({
			id: "ven_1",
			ownerId: "user_owner",
		});
		await expect(broker.call("guarded.edit", { id: "ven_missing" }, caller("user_owner", "vendor"))).rejects.toMatchObject({ code: 404 });
	});

	it("reads the vendor id from the param the rule names", async () => {
		vendorReads.length = 0;
		expect(await broker.call("guarded.editBy", { vendorId: "ven_7" }, caller("user_owner", "vendor"))).toBe("ok");
		expect(vendorReads).toEqual(["ven_7"]);
	});
});
