import type { OptionSpec } from './args';

/** Options every command takes: where it runs, capture, seed, TLS trust. */
export const SESSION_OPTIONS: OptionSpec[] = [
  { name: 'tap', value: 'DEV', help: 'run on this Linux TAP device (root) instead of the embedded world' },
  { name: 'address', value: 'A/P', help: 'with --tap: static address and prefix, e.g. 192.0.2.2/24' },
  { name: 'gateway', value: 'G', help: 'with --tap --address: default gateway' },
  { name: 'dns', value: 'S', repeat: true, help: 'with --tap: DNS server (repeatable)' },
  { name: 'dhcp', help: 'with --tap: get the address by DHCP' },
  { name: 'pcap', value: 'FILE', help: 'capture every frame of this host to FILE' },
  { name: 'seed', value: 'N', help: 'seed of every random choice (the embedded world replays exactly)' },
  { name: 'real-time', help: 'embedded world in real time (default: virtual time)' },
  { name: 'cacert', value: 'FILE', help: 'trust the CA certificates in FILE (PEM) for https/wss' },
  { name: 'insecure', short: 'k', help: 'accept any TLS certificate' },
  { name: 'verbose', short: 'v', help: 'say what happens on stderr (boot, lease, timings)' },
  { name: 'help', short: 'h', help: 'show this help' },
];
