import { MemoryFenceState } from "../../../../../services/geo/fences/state.ts";
import { fenceStateSuite } from "../../../../helpers/fences.ts";

fenceStateSuite("memory", () => new MemoryFenceState());
