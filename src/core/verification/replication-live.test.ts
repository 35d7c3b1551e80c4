/** `replicate:k` in the live state machine, driven through `apply` (see live.test.ts for the setting). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Hex32, JobId } from "../../protocol/ids.ts";
import { must, trainStage } from "../../sim/fixtures.ts";
import type { LocalNetwork } from "../../sim/local-network.ts";
import { h, network, providerOf, requester } from "../../sim/verification/live-kit.ts";
import { checkAllInvariants } from "../invariants.ts";
import { available, staked } from "../ledger/accounts.ts";
import { balanceOf } from "../ledger/ledger.ts";

describe("live replicate:k", () => {
  function submitReplicated(net: LocalNetwork, k: number): JobId {
    const before = new Set(net.state.jobs.keys());
    must(
      net.send(requester, "submitJob", {
        budget: 10_000_000n,
        stages: [
          trainStage({ verification: `replicate:${k}` }),
          trainStage({ name: "use", program: "mlp-eval", after: ["train"] }),
        ],
      }),
    );
    return [...net.state.jobs.keys()].find((k2) => !before.has(k2))!;
  }

  function commit(net: LocalNetwork, job: JobId, name: string, root: Hex32, output: Hex32) {
    const stage = net.state.jobs.get(job)!.stages.get(name)!;
    const p = providerOf(stage);
    net.advance(10);
    must(net.send(p.who, "startStage", { jobId: job, stage: name }));
    net.advance(10);
    must(net.send(p.who, "commitResult", { jobId: job, stage: name, root, output, steps: 4 }));
    return p;
  }

  test("k replicas run on distinct providers; the majority is paid, the dissenter is not (and not slashed), dependents get the agreed output", () => {
    const net = network();
    const job = submitReplicated(net, 3);
    const stages = net.state.jobs.get(job)!.stages;
    const members = ["train", "train~2", "train~3"].map((n) => stages.get(n)!);
    const providers = members.map((m) => m.provider);
    assert.equal(new Set(providers).size, 3, "three different providers");
    assert.ok(members.every((m) => m.status === "matched"));
    const good = h("agreed-root");
    const out = h("agreed-output");
    const a = commit(net, job, "train", good, out);
    const dissenter = commit(net, job, "train~2", h("other-root"), h("other-output"));
    const stakeBefore = balanceOf(net.state, staked(dissenter.who.publicKey));
    const paidBefore = balanceOf(net.state, available(dissenter.who.publicKey));
    assert.equal(stages.get("use")!.status, "pending", "waits for the whole group");
    const b = commit(net, job, "train~3", good, out);
    assert.equal(stages.get("train")!.status, "settled");
    assert.equal(stages.get("train~3")!.status, "settled");
    assert.equal(stages.get("train~2")!.status, "failed");
    assert.equal(stages.get("train~2")!.checks?.at(-1)?.outcome, "replica-dissent");
    assert.equal(balanceOf(net.state, staked(dissenter.who.publicKey)), stakeBefore, "a vote is not a proof");
    assert.equal(balanceOf(net.state, available(dissenter.who.publicKey)), paidBefore, "not paid");
    assert.ok(a.who.publicKey !== b.who.publicKey);
    const use = stages.get("use")!;
    assert.equal(use.status, "matched", "the dependent is placed on the agreed result");
    checkAllInvariants(net.state);
  });

  test("without a majority no result is accepted: the stage and its dependents fail and the budget comes back", () => {
    const net = network();
    const requesterBefore = balanceOf(net.state, available(requester.publicKey));
    const job = submitReplicated(net, 2);
    commit(net, job, "train", h("one"), h("o1"));
    commit(net, job, "train~2", h("two"), h("o2"));
    const stages = net.state.jobs.get(job)!.stages;
    assert.equal(stages.get("train")!.status, "failed");
    assert.equal(stages.get("use")!.status, "failed");
    assert.equal(net.state.jobs.get(job)!.status, "finished");
    assert.equal(balanceOf(net.state, available(requester.publicKey)), requesterBefore);
    checkAllInvariants(net.state);
  });

  test("a requester cannot accept a replica early", () => {
    const net = network();
    const job = submitReplicated(net, 2);
    commit(net, job, "train", h("one"), h("o1"));
    const out = net.send(requester, "acceptStage", { jobId: job, stage: "train" });
    assert.equal(out.ok, false);
  });
});
