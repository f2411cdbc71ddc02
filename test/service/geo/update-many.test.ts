import { updateManySuite } from "../../helpers/geo-suites.ts";

updateManySuite("embedded");
