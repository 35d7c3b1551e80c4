/**
 * `releaseKey` in the state machine: the core is what keeps a restricted stage's key inside its
 * jurisdictions, so the property is exact — a release is accepted iff the key-release rule allows
 * the recipient (and the signer is the requester); every refusal is typed and changes nothing.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { JobId, PublicKeyHex } from "../../protocol/ids.ts";
import type { StageSpec } from "../../protocol/messages.ts";
import { city, must, onboardProviders, trainStage, worldProviders } from "../../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../../sim/local-network.ts";
import { checkAllInvariants } from "../invariants.ts";
import { staked } from "../ledger/accounts.ts";
import { balanceOf } from "../ledger/ledger.ts";
import { keyReleaseDecision } from "./key-release.ts";

const requester = simIdentity("key-requester");
const sealed = "5e".repeat(80);
const fra = worldProviders[0]!;
const sin = worldProviders[3]!;
const zrhRelay = city("zrh-relay-1", "Zurich", "CH", ["EU"], 47.3769, 8.5417, "relay", 4, 1_000, 10n);

const stage = (name: string, jurisdictions?: string[]): StageSpec =>
  trainStage({ name, ...(jurisdictions === undefined ? {} : { jurisdictions }) });

function network(allowed: string[], sealedJob = true) {
  const net = new LocalNetwork({});
  onboardProviders(net, [...worldProviders, zrhRelay]);
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  must(
    net.send(requester, "submitJob", {
      budget: 10_000_000n,
      stages: [stage("train", allowed), stage("report")],
      ...(sealedJob ? { sealed: true as const } : {}),
    }),
  );
  const job = [...net.state.jobs.keys()][0]! as JobId;
  return { net, job, train: net.state.jobs.get(job)!.stages.get("train")! };
}

/** Sends `releaseKey` and checks that a refusal is typed and leaves the state hash as it was. */
function release(
  net: LocalNetwork,
  who: typeof requester,
  body: { jobId: JobId; stage: string; to: string; purpose?: "output" },
) {
  const before = net.stateHash();
  const outcome = net.send(who, "releaseKey", { ...body, to: body.to as PublicKeyHex, sealed });
  if (!outcome.ok) assert.equal(net.stateHash(), before, "a refused release changes nothing");
  return outcome;
}

