/**
 * Byte encoding of program states and outputs, the bytes that checkpoint and output hashes cover.
 * Fixed layout, little-endian on every platform (a big-endian host would otherwise serialize a
 * Float32Array differently), no padding, lengths before variable parts. Floats are written as
 * their exact binary32 bit patterns (so the sign of zero is part of the hash), except NaN: ECMA-262
 * lets an engine pick any NaN encoding when it stores one, so every NaN is written as the one quiet
 * NaN 0x7fc00000 and a diverged computation hashes the same on every engine.
 */

import { utf8 } from "../protocol/bytes.ts";
import { SwitchyardError } from "../protocol/errors.ts";

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const canonicalNaN = 0x7fc00000;

export class ByteWriter {
  #bytes = new Uint8Array(256);
  #view = new DataView(this.#bytes.buffer);
  #length = 0;

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#bytes.length) return;
    let size = this.#bytes.length * 2;
    while (size < this.#length + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }

  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new SwitchyardError("PROGRAM_FAILED", `${value} does not fit an unsigned 32-bit field`);
    }
    this.#reserve(4);
    this.#view.setUint32(this.#length, value, true);
    this.#length += 4;
    return this;
  }

  f32(value: number): this {
    this.#reserve(4);
    this.#setF32(this.#length, value);
    this.#length += 4;
    return this;
  }

  #setF32(at: number, value: number): void {
    if (Number.isNaN(value)) this.#view.setUint32(at, canonicalNaN, true);
    else this.#view.setFloat32(at, value, true);
  }

  /** Length, then the values' binary32 bit patterns. */
  f32Array(values: Float32Array): this {
    this.u32(values.length);
    this.#reserve(values.length * 4);
    if (littleEndianHost) {
      this.#bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), this.#length);
      for (let i = 0; i < values.length; i++) {
        if (Number.isNaN(values[i])) this.#view.setUint32(this.#length + i * 4, canonicalNaN, true);
      }
    } else {
      for (let i = 0; i < values.length; i++) this.#setF32(this.#length + i * 4, values[i]!);
    }
    this.#length += values.length * 4;
    return this;
  }

  /** Length, then the bytes. */
  bytes(value: Uint8Array): this {
    this.u32(value.length);
    this.#reserve(value.length);
    this.#bytes.set(value, this.#length);
    this.#length += value.length;
    return this;
  }

  /** UTF-8 with a byte-length prefix. */
  string(value: string): this {
    return this.bytes(utf8(value));
  }

  finish(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }
}

export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #take(n: number): number {
    if (this.#at + n > this.#bytes.length) {
      throw new SwitchyardError(
        "MALFORMED",
        `encoded state ends after ${this.#bytes.length} bytes, expected more`,
      );
    }
    const at = this.#at;
    this.#at += n;
    return at;
  }

  u32(): number {
    return this.#view.getUint32(this.#take(4), true);
  }

  f32(): number {
    return this.#view.getFloat32(this.#take(4), true);
  }

  /**
   * A u32 item count, checked against the bytes left (each item needs at least `minItemBytes`),
   * so hostile input cannot make a decoder allocate billions of entries before it runs out.
   */
  count(minItemBytes: number): number {
    const n = this.u32();
    if (n * minItemBytes > this.#bytes.length - this.#at) {
      throw new SwitchyardError("MALFORMED", `encoded count ${n} exceeds the bytes that follow`);
    }
    return n;
  }

  f32Array(): Float32Array {
    const n = this.u32();
    const at = this.#take(n * 4);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.#view.getFloat32(at + i * 4, true);
    return out;
  }

  bytes(): Uint8Array {
    const n = this.u32();
    const at = this.#take(n);
    return this.#bytes.slice(at, at + n);
  }

  string(): string {
    const bytes = this.bytes();
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch (cause) {
      throw new SwitchyardError("MALFORMED", "encoded state holds a string that is not UTF-8", { cause });
    }
  }

  /** Throws MALFORMED unless every byte was consumed: trailing bytes would be an unhashed channel. */
  end(): void {
    if (this.#at !== this.#bytes.length) {
      throw new SwitchyardError(
        "MALFORMED",
        `${this.#bytes.length - this.#at} trailing bytes after the encoded state`,
      );
    }
  }
}
