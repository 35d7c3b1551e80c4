/**
 * `acknowledgeTransfer` in the state machine: the receiver's receipt pays the producer's egress and
 * the relay's forwarding fee from the job's transfer budget, in exact bigint micro-credits; every
 * refusal is typed and changes nothing; and over any sequence of receipts value is conserved, the
 * budget is never exceeded and the job's escrow ends as payouts plus refund.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { Identity } from "../../protocol/envelope.ts";
import type { Cid, JobId, PublicKeyHex } from "../../protocol/ids.ts";
import type { StageSpec } from "../../protocol/messages.ts";
import { city, must, type SimProvider, trainStage } from "../../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../../sim/local-network.ts";
import { stateHash } from "../codec.ts";
import { checkAllInvariants } from "../invariants.ts";
import { available, escrow } from "../ledger/accounts.ts";
import { balanceOf } from "../ledger/ledger.ts";
import { replay } from "../replay.ts";
import { bandwidthFee } from "./relay-path.ts";
import { transferFees } from "./transfer-fees.ts";

const requester = simIdentity("transfer-requester");
const cpu = city("fra-cpu", "Frankfurt", "DE", ["EU"], 50.1109, 8.6821, "cpu", 16, 8_000, 40n);
const gpu = city("par-gpu", "Paris", "FR", ["EU"], 48.8566, 2.3522, "gpu", 8, 40_000, 600n);
const gpu2 = city("mil-gpu", "Milan", "IT", ["EU"], 45.4642, 9.19, "gpu", 8, 40_000, 700n);
const relay = city("zrh-relay", "Zurich", "CH", [], 47.3769, 8.5417, "relay", 4, 1_000, 10n);
const quietRelay = city("vie-relay", "Vienna", "AT", ["EU"], 48.2082, 16.3738, "relay", 4, 1_000, 10n);

/** Register, bond and offer half the node's capacity at the given egress (or relay) price. */
function onboard(net: LocalNetwork, p: SimProvider, pricePerGigabyte?: bigint): void {
  must(net.send(p.who, "faucet", { amount: 100_000_000n }));
  must(net.send(p.who, "registerNode", p.node));
  must(net.send(p.who, "bond", { amount: 50_000_000n }));
  must(
    net.send(p.who, "postOffer", {
      resourceClass: p.node.resourceClass,
      capacity: p.node.capacity / 2,
      pricePerUnitSecond: p.pricePerUnitSecond,
      ...(pricePerGigabyte === undefined ? {} : { pricePerGigabyte }),
    }),
  );
}

const prep = (name = "prep", overrides: Partial<StageSpec> = {}): StageSpec =>
  trainStage({ name, program: "prep", resourceClass: "cpu", maxPricePerUnitSecond: 100n, ...overrides });
const train = (after: string[], inputs: Cid[] = []): StageSpec => trainStage({ after, inputs });

interface Kit {
  readonly net: LocalNetwork;
  readonly job: JobId;
}

/** A network whose cpu charges `egress` µ/GB and whose relay `relayPrice`, and a job `prep → train`. */
function kit(
  options: {
    egress?: bigint;
    relayPrice?: bigint;
    transferBudget?: bigint;
    stages?: StageSpec[];
    budget?: bigint;
  } = {},
): Kit {
  const net = new LocalNetwork({ params: { verificationWindowMs: 0 } });
  onboard(net, cpu, options.egress ?? 2_500n);
  onboard(net, gpu);
  onboard(net, gpu2);
  onboard(net, relay, options.relayPrice ?? 20_000n);
  onboard(net, quietRelay, 1n);
  must(net.send(quietRelay.who, "withdrawOffer", { offerId: [...net.state.offers.keys()].at(-1)! }));
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  const before = new Set(net.state.jobs.keys());
  must(
    net.send(requester, "submitJob", {
      budget: options.budget ?? 10_000_000n,
      stages: options.stages ?? [prep(), train(["prep"], ["ee".repeat(32) as Cid])],
      ...(options.transferBudget === undefined ? {} : { transferBudget: options.transferBudget }),
    }),
  );
  return { net, job: [...net.state.jobs.keys()].find((k) => !before.has(k))! };
}

