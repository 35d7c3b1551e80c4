/**
 * Reading a request body under a byte limit, before anything parses it. A declared Content-Length
 * over the limit is refused without reading a byte; a body without one (chunked) is counted as it
 * arrives and refused the moment it passes the limit, so a client cannot make the coordinator
 * buffer more than `maxBytes` whatever it sends. Bytes must be valid UTF-8: a lossy decode would
 * silently change what the signer signed.
 */
import type { IncomingMessage } from "node:http";
import { SwitchyardError } from "../protocol/errors.ts";

function tooLarge(bytes: number | string, maxBytes: number): SwitchyardError {
  return new SwitchyardError("TOO_LARGE", `body is over the limit of ${maxBytes} bytes; send less`, {
    details: { bytes: String(bytes), limit: maxBytes },
  });
}

/** Refuse a declared Content-Length over `maxBytes` (TOO_LARGE) or one that is not a number (MALFORMED). */
export function checkContentLength(header: string | undefined, maxBytes: number): void {
  if (header === undefined) return;
  if (!/^\d+$/.test(header)) throw new SwitchyardError("MALFORMED", "Content-Length is not a number");
  if (Number(header) > maxBytes) throw tooLarge(header, maxBytes);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The body of `incoming` as text. Throws TOO_LARGE past `maxBytes`, MALFORMED for invalid UTF-8 or
 * a body cut short. After TOO_LARGE the rest of the body is not read: answer with
 * `Connection: close` so the socket is not reused.
 */
export async function readBody(incoming: IncomingMessage, maxBytes: number): Promise<string> {
  const bytes = await readBodyBytes(incoming, maxBytes);
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    throw new SwitchyardError("MALFORMED", "body is not valid UTF-8", { cause });
  }
}

/** The body of `incoming` as bytes, under the same limit and rules as `readBody` (blob uploads). */
export function readBodyBytes(incoming: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  checkContentLength(incoming.headers["content-length"], maxBytes);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error: SwitchyardError | null) => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("error", onError);
      incoming.off("aborted", onAborted);
      if (error !== null) {
        incoming.pause();
        reject(error);
        return;
      }
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) done(tooLarge(`more than ${maxBytes}`, maxBytes));
      else chunks.push(chunk);
    };
    const onEnd = () => done(null);
    const onError = (cause: Error) =>
      done(new SwitchyardError("MALFORMED", `reading the body failed: ${cause.message}`, { cause }));
    const onAborted = () => done(new SwitchyardError("MALFORMED", "the client aborted the request body"));
    incoming.on("data", onData);
    incoming.on("end", onEnd);
    incoming.on("error", onError);
    incoming.on("aborted", onAborted);
  });
}
