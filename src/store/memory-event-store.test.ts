import { eventStoreConformance } from "./event-store.conformance.ts";
import { MemoryDisk, memoryEventStore } from "./memory-event-store.ts";

eventStoreConformance("memory", async () => {
  const disk = new MemoryDisk();
  return {
    connect: () => memoryEventStore({ disk }),
    async tamper(seq, edit) {
      const row = disk.rows[seq]!;
      disk.rows[seq] = { ...row, json: edit(row.json) };
    },
    async destroy() {},
  };
});
