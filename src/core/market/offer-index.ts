/**
 * The book's offers per resource class (and per class within each jurisdiction), sorted by asking
 * price (ties by offer id), for the matcher's
 * bound (match.ts): an offer's compute and time terms are a lower bound of its effective cost that
 * grows with its price alone, so once that bound passes the runner-up's whole cost, no dearer offer
 * can be chosen or be the runner-up, and the matcher stops — at 10,000 offers it looks at the few
 * that could win instead of all of them (`npm run bench -- market`, placer `live`).
 *
 * The index is derived from `state.offers`, not part of the state: it is never hashed or encoded,
 * and a state decoded from a snapshot or rebuilt by replay builds its own on first use. The two
 * places that change the set of offers keep it current (`indexOffer` on post, `unindexOffer` on
 * retirement); an offer's price never changes (a new price is a new offer).
 */
import type { Offer, State } from "../state.ts";

interface OfferIndex {
  /** The map it was built from: a state whose `offers` was replaced gets a new index. */
  readonly source: State["offers"];
  /** Key `class`, and `class|jurisdiction` for each jurisdiction the offer's node is inside. */
  readonly lists: Map<string, Offer[]>;
}

/** The lists an offer belongs to: its class's, and its class's within each of its node's jurisdictions. */
function keysOf(state: State, offer: Offer): string[] {
  const node = state.nodes.get(offer.provider);
  return [offer.resourceClass, ...(node?.jurisdictions ?? []).map((j) => `${offer.resourceClass}|${j}`)];
}

const indexes = new WeakMap<State, OfferIndex>();

function before(a: Offer, b: Offer): boolean {
  return (
    a.pricePerUnitSecond < b.pricePerUnitSecond ||
    (a.pricePerUnitSecond === b.pricePerUnitSecond && a.id < b.id)
  );
}

/** Position of the first offer not before `offer` (binary search). */
function slot(list: readonly Offer[], offer: Offer): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(list[mid]!, offer)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function build(state: State): OfferIndex {
  const lists = new Map<string, Offer[]>();
  for (const offer of state.offers.values()) {
    for (const key of keysOf(state, offer)) {
      const list = lists.get(key);
      if (list === undefined) lists.set(key, [offer]);
      else list.push(offer);
    }
  }
  for (const list of lists.values()) list.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  const index = { source: state.offers, lists };
  indexes.set(state, index);
  return index;
}

function current(state: State): OfferIndex | undefined {
  const index = indexes.get(state);
  return index?.source === state.offers ? index : undefined;
}

/**
 * The offers of `resourceClass` — only those whose node is inside `jurisdiction`, if given —
 * cheapest first (ties by id). Read only. A node's jurisdictions are fixed at registration.
 *
 * @example offersByPrice(state, "gpu", "EU")[0] // the cheapest gpu offer inside the EU
 */
export function offersByPrice(state: State, resourceClass: string, jurisdiction?: string): readonly Offer[] {
  const key = jurisdiction === undefined ? resourceClass : `${resourceClass}|${jurisdiction}`;
  return (current(state) ?? build(state)).lists.get(key) ?? [];
}

/** Keep the index current after `offer` joined `state.offers` (a no-op until the index is built). */
export function indexOffer(state: State, offer: Offer): void {
  const index = current(state);
  if (index === undefined) return;
  for (const key of keysOf(state, offer)) {
    const list = index.lists.get(key);
    if (list === undefined) index.lists.set(key, [offer]);
    else list.splice(slot(list, offer), 0, offer);
  }
}

/** Keep the index current after `offer` left `state.offers`. */
export function unindexOffer(state: State, offer: Offer): void {
  const index = current(state);
  if (index === undefined) return;
  for (const key of keysOf(state, offer)) {
    const list = index.lists.get(key);
    if (list === undefined) continue;
    const at = slot(list, offer);
    if (list[at]?.id === offer.id) list.splice(at, 1);
  }
}
