import { geoServiceSuite } from "../../helpers/geo-suites.ts";

geoServiceSuite("embedded");