/** Runs `name` on its provider to a committed, settled result with `outputBytes` declared. */
function produce(k: Kit, name: string, output: string, outputBytes?: number): void {
  const stage = k.net.state.jobs.get(k.job)!.stages.get(name)!;
  const who = [cpu, gpu, gpu2].find((p) => p.who.publicKey === stage.provider)!.who;
  must(k.net.send(who, "startStage", { jobId: k.job, stage: name }));
  must(
    k.net.send(who, "commitResult", {
      jobId: k.job,
      stage: name,
      root: "ab".repeat(32),
      output: output as Cid,
      steps: 1,
      ...(outputBytes === undefined ? {} : { outputBytes }),
    }),
  );
}

const prepOutput = "cd".repeat(32) as Cid;

/** Sends `acknowledgeTransfer`; a refusal must leave the state hash as it was. */
function acknowledge(
  k: Kit,
  who: Identity,
  body: { stage?: string; input?: Cid; bytes: number; via?: string; jobId?: JobId },
) {
  const before = k.net.stateHash();
  const outcome = k.net.send(who, "acknowledgeTransfer", {
    jobId: body.jobId ?? k.job,
    stage: body.stage ?? "train",
    input: body.input ?? prepOutput,
    bytes: body.bytes,
    ...(body.via === undefined ? {} : { via: body.via as PublicKeyHex }),
  });
  if (!outcome.ok)
    assert.equal(k.net.stateHash(), before, `a refused receipt changes nothing (${outcome.error.code})`);
  return outcome;
}

const codeOf = (o: { ok: boolean; error?: { code: string } }) => (o.ok ? "accepted" : o.error!.code);

