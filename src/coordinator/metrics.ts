/**
 * Prometheus metrics of one coordinator, in a registry of its own (not prom-client's global one),
 * so several coordinators in one process — tests, `switchyard up` — never share or clash.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface CoordinatorMetrics {
  readonly registry: Registry;
  /** Messages acknowledged with a receipt, by message type. */
  readonly accepted: Counter<"type">;
  /** Messages refused, by error code (before or after sequencing). */
  readonly rejected: Counter<"code">;
  /** From admission (decoded) to the durable acknowledgement, in seconds. */
  readonly sequencerLatency: Histogram;
  /** Events per store append (one group commit). */
  readonly appendBatch: Histogram;
  /** Duration of one store append, in seconds. */
  readonly appendSeconds: Histogram;
  /** Seq of the last durable event. */
  readonly seq: Gauge;
  readonly httpConnections: Gauge;
  readonly wsClients: Gauge;
}

export function createMetrics(): CoordinatorMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    accepted: new Counter({
      name: "switchyard_messages_accepted_total",
      help: "Messages acknowledged durable, by type",
      labelNames: ["type"],
      registers,
    }),
    rejected: new Counter({
      name: "switchyard_messages_rejected_total",
      help: "Messages refused, by error code",
      labelNames: ["code"],
      registers,
    }),
    sequencerLatency: new Histogram({
      name: "switchyard_sequencer_latency_seconds",
      help: "Admission to durable acknowledgement",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    appendBatch: new Histogram({
      name: "switchyard_append_batch_events",
      help: "Events per group commit",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
      registers,
    }),
    appendSeconds: new Histogram({
      name: "switchyard_append_seconds",
      help: "Duration of one durable append",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    seq: new Gauge({ name: "switchyard_log_seq", help: "Seq of the last durable event", registers }),
    httpConnections: new Gauge({
      name: "switchyard_http_connections",
      help: "Open TCP connections to the API",
      registers,
    }),
    wsClients: new Gauge({ name: "switchyard_ws_clients", help: "Open /v1/stream clients", registers }),
  };
}
