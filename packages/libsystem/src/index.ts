/**
 * @pnet/libsystem: Phoenix's `system.network` on the pnet stack.
 *
 *   const system = await boot();
 *   const [res, err] = await system.network.get('http://example.test/get');
 */
export { boot } from './system/system';
export type { System } from './system/system';
export type { BootOptions, TapBootOptions, WorldBootOptions, BackendBootOptions } from './system/boot-options';
export { Network } from './network/network';
export type { AnyHandle, Body, Result, ConnectOptions, ConnectOptionTable, UrlOf } from './network/network';
export type { ListenOptions } from './network/listeners';
export { parseURI, checkURI, urlEncode } from './uri/uri';
export type { ParsedURI } from './uri/uri';
export { Handle } from './handles/handle';
export type { HandleStatus, StatusResult } from './handles/handle';
export { HTTPHandle } from './handles/http-handle';
export { HTTPServerHandle } from './handles/http-server-handle';
export { TCPHandle } from './handles/stream-handle';
export { UDPHandle } from './handles/datagram-handle';
export { WebSocketHandle } from './handles/websocket-handle';
export type { Encoding, ReadModeArg, ReadResult, ReadValue } from './handles/read-modes';
export type { NetworkEventMap, NetworkControlEvent, QueuedEvent } from './events/event-queue';
export type { PhoenixRoute, IpconfigResult } from './config/stack-config';
export type * from './backends/backends';
export { registerEmbeddedWorld } from './world';
export type { EmbeddedWorld, WorldOptions, WorldFactory, EmbeddedWorldDetails, EmbeddedWorldOptions, WorldTlsOptions } from './world';
export { createEmbeddedWorld, hostBackends, PumpedClock, WORLD, worldCertificates } from './world';
export { pnetHttpClient, pnetHttpServer, pnetWebSockets, pnetWebSocketServer, streamBackends } from './backends/pnet-http';
export { stackControl, stackDatagrams } from './backends/pnet-stack';
export { startHostStack } from './system/host-stack';
export type { HostStack, HostStackOptions } from './system/host-stack';