describe("acknowledgeTransfer", () => {
  test("a relayed receipt pays the producer's egress and the relay's fee, rounded up, from the transfer budget", () => {
    const k = kit({ transferBudget: 1_000n });
    produce(k, "prep", prepOutput, 3_200_001);
    const jobState = k.net.state.jobs.get(k.job)!;
    const trainStage = jobState.stages.get("train")!;
    assert.equal(trainStage.provider, gpu.who.publicKey, "Paris is the cheaper gpu");
    const producerBefore = balanceOf(k.net.state, available(cpu.who.publicKey));
    const relayBefore = balanceOf(k.net.state, available(relay.who.publicKey));
    const escrowBefore = balanceOf(k.net.state, escrow(k.job));

    const out = must(acknowledge(k, gpu.who, { bytes: 3_200_001, via: relay.who.publicKey }));
    // 3,200,001 B × 2,500 µ/GB = 8.0000025 → 9; × 20,000 µ/GB = 64.00002 → 65.
    assert.equal(balanceOf(k.net.state, available(cpu.who.publicKey)) - producerBefore, 9n);
    assert.equal(balanceOf(k.net.state, available(relay.who.publicKey)) - relayBefore, 65n);
    assert.equal(escrowBefore - balanceOf(k.net.state, escrow(k.job)), 74n);
    assert.equal(jobState.transferPaid, 74n);
    assert.deepEqual(trainStage.transfers, [
      {
        input: prepOutput,
        bytes: 3_200_001,
        from: "prep",
        producer: cpu.who.publicKey,
        via: relay.who.publicKey,
        egressFee: 9n,
        relayFee: 65n,
        by: gpu.who.publicKey,
        at: k.net.state.time,
      },
    ]);
    const effect = out.effects.find((e) => e.type === "transferSettled");
    assert.ok(effect?.type === "transferSettled" && effect.egressFee === 9n && effect.relayFee === 65n);

    // The rest of the transfer budget comes back with the refund when the job finishes.
    produce(k, "train", "ef".repeat(32));
    const spent = [...jobState.stages.values()].reduce((n, s) => n + s.paid! + s.fee!, 0n);
    assert.equal(jobState.status, "finished");
    assert.equal(jobState.refund, 10_000_000n - spent - 74n);
    assert.equal(balanceOf(k.net.state, escrow(k.job)), 0n);
    checkAllInvariants(k.net.state);
    assert.equal(stateHash(replay(k.net.log)), k.net.stateHash(), "replay pays the same fees");
  });

  test("a direct receipt pays only egress; the egress price is the one fixed when the producer was matched", () => {
    const k = kit({ transferBudget: 10_000n });
    // The producer reprices after its match: a new offer at 10× the egress price.
    must(
      k.net.send(cpu.who, "postOffer", {
        resourceClass: "cpu",
        capacity: 8,
        pricePerUnitSecond: 40n,
        pricePerGigabyte: 25_000n,
      }),
    );
    produce(k, "prep", prepOutput, 1_000_000_000);
    must(acknowledge(k, gpu.who, { bytes: 1_000_000_000 }));
    const transfer = k.net.state.jobs.get(k.job)!.stages.get("train")!.transfers![0]!;
    assert.equal(transfer.egressFee, 2_500n, "the price the stage was matched at");
    assert.equal(transfer.relayFee, 0n);
    assert.equal(transfer.via, undefined);
  });

  test("after failover the new provider acknowledges the same input again; the old one no longer may", () => {
    const k = kit({ transferBudget: 1_000n });
    produce(k, "prep", prepOutput, 1_000_000);
    must(acknowledge(k, gpu.who, { bytes: 1_000_000 }));
    k.net.advance(k.net.state.params.startDeadlineMs + 1);
    must(k.net.tick());
    const trainStage = k.net.state.jobs.get(k.job)!.stages.get("train")!;
    assert.equal(trainStage.provider, gpu2.who.publicKey, "re-placed on Milan");
    assert.equal(codeOf(acknowledge(k, gpu.who, { bytes: 1_000_000 })), "NOT_AUTHORIZED");
    must(acknowledge(k, gpu2.who, { bytes: 1_000_000 }));
    assert.deepEqual(
      trainStage.transfers!.map((t) => t.by),
      [gpu.who.publicKey, gpu2.who.publicKey],
    );
    assert.equal(k.net.state.jobs.get(k.job)!.transferPaid, 6n, "⌈2.5⌉ + ⌈2.5⌉");
  });

  test("error: every refusal is typed and changes nothing", () => {
    const k = kit({ transferBudget: 70n });
    const requesterInput = "ee".repeat(32) as Cid;
    produce(k, "prep", prepOutput, 3_200_000);
    const relayKey = relay.who.publicKey;
    const cases: Array<[string, Identity, Parameters<typeof acknowledge>[2], string]> = [
      ["unknown job", gpu.who, { bytes: 1, jobId: "00".repeat(32) as JobId }, "UNKNOWN_JOB"],
      ["unknown stage", gpu.who, { bytes: 1, stage: "nope" }, "UNKNOWN_STAGE"],
      ["not the stage's provider", gpu2.who, { bytes: 1 }, "NOT_AUTHORIZED"],
      ["the requester", requester, { bytes: 1 }, "NOT_AUTHORIZED"],
      ["a requester-supplied input", gpu.who, { bytes: 1, input: requesterInput }, "MALFORMED"],
      ["an input nobody produced", gpu.who, { bytes: 1, input: "99".repeat(32) as Cid }, "MALFORMED"],
      ["more bytes than the output has", gpu.who, { bytes: 3_200_001 }, "MALFORMED"],
      ["an unregistered relay", gpu.who, { bytes: 1, via: simIdentity("ghost").publicKey }, "UNKNOWN_NODE"],
      ["a relay that is not a relay", gpu.who, { bytes: 1, via: gpu2.who.publicKey }, "NOT_AUTHORIZED"],
      ["a relay without an offer", gpu.who, { bytes: 1, via: quietRelay.who.publicKey }, "UNKNOWN_OFFER"],
      ["the receiver as relay", gpu.who, { bytes: 1, via: gpu.who.publicKey }, "MALFORMED"],
      ["the producer as relay", gpu.who, { bytes: 1, via: cpu.who.publicKey }, "MALFORMED"],
      // 8 egress + 64 relay = 72 > 70.
      ["fees beyond the transfer budget", gpu.who, { bytes: 3_200_000, via: relayKey }, "INSUFFICIENT_FUNDS"],
    ];
    for (const [what, who, body, code] of cases) {
      const outcome = acknowledge(k, who, body);
      assert.equal(codeOf(outcome), code, what);
      if (what === "a requester-supplied input")
        assert.match(outcome.ok ? "" : outcome.error.message, /supplied/);
    }
    must(acknowledge(k, gpu.who, { bytes: 3_200_000 }));
    assert.equal(
      codeOf(acknowledge(k, gpu.who, { bytes: 1 })),
      "ILLEGAL_TRANSITION",
      "once per input and signer",
    );
    produce(k, "train", "ef".repeat(32));
    assert.equal(codeOf(acknowledge(k, gpu.who, { bytes: 1 })), "ILLEGAL_TRANSITION", "the job is finished");
  });

  test("error: no declared size, no fee; an output kept on one node moved nowhere; no budget, no fee", () => {
    const unsized = kit({ transferBudget: 1_000n });
    produce(unsized, "prep", prepOutput);
    assert.equal(codeOf(acknowledge(unsized, gpu.who, { bytes: 1 })), "ILLEGAL_TRANSITION");

    const local = kit({
      transferBudget: 1_000n,
      stages: [prep(), prep("post", { after: ["prep"] })],
    });
    produce(local, "prep", prepOutput, 1_000);
    assert.equal(local.net.state.jobs.get(local.job)!.stages.get("post")!.provider, cpu.who.publicKey);
    assert.equal(codeOf(acknowledge(local, cpu.who, { stage: "post", bytes: 1_000 })), "MALFORMED");

    const unfunded = kit();
    produce(unfunded, "prep", prepOutput, 1_000);
    assert.equal(codeOf(acknowledge(unfunded, gpu.who, { bytes: 1_000 })), "INSUFFICIENT_FUNDS");
  });

  test("error: the budget must cover every stage's reserve plus the transfer budget", () => {
    const probe = kit();
    const reserves = [...probe.net.state.jobs.get(probe.job)!.stages.values()].reduce(
      (n, s) => n + s.reserve,
      0n,
    );
    const net = probe.net;
    const stages = [prep(), train(["prep"])];
    const before = net.stateHash();
    const short = net.send(requester, "submitJob", { budget: reserves + 99n, transferBudget: 100n, stages });
    assert.equal(codeOf(short), "INSUFFICIENT_FUNDS");
    assert.equal(net.stateHash(), before);
    must(net.send(requester, "submitJob", { budget: reserves + 100n, transferBudget: 100n, stages }));
  });
});