describe("releaseKey", () => {
  test("the requester releases an EU-only stage's key to an EU node; the core stores the sealed bytes", () => {
    const { net, job, train } = network(["EU"]);
    must(release(net, requester, { jobId: job, stage: "train", to: fra.who.publicKey }));
    assert.deepEqual(train.keys, [{ to: fra.who.publicKey, sealed }]);
  });

  test("error: a node outside the jurisdictions, or a relay inside them, is NOT_AUTHORIZED", () => {
    const { net, job, train } = network(["EU"]);
    const outside = release(net, requester, { jobId: job, stage: "train", to: sin.who.publicKey });
    assert.equal(outside.ok ? "accepted" : outside.error.code, "NOT_AUTHORIZED");
    const relay = release(net, requester, { jobId: job, stage: "train", to: zrhRelay.who.publicKey });
    assert.equal(relay.ok ? "accepted" : relay.error.code, "NOT_AUTHORIZED");
    assert.equal(train.keys, undefined);
  });

  test("error: only the requester releases; an unrestricted stage has no key; a second release is refused", () => {
    const { net, job } = network(["EU"]);
    const byOther = release(net, fra.who, { jobId: job, stage: "train", to: fra.who.publicKey });
    assert.equal(byOther.ok ? "accepted" : byOther.error.code, "NOT_AUTHORIZED");
    const unrestricted = release(net, requester, { jobId: job, stage: "report", to: fra.who.publicKey });
    assert.equal(unrestricted.ok ? "accepted" : unrestricted.error.code, "ILLEGAL_TRANSITION");
    must(release(net, requester, { jobId: job, stage: "train", to: fra.who.publicKey }));
    const again = release(net, requester, { jobId: job, stage: "train", to: fra.who.publicKey });
    assert.equal(again.ok ? "accepted" : again.error.code, "ILLEGAL_TRANSITION");
  });

  test("error: a job not submitted sealed has no keys to release (ILLEGAL_TRANSITION)", () => {
    const { net, job } = network(["EU"], false);
    const outcome = release(net, requester, { jobId: job, stage: "train", to: fra.who.publicKey });
    assert.equal(outcome.ok ? "accepted" : outcome.error.code, "ILLEGAL_TRANSITION");
  });

  test("a sealed stage whose provider never got its key fails at the start deadline; the provider is not blamed", () => {
    const { net, train } = network(["EU"]);
    assert.equal(train.status, "matched");
    const provider = train.provider!;
    const stake = balanceOf(net.state, staked(provider));
    net.advance(net.state.params.startDeadlineMs + 1);
    must(net.tick());
    assert.equal(train.status, "failed");
    assert.match(train.failure ?? "", /did not release the stage.s keys/);
    assert.deepEqual(train.timedOut, [], "not marked as a provider that missed a deadline");
    assert.equal(balanceOf(net.state, staked(provider)), stake, "not slashed");
    assert.equal(net.state.nodes.get(provider)!.openStages, 0, "its capacity is free again");
    checkAllInvariants(net.state);
    // With the key released in time, the same miss is the provider's, as before.
    const other = network(["EU"]);
    must(release(other.net, requester, { jobId: other.job, stage: "train", to: other.train.provider! }));
    must(
      release(other.net, requester, {
        jobId: other.job,
        stage: "train",
        to: other.train.provider!,
        purpose: "output",
      }),
    );
    other.net.advance(other.net.state.params.startDeadlineMs + 1);
    must(other.net.tick());
    assert.equal(other.train.timedOut.length, 1, "a provider with its key that never starts is timed out");
  });

  test("an output key goes to any node but a relay, for restricted and unrestricted stages alike", () => {
    const { net, job, train } = network(["EU"]);
    must(release(net, requester, { jobId: job, stage: "train", to: sin.who.publicKey, purpose: "output" }));
    must(release(net, requester, { jobId: job, stage: "report", to: sin.who.publicKey, purpose: "output" }));
    assert.deepEqual(train.outputKeys, [{ to: sin.who.publicKey, sealed }]);
    assert.equal(train.keys, undefined, "the output key opens nothing of the stage's states");
    const relay = release(net, requester, {
      jobId: job,
      stage: "train",
      to: zrhRelay.who.publicKey,
      purpose: "output",
    });
    assert.equal(relay.ok ? "accepted" : relay.error.code, "NOT_AUTHORIZED");
    const again = release(net, requester, {
      jobId: job,
      stage: "train",
      to: sin.who.publicKey,
      purpose: "output",
    });
    assert.equal(again.ok ? "accepted" : again.error.code, "ILLEGAL_TRANSITION");
    const byOther = release(net, fra.who, {
      jobId: job,
      stage: "train",
      to: fra.who.publicKey,
      purpose: "output",
    });
    assert.equal(byOther.ok ? "accepted" : byOther.error.code, "NOT_AUTHORIZED");
  });

  test("error: a job not submitted sealed has no output keys either (ILLEGAL_TRANSITION)", () => {
    const { net, job } = network(["EU"], false);
    const outcome = release(net, requester, {
      jobId: job,
      stage: "report",
      to: fra.who.publicKey,
      purpose: "output",
    });
    assert.equal(outcome.ok ? "accepted" : outcome.error.code, "ILLEGAL_TRANSITION");
  });

  test("an unrestricted stage of a sealed job waits for its output key; without it the start miss is the requester's", () => {
    const { net, job } = network(["EU"]);
    const report = net.state.jobs.get(job)!.stages.get("report")!;
    assert.equal(report.status, "matched");
    net.advance(net.state.params.startDeadlineMs + 1);
    must(net.tick());
    assert.equal(report.status, "failed");
    assert.match(report.failure ?? "", /did not release the stage.s keys/);
    assert.deepEqual(report.timedOut, []);
  });

  test("property: a release is accepted iff the key-release rule allows the recipient", () => {
    const pool = ["DE", "FR", "EU", "US", "CH", "SG"] as const;
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom(...pool), { minLength: 1, maxLength: 3 }),
        fc.uniqueArray(fc.constantFrom(...pool), { minLength: 1, maxLength: 3 }),
        fc.constantFrom("gpu", "cpu", "relay"),
        (allowed, where, resourceClass) => {
          const { net, job, train } = network(allowed);
          const who = simIdentity(`candidate-${where.join("-")}-${resourceClass}`);
          must(net.send(who, "faucet", { amount: 1_000_000n }));
          const node = {
            name: "candidate",
            city: "Somewhere",
            country: where[0]!,
            jurisdictions: where,
            latE6: 0,
            lonE6: 0,
            resourceClass,
            capacity: 1,
            throughput: 1_000,
          };
          must(net.send(who, "registerNode", node));
          const outcome = release(net, requester, { jobId: job, stage: "train", to: who.publicKey });
          const rule = keyReleaseDecision(allowed, { id: who.publicKey, ...node }, "reader").release;
          assert.equal(outcome.ok, rule, `allowed ${allowed} node ${where} ${resourceClass}`);
          if (!outcome.ok) assert.equal(outcome.error.code, "NOT_AUTHORIZED");
          assert.equal(train.keys?.length ?? 0, rule ? 1 : 0);
        },
      ),
      { numRuns: 40 },
    );
  });
});
