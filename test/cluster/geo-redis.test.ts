import { geoServiceSuite, updateManySuite } from "../helpers/geo-suites.ts";

/** The geo service on the Redis store: the same suites as the embedded store passes. */
geoServiceSuite("redis");
updateManySuite("redis");
