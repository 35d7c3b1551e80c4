/**
 * The public types of the provider agent (`startProvider` in provider.ts, which re-exports them):
 * its options, the events it reports, its counters and the handle it returns.
 */
import type { PathChoice, PathEstimate } from "../core/routing/relay-path.ts";
import type { Assignment } from "../protocol/api.ts";
import type { Identity } from "../protocol/envelope.ts";
import type { SwitchyardError } from "../protocol/errors.ts";
import type { Cid, PublicKeyHex } from "../protocol/ids.ts";
import type { NetworkCoordinate } from "../protocol/network-coordinate.ts";
import type { WorkerPool } from "../runtime/pool.ts";
import type { FetchLike, WebSocketConstructorLike } from "../sdk/create-client.ts";
import type { Backoff, StreamStatus } from "../sdk/index.ts";
import type { CheatPolicy } from "./adversary.ts";
import type { BenchmarkOptions } from "./benchmark.ts";
import type { FetchBlobResult } from "./blob-fetch.ts";
import type { StageJournal, StageResult } from "./journal.ts";
import type { OnboardReport, ProviderNode } from "./onboard.ts";
import type { RelayOptions, RelayRoutes } from "./relay.ts";
import type { PathAttempt } from "./relay-fetch.ts";
import type { RttProbe, RttProbeSettings } from "./rtt-probe.ts";

export interface StartProviderOptions {
  /** The coordinator's base URL. */
  readonly coordinatorUrl: string;
  /** The provider's identity (`loadIdentity(path)` from the keystore); its public key is the node id. */
  readonly identity: Identity;
  readonly node: ProviderNode;
  /** Asking price in micro-credits per unit-second. */
  readonly pricePerUnitSecond: bigint;
  /**
   * Micro-credits per 10^9 bytes: the egress price of the outputs this agent serves, paid when a
   * reader acknowledges them (`acknowledgeTransfer`); for a relay, its forwarding price.
   */
  readonly pricePerGigabyte?: bigint;
  /** Capacity of the offer (default the node's capacity). */
  readonly offerCapacity?: number;
  /** Bonded stake to hold, in micro-credits; bonded up to this at start. */
  readonly stake: bigint;
  /** Directory for the agent's blobs (`<dataDir>/blobs`) and journal (`<dataDir>/journal`). */
  readonly dataDir: string;
  /** Worker threads for programs (default min(capacity, cores − 1)). Ignored when `pool` is given. */
  readonly poolSize?: number;
  /** A worker pool to share (tests, several agents in one process); the agent does not close it. */
  readonly pool?: WorkerPool;
  /** On a dev network, take what the bond needs from the faucet (default false). */
  readonly devFaucet?: boolean;
  /** Credits requested from the faucet beyond the bond (default 10 credits). */
  readonly faucetMargin?: bigint;
  /**
   * Every HTTP request of the agent — to the coordinator, to other agents for blobs and loop
   * rounds — goes through this. The CLI passes `withEmulatedLatency(fetch, here, pointOf)`.
   */
  readonly fetch?: FetchLike;
  /** Default the `ws` package's client. */
  readonly WebSocket?: WebSocketConstructorLike;
  /** Interface for the agent's HTTP server (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default: the port of the endpoint this node registered earlier, else any free port). */
  readonly port?: number;
  /** The URL other agents reach this one at (default `http://host:port`). */
  readonly publicUrl?: string;
  /**
   * Adversarial agent for demos and tests (`demo --cheat`): commits wrong results (adversary.ts)
   * and defends them consistently in disputes. Never set on a real provider.
   */
  readonly cheat?: CheatPolicy;
  /**
   * Adversarial verifier for tests (`lazy`): approves results without re-executing them. Canaries
   * catch it. Never set on a real provider.
   */
  readonly lazy?: boolean;
  /**
   * Serve the relay role (relay.ts: `/v1/relay/…`, sealed blobs only) on this agent's endpoint.
   * Always on for a node of resource class `relay`; other agents serve it when this is given.
   */
  readonly relay?: RelayOptions;
  /** How often the verifier role polls for tasks (default 250 ms). */
  readonly taskPollMs?: number;
  /** Checkpoint every k steps (default 4, as the in-process pipeline). */
  readonly checkpointEvery?: number;
  /** Least time between two progress reports of a running stage (default 1,000 ms; failover). */
  readonly progressEveryMs?: number;
  readonly benchmark?: BenchmarkOptions;
  /** Chunk size of served blobs (default 256 KiB). */
  readonly blobChunkSize?: number;
  /** Blob requests served at once (default 32). */
  readonly maxBlobRequests?: number;
  /** Reconnect backoff of the assignment stream. */
  readonly backoff?: Backoff;
  /** How long `stop()` waits for work in progress before cutting it off (default 10 s). */
  readonly stopGraceMs?: number;
  /**
   * Measure RTTs to a few peers and report this node's network coordinate (rtt-probe.ts). On by
   * default: a round every 5 s, 3 peers, median of 3 pings each, reported when it moved ≥ 1 ms.
   * `false` turns it off (the agent still answers other agents' pings).
   */
  readonly rttProbe?: false | RttProbeSettings;
  /** Progress and problems, for logs and the CLI. */
  readonly onEvent?: (event: ProviderEvent) => void;
}

