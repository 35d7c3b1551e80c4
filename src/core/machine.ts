/**
 * The one `apply`: routes each log event to the slice that owns it.
 *
 *   apply(state, event) → { ok: true, state, effects } | { ok: false, error }
 *
 * Pure and deterministic: the result depends only on the state and the event (time comes from
 * event.time). For speed the state is updated in place (see docs/decisions/001); every handler
 * validates before its first write, so a rejected event leaves the state exactly as it was — the
 * simulation test checks this by comparing state hashes. Signatures are verified by the shell
 * before sequencing and again by the audit; `apply` checks the nonce, sequence and time.
 */
import type { Envelope } from "../protocol/envelope.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { LogEvent, SystemEvent } from "../protocol/log.ts";
import type { ApplyContext, MessageContext } from "./context.ts";
import type { Effect } from "./effects.ts";
import { checkEventInvariants } from "./invariants.ts";
import { applyTick } from "./jobs/deadlines.ts";
import { applyAcceptStage, applyCancelJob, applyCommitResult, applyStartStage } from "./jobs/handlers.ts";
import { placePending } from "./jobs/placement.ts";
import { applyReportProgress } from "./jobs/progress.ts";
import { applySubmitJob } from "./jobs/submit.ts";
import {
  applyBond,
  applyFaucet,
  applyTransfer,
  applyUnbond,
  applyWithdrawUnbonded,
} from "./ledger/handlers.ts";
import { newJournal } from "./ledger/journal.ts";
import { applyRegisterNode, applyReportCoordinate } from "./market/nodes.ts";
import { applyPostOffer, applyWithdrawOffer } from "./market/offers.ts";
import { applyReleaseKey } from "./routing/keys.ts";
import { applyPriceEpoch } from "./routing/price-epoch.ts";
import { applyAcknowledgeTransfer } from "./routing/transfer-fees.ts";
import { type State, stageKey } from "./state.ts";
import { applyCanaryCommit, applyRevealCanary } from "./verification/canaries-live.ts";
import {
  applyCommitVerdict,
  applyDisputeAnswer,
  applyRefereeVerdict,
  applyRevealState,
  applyRevealVerdict,
  drawBeacons,
} from "./verification/live.ts";

export type ApplyResult =
  | { readonly ok: true; readonly state: State; readonly effects: readonly Effect[] }
  | { readonly ok: false; readonly error: SwitchyardError };

function applyMessage(ctx: MessageContext, env: Envelope): void {
  switch (env.type) {
    case "faucet":
      applyFaucet(ctx, env.body);
      return;
    case "transfer":
      applyTransfer(ctx, env.body);
      return;
    case "bond":
      applyBond(ctx, env.body);
      return;
    case "unbond":
      applyUnbond(ctx, env.body);
      return;
    case "withdrawUnbonded":
      applyWithdrawUnbonded(ctx);
      return;
    case "registerNode":
      applyRegisterNode(ctx, env.body);
      return;
    case "reportCoordinate":
      applyReportCoordinate(ctx, env.body);
      return;
    case "postOffer":
      applyPostOffer(ctx, env.body);
      // New supply may unblock stages that found no offer before.
      placePending(ctx);
      return;
    case "withdrawOffer":
      applyWithdrawOffer(ctx, env.body);
      return;
    case "submitJob": {
      const job = applySubmitJob(ctx, env.body);
      for (const name of job.stages.keys()) ctx.state.pending.set(stageKey(job.id, name), true);
      placePending(ctx);
      return;
    }
    case "cancelJob":
      applyCancelJob(ctx, env.body);
      return;
    case "startStage":
      applyStartStage(ctx, env.body);
      return;
    case "commitResult":
      applyCommitResult(ctx, env.body);
      return;
    case "acceptStage":
      applyAcceptStage(ctx, env.body);
      return;
    case "acknowledgeTransfer":
      applyAcknowledgeTransfer(ctx, env.body);
      return;
    case "commitVerdict":
      applyCommitVerdict(ctx, env.body);
      return;
    case "revealVerdict":
      applyRevealVerdict(ctx, env.body);
      return;
    case "revealState":
      applyRevealState(ctx, env.body);
      return;
    case "disputeAnswer":
      applyDisputeAnswer(ctx, env.body);
      return;
    case "refereeVerdict":
      applyRefereeVerdict(ctx, env.body);
      return;
    case "canaryCommit":
      applyCanaryCommit(ctx, env.body);
      return;
    case "revealCanary":
      applyRevealCanary(ctx, env.body);
      return;
    case "reportProgress":
      applyReportProgress(ctx, env.body);
      return;
    case "releaseKey":
      applyReleaseKey(ctx, env.body);
      return;
    default: {
      const never: never = env;
      throw new SwitchyardError("MALFORMED", `unknown message type ${(never as Envelope).type}`);
    }
  }
}

