import type { AddressInfo } from 'node:net';
import { type ContactsClient, type ContactsClientOptions, createContactsClient } from '../../client/src/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { newOrganization, type TestOrganization } from '../helpers/factories.js';

export interface ListeningApp extends TestApp {
  /** `http://127.0.0.1:<ephemeral port>`: the real server, reached over TCP as any client would. */
  baseUrl: string;
}

/** The real app listening on an ephemeral port of the loopback interface. */
export async function listeningApp(env: Record<string, string> = {}): Promise<ListeningApp> {
  const testApp = await createTestApp(env);
  await testApp.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = testApp.app.server.address() as AddressInfo;
  return { ...testApp, baseUrl: `http://127.0.0.1:${port}` };
}

export interface ClientOrganization extends TestOrganization {
  client: ContactsClient;
}

/** A fresh organization and a client holding its token; `options` replace the client's defaults. */
export async function clientForNewOrganization(
  server: ListeningApp,
  options: Partial<ContactsClientOptions> = {},
): Promise<ClientOrganization> {
  const organization = await newOrganization(server.app);
  const client = createContactsClient({ baseUrl: server.baseUrl, token: organization.token, ...options });
  return { ...organization, client };
}

/** A sleep that records what it was asked to wait and waits only `scale` of it (0: not at all). */
export function recordingSleep(scale = 0): { sleep: (ms: number) => Promise<void>; waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    sleep: (ms) => {
      waits.push(ms);
      return new Promise((resolve) => setTimeout(resolve, ms * scale));
    },
  };
}

/** A problem+json answer the server could have sent, for transports that stand in for a proxy or an outage. */
export function problemResponse(status: number, code: string, headers: Record<string, string> = {}): Response {
  return new Response(
    JSON.stringify({
      type: `/problems/${code}`,
      title: code,
      status,
      detail: `Simulated ${status}.`,
      instance: '/',
      traceId: 'simulated',
    }),
    { status, headers: { 'content-type': 'application/problem+json; charset=utf-8', ...headers } },
  );
}