describe("property: transfer fees", () => {
  test("over any sequence of receipts value is conserved, the budget holds and escrow ends as payouts plus refund", () => {
    // Weighted towards receipts that may pass, so that both the budget and every rule are reached.
    const receipt = fc.record({
      kind: fc.constant("receipt" as const),
      signer: fc.constantFrom("provider", "provider", "provider", "other"),
      input: fc.constantFrom(0, 1, 2, 0, 1, 2, 3),
      bytesPermille: fc.integer({ min: 1, max: 1_200 }),
      via: fc.constantFrom("none", "relay", "none", "relay", "quiet", "producer"),
    });
    // The receiving provider misses its start deadline and the stage moves to the other gpu.
    const failover = fc.constant({ kind: "failover" as const });
    const step = fc.oneof({ weight: 8, arbitrary: receipt }, { weight: 1, arbitrary: failover });
    const outputs = ["a1".repeat(32), "b2".repeat(32), "c3".repeat(32)] as Cid[];
    const bogus = "99".repeat(32) as Cid;
    fc.assert(
      fc.property(
        fc.record({
          egress: fc.bigInt({ min: 0n, max: 50_000n }),
          relayPrice: fc.bigInt({ min: 0n, max: 50_000n }),
          transferBudget: fc.bigInt({ min: 1n, max: 3_000n }),
          sizes: fc.array(fc.integer({ min: 0, max: 50_000_000 }), { minLength: 3, maxLength: 3 }),
          steps: fc.array(step, { maxLength: 16 }),
        }),
        ({ egress, relayPrice, transferBudget, sizes, steps }) => {
          const k = kit({
            egress,
            relayPrice,
            transferBudget,
            stages: [prep("a"), prep("b"), prep("c"), train(["a", "b", "c"])],
          });
          for (const [i, name] of ["a", "b", "c"].entries()) produce(k, name, outputs[i]!, sizes[i]);
          const jobState = k.net.state.jobs.get(k.job)!;
          const receiver = jobState.stages.get("train")!;
          const acknowledged = new Set<string>();
          let provider = gpu.who;
          let other = gpu2.who;
          let paid = 0n;
          for (const s of steps) {
            if (s.kind === "failover") {
              if (provider === gpu2.who) continue; // only one spare gpu
              k.net.advance(k.net.state.params.startDeadlineMs + 1);
              must(k.net.tick());
              assert.equal(receiver.provider, gpu2.who.publicKey);
              [provider, other] = [gpu2.who, gpu.who];
              continue;
            }
            const size = s.input === 3 ? 1_000 : sizes[s.input]!;
            const bytes = Math.max(1, Math.floor((size * s.bytesPermille) / 1_000));
            const via = {
              none: undefined,
              relay: relay.who.publicKey,
              quiet: quietRelay.who.publicKey,
              producer: cpu.who.publicKey,
            }[s.via];
            const who = s.signer === "provider" ? provider : other;
            const outcome = acknowledge(k, who, {
              bytes,
              input: s.input === 3 ? bogus : outputs[s.input]!,
              ...(via === undefined ? {} : { via }),
            });
            // The model: what the rules say, computed without the handler.
            const fees =
              bandwidthFee(bytes, egress) + (s.via === "relay" ? bandwidthFee(bytes, relayPrice) : 0n);
            const key = `${s.input}/${who.publicKey}`;
            const allowed =
              s.signer === "provider" &&
              s.input !== 3 &&
              bytes <= size &&
              !acknowledged.has(key) &&
              (s.via === "none" || s.via === "relay") &&
              paid + fees <= transferBudget;
            assert.equal(
              outcome.ok,
              allowed,
              `${JSON.stringify({ s, bytes, size })} ${outcome.ok ? "" : outcome.error.message}`,
            );
            if (outcome.ok) {
              acknowledged.add(key);
              paid += fees;
              const last = receiver.transfers!.at(-1)!;
              assert.deepEqual(transferFees(bytes, egress, s.via === "relay" ? relayPrice : 0n), {
                egressFee: last.egressFee,
                relayFee: last.relayFee,
              });
            }
            assert.equal(jobState.transferPaid, paid);
            assert.ok(paid <= transferBudget);
            checkAllInvariants(k.net.state);
          }
          produce(k, "train", "ef".repeat(32));
          assert.equal(jobState.status, "finished");
          const stagePayouts = [...jobState.stages.values()].reduce((n, s) => n + s.paid! + s.fee!, 0n);
          assert.equal(jobState.refund! + stagePayouts + jobState.transferPaid!, jobState.budget);
          checkAllInvariants(k.net.state);
        },
      ),
      { numRuns: 60 },
    );
  });
});
