export * from './seq';
export { ByteRing } from './byte-ring';
export { RttEstimator } from './rtt';
export { NewReno, Cubic, NoCongestionControl, congestionControlFactory } from './congestion';
export type { CongestionControl, CongestionControlFactory, CongestionControlName } from './congestion';
export { DEFAULT_TCP_CONFIG, resolveTcpConfig } from './config';
export type { TcpConfig } from './config';
export { TcpError } from './errors';
export type { TcpErrorCode } from './errors';
export { IsnGenerator } from './isn';
export { TimerHeap } from './timer-heap';
export { TcpConnection, wscaleFor } from './connection';
export type { TcpState, TcpConnectionEvents, TcpConnectionIo, TcpCounters } from './connection';
export { TcpLayer, TcpListener } from './tcp-layer';
export type {
  TcpHost, TcpPayloadWriter, TcpIpSendOptions, TcpRoute, TcpPacketInfo, TcpIcmpError, TcpLayerStats, TcpConnectOptions,
  TcpListenOptions,
} from './tcp-layer';
export { TcpSocket, TcpServer } from './socket';
export type { TcpSocketOptions } from './socket';
