import { gridDisk, latLngToCell } from "h3-js";
import { describe, expect, it } from "vitest";
import { EXIT_MARGIN_M } from "../../../../../services/alerts/contract.ts";
import { compileShape } from "../../../../../services/geo/fences/shapes.ts";
import { MITTE, offset } from "../../../../helpers/fences.ts";

const side = (shape: ReturnType<typeof compileShape>, at: { lat: number; lng: number }) => ({
	side: shape!.observe(at.lat, at.lng),
	distance: shape!.distance(at.lat, at.lng),
});

/** A square of `half` metres either side of MITTE, as [lng, lat] points. */
function square(half: number): [number, number][] {
	return [offset(MITTE, -half, -half), offset(MITTE, half, -half), offset(MITTE, half, half), offset(MITTE, -half, half)].map(p => [
		p.lng,
		p.lat,
	]);
}

describe("fence shapes with hysteresis", () => {
	it("a circle is entered within its radius and left beyond radius × 1.1", () => {
		const circle = compileShape({ type: "circle", center: MITTE, radius: 500 });
		expect(side(circle, offset(MITTE, 499))).toMatchObject({ side: "in" });
		expect(side(circle, offset(MITTE, 520))).toMatchObject({ side: "band" });
		expect(side(circle, offset(MITTE, 549))).toMatchObject({ side: "band" });
		const out = side(circle, offset(MITTE, 551));
		expect(out.side).toBe("out");
		expect(out.distance).toBeCloseTo(551, 0);
	});

	it("a roaming circle without its owner's position tests nothing", () => {
		expect(compileShape({ type: "circle", center: null, radius: 500 })).toBeNull();
	});

	it("a polygon is entered inside and left beyond the margin from its nearest edge", () => {
		const polygon = compileShape({ type: "polygon", points: square(200) });
		expect(side(polygon, offset(MITTE, 199, 150))).toEqual({ side: "in", distance: 0 });
		const near = side(polygon, offset(MITTE, 200 + EXIT_MARGIN_M - 5, 150));
		expect(near.side).toBe("band");
		expect(near.distance).toBeCloseTo(EXIT_MARGIN_M - 5, 0);
		expect(side(polygon, offset(MITTE, 200 + EXIT_MARGIN_M + 5, 150)).side).toBe("out");
		// Beyond a corner the nearest edge point is the corner.
		expect(side(polygon, offset(MITTE, 220, 220)).side).toBe("band");
		expect(side(polygon, offset(MITTE, 5_000)).side).toBe("out");
	});

	it("a set of cells is entered in any of its cells and left beyond the margin from its outline", () => {
		const home = latLngToCell(MITTE.lat, MITTE.lng, 9);
		const cells = gridDisk(home, 1);
		const shape = compileShape({ type: "cells", cells });
		expect(side(shape, MITTE)).toEqual({ side: "in", distance: 0 });
		// Walk east until the point leaves the set, then measure the band.
		let metres = 0;
		while (cells.includes(latLngToCell(offset(MITTE, metres).lat, offset(MITTE, metres).lng, 9))) metres += 1;
		expect(side(shape, offset(MITTE, metres + 1)).side).toBe("band");
		// The outline's edges are slanted to the walk: 100 m further east is over 50 m from any of them.
		const out = side(shape, offset(MITTE, metres + 100));
		expect(out.side).toBe("out");
		expect(out.distance).toBeGreaterThan(EXIT_MARGIN_M);
		expect(out.distance).toBeLessThanOrEqual(101);
	});
});
