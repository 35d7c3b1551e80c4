/**
 * Emulated geography for local networks: every process of a local network sits in a real city, and
 * what crosses between two of them waits the modelled one-way latency (src/sim/emulation.ts). This
 * module turns a city name into the hooks the coordinator and agents accept. Everything it delays
 * is labelled "emulated" in output; on real machines nothing is emulated.
 */
import type { NodeView } from "../protocol/api.ts";
import { findCity, type GeoPoint } from "../protocol/geo.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import { emulatedOneWayMs, type FetchLike, withEmulatedLatency } from "../sim/emulation.ts";

/**
 * Where each node is, learned from the coordinator's node list and refreshed in the background,
 * so pushes to a provider and fetches from a peer can be delayed by the right amount.
 */
export class NodeLocations {
  private readonly byKey = new Map<string, GeoPoint>();
  private readonly byOrigin = new Map<string, GeoPoint>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private lastRefreshAt = Number.NEGATIVE_INFINITY;

  /** Poll the coordinator's node list every `intervalMs`. */
  start(coordinatorUrl: string, intervalMs = 2_000): void {
    const refresh = () => {
      this.refresh(coordinatorUrl).catch(() => {
        // The coordinator may be restarting; keep the last known locations.
      });
    };
    refresh();
    this.timer = setInterval(refresh, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  async refresh(coordinatorUrl: string): Promise<void> {
    const response = await fetch(new URL("/v1/nodes", coordinatorUrl));
    if (!response.ok) return;
    const { nodes } = (await response.json()) as { nodes: NodeView[] };
    for (const n of nodes) {
      const point = { latE6: n.latE6, lonE6: n.lonE6 };
      this.byKey.set(n.id, point);
      if (n.endpoint !== undefined) this.byOrigin.set(new URL(n.endpoint).origin, point);
    }
  }

  ofKey(key: PublicKeyHex | string): GeoPoint | null {
    return this.byKey.get(key) ?? null;
  }

  ofUrl(url: URL): GeoPoint | null {
    return this.byOrigin.get(url.origin) ?? null;
  }

  /**
   * Where the process behind `url` is. An origin no node has registered (as far as the last poll
   * knows) costs one refresh first — shared by concurrent callers and at most one per `minGapMs` —
   * so a peer that registered since the last poll is delayed from its first request on, instead of
   * answering a ping or a blob request at loopback speed.
   */
  async locate(url: URL, coordinatorUrl: string, minGapMs = 500): Promise<GeoPoint | null> {
    const known = this.ofUrl(url);
    if (known !== null) return known;
    if (this.refreshing === undefined && performance.now() - this.lastRefreshAt >= minGapMs) {
      this.refreshing = this.refresh(coordinatorUrl)
        .catch(() => {
          // The coordinator may be restarting: this request goes undelayed, the next one asks again.
        })
        .finally(() => {
          this.lastRefreshAt = performance.now();
          this.refreshing = undefined;
        });
    }
    await this.refreshing;
    return this.ofUrl(url);
  }
}

export function cityPoint(city: string): GeoPoint {
  const c = findCity(city);
  return { latE6: c.latE6, lonE6: c.lonE6 };
}

/** The coordinator's push delay to each provider, from the coordinator's city. */
export function coordinatorEmulation(self: GeoPoint, locations: NodeLocations) {
  return { oneWayMsTo: (provider: PublicKeyHex) => emulatedOneWayMs(self, locations.ofKey(provider)) };
}

/**
 * A fetch that pays the emulated round trip to wherever it goes: the coordinator (at its city) or
 * a peer agent (at the city its node registered).
 */
export function emulatedFetch(
  self: GeoPoint,
  coordinatorUrl: string,
  coordinatorPoint: GeoPoint,
  locations: NodeLocations,
): FetchLike {
  const coordinatorOrigin = new URL(coordinatorUrl).origin;
  return withEmulatedLatency(fetch, self, (url) =>
    url.origin === coordinatorOrigin ? coordinatorPoint : locations.locate(url, coordinatorUrl),
  );
}
