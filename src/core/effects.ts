/**
 * Effects: what the core asks the shell to do. The core never sends anything; the coordinator
 * delivers effects after the event is durable, and on replay they are recomputed but not re-sent.
 */
import type { Cid, JobId, OfferId, PublicKeyHex } from "../protocol/ids.ts";
import type { NoMatchExplanation } from "./state.ts";

export type Effect =
  | {
      readonly type: "assign";
      readonly jobId: JobId;
      readonly stage: string;
      readonly provider: PublicKeyHex;
      readonly offerId: OfferId;
      readonly program: string;
      readonly params: Readonly<Record<string, unknown>>;
      /** Content ids the stage reads: declared inputs, then the outputs of its dependencies. */
      readonly inputs: readonly Cid[];
      readonly pricePerUnitSecond: bigint;
      readonly deadline: number;
    }
  | {
      readonly type: "noMatch";
      readonly jobId: JobId;
      readonly stage: string;
      readonly explanation: NoMatchExplanation;
    }
  | {
      readonly type: "stageSettled";
      readonly jobId: JobId;
      readonly stage: string;
      readonly provider: PublicKeyHex;
      readonly paid: bigint;
      readonly fee: bigint;
    }
  | {
      readonly type: "stageReassigned";
      readonly jobId: JobId;
      readonly stage: string;
      readonly from: PublicKeyHex;
    }
  | { readonly type: "stageFailed"; readonly jobId: JobId; readonly stage: string; readonly reason: string }
  | { readonly type: "slashed"; readonly who: PublicKeyHex; readonly amount: bigint; readonly reason: string }
  | { readonly type: "jobFinished"; readonly jobId: JobId; readonly refund: bigint }
  /** A receiver acknowledged an input (routing/transfer-fees.ts): the producer and the relay were paid. */
  | {
      readonly type: "transferSettled";
      readonly jobId: JobId;
      readonly stage: string;
      readonly input: Cid;
      readonly bytes: number;
      readonly producer: PublicKeyHex;
      readonly egressFee: bigint;
      readonly relay?: PublicKeyHex;
      readonly relayFee: bigint;
    }
  /** A verifier is to check a committed stage (its task: views.ts tasksOf). */
  | {
      readonly type: "verify";
      readonly jobId: JobId;
      readonly stage: string;
      readonly verifier: PublicKeyHex;
    }
  /** A dispute round asks the provider and the verifier for their hash at `step`. */
  | { readonly type: "disputeRound"; readonly jobId: JobId; readonly stage: string; readonly step: number }
  /** A referee is to execute the one disputed step. */
  | {
      readonly type: "referee";
      readonly jobId: JobId;
      readonly stage: string;
      readonly referee: PublicKeyHex;
    }
  /** A verification ended with `outcome` (state.ts checkOutcomes). */
  | {
      readonly type: "verification";
      readonly jobId: JobId;
      readonly stage: string;
      readonly provider: PublicKeyHex;
      readonly outcome: string;
    };
