/**
 * What every networked demo run must show about money: everything the requester locked is
 * accounted for exactly once — payouts + protocol fees + verifier fees + transfer fees + refund =
 * budget (the demo's `settlement` report, demo-report.ts).
 */
import assert from "node:assert/strict";
import type { NetworkDemoReport } from "../src/cli/demo-report.ts";

export function assertBudgetAccountedFor(s: NetworkDemoReport["settlement"]): void {
  const paid = s.payouts.reduce((n, p) => n + BigInt(p.paidMicro), 0n);
  assert.equal(
    paid +
      BigInt(s.feesMicro) +
      BigInt(s.verifierFeesMicro) +
      BigInt(s.transferFeesMicro) +
      BigInt(s.refundMicro),
    BigInt(s.budgetMicro),
  );
}
