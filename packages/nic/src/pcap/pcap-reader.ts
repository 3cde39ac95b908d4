/// <reference path="../../../../types/pcap-parser.d.ts" />
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import * as pcapParser from 'pcap-parser';
import { PCAP_GLOBAL_HEADER_LENGTH, PCAP_RECORD_HEADER_LENGTH } from './pcap-format';

/** One captured frame. */
export interface PcapRecord {
  /** Capture time in milliseconds since the epoch of the file (seconds * 1000 + microseconds / 1000). */
  timestamp: number;
  /** The captured bytes (up to the snaplen). */
  data: Buffer;
  /** The frame's length on the wire (larger than `data.length` when truncated by the snaplen). */
  originalLength: number;
}

export interface PcapCapture {
  linkType: number;
  snaplen: number;
  packets: PcapRecord[];
  /** True when the file ended in the middle of a record (the partial record is left out). */
  truncated: boolean;
}

/**
 * Reads a classic pcap file (either byte order, microsecond timestamps) with
 * the `pcap-parser` package. Rejects on files that are not pcap at all.
 */
export function readPcap(input: string | Readable): Promise<PcapCapture> {
  return new Promise((resolve, reject) => {
    const stream = typeof input === 'string' ? fs.createReadStream(input) : input;
    let received = 0;
    let consumed = 0;
    stream.on('data', (chunk: Buffer | string) => { received += chunk.length; });
    const parser = pcapParser.parse(stream);
    const capture: PcapCapture = { linkType: -1, snaplen: 0, packets: [], truncated: false };
    let failed = false;
    parser.on('globalHeader', (h) => {
      capture.linkType = h.linkLayerType;
      capture.snaplen = h.snapshotLength;
      consumed += PCAP_GLOBAL_HEADER_LENGTH;
    });
    parser.on('packet', (p) => {
      consumed += PCAP_RECORD_HEADER_LENGTH + p.data.length;
      capture.packets.push({
        timestamp: p.header.timestampSeconds * 1000 + p.header.timestampMicroseconds / 1000,
        data: p.data,
        originalLength: p.header.originalLength,
      });
    });
    parser.on('error', (err) => {
      failed = true;
      reject(new Error(`readPcap: ${err.message}`));
    });
    parser.on('end', () => {
      if (failed) return;
      if (capture.linkType < 0) {
        reject(new Error('readPcap: no pcap global header (empty or not a pcap file)'));
        return;
      }
      capture.truncated = received !== consumed;
      resolve(capture);
    });
  });
}
