import { describe, expect, it } from "vitest";
import { latLngToCell } from "h3-js";
import { checkAlert, checkZone, compileAlert, compileZone } from "../../../../services/alerts/compile.ts";
import { MAX_POLYGON_POINTS, MIN_ALERT_INTERVAL_S, type Alert, type CreateAlertParams } from "../../../../services/alerts/contract.ts";

const owned = (input: ReturnType<typeof checkAlert>): Alert => ({
	...input,
	id: "alr_aaaaaaaaaaaaaaaa",
	userId: "user_1",
	createdAt: "2026-01-01T00:00:00.000Z",
});
const fieldOf = (fn: () => unknown) => {
	try {
		fn();
	} catch (err) {
		return (err as { data: { field: string; type: string }[] }).data[0];
	}
	throw new Error("no error");
};
const SQUARE: [number, number][] = [
	[13.4, 52.5],
	[13.41, 52.5],
	[13.41, 52.51],
	[13.4, 52.51],
];

describe("alerts: checks and fence compilation", () => {
	it("compiles a vendor_nearby alert: one vendor, favourites, a category; fixed or roaming", () => {
		const one = checkAlert({ kind: "vendor_nearby", vendor: { id: "ven_1" }, radius: 500, at: { lat: 52.5, lng: 13.4 } });
		expect(compileAlert(owned(one), [])).toEqual({
			id: "alr_aaaaaaaaaaaaaaaa",
			kind: "vendor_nearby",
			userId: "user_1",
			shape: { type: "circle", center: { lat: 52.5, lng: 13.4 }, radius: 500 },
			roaming: false,
			filter: { vendorIds: ["ven_1"] },
			on: ["enter"],
			minIntervalS: MIN_ALERT_INTERVAL_S,
		});
		const favorites = checkAlert({ kind: "vendor_nearby", vendor: { favorites: true }, radius: 500, at: "here", minIntervalS: 120 });
		const fence = compileAlert(owned(favorites), ["ven_2", "ven_3"]);
		expect(fence).toMatchObject({
			roaming: true,
			shape: { type: "circle", center: null },
			filter: { vendorIds: ["ven_2", "ven_3"] },
			minIntervalS: 120,
		});
		const category = checkAlert({ kind: "vendor_nearby", vendor: { category: "coffee" }, radius: 50, at: "here" });
		expect(compileAlert(owned(category), []).filter).toEqual({ categories: ["coffee"] });
	});

	it("compiles an area alert with its filter; favourites without any match no vendor", () => {
		const area = checkAlert({
			kind: "area",
			filter: { categories: ["tacos"], favorites: true },
			area: { type: "polygon", points: [...SQUARE, SQUARE[0]!] },
			on: ["enter", "exit"],
		});
		const fence = compileAlert(owned(area), []);
		expect(fence).toMatchObject({
			kind: "area",
			shape: { type: "polygon", points: SQUARE },
			filter: { categories: ["tacos"], vendorIds: [] },
			on: ["enter", "exit"],
		});
		const everyone = checkAlert({ kind: "area", area: { type: "cells", cells: [latLngToCell(52.5, 13.4, 8)] } });
		expect(compileAlert(owned(everyone), ["ven_1"])).toMatchObject({ filter: {}, on: ["enter"] });
	});

	it.each([
		[
			"fewer than 3 distinct points",
			{
				type: "polygon",
				points: [
					[13.4, 52.5],
					[13.41, 52.5],
					[13.4, 52.5],
				],
			},
			"area.points",
			"polygon",
		],
		[
			"a bow tie",
			{
				type: "polygon",
				points: [
					[13.4, 52.5],
					[13.41, 52.51],
					[13.41, 52.5],
					[13.4, 52.51],
				],
			},
			"area.points",
			"polygonSelfIntersection",
		],
		[
			"points on one line",
			{
				type: "polygon",
				points: [
					[13.4, 52.5],
					[13.41, 52.5],
					[13.42, 52.5],
				],
			},
			"area.points",
			"polygon",
		],
		[
			"over the area cap",
			{
				type: "polygon",
				points: [
					[13, 52],
					[14, 52],
					[14, 53],
					[13, 53],
				],
			},
			"area.points",
			"fenceArea",
		],
		["a circle over the area cap", { type: "circle", center: { lat: 52.5, lng: 13.4 }, radius: 6_000 }, "area.radius", "fenceArea"],
		["not H3 cells", { type: "cells", cells: ["nope"] }, "area.cells", "h3"],
		["a cell over the area cap", { type: "cells", cells: [latLngToCell(52.5, 13.4, 3)] }, "area.cells", "fenceArea"],
	])("refuses an area of %s", (_what, area, field, type) => {
		expect(fieldOf(() => checkAlert({ kind: "area", area } as CreateAlertParams))).toMatchObject({ field, type });
	});

	it("refuses more than MAX_POLYGON_POINTS points and fields of the other kind", () => {
		const many = Array.from({ length: MAX_POLYGON_POINTS + 1 }, (_, i): [number, number] => {
			const a = (2 * Math.PI * i) / (MAX_POLYGON_POINTS + 1);
			return [13.4 + 0.01 * Math.cos(a), 52.5 + 0.01 * Math.sin(a)];
		});
		expect(fieldOf(() => checkZone({ name: "ring", points: many }))).toMatchObject({ field: "points", type: "polygon" });
		expect(fieldOf(() => checkAlert({ kind: "vendor_nearby", radius: 100, at: "here" }))).toMatchObject({
			field: "vendor",
			type: "required",
		});
		expect(
			fieldOf(() => checkAlert({ kind: "area", area: { type: "circle", center: { lat: 1, lng: 1 }, radius: 100 }, radius: 5 }))
		).toMatchObject({ field: "radius", type: "forbidden" });
	});

	it("compiles a zone, dwell only with dwellS", () => {
		const zone = checkZone({ name: "Market", points: SQUARE, on: ["enter", "dwell"], dwellS: 300 });
		expect(compileZone({ ...zone, id: "zon_aaaaaaaaaaaaaaaa", createdAt: "2026-01-01T00:00:00.000Z" })).toEqual({
			id: "zon_aaaaaaaaaaaaaaaa",
			kind: "zone",
			userId: null,
			name: "Market",
			shape: { type: "polygon", points: SQUARE },
			roaming: false,
			filter: {},
			on: ["enter", "dwell"],
			dwellS: 300,
			minIntervalS: MIN_ALERT_INTERVAL_S,
		});
		expect(fieldOf(() => checkZone({ name: "x", points: SQUARE, on: ["dwell"] }))).toMatchObject({ field: "dwellS", type: "required" });
	});
});
