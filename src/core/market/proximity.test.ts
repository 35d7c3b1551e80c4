import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { findCity, predictRttMs } from "../../protocol/geo.ts";
import type { JobId } from "../../protocol/ids.ts";
import { parseJobSpec } from "../../protocol/job-spec.ts";
import { must, onboardProviders, worldProviders } from "../../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../../sim/local-network.ts";

const requester = simIdentity("proximity-requester");
const byName = (name: string) => worldProviders.find((p) => p.node.name === name)!.who.publicKey;

function network(): LocalNetwork {
  const net = new LocalNetwork();
  onboardProviders(net, worldProviders);
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  return net;
}

function submitYaml(net: LocalNetwork, yaml: string) {
  const before = new Set(net.state.jobs.keys());
  const outcome = net.send(requester, "submitJob", parseJobSpec(yaml));
  const id = [...net.state.jobs.keys()].find((k) => !before.has(k)) as JobId | undefined;
  return { outcome, job: id === undefined ? undefined : net.state.jobs.get(id) };
}

const gpu = `resourceClass: gpu
    units: 1
    seconds: 10
    maxPricePerUnitSecond: "1000"`;

describe("latency bounds and loops", () => {
  test("a latency bound to a city picks the provider near it, not the cheapest one", () => {
    const net = network();
    const { job } = submitYaml(
      net,
      `budget: "1000000"
stages:
  - name: serve
    program: mlp-eval
    ${gpu}
    latency: { to: { city: Singapore }, maxRttMs: 40 }`,
    );
    const stage = job!.stages.get("serve")!;
    assert.equal(stage.provider, byName("sin-gpu-1"));
    // São Paulo is cheaper (450 < 520) but far: the bound excluded it, and the explanation says so.
    assert.equal(stage.placement?.excluded["latency"], 2);
    assert.equal(stage.placement?.eligible, 1);
  });

  test("without the bound the cheapest gpu wins, and the runner-up is named", () => {
    const net = network();
    const { job } = submitYaml(
      net,
      `budget: "1000000"
stages:
  - name: serve
    program: mlp-eval
    ${gpu}`,
    );
    const stage = job!.stages.get("serve")!;
    assert.equal(stage.provider, byName("sao-gpu-1"));
    assert.equal(stage.placement?.runnerUp?.provider, byName("sin-gpu-1"));
  });

  test("a loop places its stage within the round-trip bound of its partner", () => {
    const net = network();
    const { job } = submitYaml(
      net,
      `budget: "5000000"
stages:
  - name: optimizer
    program: qaoa-optimizer
    resourceClass: cpu
    units: 1
    seconds: 10
    maxPricePerUnitSecond: "100"
    loop: { with: qaoa, iterations: 30, maxRttMs: 20 }
  - name: qaoa
    program: qaoa-maxcut
    resourceClass: qpu
    units: 1
    seconds: 10
    maxPricePerUnitSecond: "2000"`,
    );
    const stages = job!.stages;
    // The loop stage comes first in the file but waits for its partner to be placed.
    assert.equal(stages.get("qaoa")!.provider, byName("ams-qpu-1"));
    assert.equal(
      stages.get("optimizer")!.provider,
      byName("ams-cpu-1"),
      "New York's cpu is cheaper but 80+ ms away",
    );
    assert.equal(stages.get("optimizer")!.placement?.excluded["loop-latency"], 1);
    const ams = findCity("Amsterdam");
    assert.ok(predictRttMs(ams, findCity("New York")) > 20);
  });

  test("error: stages placed relative to each other, or to an unknown stage, are an invalid job", () => {
    const net = network();
    const circular = submitYaml(
      net,
      `budget: "5000000"
stages:
  - { name: a, program: p, ${gpu.replaceAll("\n    ", ", ")}, latency: { to: { stage: b }, maxRttMs: 50 } }
  - { name: b, program: p, ${gpu.replaceAll("\n    ", ", ")}, loop: { with: a, iterations: 2, maxRttMs: 50 } }`,
    );
    assert.equal(!circular.outcome.ok && circular.outcome.error.code, "INVALID_JOB");
    const dangling = submitYaml(
      net,
      `budget: "5000000"
stages:
  - { name: a, program: p, ${gpu.replaceAll("\n    ", ", ")}, loop: { with: nowhere, iterations: 2, maxRttMs: 50 } }`,
    );
    assert.equal(!dangling.outcome.ok && dangling.outcome.error.code, "INVALID_JOB");
  });

  test("error: an unknown city in a spec names close matches", () => {
    assert.throws(
      () =>
        parseJobSpec(
          `budget: "1"\nstages: [{ name: a, program: p, ${gpu.replaceAll("\n    ", ", ")}, latency: { to: { city: Singapur }, maxRttMs: 5 } }]`,
        ),
      (e: Error & { code?: string }) => e.code === "NOT_FOUND" && /Singapore/.test(JSON.stringify(e)),
    );
  });
});
