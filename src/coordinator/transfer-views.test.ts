/**
 * What the API shows of data movement: nodes their uplink, offers their price per 10^9 bytes, the
 * market the lowest such price per group, and the job view each output's size, the egress price
 * fixed at the match, the transfer budget, what was paid, and every acknowledged transfer.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { jobViewSchema, marketSchema, nodeViewSchema } from "../protocol/api.ts";
import type { Cid, JobId } from "../protocol/ids.ts";
import { city, must, trainStage } from "../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../sim/local-network.ts";
import { jobView, marketView, nodeViews } from "./views.ts";

const requester = simIdentity("transfer-view-requester");
const cpu = city("fra-cpu", "Frankfurt", "DE", ["EU"], 50.1109, 8.6821, "cpu", 4, 8_000, 40n);
const gpu = city("par-gpu", "Paris", "FR", ["EU"], 48.8566, 2.3522, "gpu", 4, 40_000, 600n);
const relay = city("zrh-relay", "Zurich", "CH", [], 47.3769, 8.5417, "relay", 4, 1_000, 10n);
const output = "cd".repeat(32) as Cid;

test("nodes, offers, the market and the job view show sizes, uplinks, prices per GB and transfer fees", () => {
  const net = new LocalNetwork({ params: { verificationWindowMs: 0 } });
  const prices = new Map([
    [cpu, 2_500n],
    [relay, 20_000n],
  ]);
  for (const p of [cpu, gpu, relay]) {
    must(net.send(p.who, "faucet", { amount: 100_000_000n }));
    must(net.send(p.who, "registerNode", p === cpu ? { ...p.node, bytesPerSecond: 125_000_000 } : p.node));
    must(net.send(p.who, "bond", { amount: 50_000_000n }));
    const perGigabyte = prices.get(p);
    must(
      net.send(p.who, "postOffer", {
        resourceClass: p.node.resourceClass,
        capacity: p.node.capacity,
        pricePerUnitSecond: p.pricePerUnitSecond,
        ...(perGigabyte === undefined ? {} : { pricePerGigabyte: perGigabyte }),
      }),
    );
  }
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  const stages = [
    trainStage({ name: "prep", program: "prep", resourceClass: "cpu", maxPricePerUnitSecond: 100n }),
    trainStage({ after: ["prep"] }),
  ];
  must(net.send(requester, "submitJob", { budget: 10_000_000n, transferBudget: 1_000n, stages }));
  const job = [...net.state.jobs.keys()][0]! as JobId;
  must(net.send(cpu.who, "startStage", { jobId: job, stage: "prep" }));
  must(
    net.send(cpu.who, "commitResult", {
      jobId: job,
      stage: "prep",
      root: "ab".repeat(32),
      output,
      steps: 1,
      outputBytes: 3_200_000,
    }),
  );
  must(
    net.send(gpu.who, "acknowledgeTransfer", {
      jobId: job,
      stage: "train",
      input: output,
      bytes: 3_200_000,
      via: relay.who.publicKey,
    }),
  );

  const nodes = nodeViews(net.state, () => undefined);
  for (const node of nodes) assert.deepEqual(nodeViewSchema.parse(node), node);
  const frankfurt = nodes.find((n) => n.id === cpu.who.publicKey)!;
  assert.equal(frankfurt.bytesPerSecond, 125_000_000);
  assert.equal(frankfurt.offers[0]!.pricePerGigabyte, "2500");
  assert.equal("pricePerGigabyte" in nodes.find((n) => n.id === gpu.who.publicKey)!.offers[0]!, false);

  const market = marketView(net.state);
  assert.deepEqual(marketSchema.parse(market), market);
  assert.equal(market.classes.find((c) => c.resourceClass === "relay")!.minPricePerGigabyte, "20000");
  assert.equal("minPricePerGigabyte" in market.classes.find((c) => c.resourceClass === "gpu")!, false);

  const view = jobView(net.state, net.state.jobs.get(job)!);
  assert.deepEqual(jobViewSchema.parse(view), view);
  assert.equal(view.transferBudget, "1000");
  assert.equal(view.transferPaid, "72", "8 egress + 64 relay");
  const prep = view.stages.find((s) => s.name === "prep")!;
  assert.equal(prep.outputBytes, 3_200_000);
  assert.equal(prep.egressPricePerGigabyte, "2500");
  assert.deepEqual(view.stages.find((s) => s.name === "train")!.transfers, [
    {
      input: output,
      bytes: 3_200_000,
      from: "prep",
      producer: cpu.who.publicKey,
      via: relay.who.publicKey,
      egressFee: "8",
      relayFee: "64",
      by: gpu.who.publicKey,
      at: net.state.time,
    },
  ]);
});