function applySystem(ctx: ApplyContext, sys: SystemEvent): void {
  switch (sys.type) {
    case "genesis": {
      const { state } = ctx;
      if (state.net !== null)
        throw new SwitchyardError("ILLEGAL_TRANSITION", "genesis may only be the first event");
      state.net = sys.net;
      state.params = sys.params;
      state.devFaucet = sys.devFaucet;
      return;
    }
    case "tick":
      applyTick(ctx);
      applyPriceEpoch(ctx);
      return;
    default: {
      const never: never = sys;
      throw new SwitchyardError("MALFORMED", `unknown system event ${(never as SystemEvent).type}`);
    }
  }
}

/** Check the event may follow the state at all: next seq, later time, known network, fresh nonce. */
function checkOrder(state: State, event: LogEvent): void {
  if (event.seq !== state.seq + 1) {
    throw new SwitchyardError("SEQUENCE_GAP", `event seq ${event.seq} does not follow ${state.seq}`, {
      details: { seq: event.seq, expected: state.seq + 1 },
    });
  }
  if (event.seq > 0 && event.time <= state.time) {
    throw new SwitchyardError("TIME_REGRESSION", `event time ${event.time} is not after ${state.time}`, {
      details: { seq: event.seq },
    });
  }
  if (event.seq === 0 && (event.payload.kind !== "sys" || event.payload.sys.type !== "genesis")) {
    throw new SwitchyardError("MALFORMED", "the first event of a log must be genesis");
  }
  if (event.payload.kind === "msg") {
    const env = event.payload.env;
    if (env.net !== state.net) {
      throw new SwitchyardError(
        "WRONG_NETWORK",
        `message is for network '${env.net}', this is '${state.net}'`,
      );
    }
    const last = state.nonces.get(env.signer) ?? 0n;
    if (env.nonce <= last) {
      throw new SwitchyardError(
        "NONCE_REPLAYED",
        `nonce ${env.nonce} is not above the signer's last nonce ${last}`,
        {
          details: { nonce: env.nonce.toString(), last: last.toString() },
        },
      );
    }
  }
}

/**
 * Apply one event. Rejections (typed errors) leave the state unchanged. An invariant violation
 * is thrown, not returned: the state may be wrong and the caller must halt.
 */
export function apply(state: State, event: LogEvent): ApplyResult {
  const journal = newJournal();
  const effects: Effect[] = [];
  try {
    checkOrder(state, event);
    if (event.payload.kind === "sys") {
      applySystem(
        { state, journal, effects, time: event.time, seq: event.seq, prev: event.prev },
        event.payload.sys,
      );
    } else {
      const env = event.payload.env;
      const ctx = {
        state,
        journal,
        effects,
        time: event.time,
        seq: event.seq,
        prev: event.prev,
        signer: env.signer,
        nonce: env.nonce,
      };
      applyMessage(ctx, env);
      state.nonces.set(env.signer, env.nonce);
    }
  } catch (error) {
    if (error instanceof SwitchyardError && error.code !== "INVARIANT_VIOLATED") {
      if (journal.before.size > 0 || journal.transitions.length > 0) {
        // A handler threw after writing: the state is now half-changed. That is a bug, so halt.
        throw new SwitchyardError(
          "INVARIANT_VIOLATED",
          `rejection after a write in seq ${event.seq}: ${error.message}`,
          {
            cause: error,
          },
        );
      }
      return { ok: false, error };
    }
    throw error;
  }
  // Only once the event itself is accepted: stages committed earlier draw their checks from its
  // beacon. (A rejected event writes nothing, so it cannot have drawn any.)
  drawBeacons({ state, journal, effects, time: event.time, seq: event.seq, prev: event.prev });
  state.seq = event.seq;
  state.time = event.time;
  checkEventInvariants(state, journal);
  return { ok: true, state, effects };
}
