import net from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL that can stop passing bytes, as a frozen server (SIGSTOP), a
 * stalled disk or a partition looks to a client: connections stay open and nothing answers.
 */
export interface FreezableProxy {
  /** The database URL, pointed at the proxy. */
  readonly url: string;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function startFreezableProxy(databaseUrl: string): Promise<FreezableProxy> {
  const target = new URL(databaseUrl);
  const pairs = new Set<[net.Socket, net.Socket]>();
  const held = new Set<net.Socket>();
  let frozen = false;

  const connectUpstream = (socket: net.Socket) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    const pair: [net.Socket, net.Socket] = [socket, upstream];
    pairs.add(pair);
    socket.pipe(upstream);
    upstream.pipe(socket);
    const end = () => {
      pairs.delete(pair);
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  };

  const server = net.createServer((socket) => {
    if (frozen) {
      held.add(socket);
      socket.on('error', () => socket.destroy()).on('close', () => held.delete(socket));
    } else {
      connectUpstream(socket);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);

  return {
    url: url.toString(),
    freeze() {
      frozen = true;
      for (const [client, upstream] of pairs) {
        // Unpiped first: a pipe resumes its source whenever the destination drains.
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    thaw() {
      frozen = false;
      for (const [client, upstream] of pairs) {
        client.pipe(upstream);
        upstream.pipe(client);
      }
      for (const socket of held) {
        held.delete(socket);
        if (!socket.destroyed) connectUpstream(socket);
      }
    },
    async close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
