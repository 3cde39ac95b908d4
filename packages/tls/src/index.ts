export type { ConnectOptions, ListenOptions, StreamServer, StreamTransport } from './transport';
