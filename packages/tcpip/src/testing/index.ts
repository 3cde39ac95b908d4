// The segment-level test language (shared by the IPv4, TCP, DNS/DHCP tests).
export { StubNic } from './stub-nic';
export { FrameScript, FrameScriptError } from './frame-script';
export type { CreateOptions, RecvOptions, ScriptInterface } from './frame-script';
export { describeFrame, decodeFrame, mismatches, registerDescriber, hex } from './describe';
export type { FrameMatch, DecodedFrame, TransportDescriber } from './describe';
export * from './frames';
