import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { LocalNetwork, simIdentity } from "../../sim/local-network.ts";
import { stateHash } from "../codec.ts";
import { checkAllInvariants } from "../invariants.ts";
import { available, staked, unbondingAccount } from "./accounts.ts";
import { balanceOf, bpsCeil, bpsFloor } from "./ledger.ts";

const people = [simIdentity("p0"), simIdentity("p1"), simIdentity("p2")];

const command = fc.oneof(
  fc.record({ op: fc.constant("faucet" as const), who: fc.nat(2), amount: fc.bigInt(1n, 10_000n) }),
  fc.record({
    op: fc.constant("transfer" as const),
    who: fc.nat(2),
    to: fc.nat(2),
    amount: fc.bigInt(1n, 20_000n),
  }),
  fc.record({ op: fc.constant("bond" as const), who: fc.nat(2), amount: fc.bigInt(1n, 20_000n) }),
  fc.record({ op: fc.constant("unbond" as const), who: fc.nat(2), amount: fc.bigInt(1n, 20_000n) }),
  fc.record({ op: fc.constant("withdrawUnbonded" as const), who: fc.nat(2) }),
  fc.record({ op: fc.constant("wait" as const), ms: fc.integer({ min: 1, max: 10 * 24 * 3600_000 }) }),
);

type Model = Map<string, bigint>;
const get = (m: Model, k: string) => m.get(k) ?? 0n;

describe("ledger properties", () => {
  test("property: value is conserved, nothing goes negative, and balances match a simple model", () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 60 }), (commands) => {
        const net = new LocalNetwork({ params: { unbondingDelayMs: 86_400_000 } });
        const model: Model = new Map();
        const unbonding: Array<{ who: number; amount: bigint; at: number }> = [];
        for (const c of commands) {
          if (c.op === "wait") {
            net.advance(c.ms);
            continue;
          }
          const who = people[c.who]!;
          const a = available(who.publicKey);
          const s = staked(who.publicKey);
          const before = stateHash(net.state);
          const out =
            c.op === "faucet"
              ? net.send(who, "faucet", { amount: c.amount })
              : c.op === "transfer"
                ? net.send(who, "transfer", { to: people[c.to]!.publicKey, amount: c.amount })
                : c.op === "withdrawUnbonded"
                  ? net.send(who, "withdrawUnbonded", {})
                  : net.send(who, c.op, { amount: c.amount });
          if (!out.ok) {
            assert.equal(
              stateHash(net.state),
              before,
              `${c.op} rejected (${out.error.code}) but changed the state`,
            );
            continue;
          }
          // Model the accepted command.
          const time = net.state.time;
          if (c.op === "faucet") model.set(a, get(model, a) + c.amount);
          else if (c.op === "transfer") {
            const to = available(people[c.to]!.publicKey);
            model.set(a, get(model, a) - c.amount);
            model.set(to, get(model, to) + c.amount);
          } else if (c.op === "bond") {
            model.set(a, get(model, a) - c.amount);
            model.set(s, get(model, s) + c.amount);
          } else if (c.op === "unbond") {
            model.set(s, get(model, s) - c.amount);
            unbonding.push({ who: c.who, amount: c.amount, at: time + 86_400_000 });
          } else {
            for (const u of unbonding.filter((u) => u.who === c.who && u.at <= time)) {
              model.set(a, get(model, a) + u.amount);
              unbonding.splice(unbonding.indexOf(u), 1);
            }
          }
          checkAllInvariants(net.state);
        }
        for (const [account, value] of model) assert.equal(balanceOf(net.state, account), value, account);
        for (let i = 0; i < people.length; i++) {
          const pending = unbonding.filter((u) => u.who === i).reduce((x, u) => x + u.amount, 0n);
          assert.equal(balanceOf(net.state, unbondingAccount(people[i]!.publicKey)), pending);
        }
      }),
      { numRuns: 60 },
    );
  });

  test("fees round up and slashes round down, so neither side is short by a micro-credit", () => {
    assert.equal(bpsCeil(1n, 100), 1n);
    assert.equal(bpsCeil(10_000n, 100), 100n);
    assert.equal(bpsFloor(199n, 100), 1n);
    assert.equal(bpsFloor(99n, 100), 0n);
  });
});