export type ProviderEvent =
  | { readonly type: "ready"; readonly endpoint: string; readonly onboarding: OnboardReport }
  | { readonly type: "connection"; readonly status: StreamStatus }
  | {
      readonly type: "assignment";
      readonly assignment: Assignment;
      readonly plan: "start" | "compute" | "recommit";
    }
  | {
      readonly type: "input";
      readonly jobId: string;
      readonly stage: string;
      readonly cid: Cid;
      /** True when the blob was already in this agent's store. */
      readonly local: boolean;
      /** How it moved, when it was fetched: from which agent, how many bytes, requests and ms. */
      readonly transfer?: InputTransfer;
    }
  /** A progress report (failover): checkpoint `index`, `step` of `steps`, acknowledged by the coordinator. */
  | {
      readonly type: "progress";
      readonly jobId: string;
      readonly stage: string;
      readonly index: number;
      readonly step: number;
      readonly steps: number;
    }
  /**
   * A stage placed here after its provider vanished: resumed from checkpoint `index` (`step`), with
   * the state from `source` — or, if no source served a state that hashes right, run from step 0.
   */
  /**
   * A sealed job's stage output fetched as this stage's input over a routed path (input-path.ts):
   * the path that delivered, the first choice with its runner-up and reason, and every attempt.
   */
  | {
      readonly type: "inputPath";
      readonly jobId: string;
      readonly stage: string;
      /** The stage that produced the input. */
      readonly input: string;
      readonly cid: Cid;
      readonly path: PathEstimate;
      readonly plan: PathChoice;
      readonly attempts: readonly PathAttempt[];
    }
  /** This provider acknowledged receiving a dependency's output; the core paid the transfer fees. */
  | {
      readonly type: "transferAcknowledged";
      readonly jobId: string;
      readonly stage: string;
      readonly input: string;
      readonly bytes: number;
      readonly via?: string | undefined;
    }
  /** The requester released a restricted stage's key to this node, and it opened (stage-seal.ts). */
  | { readonly type: "keyReceived"; readonly jobId: string; readonly stage: string }
  | {
      readonly type: "resumed";
      readonly jobId: string;
      readonly stage: string;
      readonly index: number;
      readonly step: number;
      readonly source?: string;
      readonly fromScratch?: string;
    }
  | {
      readonly type: "computed";
      readonly jobId: string;
      readonly stage: string;
      readonly result: StageResult;
      readonly ms: number;
    }
  | {
      readonly type: "loop";
      readonly jobId: string;
      readonly stage: string;
      readonly role: "qpu" | "optimizer";
      readonly rounds: number;
      readonly roundTrips?: number;
      readonly loopMs?: number;
    }
  | {
      readonly type: "committed";
      readonly jobId: string;
      readonly stage: string;
      readonly seq?: number;
      readonly already?: boolean;
    }
  | { readonly type: "abandoned"; readonly jobId: string; readonly stage: string; readonly reason: string }
  /** As verifier: a segment was re-executed and the verdict committed and revealed. */
  | {
      readonly type: "verified";
      readonly jobId: string;
      readonly stage: string;
      readonly verdict: "match" | "mismatch" | "withheld";
      readonly segment: number;
    }
  /** A dispute round was answered (as the provider of the result, or as its challenger). */
  | {
      readonly type: "disputeAnswered";
      readonly jobId: string;
      readonly stage: string;
      readonly step: number;
      readonly role: "provider" | "challenger";
    }
  /** As referee: the one disputed step was executed and reported. */
  | { readonly type: "refereed"; readonly jobId: string; readonly stage: string; readonly step: number }
  | {
      /** A network coordinate was reported, after probe round `round` with `samples` peers measured. */
      readonly type: "coordinate";
      readonly coordinate: NetworkCoordinate;
      readonly round: number;
      readonly samples: number;
    }
  | {
      readonly type: "error";
      readonly jobId?: string;
      readonly stage?: string;
      readonly error: SwitchyardError;
    };

export type InputTransfer = Omit<FetchBlobResult, "bytes" | "cid"> & { readonly size: number };

export interface ProviderStats {
  readonly assignments: number;
  readonly computed: number;
  readonly committed: number;
  /** Commits sent again after a restart (the result was reused, not recomputed). */
  readonly recommitted: number;
  readonly bytesFetched: number;
  readonly bytesServed: number;
  readonly loopRounds: number;
  readonly loopRoundTrips: number;
  readonly loopMs: number;
  readonly errors: number;
}

export interface Provider {
  readonly publicKey: PublicKeyHex;
  /** Where this agent serves blobs and loops. */
  readonly endpoint: string;
  readonly onboarding: OnboardReport;
  readonly journal: StageJournal;
  /** The RTT probe (its coordinate, and `round()` to measure now), unless `rttProbe: false`. */
  readonly rttProbe: RttProbe | undefined;
  /** The relay role's accounting and stats, when this agent serves it. */
  readonly relay: Pick<RelayRoutes, "accounting" | "stats"> | undefined;
  stats(): ProviderStats;
  /** Stop taking work, let work in progress finish (up to `stopGraceMs`), close everything. */
  stop(): Promise<void>;
}
