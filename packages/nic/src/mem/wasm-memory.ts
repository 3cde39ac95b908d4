/**
 * Frame storage allocated inside WebAssembly.Memory objects, so that code in a layer above (the
 * Internet checksum of @pnet/tcpip) can run a WebAssembly SIMD loop over a frame where it lies,
 * without copying it into a module's memory first. This layer only allocates and answers which
 * memory a buffer belongs to; it never instantiates anything.
 *
 * The memories are never grown: growing detaches the ArrayBuffer that every view points into.
 * Where WebAssembly is missing (or refuses the allocation), a plain ArrayBuffer is returned and
 * callers see no difference except `wasmMemoryOf` answering undefined.
 */

/** A WebAssembly.Memory, as far as used here (the project's TypeScript lib has no WebAssembly types). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

interface WasmMemoryApi {
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
}

const WASM_PAGE = 65536;
const memories = new WeakMap<ArrayBufferLike, WasmMemory>();
const wasmApi = (globalThis as { WebAssembly?: WasmMemoryApi }).WebAssembly;

/**
 * An ArrayBuffer of at least `bytes` bytes (zero-filled), backed by a fixed-size WebAssembly.Memory
 * when possible. Its byteLength is rounded up to whole 64 KiB pages then.
 */
export function allocateWasmBacked(bytes: number): ArrayBuffer {
  if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`allocateWasmBacked: bad size ${bytes}`);
  if (wasmApi !== undefined && bytes > 0) {
    const pages = Math.ceil(bytes / WASM_PAGE);
    try {
      const memory = new wasmApi.Memory({ initial: pages, maximum: pages });
      memories.set(memory.buffer, memory);
      return memory.buffer;
    } catch {
      // Address space for wasm memories exhausted, or a size wasm does not take: plain memory works too.
    }
  }
  return new ArrayBuffer(bytes);
}

/** The WebAssembly.Memory whose buffer `buffer` is (made by `allocateWasmBacked`), else undefined. */
export function wasmMemoryOf(buffer: ArrayBufferLike): WasmMemory | undefined {
  const memory = memories.get(buffer);
  // A grown memory has a new buffer; the old one is detached and must not be used.
  return memory !== undefined && memory.buffer === buffer ? memory : undefined;
}
